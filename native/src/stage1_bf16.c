/*
 * stage1_bf16.c: stage 1 in bf16 for the two-pass path (twopass.c): an approximate tile
 * A^ = Mh Eh^T (M and E rounded to bf16, products and sums in fp32 through VDPBF16PS), the
 * vocabulary side's bf16 pack and norms (once per embedding), and the per-row constants of the
 * error bound that twopass.c adds to stage 2's own margin (stage2_bf16.c).
 *
 * The bound of stage 1. Row u (r values), token t. A = the exact stage-1 chains (stage1_avx512.c),
 * A^ = this file's tile, Mh = bf16(M), Ml = M - Mh, Eh = bf16(E), El = E - Eh (exact differences).
 *   A - A^ = (A - M E^T) + (Ml E^T + Mh El^T) + (Mh Eh^T - A^), so
 *   |u (A_t - A^_t)| <= ||u Ml|| ||E_t|| + ||u Mh|| ||El_t||                  (Cauchy-Schwarz)
 *                     + gamma_d sum_j |u_j| ||M_j|| ||E_t|| (1 + (1 + 2^-8)^2)  (the two fp32 chains
 *                       of length d: the exact one and VDPBF16PS's, at most d roundings each)
 *                     + flushes: VDPBF16PS treats bf16 subnormals as zero and flushes subnormal
 *                       products and sums, each < 2^-126 (|Eh_tc| + |Mh_jc| + 3): summed over c
 *                       and j below 2^-100 (||u||_1 ||E_t|| + S + ||u||_1) for d <= 2^20.
 *   Stage 2's exact chain on A (beta, then r FMAs) differs from u A_t + beta by at most
 *   gamma_(r+1) (|beta| + S ||E_t|| (1 + 2^-10)), with S = sum_j |u_j| ||M_j||.
 * ||u Ml|| and ||u Mh|| come from the Gram matrices Ml Ml^T and Mh Mh^T in double: u G u^T is
 * computed with an absolute error below (d + r^2 + 16) 2^-52 (sum_j |u_j| ||x_j||)^2, which is
 * added before the square root. Per row this gives (all rounded up, times 1 + 2^-10 for the fp32
 * rounding of the margin's own arithmetic, which has at most five positive terms):
 *   P = ||u Ml|| + g1 S + 2^-100 ||u||_1,  g1 = (2d + r + 8) 2^-24 (1 + 2^-6)   (times ||E_t||)
 *   Q = ||u Mh||                                                                (times ||El_t||)
 *   R = 2^-100 (S + ||u||_1)                                                    (added)
 * and per token a further (r + 2) 2^-24 |beta_t| (c2_add, folded into stage 2's beta term).
 * Guards keep every sum finite (no overflow, so no NaN): the row is refused (the head falls back
 * to the one-pass path) unless ||M||_F < 2^60, S max||E|| < 2^110, ||u|| ||M||_F max||E|| < 2^110
 * and max|beta| < 2^110, and the embedding is refused unless every ||E_t|| < 2^60.
 *
 * Checked by NativeKernelTest (two-pass against the fp32 path, bit for bit, on random, tied and
 * adversarial inputs) and EngineMatchesReferenceTest.
 */
#include "hs_native.h"
#include "simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the vocabulary side ---------------------------------------------------------------- */

/* The bf16 bits of 16 floats, rounded to nearest even on the bits (as hs_bf16_bits; no DAZ). */
static HS_AVX512 __m512i rne_bits(__m512 x) {
    __m512i b = _mm512_castps_si512(x);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    return _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
}

/*
 * One row of E in bf16 pairs: w[p] = bf16 x[2p] | bf16 x[2p+1] << 16 for p < (d + 1) / 2 (zero
 * past d), and the sums of squares of x and of x - bf16(x) (fp32 lanes, then double): the one
 * rounding that stage 1 uses, in both the tiles and the norms.
 */
static HS_AVX512 void row_bf16(const float *x, int d, uint32_t *w, double *s, double *sl) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const int d32 = d / 32 * 32;
    __m512 a = _mm512_setzero_ps(), al = _mm512_setzero_ps();
    for (int c0 = 0; c0 < d32; c0 += 32) {
        __m512 x0 = _mm512_loadu_ps(x + c0), x1 = _mm512_loadu_ps(x + c0 + 16);
        __m512i h0 = rne_bits(x0), h1 = rne_bits(x1);
        __m512i lo = _mm512_permutex2var_epi32(h0, ev, h1);
        __m512i hi = _mm512_permutex2var_epi32(h0, od, h1);
        _mm512_storeu_si512((void *) (w + c0 / 2), _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
        __m512 l0 = _mm512_sub_ps(x0, _mm512_castsi512_ps(_mm512_slli_epi32(h0, 16))); /* exact */
        __m512 l1 = _mm512_sub_ps(x1, _mm512_castsi512_ps(_mm512_slli_epi32(h1, 16)));
        a = _mm512_fmadd_ps(x0, x0, _mm512_fmadd_ps(x1, x1, a));
        al = _mm512_fmadd_ps(l0, l0, _mm512_fmadd_ps(l1, l1, al));
    }
    double tot = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(a)),
                                                    _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1))));
    double totl = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(al)),
                                                     _mm512_cvtps_pd(_mm512_extractf32x8_ps(al, 1))));
    for (int c = d32; c < d; c += 2) { /* the columns left */
        float x0 = x[c], x1 = c + 1 < d ? x[c + 1] : 0.0f;
        uint32_t h0 = hs_bf16_bits(x0), h1 = hs_bf16_bits(x1);
        double l0 = (double) x0 - (double) hs_bf16_value(h0);
        double l1 = (double) x1 - (double) hs_bf16_value(h1);
        tot += (double) x0 * x0 + (double) x1 * x1;
        totl += l0 * l0 + l1 * l1;
        w[c / 2] = h0 | h1 << 16;
    }
    *s = tot;
    *sl = totl;
}

/*
 * E (row-major, E[t * d + c]) in bf16 pairs, row-major too: eb[t * dh + p] = bf16 E[t][2p] |
 * bf16 E[t][2p+1] << 16 (dh = (d + 1) / 2; rows V .. Vpad of the padding to a multiple of 4 zero),
 * and per token ne[t] >= ||E_t|| and nel[t] >= ||E_t - Eh_t||. Returns max ne, or +inf when some
 * row is not finite or its norm reaches 2^60 (the two-pass path is then not used). The sums of
 * squares (every term >= 0) have a relative error below (d + 2) 2^-24 (fp32 FMAs per lane, then
 * double), by which they are rounded up before the square root; 2^-60 is added for gradual
 * underflow.
 */
HS_AVX512 float hs_prepare_e_bf16(const float *E, int V, int d, uint32_t *eb, float *ne, float *nel) {
    const double up = 1.0 + (d + 2) * 0x1p-24;
    const int dh = (d + 1) / 2;
    const int vp = (V + HS_PACK - 1) / HS_PACK * HS_PACK;
    float emax = 0.0f;
    int bad = 0;
    for (int t = 0; t < V; t++) {
        double tot, totl;
        row_bf16(E + (size_t) t * d, d, eb + (size_t) t * dh, &tot, &totl);
        double n = sqrt(tot * up) * (1.0 + 0x1p-40) + 0x1p-60;
        double nl = sqrt(totl * up) * (1.0 + 0x1p-40) + 0x1p-60;
        if (!(n < 0x1p60) || !(nl < 0x1p60)) {
            bad = 1;
        }
        ne[t] = (float) (n * (1.0 + 0x1p-20));
        nel[t] = (float) (nl * (1.0 + 0x1p-20));
        if (ne[t] > emax) {
            emax = ne[t];
        }
    }
    memset(eb + (size_t) V * dh, 0, sizeof(uint32_t) * (size_t) (vp - V) * dh);
    return bad ? INFINITY : emax;
}

/* ---- the head side ---------------------------------------------------------------------- */

/* Mh in pairs, packed like mt: mt2[p * rp + j] = bf16 M[j][2p] | bf16 M[j][2p+1] << 16 (zero past r, d). */
static int pack_mh(hs_ctx *c, const float *M, int r, int d) {
    const int rp = c->rp, dh = (d + 1) / 2;
    c->mt2 = hs_grow(c->mt2, &c->mt2_cap, (size_t) dh * rp, sizeof(uint32_t));
    if (c->mt2 == NULL) {
        return -2;
    }
    for (int p = 0; p < dh; p++) {
        uint32_t *dst = c->mt2 + (size_t) p * rp;
        for (int j = 0; j < rp; j++) {
            uint32_t lo = 0, hi = 0;
            if (j < r) {
                lo = hs_bf16_bits(M[(size_t) j * d + 2 * p]);
                hi = 2 * p + 1 < d ? hs_bf16_bits(M[(size_t) j * d + 2 * p + 1]) : 0;
            }
            dst[j] = lo | hi << 16;
        }
    }
    return 0;
}

/* sum_c x[a][c] x[b][c] in double, AVX-512 (8 lanes, then reduced): the Gram entry. */
static HS_AVX512 double dot_d(const double *x, const double *y, int d) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    int c = 0;
    for (; c + 16 <= d; c += 16) {
        s0 = _mm512_fmadd_pd(_mm512_loadu_pd(x + c), _mm512_loadu_pd(y + c), s0);
        s1 = _mm512_fmadd_pd(_mm512_loadu_pd(x + c + 8), _mm512_loadu_pd(y + c + 8), s1);
    }
    double s = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    for (; c < d; c++) {
        s += x[c] * y[c];
    }
    return s;
}

/*
 * The per-row constants of the stage-1 bound (see the top of this file) for the rows of U
 * (n x r, row-major) and M (r x d): pm, qm and the additions to rnu; packs Mh. Returns 0, 1 when
 * a guard refuses the head (then nothing is usable), -2 when out of memory.
 */
HS_AVX512 int hs_twopass_rows(hs_ctx *c, const float *M, const float *U, int n, int r, int d, float emax,
                              float betamax) {
    if (!(emax < 0x1p60) || !(betamax < 0x1p110)) {
        return 1;
    }
    const int rows = c->nv * HS_L;
    size_t cap1 = c->pq_cap, cap2 = c->pq_cap, cap3 = c->pq_cap;
    c->pm = hs_grow(c->pm, &cap1, rows, sizeof(float));
    c->qm = hs_grow(c->qm, &cap2, rows, sizeof(float));
    c->hu = hs_grow(c->hu, &cap3, rows, sizeof(float));
    c->pq_cap = cap1 < cap2 ? (cap1 < cap3 ? cap1 : cap3) : (cap2 < cap3 ? cap2 : cap3);
    if (c->hu == NULL) {
        return -2;
    }
    c->work = hs_grow(c->work, &c->work_cap, (size_t) 2 * r * d + (size_t) 2 * r * r + 5 * (size_t) r, sizeof(double));
    double *work = c->work;
    if (c->pm == NULL || c->qm == NULL || work == NULL || pack_mh(c, M, r, d) != 0) {
        return -2;
    }
    double *mh = work, *ml = mh + (size_t) r * d, *gh = ml + (size_t) r * d, *gl = gh + (size_t) r * r;
    double *nm = gl + (size_t) r * r, *nmh = nm + r, *nml = nmh + r;
    double frob = 0.0;
    for (int j = 0; j < r; j++) {
        double s = 0.0, sh = 0.0, sl = 0.0;
        for (int cc = 0; cc < d; cc++) {
            double x = M[(size_t) j * d + cc];
            double h = hs_bf16_value(hs_bf16_bits(M[(size_t) j * d + cc]));
            mh[(size_t) j * d + cc] = h;
            ml[(size_t) j * d + cc] = x - h; /* exact: both are floats of nearby magnitude */
            s += x * x;
            sh += h * h;
            sl += (x - h) * (x - h);
        }
        nm[j] = sqrt(s) * (1.0 + 0x1p-40);
        nmh[j] = sqrt(sh) * (1.0 + 0x1p-40);
        nml[j] = sqrt(sl) * (1.0 + 0x1p-40);
        frob += s;
    }
    frob = sqrt(frob) * (1.0 + 0x1p-40);
    if (!(frob < 0x1p60)) {
        return 1;
    }
    for (int a = 0; a < r; a++) {
        for (int b = a; b < r; b++) {
            double h = dot_d(mh + (size_t) a * d, mh + (size_t) b * d, d);
            double l = dot_d(ml + (size_t) a * d, ml + (size_t) b * d, d);
            gh[a * r + b] = gh[b * r + a] = h;
            gl[a * r + b] = gl[b * r + a] = l;
        }
    }
    const double eg = (d + (double) r * r + 16) * 0x1p-52;
    const double g1 = (2.0 * d + r + 8) * 0x1p-24 * (1.0 + 0x1p-6);
    const double g2 = (r + 2) * 0x1p-24 * (1.0 + 0x1p-6);
    const double up = 1.0 + 0x1p-10;
    int refused = 0;
    double *ud = nml + r, *tmp = ud + r;
    for (int i = 0; i < rows; i++) {
        if (i >= n) {
            c->pm[i] = 0.0f;
            c->qm[i] = 0.0f;
            c->hu[i] = 0.0f;
            continue;
        }
        double u1 = 0.0, u2 = 0.0, S = 0.0, Sh = 0.0, Sl = 0.0, eu = 0.0, uh = 0.0;
        for (int j = 0; j < r; j++) {
            double x = U[(size_t) i * r + j];
            double xh = hs_bf16_value(hs_bf16_bits(U[(size_t) i * r + j])); /* as packed in ub */
            ud[j] = x;
            eu += (x - xh) * (x - xh);
            uh += xh * xh;
            u1 += fabs(x);
            u2 += x * x;
            S += fabs(x) * nm[j];
            Sh += fabs(x) * nmh[j];
            Sl += fabs(x) * nml[j];
        }
        u1 *= 1.0 + 0x1p-40;
        S *= 1.0 + 0x1p-40;
        Sh *= 1.0 + 0x1p-40;
        Sl *= 1.0 + 0x1p-40;
        if (!(S * emax < 0x1p110) || !(sqrt(u2) * frob * emax < 0x1p110)) {
            refused = 1;
            break;
        }
        double qh = 0.0, ql = 0.0;
        for (int a = 0; a < r; a++) {
            tmp[a] = dot_d(gh + (size_t) a * r, ud, r);
        }
        qh = dot_d(tmp, ud, r);
        for (int a = 0; a < r; a++) {
            tmp[a] = dot_d(gl + (size_t) a * r, ud, r);
        }
        ql = dot_d(tmp, ud, r);
        double nuh = sqrt(fmax(qh, 0.0) + eg * Sh * Sh) * (1.0 + 0x1p-40);
        double nul = sqrt(fmax(ql, 0.0) + eg * Sl * Sl) * (1.0 + 0x1p-40);
        c->pm[i] = (float) ((nul + g1 * S + 0x1p-100 * u1) * up);
        c->qm[i] = (float) (nuh * up);
        /* stage 2's bound on this path (twopass.c): ||u - uh|| ||a|| + ||uh|| ||a - ah|| + accumulation */
        const double nuhat = sqrt(uh) * (1.0 + 0x1p-40);
        c->hu[i] = (float) (nuhat * up);
        c->cnu[i] = (float) ((sqrt(eu) * (1.0 + 0x1p-40) + g2 * nuhat) * up);
        c->rnu[i] = (float) ((c->rnu[i] + 0x1p-100 * (S + u1)) * up);
    }
    return refused;
}

/* ---- the tile -------------------------------------------------------------------------- */

#define DEF_K1B(NV)                                                                              \
    static HS_AVX512_BF16 void k1b_##NV(const uint32_t *eb, int dh, const uint32_t *mt2, int rp, \
                                        float *at) {                                             \
        __m512 acc[4][NV];                                                                       \
        for (int m = 0; m < 4; m++) {                                                            \
            for (int q = 0; q < NV; q++) {                                                       \
                acc[m][q] = _mm512_setzero_ps();                                                 \
            }                                                                                    \
        }                                                                                        \
        const uint32_t *e0 = eb, *e1 = eb + dh, *e2 = eb + 2 * dh, *e3 = eb + 3 * dh;             \
        for (int p = 0; p < dh; p++) {                                                           \
            __m512i w[NV];                                                                       \
            for (int q = 0; q < NV; q++) {                                                       \
                w[q] = _mm512_load_si512((const void *) (mt2 + (size_t) p * rp + q * HS_L));     \
            }                                                                                    \
            const __m512i x[4] = {_mm512_set1_epi32((int) e0[p]), _mm512_set1_epi32((int) e1[p]), \
                                  _mm512_set1_epi32((int) e2[p]), _mm512_set1_epi32((int) e3[p])}; \
            for (int m = 0; m < 4; m++) {                                                        \
                for (int q = 0; q < NV; q++) {                                                   \
                    acc[m][q] = _mm512_dpbf16_ps(acc[m][q], (__m512bh) x[m], (__m512bh) w[q]);   \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        for (int m = 0; m < 4; m++) {                                                            \
            for (int q = 0; q < NV; q++) {                                                       \
                _mm512_store_ps(at + m * rp + q * HS_L, acc[m][q]);                              \
            }                                                                                    \
        }                                                                                        \
    }

DEF_K1B(1)
DEF_K1B(2)
DEF_K1B(3)
DEF_K1B(4)

/* at = A^ for tokens t0 .. t0+len (len rounded up to HS_PACK; eb as hs_prepare_e_bf16 made it). */
HS_AVX512_BF16 void hs_stage1_bf16(hs_ctx *c, const uint32_t *eb, int d, int t0, int len) {
    const int rp = c->rp, nvr = rp / HS_L, dh = (d + 1) / 2;
    const int lenp = (len + HS_PACK - 1) / HS_PACK * HS_PACK;
    for (int b = 0; b < lenp; b += HS_PACK) {
        const uint32_t *e = eb + (size_t) (t0 + b) * dh;
        float *at = c->at + (size_t) b * rp;
        for (int v0 = 0; v0 < nvr; v0 += 4) {
            const uint32_t *mt2 = c->mt2 + v0 * HS_L;
            float *a = at + v0 * HS_L;
            switch (nvr - v0 >= 4 ? 4 : nvr - v0) {
            case 4: k1b_4(e, dh, mt2, rp, a); break;
            case 3: k1b_3(e, dh, mt2, rp, a); break;
            case 2: k1b_2(e, dh, mt2, rp, a); break;
            default: k1b_1(e, dh, mt2, rp, a); break;
            }
        }
    }
}
