/*
 * hs_native.h: what the files of libheadsweep_native share: the per-thread context of the fused
 * OV top-k (FactoredTopK.Kernel in C), the layouts of its packed operands, and the entry points of
 * each part (dispatch.c, context.c, topk.c, stage1_avx512.c, stage2_avx512.c, stage2_bf16.c,
 * stage1_bf16.c, twopass.c, matmul_avx512.c, jni_bridge.c).
 *
 * Arithmetic contract (checked bit for bit by NativeKernelTest and EngineMatchesReferenceTest
 * against the Java kernels, which share it):
 *   stage 1: A[j][t] = fma(M[j][d-1], E[t][d-1], ... fma(M[j][1], E[t][1], fma(M[j][0], E[t][0], +0)))
 *            -- one fp32 FMA chain over c = 0..d-1 in order, starting from +0;
 *   stage 2: logit[i][t] = fma(U[i][r-1], A[r-1][t], ... fma(U[i][0], A[0][t], beta[t]))
 *            -- beta first, then one FMA chain over j = 0..r-1 in order.
 * Compiled with -ffp-contract=off and without -ffast-math, so that only the explicit FMAs fuse.
 */
#ifndef HS_NATIVE_H
#define HS_NATIVE_H

#include <stdint.h>
#include <stddef.h>

/* Tokens per tile; a multiple of HS_PACK. The Java side tiles the vocabulary the same way. */
#define HS_TILE 512
/* Tokens interleaved per block of the packed embedding (FactoredTopK.PACK). */
#define HS_PACK 4
/* fp32 lanes of an AVX-512 vector. */
#define HS_L 16

/* Which code path the library runs (dispatch.c). */
enum hs_isa { HS_ISA_NONE = 0, HS_ISA_AVX512 = 1, HS_ISA_AVX512_BF16 = 2 };

typedef struct hs_ctx {
    /* shape of the current head */
    int r;      /* head size (rows of M, columns of U) */
    int rp;     /* r rounded up to HS_L: the row stride of the fp32 A tile and of the packed M */
    int rh;     /* (r + 1) / 2: bf16 pairs per token */
    int n;      /* keyword rows */
    int nv;     /* vectors of HS_L rows: ceil(n / HS_L) */
    int k;
    int bf16;   /* stage 2 through the bf16 gate (stage2_bf16.c) */

    /* M packed transposed: mt[c * rp + j] = M[j][c] (zero for j >= r); capacity in floats */
    float *mt; size_t mt_cap;
    /* U packed per vector of HS_L rows: ut[(v * r + j) * HS_L + l] = U[v*HS_L + l][j] (zero rows past n) */
    float *ut; size_t ut_cap;
    /* U in bf16 pairs: ub[(v * rh + p) * HS_L + l] = (bf16 U[row][2p] | bf16 U[row][2p+1] << 16) */
    uint32_t *ub; size_t ub_cap;
    /* per row, padded to nv * HS_L: cnu = c * ||u_i||, rnu = tiny * ||u_i|| (see stage2_bf16.c) */
    float *cnu, *rnu; size_t rows_cap;

    /* the current tile of A, token-major: at[q * rp + j] = A[j][t0 + q]; rows past len are zero */
    float *at; size_t at_cap;
    /* its bf16 pairs, ab[q * (rp / 2) + p] (p < rh), and per token the margin terms na (||a_t||) and tb,
     * and on the two-pass path ea (||a_t - bf16(a_t)||) */
    uint32_t *ab; size_t ab_cap;
    float *na, *tb, *ea;

    /* top-k: row i's entries at i*k, best first; cnt[i] entries held; gate[i] (nv*HS_L, +inf past n) */
    float *tv; int32_t *ti; int32_t *cnt; float *gate; size_t topk_cap, gate_cap;

    /* the two-pass path (stage1_bf16.c, twopass.c) */
    /* Mh in bf16 pairs, packed like mt: mt2[p * rp + j] (p < (d + 1) / 2) */
    uint32_t *mt2; size_t mt2_cap;
    /* whether the current head runs the two-pass path (prepare_tile then also makes ea) */
    int two_pass;
    /* per row (nv * HS_L): the stage-1 bound's P (times ||E_t||) and Q (times ||El_t||), and
     * ||bf16(u_i)|| (times ea); cnu then holds ||u_i - bf16(u_i)|| + the accumulation term (twopass.c) */
    float *pm, *qm, *hu; size_t pq_cap;
    /* scratch in double for the bound's constants (Mh, Ml, their Gram matrices, norms) */
    double *work; size_t work_cap;
    /* extra coefficient of |beta_t| in the token's margin term tb (0 on the one-pass path) */
    float c2_add;
    /* per row: tau (the pass-1 threshold, -inf until k lower bounds are in; +inf past n), the k
     * largest lower bounds so far (lbk[i * k ..], descending) and how many */
    float *tau, *lbk; int32_t *lbn; size_t tau_cap, lbk_cap, lbn_cap;
    /* per row: the tokens that passed tau when seen, with their upper bounds (grown as needed) */
    struct hs_list { int32_t *t; float *ub; int len, cap; } *lists; size_t lists_cap;
    /* pass 2: token -> slot of its exact column (-1), the tokens with a column, the columns */
    int32_t *slot; size_t slot_cap;
    int32_t *uni; size_t uni_cap;
    float *cols; size_t cols_cap;

    /* counters for tests and benchmarks: (token, row) pairs re-scored in fp32 by the bf16 paths;
     * exact columns of A computed by the two-pass path */
    int64_t rescored;
    int64_t columns;
} hs_ctx;

/* dispatch.c */
int hs_isa(void);
const char *hs_isa_name(int isa);

/* context.c (portable C) */
/* fp32 -> bf16 bits, round to nearest even (NaN stays NaN), and back */
uint32_t hs_bf16_bits(float x);
float hs_bf16_value(uint32_t b);
/* p when it holds need elements of elem bytes (*cap of them), else p freed and a new 64-byte-aligned
 * block of need (NULL and *cap 0 when out of memory); the contents are not kept. */
void *hs_grow(void *p, size_t *cap, size_t need, size_t elem);
hs_ctx *hs_ctx_new(void);
void hs_ctx_free(hs_ctx *c);
/* Binds a head's rows: packs U (fp32 and, with bf16, bf16 pairs and norms), resets the top-k. 0 on success. */
int hs_begin(hs_ctx *c, const float *U, int n, int r, int k, int bf16);
/* Packs M (r x d) transposed into mt. 0 on success. */
int hs_pack_m(hs_ctx *c, const float *M, int r, int d);
/* The packed E of FactoredTopK.Prepared (Ep[(b * d + c) * 4 + m] = E[4b + m][c], zero rows past V) for blocks b0 .. b1. */
void hs_pack_e(const float *E, int V, int d, float *Ep, int b0, int b1);
/* Copies a token-major tile (src[q * ld + j]) into at, zeroing the rows past len up to a multiple of HS_PACK. */
void hs_load_tile(hs_ctx *c, const float *src, int ld, int len);
/* Copies at out to a token-major array (dst[q * ld + j], j < r). */
void hs_store_tile(const hs_ctx *c, float *dst, int ld, int len);
/* Writes the top-k of every row to ids/vals (row i at i*k). */
void hs_finish(const hs_ctx *c, int32_t *ids, float *vals);

/* topk.c (portable C): TopK.before and TopK.offer */
int hs_before(float va, int32_t ia, float vb, int32_t ib);
void hs_offer(hs_ctx *c, int row, int32_t id, float v);
void hs_topk_reset(hs_ctx *c);

/* stage1_avx512.c: at = A for tokens t0 .. t0+len (len rounded up to HS_PACK) from the packed E. */
void hs_stage1_avx512(hs_ctx *c, const float *Ep, int d, int t0, int len);

/* stage2_avx512.c: the exact fp32 logits of the tile, folded into the top-k. */
void hs_stage2_avx512(hs_ctx *c, const float *beta, int t0, int len);

/* stage2_bf16.c: the approximate bf16 logits, the margin gate, exact re-scoring of candidates. */
void hs_prepare_tile_bf16(hs_ctx *c, const float *beta, int t0, int len);
void hs_stage2_bf16(hs_ctx *c, const float *beta, int t0, int len);
/* The margin constants for head size r (stage2_bf16.c documents the bound). */
void hs_margin_constants(int r, float *cc, float *c2, float *tiny);


/* stage1_bf16.c: the two-pass path's stage 1 in bf16 and the constants of its bound */
float hs_prepare_e_bf16(const float *E, int V, int d, uint32_t *eb, float *ne, float *nel);
int hs_twopass_rows(hs_ctx *c, const float *M, const float *U, int n, int r, int d, float emax, float betamax);
void hs_stage1_bf16(hs_ctx *c, const uint32_t *eb, int d, int t0, int len);

/* stage1_avx512.c: exact columns of A (the stage-1 chains) for cnt tokens from row-major E, out[q * rp + j] */
void hs_stage1_columns_avx512(const hs_ctx *c, const float *E, int d, const int32_t *tok, int cnt, float *out);

/* matmul_avx512.c: out[n x m] += x[n x k] . W[:, colOff .. colOff+m] (W row-major, ld columns), one fma chain
 * per element over i in order (MatMul.xw, VectorMatMul's bits). */
void hs_xw(const float *x, int n, int k, const float *w, int ld, int colOff, int m, float *out);

/* twopass.c: one head through both passes (see twopass.c); 0, 1 (refused: use the one-pass path), < 0 errors */
int hs_twopass_head(hs_ctx *c, const float *M, const float *U, const uint32_t *eb, const float *ne,
                    const float *nel, float emax, const float *E, const float *beta, float betamax, int V, int d);
#endif
