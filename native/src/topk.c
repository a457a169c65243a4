/*
 * topk.c: the running top-k of every keyword row, with TopK.java's rule (portable C): a larger
 * value first, equal values (-0 == +0) by lower id, NaN below every number and NaNs by lower id.
 * Each row keeps a sorted array of at most k entries and a gate, its k-th value once full (NaN
 * before, which lets everything through): candidates come in increasing id order, so one with
 * v <= gate can never enter. Unfilled slots hold id -1 and NaN, as in TopK.java.
 *
 * Checked by NativeKernelTest (ties from duplicate columns of E, NaN and infinities, k = 1..40)
 * against the Java kernels, which use TopK.java.
 */
#include "hs_native.h"

#include <math.h>
#include <stdlib.h>

int hs_before(float va, int32_t ia, float vb, int32_t ib) {
    if (va > vb) {
        return 1;
    }
    if (va < vb) {
        return 0;
    }
    int na = va != va;
    int nb = vb != vb;
    if (na != nb) {
        return nb;
    }
    return ia < ib;
}

void hs_topk_reset(hs_ctx *c) {
    size_t nk = (size_t) c->n * c->k;
    size_t cap1 = c->topk_cap, cap2 = c->topk_cap;
    c->tv = hs_grow(c->tv, &cap1, nk, sizeof(float));
    c->ti = hs_grow(c->ti, &cap2, nk, sizeof(int32_t));
    c->topk_cap = cap1 < cap2 ? cap1 : cap2;
    size_t rows = (size_t) c->nv * HS_L;
    size_t g1 = c->gate_cap, g2 = c->gate_cap;
    c->gate = hs_grow(c->gate, &g1, rows, sizeof(float));
    c->cnt = hs_grow(c->cnt, &g2, rows, sizeof(int32_t));
    c->gate_cap = g1 < g2 ? g1 : g2;
    for (size_t q = 0; q < nk; q++) {
        c->tv[q] = NAN;
        c->ti[q] = -1;
    }
    for (size_t i = 0; i < rows; i++) {
        c->gate[i] = (int) i < c->n ? NAN : INFINITY;
        c->cnt[i] = 0;
    }
}

void hs_offer(hs_ctx *c, int row, int32_t id, float v) {
    int k = c->k;
    float *vals = c->tv + (size_t) row * k;
    int32_t *ids = c->ti + (size_t) row * k;
    int n = c->cnt[row];
    int p;
    if (n == k) {
        if (!hs_before(v, id, vals[k - 1], ids[k - 1])) {
            return;
        }
        p = k - 1;
    } else {
        c->cnt[row] = n + 1;
        p = n;
    }
    while (p > 0 && hs_before(v, id, vals[p - 1], ids[p - 1])) {
        vals[p] = vals[p - 1];
        ids[p] = ids[p - 1];
        p--;
    }
    vals[p] = v;
    ids[p] = id;
    if (c->cnt[row] == k) {
        c->gate[row] = vals[k - 1]; /* a NaN k-th value keeps the gate open */
    }
}
