// reference.h: the plain host loops the emulator tests compare the top-k kernels with: the fp32
// logit in the CPU's order (beta, then fmaf over j), the tie rule (headsweep.cuh's hs_before) and
// a full stable sort, and a bitwise comparison of a kernel's ids and values with it.
#pragma once
#include <algorithm>
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

// A: [nb·hs][ldA]; U: [nb][n][hs]; res: [nb][n][k]. "" when every row's top k equals the full
// sort's, ids and values bit for bit; else where the first difference is.
static std::string topkMismatch(const std::vector<float>& A, int ldA, const std::vector<float>& U,
                                const std::vector<float>& beta, int nb, int n, int hs, int V, int k,
                                const int* resI, const float* resV) {
    for (int g = 0; g < nb; g++)
        for (int i = 0; i < n; i++) {
            std::vector<float> lg(V);
            for (int t = 0; t < V; t++) {
                float acc = beta[t];
                for (int j = 0; j < hs; j++)
                    acc = fmaf(U[((size_t)g * n + i) * hs + j], A[((size_t)g * hs + j) * ldA + t], acc);
                lg[t] = acc;
            }
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
