/*
 * stage1_avx512.c: stage 1 with AVX-512F, the tile of A = M E^T for tokens t0 .. t0+len, token-major
 * (at[q * rp + j]). Register blocks of 4 tokens (one block of the packed E, Ep[(t0+b)*d + 4c + m])
 * x up to 4 vectors of 16 values of j (M packed transposed, mt[c * rp + j]); each accumulator is
 * one FMA chain over c = 0 .. d-1 in order from +0, the order of PlainKernel and VectorKernel:
 * acc = fma(E[t][c], M[j][c], acc). The c loop can be split into blocks (accumulators go to the
 * tile and back between blocks, which changes no bit); for d up to CB it is one block.
 *
 * Checked bit for bit against the Java kernels' A (NativeKernelTest: computeA and the sink tiles).
 */
#include "hs_native.h"
#include "simd.h"

/* c values per block. Measured (GPT-2 small, 2-core Zen 5): one block over all of d (the packed E
 * streamed once, contiguously; mt from L2) 28.4 ms a head, CB = 256: 31.7 ms, CB = 128: 32.4 ms. */
#define CB 4096

/*
 * The micro-kernel: 4 tokens x NV vectors of 16 values of j, token m's value c read at
 * e[m][c * es] (es = HS_PACK from a packed block of E, 1 from a row of a row-major E).
 */
#define DEF_K1(NV)                                                                               \
    static HS_AVX512 void k1_##NV(const float *const e[4], int es, int c0, int c1,               \
                                  const float *mt, int rp, float *at, int first) {               \
        __m512 acc[4][NV];                                                                       \
        for (int m = 0; m < 4; m++) {                                                            \
            for (int q = 0; q < NV; q++) {                                                       \
                acc[m][q] = first ? _mm512_setzero_ps() : _mm512_load_ps(at + m * rp + q * HS_L); \
            }                                                                                    \
        }                                                                                        \
        const float *e0 = e[0], *e1 = e[1], *e2 = e[2], *e3 = e[3];                              \
        for (int cc = c0; cc < c1; cc++) {                                                       \
            __m512 b[NV];                                                                        \
            for (int q = 0; q < NV; q++) {                                                       \
                b[q] = _mm512_load_ps(mt + (size_t) cc * rp + q * HS_L);                         \
            }                                                                                    \
            const size_t o = (size_t) cc * es;                                                   \
            const __m512 x[4] = {_mm512_set1_ps(e0[o]), _mm512_set1_ps(e1[o]),                   \
                                 _mm512_set1_ps(e2[o]), _mm512_set1_ps(e3[o])};                  \
            for (int m = 0; m < 4; m++) {                                                        \
                for (int q = 0; q < NV; q++) {                                                   \
                    acc[m][q] = _mm512_fmadd_ps(x[m], b[q], acc[m][q]);                          \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        for (int m = 0; m < 4; m++) {                                                            \
            for (int q = 0; q < NV; q++) {                                                       \
                _mm512_store_ps(at + m * rp + q * HS_L, acc[m][q]);                              \
            }                                                                                    \
        }                                                                                        \
    }

DEF_K1(1)
DEF_K1(2)
DEF_K1(3)
DEF_K1(4)

/* One block of 4 tokens (e, es as k1) against every vector of j, c in [c0, c1), into at. */
static HS_AVX512 void block4(const hs_ctx *c, const float *const e[4], int es, int c0, int c1, float *at,
                             int first) {
    const int rp = c->rp;
    const int nvr = rp / HS_L;
    for (int v0 = 0; v0 < nvr; v0 += 4) {
        const float *mt = c->mt + v0 * HS_L;
        float *a = at + v0 * HS_L;
        switch (nvr - v0 >= 4 ? 4 : nvr - v0) {
        case 4: k1_4(e, es, c0, c1, mt, rp, a, first); break;
        case 3: k1_3(e, es, c0, c1, mt, rp, a, first); break;
        case 2: k1_2(e, es, c0, c1, mt, rp, a, first); break;
        default: k1_1(e, es, c0, c1, mt, rp, a, first); break;
        }
    }
}

HS_AVX512 void hs_stage1_avx512(hs_ctx *c, const float *Ep, int d, int t0, int len) {
    const int lenp = (len + HS_PACK - 1) / HS_PACK * HS_PACK;
    for (int c0 = 0; c0 < d; c0 += CB) {
        const int c1 = c0 + CB < d ? c0 + CB : d;
        for (int b = 0; b < lenp; b += HS_PACK) {
            const float *ep = Ep + (size_t) (t0 + b) * d;
            const float *const e[4] = {ep, ep + 1, ep + 2, ep + 3};
            block4(c, e, HS_PACK, c0, c1, c->at + (size_t) b * c->rp, c0 == 0);
        }
    }
}

/*
 * Exact columns of A for a list of tokens (the two-pass path's re-scoring, twopass.c):
 * out[q * rp + j] = A[j][tok[q]] from a row-major E (E[t * d + c]), four tokens at a time through
 * the stage-1 chains (k1, the same FMAs in the same order as hs_stage1_avx512), so the same bits.
 * out holds cnt rounded up to HS_PACK tokens (the padding columns repeat the last token).
 */
HS_AVX512 void hs_stage1_columns_avx512(const hs_ctx *c, const float *E, int d, const int32_t *tok, int cnt,
                                        float *out) {
    for (int q0 = 0; q0 < cnt; q0 += HS_PACK) {
        const float *e[4];
        for (int m = 0; m < HS_PACK; m++) {
            e[m] = E + (size_t) tok[q0 + m < cnt ? q0 + m : cnt - 1] * d;
        }
        block4(c, e, 1, 0, d, out + (size_t) q0 * c->rp, 1);
    }
}
