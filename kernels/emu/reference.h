// reference.h: the plain host loops the emulator tests compare the top-k kernels with: the fp32
// logit in the CPU's order (beta, then fmaf over j), the tie rule (headsweep.cuh's hs_before) and
// a full stable sort, and a bitwise comparison of a kernel's ids and values with it.
#pragma once
#include <algorithm>
#include <cmath>
#include <random>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

static bool same(float a, float b) {
    return (a != a && b != b) || std::memcmp(&a, &b, 4) == 0;
}
static bool hostBefore(float va, int ia, float vb, int ib) {
    if (va > vb) return true;
    if (va < vb) return false;
    bool na = va != va, nb = vb != vb;
    if (na != nb) return nb;
    return ia < ib;
}

// Row (g, i)'s exact logits in the kernels' order.
static std::vector<float> rowLogits(const std::vector<float>& A, int ldA, const std::vector<float>& U,
                                    const std::vector<float>& beta, int n, int hs, int V, int g, int i) {
    std::vector<float> lg(V);
    for (int t = 0; t < V; t++) {
        float acc = beta[t];
        for (int j = 0; j < hs; j++)
            acc = fmaf(U[((size_t)g * n + i) * hs + j], A[((size_t)g * hs + j) * ldA + t], acc);
        lg[t] = acc;
    }
    return lg;
}

// A: [nb·hs][ldA]; U: [nb][n][hs]; res: [nb][n][k]. "" when every row's top k equals the full
// sort's, ids and values bit for bit; else where the first difference is.
static std::string topkMismatch(const std::vector<float>& A, int ldA, const std::vector<float>& U,
                                const std::vector<float>& beta, int nb, int n, int hs, int V, int k,
                                const int* resI, const float* resV) {
    for (int g = 0; g < nb; g++)
        for (int i = 0; i < n; i++) {
            std::vector<float> lg = rowLogits(A, ldA, U, beta, n, hs, V, g, i);
            std::vector<int> ord(V);
            std::iota(ord.begin(), ord.end(), 0);
            std::stable_sort(ord.begin(), ord.end(), [&](int a, int b) { return hostBefore(lg[a], a, lg[b], b); });
            for (int q = 0; q < k; q++) {
                size_t at = ((size_t)g * n + i) * k + q;
                if (resI[at] != ord[q] || !same(resV[at], lg[ord[q]]))
                    return " head " + std::to_string(g) + " row " + std::to_string(i) + " rank " + std::to_string(q) +
                           ": got " + std::to_string(resI[at]) + "=" + std::to_string(resV[at]) + ", want " +
                           std::to_string(ord[q]) + "=" + std::to_string(lg[ord[q]]);
            }
        }
    return "";
}

// ---- the targets' rank test (rank.cu) ----

// Targets for every row: ids at the boundary ranks of head 0's order (0, k-2 .. k+1), random ids,
// repeats and ids outside the vocabulary; [n][T].
static std::vector<int> pickTargets(const std::vector<float>& A, int ldA, const std::vector<float>& U,
                                    const std::vector<float>& beta, int n, int hs, int V, int k, int T,
                                    unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<int> tg((size_t)n * T);
    for (int i = 0; i < n; i++) {
        std::vector<float> lg = rowLogits(A, ldA, U, beta, n, hs, V, 0, i);
        std::vector<int> ord(V);
        std::iota(ord.begin(), ord.end(), 0);
        std::stable_sort(ord.begin(), ord.end(), [&](int a, int b) { return hostBefore(lg[a], a, lg[b], b); });
        for (int c = 0; c < T; c++) {
            int x = (int)(rng() % 10);
            int id;
            if (x < 5) id = ord[std::clamp(k - 2 + (int)(rng() % 4), 0, V - 1)];
            else if (x == 5) id = ord[0];
            else if (x == 6) id = (rng() % 2) ? -1 : V + (int)(rng() % 3);
            else if (x == 7 && c > 0) id = tg[(size_t)i * T + c - 1];
            else id = (int)(rng() % V);
            tg[(size_t)i * T + c] = id;
        }
        if (i % 7 == 3)
            for (int c = 0; c < T; c++) tg[(size_t)i * T + c] = -1;  // a row without targets
    }
    return tg;
}

// hs_target_gate's floor by plain loops.
// The largest target logit (NaN if one is NaN, -inf if none).
static float refTop(const std::vector<float>& lg, const int* tg, int T, int V) {
    float hi = -INFINITY;
    for (int c = 0; c < T; c++) {
        int t = tg[c];
        if (t < 0 || t >= V) continue;
        if (lg[t] != lg[t]) return NAN;
        hi = std::max(hi, lg[t]);
    }
    return hi;
}

static float refFloor(const std::vector<float>& lg, const int* tg, int T, int V) {
    bool any = false, whole = false;
    float lo = INFINITY;
    for (int c = 0; c < T; c++) {
        int t = tg[c];
        if (t < 0 || t >= V) continue;
        any = true;
        if (lg[t] != lg[t] || lg[t] == -INFINITY) whole = true;
        else lo = std::min(lo, lg[t]);
    }
    return !any ? INFINITY : whole ? NAN : std::nextafter(lo, -INFINITY);
}

// "" when gate0 is the floor of every row and the kernel's lists (resI/resV, [nb][n][k]) are the
// top k of the admitted tokens (padded with -1 / NaN) and give the whole top k's hits for every
// target; else where the first difference is.
static std::string rankMismatch(const std::vector<float>& A, int ldA, const std::vector<float>& U,
                                const std::vector<float>& beta, int nb, int n, int hs, int V, int k,
                                const std::vector<int>& tg, int T, const float* gate0, const int* resI,
                                const float* resV, const float* top) {
    for (int g = 0; g < nb; g++)
        for (int i = 0; i < n; i++) {
            std::string at = " head " + std::to_string(g) + " row " + std::to_string(i);
            std::vector<float> lg = rowLogits(A, ldA, U, beta, n, hs, V, g, i);
            float f = refFloor(lg, &tg[(size_t)i * T], T, V);
            float got = gate0[(size_t)g * n + i];
            if (!same(got, f)) return at + ": floor " + std::to_string(got) + ", want " + std::to_string(f);
            float tp = refTop(lg, &tg[(size_t)i * T], T, V);
            if (!same(top[(size_t)g * n + i], tp))
                return at + ": top target " + std::to_string(top[(size_t)g * n + i]) + ", want " + std::to_string(tp);
            std::vector<int> ord(V), adm;
            std::iota(ord.begin(), ord.end(), 0);
            std::stable_sort(ord.begin(), ord.end(), [&](int a, int b) { return hostBefore(lg[a], a, lg[b], b); });
            for (int t : ord)
                if (f != f || lg[t] > f) adm.push_back(t);
            for (int q = 0; q < k; q++) {
                size_t p = ((size_t)g * n + i) * k + q;
                int wantI = q < (int)adm.size() ? adm[q] : -1;
                float wantV = q < (int)adm.size() ? lg[adm[q]] : NAN;
                if (resI[p] != wantI || !same(resV[p], wantV))
                    return at + " rank " + std::to_string(q) + ": got " + std::to_string(resI[p]) + "=" +
                           std::to_string(resV[p]) + ", want " + std::to_string(wantI) + "=" + std::to_string(wantV);
            }
            for (int c = 0; c < T; c++) {
                int t = tg[(size_t)i * T + c];
                bool whole = false, got = false;
                for (int q = 0; q < k; q++) {
                    whole |= t >= 0 && ord[q] == t;
                    got |= t >= 0 && resI[((size_t)g * n + i) * k + q] == t;
                }
                if (whole != got) return at + " target " + std::to_string(t) + ": hit " + std::to_string(got);
            }
        }
    return "";
}
