/*
 * context.c: the per-thread context of the native kernel (portable C, no intrinsics): scratch
 * that grows to the largest head seen, packing of M and U into the layouts of hs_native.h, the
 * row norms of U that the bf16 gate's margin needs, and tiles in and out of the Java arrays.
 *
 * Checked through the Java tests (NativeKernelTest): every layout error shows up as a top-k or
 * an A tile that differs from the Java kernels' bits.
 */
#include "hs_native.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void *hs_grow(void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap && p != NULL) {
        return p;
    }
    free(p);
    size_t bytes = (need * elem + 63) / 64 * 64;
    void *q = aligned_alloc(64, bytes == 0 ? 64 : bytes);
    *cap = q == NULL ? 0 : need;
    return q;
}

hs_ctx *hs_ctx_new(void) {
    hs_ctx *c = calloc(1, sizeof(hs_ctx));
    if (c == NULL) {
        return NULL;
    }
    size_t cap = 0;
    c->na = hs_grow(NULL, &cap, HS_TILE, sizeof(float));
    c->tb = hs_grow(NULL, &cap, HS_TILE, sizeof(float));
    c->ea = hs_grow(NULL, &cap, HS_TILE, sizeof(float));
    if (c->na == NULL || c->tb == NULL || c->ea == NULL) {
        hs_ctx_free(c);
        return NULL;
    }
    return c;
}

void hs_ctx_free(hs_ctx *c) {
    if (c == NULL) {
        return;
    }
    free(c->mt);
    free(c->ut);
    free(c->ub);
    free(c->cnu);
    free(c->rnu);
    free(c->at);
    free(c->ab);
    free(c->na);
    free(c->tb);
    free(c->ea);
    free(c->tv);
    free(c->ti);
    free(c->cnt);
    free(c->gate);
    free(c->mt2);
    free(c->work);
    free(c->pm);
    free(c->qm);
    free(c->hu);
    free(c->tau);
    free(c->lbk);
    free(c->lbn);
    if (c->lists != NULL) {
        for (size_t i = 0; i < c->lists_cap; i++) {
            free(c->lists[i].t);
            free(c->lists[i].ub);
        }
        free(c->lists);
    }
    free(c->slot);
    free(c->uni);
    free(c->cols);
    free(c);
}

/* fp32 -> bf16, round to nearest even, NaN kept NaN (as VCVTNEPS2BF16 does for normal numbers). */
uint32_t hs_bf16_bits(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) {
        return (b >> 16) | 0x40u;
    }
    b += 0x7fffu + ((b >> 16) & 1u);
    return b >> 16;
}

float hs_bf16_value(uint32_t h) {
    uint32_t b = h << 16;
    float x;
    memcpy(&x, &b, 4);
    return x;
}

int hs_begin(hs_ctx *c, const float *U, int n, int r, int k, int bf16) {
    if (r < 1 || r > 4096 || n < 0 || k < 1) {
        return -1;
    }
    c->r = r;
    c->rp = (r + HS_L - 1) / HS_L * HS_L;
    c->rh = (r + 1) / 2;
    c->n = n;
    c->nv = (n + HS_L - 1) / HS_L;
    c->k = k;
    c->bf16 = bf16;
    c->c2_add = 0.0f;
    c->two_pass = 0;
    c->rescored = 0;
    c->columns = 0;
    c->at = hs_grow(c->at, &c->at_cap, (size_t) HS_TILE * c->rp, sizeof(float));
    c->ab = hs_grow(c->ab, &c->ab_cap, (size_t) HS_TILE * (c->rp / 2), sizeof(uint32_t));
    if (c->at == NULL || c->ab == NULL) {
        return -2;
    }
    size_t rows = (size_t) c->nv * HS_L;
    c->ut = hs_grow(c->ut, &c->ut_cap, rows * (size_t) r, sizeof(float));
    if (c->ut == NULL) {
        return -2;
    }
    for (int v = 0; v < c->nv; v++) {
        for (int j = 0; j < r; j++) {
            float *dst = c->ut + ((size_t) v * r + j) * HS_L;
            for (int l = 0; l < HS_L; l++) {
                int i = v * HS_L + l;
                dst[l] = i < n ? U[(size_t) i * r + j] : 0.0f;
            }
        }
    }
    if (bf16) {
        c->ub = hs_grow(c->ub, &c->ub_cap, rows * (size_t) c->rh, sizeof(uint32_t));
        size_t cap1 = c->rows_cap, cap2 = c->rows_cap;
        c->cnu = hs_grow(c->cnu, &cap1, rows, sizeof(float));
        c->rnu = hs_grow(c->rnu, &cap2, rows, sizeof(float));
        c->rows_cap = cap1 < cap2 ? cap1 : cap2;
        if (c->ub == NULL || c->cnu == NULL || c->rnu == NULL) {
            return -2;
        }
        for (int v = 0; v < c->nv; v++) {
            for (int p = 0; p < c->rh; p++) {
                uint32_t *dst = c->ub + ((size_t) v * c->rh + p) * HS_L;
                for (int l = 0; l < HS_L; l++) {
                    int i = v * HS_L + l;
                    uint32_t lo = 0, hi = 0;
                    if (i < n) {
                        lo = hs_bf16_bits(U[(size_t) i * r + 2 * p]);
                        hi = 2 * p + 1 < r ? hs_bf16_bits(U[(size_t) i * r + 2 * p + 1]) : 0;
                    }
                    dst[l] = lo | hi << 16;
                }
            }
        }
        float cc, c2, tiny;
        hs_margin_constants(r, &cc, &c2, &tiny);
        for (size_t i = 0; i < rows; i++) {
            double s = 0.0;
            if ((int) i < n) {
                for (int j = 0; j < r; j++) {
                    double x = U[i * (size_t) r + j];
                    s += x * x; /* squares of floats neither overflow nor underflow in double */
                }
            }
            /* ||u|| rounded up; a row whose norm reaches 2^63 (or is NaN/inf) is always re-scored */
            double nu = sqrt(s) * (1.0 + 0x1p-20);
            if (!(nu < 0x1p63)) {
                c->cnu[i] = INFINITY;
                c->rnu[i] = INFINITY;
            } else {
                c->cnu[i] = (float) (cc * nu * (1.0 + 0x1p-20));
                c->rnu[i] = (float) (tiny * nu * (1.0 + 0x1p-20));
            }
        }
    }
    hs_topk_reset(c);
    return 0;
}

int hs_pack_m(hs_ctx *c, const float *M, int r, int d) {
    int rp = (r + HS_L - 1) / HS_L * HS_L;
    c->mt = hs_grow(c->mt, &c->mt_cap, (size_t) rp * d, sizeof(float));
    if (c->mt == NULL) {
        return -2;
    }
    for (int cc = 0; cc < d; cc++) {
        float *dst = c->mt + (size_t) cc * rp;
        for (int j = 0; j < rp; j++) {
            dst[j] = j < r ? M[(size_t) j * d + cc] : 0.0f;
        }
    }
    return 0;
}

void hs_pack_e(const float *E, int V, int d, float *Ep, int b0, int b1) {
    for (int b = b0; b < b1; b++) {
        float *dst = Ep + (size_t) b * d * HS_PACK;
        for (int m = 0; m < HS_PACK; m++) {
            const int t = b * HS_PACK + m;
            if (t < V) {
                const float *src = E + (size_t) t * d;
                for (int cc = 0; cc < d; cc++) {
                    dst[(size_t) cc * HS_PACK + m] = src[cc];
                }
            } else {
                for (int cc = 0; cc < d; cc++) {
                    dst[(size_t) cc * HS_PACK + m] = 0.0f;
                }
            }
        }
    }
}

void hs_load_tile(hs_ctx *c, const float *src, int ld, int len) {
    int r = c->r, rp = c->rp;
    int lenp = (len + HS_PACK - 1) / HS_PACK * HS_PACK;
    for (int q = 0; q < lenp; q++) {
        float *dst = c->at + (size_t) q * rp;
        if (q < len) {
            memcpy(dst, src + (size_t) q * ld, (size_t) r * sizeof(float));
            for (int j = r; j < rp; j++) {
                dst[j] = 0.0f;
            }
        } else {
            memset(dst, 0, (size_t) rp * sizeof(float));
        }
    }
}

void hs_store_tile(const hs_ctx *c, float *dst, int ld, int len) {
    for (int q = 0; q < len; q++) {
        memcpy(dst + (size_t) q * ld, c->at + (size_t) q * c->rp, (size_t) c->r * sizeof(float));
    }
}

void hs_finish(const hs_ctx *c, int32_t *ids, float *vals) {
    size_t nk = (size_t) c->n * c->k;
    memcpy(ids, c->ti, nk * sizeof(int32_t));
    memcpy(vals, c->tv, nk * sizeof(float));
}
