/*
 * stage2_bf16.c: stage 2 through AVX512_BF16 with exact answers. The logits are first formed
 * approximately with VDPBF16PS (operands rounded to bf16, products and sums in fp32); a (token,
 * row) whose approximate logit plus a rigorous error margin does not exceed the row's gate (the
 * k-th exact value so far) cannot enter the top-k and is dropped; every other one is re-scored in
 * exact fp32, with the CPU order of stage2_avx512.c (beta, then fma over j = 0..r-1), and offered
 * to the top-k like the fp32 path does. The top-k is therefore the fp32 path's, bit for bit.
 *
 * The bound. Row i (u = U[i], r values), token t (a = A[.][t], beta = beta[t]); x^ is x rounded to
 * bf16 (8-bit significand, round to nearest even: |x^ - x| <= 2^-8 |x|; VDPBF16PS and the
 * conversion treat subnormals as zero: a further absolute error below 2^-126).
 *   products:  |u^_j a^_j - u_j a_j| <= (2^-7 + 2^-16) |u_j||a_j| + 2^-125.9 (|u_j| + |a_j|)
 *   summed, Cauchy-Schwarz: sum_j |u_j||a_j| <= ||u|| ||a||, sum_j (|u_j| + |a_j|) <= sqrt(r)(||u|| + ||a||)
 *   fp32 accumulation of the approximation (at most r+1 roundings, subnormal results flushed) and
 *   of the exact chain (r fma roundings): each at most gamma = (2r+1) 2^-24 (1 + 2^-7) of
 *   |beta| + (1 + 2^-7) ||u|| ||a||, plus 2r 2^-126 of flushes.
 * Hence, for r <= 4096,
 *   |approx - exact_fp32| <= c ||u|| ||a|| + c2 |beta| + tiny (||u|| + ||a|| + r + 1)
 * with c = 2^-7 + 2^-12, c2 = 2^-15 (both valid up to r = 127; for larger r c - 2^-7 and c2 grow
 * as 4 (r+1) 2^-24) and tiny = 2^-100. The slack (2^-12 against the needed 2^-16 + 2^-17 at
 * r = 64, a factor 4 on c2 and on tiny's terms) also covers the fp32 rounding of the margin itself
 * and of the norms, which are computed in double and rounded up.
 * A (token, row) is dropped only when fl(approx + margin) <= gate: then approx + margin <
 * succ(gate) in the reals, so exact <= gate, and a token with a larger id and a value <= the k-th
 * never enters. NaN anywhere (approx, margin, gate) compares false and is re-scored. Overflow is
 * excluded rather than bounded: a row or token with norm >= 2^63, or |beta| >= 2^126, gets an
 * infinite margin (always re-scored), so every other approximate sum stays below 2^128.
 *
 * Checked by NativeKernelTest: bit equality with the Java kernels on random, tied, NaN/inf and
 * adversarial inputs (values placed within the margin of the k-th), and a count of re-scored pairs.
 */
#include "hs_native.h"
#include "simd.h"
#include "bf16_block.h"

#include <math.h>
#include <stdint.h>

void hs_margin_constants(int r, float *cc, float *c2, float *tiny) {
    double g = 4.0 * (r + 1) * 0x1p-24;
    *cc = (float) (0x1p-7 + (g > 0x1p-12 ? g : 0x1p-12));
    *c2 = (float) (g > 0x1p-15 ? g : 0x1p-15);
    *tiny = 0x1p-100f;
}

/* Squares of the 16 floats of x added to s (double, exact products of floats). */
static HS_AVX512 __m512d add_squares(__m512d s, __m512 x) {
    __m512d d0 = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
    __m512d d1 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(x, 1));
    s = _mm512_fmadd_pd(d0, d0, s);
    return _mm512_fmadd_pd(d1, d1, s);
}

/* x minus its bf16 rounding as stored (h, 16 values): exact in fp32. */
static HS_AVX512_BF16 __m512 residual(__m512 x, __m256bh h) {
    return _mm512_sub_ps(x, _mm512_cvtpbh_ps(h));
}

/*
 * The tile of A in bf16 pairs and per token ||a_t|| and the token's part of the margin; on the
 * two-pass path also ea[q] >= ||a_t - bf16(a_t)|| (the stored bf16 values; see twopass.c).
 */
HS_AVX512_BF16 void hs_prepare_tile_bf16(hs_ctx *c, const float *beta, int t0, int len) {
    const int rp = c->rp, r = c->r;
    const int rhp = rp / 2;
    const int lenp = (len + HS_PACK - 1) / HS_PACK * HS_PACK;
    const int res = c->two_pass;
    float cc, c2, tiny;
    hs_margin_constants(r, &cc, &c2, &tiny);
    const double c2b = (double) c2 + c->c2_add; /* c2_add: the two-pass path's third chain (stage1_bf16.c) */
    for (int q = 0; q < lenp; q++) {
        const float *a = c->at + (size_t) q * rp;
        uint32_t *ab = c->ab + (size_t) q * rhp;
        __m512d s = _mm512_setzero_pd(), e = _mm512_setzero_pd();
        int j = 0;
        for (; j + 32 <= rp; j += 32) {
            __m512 lo = _mm512_load_ps(a + j);
            __m512 hi = _mm512_load_ps(a + j + 16);
            __m512i h = (__m512i) _mm512_cvtne2ps_pbh(hi, lo);
            _mm512_storeu_si512((void *) (ab + j / 2), h);
            s = add_squares(add_squares(s, lo), hi);
            if (res) {
                e = add_squares(e, residual(lo, (__m256bh) _mm512_castsi512_si256(h)));
                e = add_squares(e, residual(hi, (__m256bh) _mm512_extracti64x4_epi64(h, 1)));
            }
        }
        if (j < rp) { /* 16 left */
            __m512 lo = _mm512_load_ps(a + j);
            __m256bh h = _mm512_cvtneps_pbh(lo);
            _mm256_storeu_si256((void *) (ab + j / 2), (__m256i) h);
            s = add_squares(s, lo);
            if (res) {
                e = add_squares(e, residual(lo, h));
            }
        }
        /* squares of floats neither overflow nor underflow in double; NaN/inf propagate */
        double na = sqrt(_mm512_reduce_add_pd(s)) * (1.0 + 0x1p-20);
        double bb = fabs((double) beta[t0 + q]);
        if (!(na < 0x1p63) || !(bb < 0x1p126)) {
            c->na[q] = INFINITY;
            c->tb[q] = INFINITY;
            c->ea[q] = INFINITY;
        } else {
            c->na[q] = (float) na;
            c->tb[q] = (float) ((c2b * bb + tiny * (na + r + 1)) * (1.0 + 0x1p-20));
            c->ea[q] = res ? (float) (sqrt(_mm512_reduce_add_pd(e)) * (1.0 + 0x1p-20)) : 0.0f;
        }
    }
}

/* A candidate: tile row b (token t0 + b), vector v0 + q of rows, lanes mask passed the gate. */
typedef struct {
    int16_t b;
    int16_t q;
    uint32_t mask;
} cand;

/* Candidates are re-scored in batches (independent FMA chains interleaved) once this many are queued. */
#define BATCH 32

/*
 * Exact re-scoring of the queued candidates, four FMA chains at a time (each chain is the fp32
 * path's: beta, then fma over j in order), then offered in queue order, which is increasing token
 * order for every row.
 */
static HS_AVX512 void flush(hs_ctx *c, const float *beta, int t0, int v0, const cand *e, int cnt) {
    const int r = c->r, rp = c->rp, n = c->n;
    float ex[BATCH + 16][HS_L] __attribute__((aligned(64)));
    for (int s = 0; s < cnt; s += 4) {
        const float *ap[4];
        const float *up[4];
        __m512 acc[4];
        for (int z = 0; z < 4; z++) {
            const cand *x = &e[s + z < cnt ? s + z : cnt - 1];
            ap[z] = c->at + (size_t) x->b * rp;
            up[z] = c->ut + (size_t) (v0 + x->q) * r * HS_L;
            acc[z] = _mm512_set1_ps(beta[t0 + x->b]);
        }
        for (int j = 0; j < r; j++) {
            for (int z = 0; z < 4; z++) {
                acc[z] = _mm512_fmadd_ps(_mm512_set1_ps(ap[z][j]), _mm512_load_ps(up[z] + (size_t) j * HS_L), acc[z]);
            }
        }
        for (int z = 0; z < 4; z++) {
            _mm512_store_ps(ex[s + z], acc[z]);
        }
    }
    for (int s = 0; s < cnt; s++) {
        const int row0 = (v0 + e[s].q) * HS_L;
        unsigned mk = e[s].mask;
        while (mk) {
            const int l = __builtin_ctz(mk);
            mk &= mk - 1;
            if (row0 + l >= n) {
                break;
            }
            c->rescored++;
            const float x = ex[s][l];
            if (!(x <= c->gate[row0 + l])) {
                hs_offer(c, row0 + l, t0 + e[s].b, x);
            }
        }
    }
}

#define DEF_K2B(NV)                                                                                \
    static HS_AVX512_BF16 int k2b_##NV(hs_ctx *c, const float *beta, int t0, int b, int len,       \
                                       int v0, cand *out) {                                        \
        __m512 acc[4][NV];                                                                         \
        hs_bf16_block_##NV(c, beta, t0, b, v0, acc);                                               \
        __mmask16 pass[4][NV];                                                                     \
        __mmask16 any = 0;                                                                         \
        for (int q = 0; q < NV; q++) {                                                             \
            const int o = (v0 + q) * HS_L;                                                         \
            __m512 g = _mm512_load_ps(c->gate + o);                                                \
            __m512 cn = _mm512_load_ps(c->cnu + o);                                                \
            __m512 rn = _mm512_load_ps(c->rnu + o);                                                \
            for (int m = 0; m < 4; m++) {                                                          \
                __m512 s = _mm512_add_ps(_mm512_set1_ps(c->tb[b + m]), rn);                        \
                __m512 mg = _mm512_fmadd_ps(cn, _mm512_set1_ps(c->na[b + m]), s);                  \
                pass[m][q] = _mm512_cmp_ps_mask(_mm512_add_ps(acc[m][q], mg), g, _CMP_NLE_UQ);     \
                any |= pass[m][q];                                                                 \
            }                                                                                      \
        }                                                                                          \
        if (!any) {                                                                                \
            return 0;                                                                              \
        }                                                                                          \
        const int tokens = len - b < 4 ? len - b : 4;                                              \
        int cnt = 0;                                                                               \
        for (int m = 0; m < tokens; m++) {                                                         \
            for (int q = 0; q < NV; q++) {                                                         \
                if (pass[m][q]) {                                                                  \
                    out[cnt].b = (int16_t) (b + m);                                                \
                    out[cnt].q = (int16_t) q;                                                      \
                    out[cnt].mask = pass[m][q];                                                    \
                    cnt++;                                                                         \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        return cnt;                                                                                \
    }

DEF_K2B(1)
DEF_K2B(2)
DEF_K2B(3)
DEF_K2B(4)

HS_AVX512_BF16 void hs_stage2_bf16(hs_ctx *c, const float *beta, int t0, int len) {
    hs_prepare_tile_bf16(c, beta, t0, len);
    cand queue[BATCH + 16];
    for (int v0 = 0; v0 < c->nv; v0 += 4) {
        const int nvq = c->nv - v0 >= 4 ? 4 : c->nv - v0;
        int cnt = 0;
        for (int b = 0; b < len; b += HS_PACK) {
            switch (nvq) {
            case 4: cnt += k2b_4(c, beta, t0, b, len, v0, queue + cnt); break;
            case 3: cnt += k2b_3(c, beta, t0, b, len, v0, queue + cnt); break;
            case 2: cnt += k2b_2(c, beta, t0, b, len, v0, queue + cnt); break;
            default: cnt += k2b_1(c, beta, t0, b, len, v0, queue + cnt); break;
            }
            if (cnt >= BATCH) {
                flush(c, beta, t0, v0, queue, cnt);
                cnt = 0;
            }
        }
        if (cnt > 0) {
            flush(c, beta, t0, v0, queue, cnt);
        }
    }
}
