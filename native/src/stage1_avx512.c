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

#include <stdlib.h>

/* c values per block. Measured (GPT-2 small, 2-core Zen 5): one block over all of d (the packed E
 * streamed once, contiguously; mt from L2) 28.4 ms a head, CB = 256: 31.7 ms, CB = 128: 32.4 ms. */
#define CB 4096

#define DEF_K1(NV)                                                                               \
    static HS_AVX512 void k1_##NV(const float *ep, int c0, int c1, const float *mt, int rp,      \
                                  float *at, int first) {                                        \
        __m512 acc[4][NV];                                                                       \
        for (int m = 0; m < 4; m++) {                                                            \
            for (int q = 0; q < NV; q++) {                                                       \
                acc[m][q] = first ? _mm512_setzero_ps() : _mm512_load_ps(at + m * rp + q * HS_L); \
            }                                                                                    \
        }                                                                                        \
        for (int cc = c0; cc < c1; cc++) {                                                       \
            __m512 b[NV];                                                                        \
            for (int q = 0; q < NV; q++) {                                                       \
                b[q] = _mm512_load_ps(mt + (size_t) cc * rp + q * HS_L);                         \
            }                                                                                    \
            for (int m = 0; m < 4; m++) {                                                        \
                __m512 x = _mm512_set1_ps(ep[4 * cc + m]);                                       \
                for (int q = 0; q < NV; q++) {                                                   \
                    acc[m][q] = _mm512_fmadd_ps(x, b[q], acc[m][q]);                             \
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

HS_AVX512 void hs_stage1_avx512(hs_ctx *c, const float *Ep, int d, int t0, int len) {
    const int rp = c->rp;
    const int nvr = rp / HS_L;
    const int lenp = (len + HS_PACK - 1) / HS_PACK * HS_PACK;
    for (int c0 = 0; c0 < d; c0 += CB) {
        const int c1 = c0 + CB < d ? c0 + CB : d;
        const int first = c0 == 0;
        for (int b = 0; b < lenp; b += HS_PACK) {
            const float *ep = Ep + (size_t) (t0 + b) * d;
            float *at = c->at + (size_t) b * rp;
            for (int v0 = 0; v0 < nvr; v0 += 4) {
                const float *mt = c->mt + v0 * HS_L;
                float *a = at + v0 * HS_L;
                switch (nvr - v0 >= 4 ? 4 : nvr - v0) {
                case 4: k1_4(ep, c0, c1, mt, rp, a, first); break;
                case 3: k1_3(ep, c0, c1, mt, rp, a, first); break;
                case 2: k1_2(ep, c0, c1, mt, rp, a, first); break;
                default: k1_1(ep, c0, c1, mt, rp, a, first); break;
                }
            }
        }
    }
}

/*
 * Exact columns of A for a list of tokens (the two-pass path's re-scoring, twopass.c):
 * out[q * rp + j] = A[j][tok[q]], the same chains as hs_stage1_avx512 (each token's row of E,
 * row-major E[t * d + c], is gathered into a packed block of 4 and run through the same
 * micro-kernels), so the same bits.
 * out holds cnt rounded up to HS_PACK tokens.
 */
HS_AVX512 void hs_stage1_columns_avx512(const hs_ctx *c, const float *E, int d, const int32_t *tok, int cnt,
                                        float *out) {
    const int rp = c->rp;
    const int nvr = rp / HS_L;
    float *eg = aligned_alloc(64, ((size_t) HS_PACK * d * sizeof(float) + 63) / 64 * 64);
    if (eg == NULL) {
        return; /* the caller allocates first and checks; never reached in practice */
    }
    for (int q0 = 0; q0 < cnt; q0 += HS_PACK) {
        for (int m = 0; m < HS_PACK; m++) {
            if (q0 + m < cnt) {
                const float *src = E + (size_t) tok[q0 + m] * d;
                for (int cc = 0; cc < d; cc++) {
                    eg[cc * HS_PACK + m] = src[cc];
                }
            } else {
                for (int cc = 0; cc < d; cc++) {
                    eg[cc * HS_PACK + m] = 0.0f;
                }
            }
        }
        float *at = out + (size_t) q0 * rp;
        for (int c0 = 0; c0 < d; c0 += CB) {
            const int c1 = c0 + CB < d ? c0 + CB : d;
            const int first = c0 == 0;
            for (int v0 = 0; v0 < nvr; v0 += 4) {
                const float *mt = c->mt + v0 * HS_L;
                float *a = at + v0 * HS_L;
                switch (nvr - v0 >= 4 ? 4 : nvr - v0) {
                case 4: k1_4(eg, c0, c1, mt, rp, a, first); break;
                case 3: k1_3(eg, c0, c1, mt, rp, a, first); break;
                case 2: k1_2(eg, c0, c1, mt, rp, a, first); break;
                default: k1_1(eg, c0, c1, mt, rp, a, first); break;
                }
            }
        }
    }
    free(eg);
}
