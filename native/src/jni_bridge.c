/*
 * jni_bridge.c: the JNI entry points of dev.headsweep.engine.cpu.NativeKernel (and, at the end, of NativeMatMul). Java keeps the
 * tiling loop (so that ATileSource and ATileSink stay Java interfaces); each call here works on
 * one tile or one head's setup. Large arrays (the packed E, beta, tiles) are reached through
 * GetPrimitiveArrayCritical, which does not copy them on HotSpot; nothing inside a critical
 * region calls back into the JVM. A context pointer travels as a long, one per Java instance
 * (one per thread).
 *
 * Checked by NativeKernelTest through the Java class.
 */
#include <jni.h>

#include "hs_native.h"

#include <math.h>

#define FN(name) Java_dev_headsweep_engine_cpu_NativeKernel_##name
#define CTX(h) ((hs_ctx *) (intptr_t) (h))

/*
 * The elements of count arrays (GetPrimitiveArrayCritical, in order) into p; returns how many it
 * got, count when all of them. Whatever it returns, release_all(env, arrays, p, got, written) after.
 */
static int critical_all(JNIEnv *env, const jarray *arrays, void **p, int count) {
    int got = 0;
    for (; got < count; got++) {
        p[got] = (*env)->GetPrimitiveArrayCritical(env, arrays[got], NULL);
        if (p[got] == NULL) {
            break;
        }
    }
    return got;
}

/* Releases the first got arrays in reverse order; bit i of written: array i was written (copied back). */
static void release_all(JNIEnv *env, const jarray *arrays, void **p, int got, unsigned written) {
    while (got-- > 0) {
        (*env)->ReleasePrimitiveArrayCritical(env, arrays[got], p[got], (written >> got) & 1u ? 0 : JNI_ABORT);
    }
}

JNIEXPORT jint JNICALL FN(isa)(JNIEnv *env, jclass cls) {
    (void) env; (void) cls;
    return hs_isa();
}

JNIEXPORT jstring JNICALL FN(isaName)(JNIEnv *env, jclass cls) {
    (void) cls;
    return (*env)->NewStringUTF(env, hs_isa_name(hs_isa()));
}

JNIEXPORT jlong JNICALL FN(create)(JNIEnv *env, jclass cls) {
    (void) env; (void) cls;
    return (jlong) (intptr_t) hs_ctx_new();
}

JNIEXPORT void JNICALL FN(destroy)(JNIEnv *env, jclass cls, jlong h) {
    (void) env; (void) cls;
    hs_ctx_free(CTX(h));
}

JNIEXPORT jint JNICALL FN(begin)(JNIEnv *env, jclass cls, jlong h, jfloatArray U, jint n, jint r, jint k,
                                 jboolean bf16) {
    (void) cls;
    float *u = (*env)->GetPrimitiveArrayCritical(env, U, NULL);
    if (u == NULL) {
        return -3;
    }
    int rc = hs_begin(CTX(h), u, n, r, k, bf16 && hs_isa() >= HS_ISA_AVX512_BF16);
    (*env)->ReleasePrimitiveArrayCritical(env, U, u, JNI_ABORT);
    return rc;
}

JNIEXPORT jint JNICALL FN(packM)(JNIEnv *env, jclass cls, jlong h, jfloatArray M, jint r, jint d) {
    (void) cls;
    float *m = (*env)->GetPrimitiveArrayCritical(env, M, NULL);
    if (m == NULL) {
        return -3;
    }
    int rc = hs_pack_m(CTX(h), m, r, d);
    (*env)->ReleasePrimitiveArrayCritical(env, M, m, JNI_ABORT);
    return rc;
}

/* Stage 1 of a tile; with out != null the tile is also copied there (out[q * ld + j]). */
JNIEXPORT void JNICALL FN(stage1)(JNIEnv *env, jclass cls, jlong h, jfloatArray Ep, jint d, jint t0, jint len,
                                  jfloatArray out, jint ld) {
    (void) cls;
    float *ep = (*env)->GetPrimitiveArrayCritical(env, Ep, NULL);
    if (ep == NULL) {
        return;
    }
    hs_stage1_avx512(CTX(h), ep, d, t0, len);
    (*env)->ReleasePrimitiveArrayCritical(env, Ep, ep, JNI_ABORT);
    if (out != NULL) {
        float *o = (*env)->GetPrimitiveArrayCritical(env, out, NULL);
        if (o == NULL) {
            return;
        }
        hs_store_tile(CTX(h), o, ld, len);
        (*env)->ReleasePrimitiveArrayCritical(env, out, o, 0);
    }
}

JNIEXPORT void JNICALL FN(load)(JNIEnv *env, jclass cls, jlong h, jfloatArray in, jint ld, jint len) {
    (void) cls;
    float *a = (*env)->GetPrimitiveArrayCritical(env, in, NULL);
    if (a == NULL) {
        return;
    }
    hs_load_tile(CTX(h), a, ld, len);
    (*env)->ReleasePrimitiveArrayCritical(env, in, a, JNI_ABORT);
}

JNIEXPORT void JNICALL FN(stage2)(JNIEnv *env, jclass cls, jlong h, jfloatArray beta, jint t0, jint len) {
    (void) cls;
    float *b = (*env)->GetPrimitiveArrayCritical(env, beta, NULL);
    if (b == NULL) {
        return;
    }
    hs_ctx *c = CTX(h);
    if (c->bf16) {
        hs_stage2_bf16(c, b, t0, len);
    } else {
        hs_stage2_avx512(c, b, t0, len);
    }
    (*env)->ReleasePrimitiveArrayCritical(env, beta, b, JNI_ABORT);
}

JNIEXPORT void JNICALL FN(finish)(JNIEnv *env, jclass cls, jlong h, jintArray ids, jfloatArray vals) {
    (void) cls;
    int32_t *i = (*env)->GetPrimitiveArrayCritical(env, ids, NULL);
    if (i == NULL) {
        return;
    }
    float *v = (*env)->GetPrimitiveArrayCritical(env, vals, NULL);
    if (v != NULL) {
        hs_finish(CTX(h), i, v);
        (*env)->ReleasePrimitiveArrayCritical(env, vals, v, 0);
    }
    (*env)->ReleasePrimitiveArrayCritical(env, ids, i, 0);
}

JNIEXPORT jlong JNICALL FN(rescored)(JNIEnv *env, jclass cls, jlong h) {
    (void) env; (void) cls;
    return CTX(h)->rescored;
}

JNIEXPORT jfloatArray JNICALL FN(marginConstants)(JNIEnv *env, jclass cls, jint r) {
    (void) cls;
    float m[3];
    hs_margin_constants(r, &m[0], &m[1], &m[2]);
    jfloatArray out = (*env)->NewFloatArray(env, 3);
    if (out != NULL) {
        (*env)->SetFloatArrayRegion(env, out, 0, 3, m);
    }
    return out;
}

/*
 * The two-pass path's vocabulary side (stage1_bf16.c): E in bf16 pairs (eb, int[Vpad * ((d + 1) / 2)]),
 * ne and nel (float[V]) from E (row-major); returns max ||E_t|| (+inf: the path is not usable).
 */
JNIEXPORT jfloat JNICALL FN(prepareE)(JNIEnv *env, jclass cls, jfloatArray E, jint V, jint d, jintArray eb,
                                      jfloatArray ne, jfloatArray nel) {
    (void) cls;
    const jarray arrays[4] = {E, eb, ne, nel};
    void *p[4] = {0};
    const int got = critical_all(env, arrays, p, 4);
    float emax = INFINITY;
    if (got == 4) {
        emax = hs_prepare_e_bf16(p[0], V, d, p[1], p[2], p[3]);
    }
    release_all(env, arrays, p, got, 0xeu); /* eb, ne, nel written */
    return emax;
}

/*
 * One head through the two-pass path (twopass.c), after begin (with bf16) and packM: 0 (then
 * finish), 1 (a guard refused the head: run the one-pass path), < 0 errors (-2 out of memory).
 */
JNIEXPORT jint JNICALL FN(twoPass)(JNIEnv *env, jclass cls, jlong h, jfloatArray M, jfloatArray U, jintArray eb,
                                   jfloatArray ne, jfloatArray nel, jfloat emax, jfloatArray E, jfloatArray beta,
                                   jfloat betamax, jint V, jint d) {
    (void) cls;
    const jarray arrays[7] = {M, U, eb, ne, nel, E, beta};
    void *p[7] = {0};
    int rc = -3;
    const int got = critical_all(env, arrays, p, 7);
    if (got == 7) {
        rc = hs_twopass_head(CTX(h), p[0], p[1], p[2], p[3], p[4], emax, p[5], p[6], betamax, V, d);
    }
    release_all(env, arrays, p, got, 0u);
    return rc;
}

JNIEXPORT jlong JNICALL FN(columns)(JNIEnv *env, jclass cls, jlong h) {
    (void) env; (void) cls;
    return CTX(h)->columns;
}

/* FactoredTopK.prepare's repacking of E (blocks b0 .. b1 of 4 tokens), without the JIT's warm-up. */
JNIEXPORT void JNICALL FN(packE)(JNIEnv *env, jclass cls, jfloatArray E, jint V, jint d, jfloatArray Ep, jint b0,
                                 jint b1) {
    (void) cls;
    float *e = (*env)->GetPrimitiveArrayCritical(env, E, NULL);
    if (e == NULL) {
        return;
    }
    float *ep = (*env)->GetPrimitiveArrayCritical(env, Ep, NULL);
    if (ep != NULL) {
        hs_pack_e(e, V, d, ep, b0, b1);
        (*env)->ReleasePrimitiveArrayCritical(env, Ep, ep, 0);
    }
    (*env)->ReleasePrimitiveArrayCritical(env, E, e, JNI_ABORT);
}

/* MatMul.xw (matmul_avx512.c), through NativeMatMul; the caller checked the shapes against the arrays. */
JNIEXPORT void JNICALL Java_dev_headsweep_engine_cpu_NativeMatMul_xw0(JNIEnv *env, jclass cls, jfloatArray x, jint n,
                                                                    jint k, jfloatArray w, jint ld, jint colOff,
                                                                    jint m, jfloatArray out) {
    (void) cls;
    const jarray arrays[3] = {x, w, out};
    void *p[3] = {0};
    const int got = critical_all(env, arrays, p, 3);
    if (got == 3) {
        hs_xw(p[0], n, k, p[1], ld, colOff, m, p[2]);
    }
    release_all(env, arrays, p, got, 0x4u); /* out written */
}
