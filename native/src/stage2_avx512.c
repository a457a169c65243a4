/*
 * stage2_avx512.c: stage 2 in exact fp32 with AVX-512F: the logits of a tile, beta first and then
 * one FMA chain over j = 0 .. r-1 in order (acc = fma(A[j][t], U[i][j], acc)), the order of
 * PlainKernel and VectorKernel; register blocks of 4 tokens x up to 4 vectors of 16 keyword rows
 * (U packed per vector, ut[(v * r + j) * 16 + l]). Each block is compared lane-wise with the rows'
 * gates; only blocks where some lane passes are stored and offered, token by token in increasing
 * id order per row, to the top-k (topk.c).
 *
 * The bf16 path (stage2_bf16.c) re-scores its candidates with the same chains.
 *
 * Checked bit for bit against the Java kernels' top-k values and ids (NativeKernelTest).
 */
#include "hs_native.h"
#include "simd.h"

#define DEF_K2(NV)                                                                               \
    static HS_AVX512 int k2_##NV(const hs_ctx *c, const float *beta4, int b, int v0, float *lg,  \
                                 int check) {                                                    \
        const int rp = c->rp, r = c->r;                                                          \
        const float *a = c->at + (size_t) b * rp;                                                \
        const float *u = c->ut + (size_t) v0 * r * HS_L;                                         \
        __m512 acc[4][NV];                                                                       \
        for (int m = 0; m < 4; m++) {                                                            \
            __m512 be = _mm512_set1_ps(beta4[m]);                                                \
            for (int q = 0; q < NV; q++) {                                                       \
                acc[m][q] = be;                                                                  \
            }                                                                                    \
        }                                                                                        \
        for (int j = 0; j < r; j++) {                                                            \
            __m512 w[NV];                                                                        \
            for (int q = 0; q < NV; q++) {                                                       \
                w[q] = _mm512_load_ps(u + ((size_t) q * r + j) * HS_L);                          \
            }                                                                                    \
            for (int m = 0; m < 4; m++) {                                                        \
                __m512 x = _mm512_set1_ps(a[m * rp + j]);                                        \
                for (int q = 0; q < NV; q++) {                                                   \
                    acc[m][q] = _mm512_fmadd_ps(x, w[q], acc[m][q]);                             \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        if (check) {                                                                             \
            __mmask16 any = 0;                                                                   \
            for (int q = 0; q < NV; q++) {                                                       \
                __m512 g = _mm512_load_ps(c->gate + (v0 + q) * HS_L);                            \
                for (int m = 0; m < 4; m++) {                                                    \
                    any |= _mm512_cmp_ps_mask(acc[m][q], g, _CMP_NLE_UQ);                        \
                }                                                                                \
            }                                                                                    \
            if (!any) {                                                                          \
                return 0;                                                                        \
            }                                                                                    \
        }                                                                                        \
        for (int m = 0; m < 4; m++) {                                                            \
            for (int q = 0; q < NV; q++) {                                                       \
                _mm512_storeu_ps(lg + m * 64 + q * HS_L, acc[m][q]);                             \
            }                                                                                    \
        }                                                                                        \
        return 1;                                                                                \
    }

DEF_K2(1)
DEF_K2(2)
DEF_K2(3)
DEF_K2(4)

static HS_AVX512 int k2(const hs_ctx *c, const float *beta4, int b, int v0, int nvq, float *lg, int check) {
    switch (nvq) {
    case 4: return k2_4(c, beta4, b, v0, lg, check);
    case 3: return k2_3(c, beta4, b, v0, lg, check);
    case 2: return k2_2(c, beta4, b, v0, lg, check);
    default: return k2_1(c, beta4, b, v0, lg, check);
    }
}

HS_AVX512 void hs_stage2_avx512(hs_ctx *c, const float *beta, int t0, int len) {
    float lg[4 * 64] __attribute__((aligned(64)));
    const int n = c->n;
    for (int v0 = 0; v0 < c->nv; v0 += 4) {
        const int nvq = c->nv - v0 >= 4 ? 4 : c->nv - v0;
        for (int b = 0; b < len; b += HS_PACK) {
            const int t = t0 + b;
            if (!k2(c, beta + t, b, v0, nvq, lg, 1)) {
                continue;
            }
            const int tokens = len - b < 4 ? len - b : 4;
            for (int m = 0; m < tokens; m++) {
                for (int q = 0; q < nvq; q++) {
                    const int row0 = (v0 + q) * HS_L;
                    for (int l = 0; l < HS_L && row0 + l < n; l++) {
                        const float x = lg[m * 64 + q * HS_L + l];
                        if (!(x <= c->gate[row0 + l])) {
                            hs_offer(c, row0 + l, t + m, x);
                        }
                    }
                }
            }
        }
    }
}
