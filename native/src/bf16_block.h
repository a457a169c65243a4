/*
 * bf16_block.h: the approximate logits of one register block in bf16, shared by the one-pass gate
 * (stage2_bf16.c) and the two-pass path (twopass.c): tokens t0+b .. t0+b+3 of the current tile
 * (bf16 pairs in ab) against NV vectors of 16 keyword rows from v0 (bf16 pairs in ub):
 * acc[m][q] = beta[t] + sum over pairs of VDPBF16PS products. Inlined into each caller, so the
 * accumulators stay in registers.
 */
#ifndef HS_BF16_BLOCK_H
#define HS_BF16_BLOCK_H
#include "hs_native.h"
#include "simd.h"

#define HS_DEF_BF16_BLOCK(NV)                                                                       \
    static inline __attribute__((always_inline)) HS_AVX512_BF16 void hs_bf16_block_##NV(          \
            const hs_ctx *c, const float *beta, int t0, int b, int v0, __m512 acc[4][NV]) {         \
        const int rh = c->rh, rhp = c->rp / 2;                                                      \
        const uint32_t *a = c->ab + (size_t) b * rhp;                                               \
        const uint32_t *u = c->ub + (size_t) v0 * rh * HS_L;                                        \
        for (int m = 0; m < 4; m++) {                                                               \
            __m512 be = _mm512_set1_ps(beta[t0 + b + m]);                                           \
            for (int q = 0; q < NV; q++) {                                                          \
                acc[m][q] = be;                                                                     \
            }                                                                                       \
        }                                                                                           \
        for (int p = 0; p < rh; p++) {                                                              \
            __m512i w[NV];                                                                          \
            for (int q = 0; q < NV; q++) {                                                          \
                w[q] = _mm512_load_si512((const void *) (u + ((size_t) q * rh + p) * HS_L));        \
            }                                                                                       \
            for (int m = 0; m < 4; m++) {                                                           \
                __m512i x = _mm512_set1_epi32((int) a[m * rhp + p]);                                \
                for (int q = 0; q < NV; q++) {                                                      \
                    acc[m][q] = _mm512_dpbf16_ps(acc[m][q], (__m512bh) x, (__m512bh) w[q]);         \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }

HS_DEF_BF16_BLOCK(1)
HS_DEF_BF16_BLOCK(2)
HS_DEF_BF16_BLOCK(3)
HS_DEF_BF16_BLOCK(4)

#endif
