/*
 * twopass.c: one head's top-k with both stages in bf16 and exact answers, in two passes.
 *
 * Pass 1 streams the vocabulary once: each tile of A^ (stage 1 in bf16, stage1_bf16.c) is
 * rounded to bf16 and multiplied with the rows in bf16 (stage 2's VDPBF16PS form,
 * stage2_bf16.c), giving approx[i][t]. With m[i][t] the sum of stage 2's margin (below) and stage
 * 1's (stage1_bf16.c), every exact logit lies in [approx - m, approx + m].
 *
 * Stage 2's margin on this path. u = U[i], a = A^_t, uh and ah their bf16 roundings as stored.
 * uh.ah - u.a = (uh - u).a + uh.(ah - a) exactly, so |uh.ah - u.a| <= ||u - uh|| ||a|| +
 * ||uh|| ||a - ah|| (Cauchy-Schwarz; the residual norms are computed in double from the stored
 * values and rounded up: cnu's first term, hu, and ea per token). VDPBF16PS adds the r products
 * to beta with at most r roundings: gamma_r (|beta| + ||uh|| ||ah||), ||ah|| <= (1 + 2^-8) ||a||
 * (cnu's second term, g2 ||uh||, and stage 2's c2 |beta| in tb); bf16 subnormals read as zero and
 * flushed results are covered by stage 2's tiny terms (rnu, tb) as in stage2_bf16.c. The exact
 * logit's own chain (beta, then r FMAs on the exact A) is bounded in stage1_bf16.c (g1, c2_add).
 * Per (row, token): m = tb_t + rnu_i + cnu_i na_t + hu_i ea_t + pm_i ne_t + qm_i nel_t, each term
 * rounded up by at least 2^-20 relative, more than the five fp32 roundings of the sum. Per row the
 * pass keeps the k largest lower bounds seen so far; tau, the float just below the k-th of them,
 * is a lower bound of the row's final exact k-th value (k tokens are known to reach it). A token
 * whose upper bound is below tau when it is seen can never be in the top-k and is dropped; the
 * others are listed with their upper bounds.
 *
 * Pass 2 drops the listed tokens whose upper bound is below the row's final tau, computes the
 * exact columns of A (the stage-1 chains of stage1_avx512.c) for the tokens left in any row, and
 * re-scores each listed (row, token) with stage 2's exact chain (beta, then fma over j), offering
 * it to the top-k (topk.c). Every token of the exact top-k is offered with its exact value, and
 * the top-k's rule (value, then lower id) is a total order, so the result is the fp32 path's bit
 * for bit. The arithmetic saved: stage 1 runs at bf16 speed, and only a few exact columns per
 * row are computed (most rows' survivors are the same tokens).
 *
 * Rounding: ub = fl(approx + m) and a token is listed unless ub < tau; since rounding is monotone
 * and tau is a float, exact >= tau implies ub >= tau. lb = fl(approx - m) may exceed approx - m by
 * half an ulp; tau is the next float below the k-th lb, which is at most the k-th real lower bound.
 *
 * Checked by NativeKernelTest (bit equality with the fp32 path on random, tied and adversarial
 * inputs; counts of listed pairs and exact columns) and EngineMatchesReferenceTest.
 */
#include "hs_native.h"
#include "simd.h"
#include "bf16_block.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


/* Appends (t, ub) to a row's list; when full, first drops the entries below tau, then grows. */
static int list_push(struct hs_list *l, int32_t t, float ub, float tau) {
    if (l->len == l->cap) {
        int w = 0;
        for (int e = 0; e < l->len; e++) {
            if (!(l->ub[e] < tau)) {
                l->t[w] = l->t[e];
                l->ub[w] = l->ub[e];
                w++;
            }
        }
        l->len = w;
        if (w * 2 > l->cap || l->cap == 0) {
            int cap = l->cap == 0 ? 64 : l->cap * 2;
            int32_t *nt = realloc(l->t, sizeof(int32_t) * (size_t) cap);
            if (nt == NULL) {
                return -2;
            }
            l->t = nt;
            float *nu = realloc(l->ub, sizeof(float) * (size_t) cap);
            if (nu == NULL) {
                return -2;
            }
            l->ub = nu;
            l->cap = cap;
        }
    }
    l->t[l->len] = t;
    l->ub[l->len] = ub;
    l->len++;
    return 0;
}

/* A (row, token) whose upper bound reached tau: listed; its lower bound may raise tau. */
static int pass1_offer(hs_ctx *c, int row, int32_t t, float ub, float lb) {
    if (list_push(&c->lists[row], t, ub, c->tau[row]) != 0) {
        return -2;
    }
    const int k = c->k;
    float *L = c->lbk + (size_t) row * k;
    int cnt = c->lbn[row];
    if (!(lb == lb) || (cnt == k && !(lb > L[k - 1]))) {
        return 0;
    }
    int p = cnt == k ? k - 1 : cnt;
    if (cnt < k) {
        c->lbn[row] = ++cnt;
    }
    while (p > 0 && lb > L[p - 1]) {
        L[p] = L[p - 1];
        p--;
    }
    L[p] = lb;
    if (cnt == k) {
        c->tau[row] = nextafterf(L[k - 1], -INFINITY);
    }
    return 0;
}

#define DEF_K2T(NV)                                                                                \
    static HS_AVX512_BF16 int k2t_##NV(hs_ctx *c, const float *beta, const float *ne,              \
                                       const float *nel, int t0, int b, int len, int v0) {         \
        __m512 acc[4][NV];                                                                         \
        hs_bf16_block_##NV(c, beta, t0, b, v0, acc);                                               \
        const int tokens = len - b < 4 ? len - b : 4;                                              \
        __m512 mgs[4][NV];                                                                         \
        __mmask16 pass[4][NV];                                                                     \
        __mmask16 any = 0;                                                                         \
        for (int q = 0; q < NV; q++) {                                                             \
            const int o = (v0 + q) * HS_L;                                                         \
            __m512 tau = _mm512_load_ps(c->tau + o);                                               \
            __m512 cn = _mm512_load_ps(c->cnu + o);                                                \
            __m512 rn = _mm512_load_ps(c->rnu + o);                                                \
            __m512 pm = _mm512_load_ps(c->pm + o);                                                 \
            __m512 qm = _mm512_load_ps(c->qm + o);                                                 \
            __m512 hu = _mm512_load_ps(c->hu + o);                                                 \
            for (int m = 0; m < 4; m++) {                                                          \
                const int t = t0 + b + m;                                                          \
                __m512 mg = _mm512_add_ps(_mm512_set1_ps(c->tb[b + m]), rn);                       \
                mg = _mm512_fmadd_ps(cn, _mm512_set1_ps(c->na[b + m]), mg);                        \
                mg = _mm512_fmadd_ps(hu, _mm512_set1_ps(c->ea[b + m]), mg);                        \
                mg = _mm512_fmadd_ps(pm, _mm512_set1_ps(ne[t]), mg);                               \
                mg = _mm512_fmadd_ps(qm, _mm512_set1_ps(nel[t]), mg);                              \
                mgs[m][q] = mg;                                                                    \
                pass[m][q] = m < tokens ? _mm512_cmp_ps_mask(_mm512_add_ps(acc[m][q], mg), tau,    \
                                                             _CMP_NLT_UQ) : 0;                     \
                any |= pass[m][q];                                                                 \
            }                                                                                      \
        }                                                                                          \
        if (!any) {                                                                                \
            return 0;                                                                              \
        }                                                                                          \
        for (int m = 0; m < tokens; m++) {                                                         \
            for (int q = 0; q < NV; q++) {                                                         \
                unsigned mk = pass[m][q];                                                          \
                if (!mk) {                                                                         \
                    continue;                                                                      \
                }                                                                                  \
                const int o = (v0 + q) * HS_L;                                                     \
                float ubs[HS_L] __attribute__((aligned(64)));                                      \
                float lbs[HS_L] __attribute__((aligned(64)));                                      \
                _mm512_store_ps(ubs, _mm512_add_ps(acc[m][q], mgs[m][q]));                         \
                _mm512_store_ps(lbs, _mm512_sub_ps(acc[m][q], mgs[m][q]));                         \
                while (mk) {                                                                       \
                    const int l = __builtin_ctz(mk);                                               \
                    mk &= mk - 1;                                                                  \
                    if (o + l >= c->n) {                                                           \
                        break;                                                                     \
                    }                                                                              \
                    /* tau may have risen since the mask was made: offer only what still passes */ \
                    if (!(ubs[l] < c->tau[o + l])                                                  \
                            && pass1_offer(c, o + l, t0 + b + m, ubs[l], lbs[l]) != 0) {           \
                        return -2;                                                                 \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        return 0;                                                                                  \
    }

DEF_K2T(1)
DEF_K2T(2)
DEF_K2T(3)
DEF_K2T(4)

/* Pass-1 state for n rows: tau, lower bounds, empty lists. */
static int pass1_reset(hs_ctx *c) {
    const size_t rows = (size_t) c->nv * HS_L;
    c->tau = hs_grow(c->tau, &c->tau_cap, rows, sizeof(float));
    c->lbk = hs_grow(c->lbk, &c->lbk_cap, (size_t) c->n * c->k, sizeof(float));
    c->lbn = hs_grow(c->lbn, &c->lbn_cap, rows, sizeof(int32_t));
    if (c->tau == NULL || c->lbk == NULL || c->lbn == NULL) {
        return -2;
    }
    if (c->lists_cap < rows) {
        struct hs_list *nl = realloc(c->lists, sizeof(struct hs_list) * rows);
        if (nl == NULL) {
            return -2;
        }
        memset(nl + c->lists_cap, 0, sizeof(struct hs_list) * (rows - c->lists_cap));
        c->lists = nl;
        c->lists_cap = rows;
    }
    for (size_t i = 0; i < rows; i++) {
        c->tau[i] = (int) i < c->n ? -INFINITY : INFINITY;
        c->lbn[i] = 0;
        c->lists[i].len = 0;
    }
    return 0;
}

/* Stage 2's exact chain for one (row, token): beta, then fma over j in order. */
static HS_AVX512 float exact_logit(const float *u, const float *a, int r, float beta) {
    float x = beta;
    for (int j = 0; j < r; j++) {
        x = __builtin_fmaf(a[j], u[j], x);
    }
    return x;
}

/* Pass 2: the survivors' exact columns and values, offered to the top-k. */
static HS_AVX512 int pass2(hs_ctx *c, const float *U, const float *E, const float *beta, int V, int d) {
    const int n = c->n, r = c->r, rp = c->rp;
    c->slot = hs_grow(c->slot, &c->slot_cap, (size_t) V, sizeof(int32_t));
    if (c->slot == NULL) {
        return -2;
    }
    memset(c->slot, 0xff, sizeof(int32_t) * (size_t) V); /* -1 */
    for (int i = 0; i < n; i++) {
        struct hs_list *l = &c->lists[i];
        const float tau = c->tau[i];
        int w = 0;
        for (int e = 0; e < l->len; e++) {
            if (!(l->ub[e] < tau)) {
                l->t[w++] = l->t[e];
                c->slot[l->t[e]] = 0;
            }
        }
        l->len = w;
    }
    int cnt = 0;
    for (int t = 0; t < V; t++) {
        if (c->slot[t] == 0) {
            cnt++;
        }
    }
    c->uni = hs_grow(c->uni, &c->uni_cap, (size_t) cnt + HS_PACK, sizeof(int32_t));
    c->cols = hs_grow(c->cols, &c->cols_cap, ((size_t) cnt + HS_PACK) * rp, sizeof(float));
    if (c->uni == NULL || c->cols == NULL) {
        return -2;
    }
    cnt = 0;
    for (int t = 0; t < V; t++) {
        if (c->slot[t] == 0) {
            c->slot[t] = cnt;
            c->uni[cnt++] = t;
        }
    }
    hs_stage1_columns_avx512(c, E, d, c->uni, cnt, c->cols);
    c->columns += cnt;
    for (int i = 0; i < n; i++) {
        const struct hs_list *l = &c->lists[i];
        const float *u = U + (size_t) i * r;
        for (int e = 0; e < l->len; e++) {
            const int32_t t = l->t[e];
            const float x = exact_logit(u, c->cols + (size_t) c->slot[t] * rp, r, beta[t]);
            c->rescored++;
            hs_offer(c, i, t, x);
        }
    }
    return 0;
}


int hs_twopass_head(hs_ctx *c, const float *M, const float *U, const uint32_t *eb, const float *ne,
                    const float *nel, float emax, const float *E, const float *beta, float betamax, int V, int d) {
    int rc = hs_twopass_rows(c, M, U, c->n, c->r, d, emax, betamax);
    if (rc != 0) {
        return rc;
    }
    c->c2_add = (float) ((c->r + 2) * 0x1p-24 * (1.0 + 0x1p-10));
    c->two_pass = 1;
    rc = pass1_reset(c);
    if (rc != 0) {
        return rc;
    }
    for (int t0 = 0; t0 < V; t0 += HS_TILE) {
        const int len = V - t0 < HS_TILE ? V - t0 : HS_TILE;
        hs_stage1_bf16(c, eb, d, t0, len);
        hs_prepare_tile_bf16(c, beta, t0, len);
        for (int v0 = 0; v0 < c->nv; v0 += 4) {
            const int nvq = c->nv - v0 >= 4 ? 4 : c->nv - v0;
            for (int b = 0; b < len; b += HS_PACK) {
                switch (nvq) {
                case 4: rc = k2t_4(c, beta, ne, nel, t0, b, len, v0); break;
                case 3: rc = k2t_3(c, beta, ne, nel, t0, b, len, v0); break;
                case 2: rc = k2t_2(c, beta, ne, nel, t0, b, len, v0); break;
                default: rc = k2t_1(c, beta, ne, nel, t0, b, len, v0); break;
                }
                if (rc != 0) {
                    return rc;
                }
            }
        }
    }
    return pass2(c, U, E, beta, V, d);
}
