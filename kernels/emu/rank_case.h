// rank_case.h: the inputs of a targets' rank test case for the emulator tests: targets picked
// around each row's k-th place (reference.h's pickTargets) and rank.cu's floors and largest target
// logits for them, computed by hs_target_gate under the emulator; and gates seeded from a part of
// the vocabulary (hs_ov_topk there, then hs_gate_seed). Include after ../rank.cu, ../topk.cu and
// reference.h.
#pragma once
#include <vector>

struct RankCase {
    std::vector<int> targets;  // [n][T]
    std::vector<float> gate0;  // [nb][n]
    std::vector<float> top;    // [nb][n]

    // The floors for the top-k kernels: null when the case is a whole top-k (T = 0).
    const float* floors() const { return gate0.empty() ? nullptr : gate0.data(); }
};

// T = 0: no targets (a whole top-k case); else T targets a row and their floors.
static RankCase rankCase(const std::vector<float>& A, int ldA, const std::vector<float>& U,
                         const std::vector<float>& beta, int nb, int n, int hs, int V, int k, int T, unsigned seed) {
    RankCase c;
    if (T == 0) return c;
    c.targets = pickTargets(A, ldA, U, beta, n, hs, V, k, T, seed * 31 + 7);
    c.gate0.assign((size_t)nb * n, 12345.f);
    c.top.assign((size_t)nb * n, 12345.f);
    emu::launch(hs_target_gate, dim3((n + 127) / 128, nb), dim3(128), A.data(), ldA, beta.data(), U.data(), n, hs, V,
                c.targets.data(), T, c.gate0.data(), c.top.data());
    return c;
}

// The gates seeded from the top k of tokens t0 .. t0+len-1 (hs_ov_topk over that part of A, each
// token admitted by `floors`, null for all; hs_topk_merge; hs_gate_seed), checked against a plain
// loop: `why` gets the first difference. The top-k kernels given these gates must return the lists
// they return with `floors` alone.
static std::vector<float> seededGates(const std::vector<float>& A, int ldA, const std::vector<float>& U,
                                      const std::vector<float>& beta, int nb, int n, int hs, int V, int k,
                                      const float* floors, int t0, int len, std::string& why) {
    const int splitLen = 64, splits = (len + splitLen - 1) / splitLen;
    const long rows = (long)nb * n;
    std::vector<float> pv((size_t)rows * splits * k, 12345.f), ov((size_t)rows * k);
    std::vector<int> pi(pv.size(), -7), oi(ov.size());
    emu::launch(hs_ov_topk, dim3((n + TK_BR - 1) / TK_BR, splits, nb), dim3(256), A.data() + t0, ldA,
                beta.data() + t0, U.data(), n, hs, len, k, splitLen, splits, floors, pv.data(), pi.data());
    const float* lv = pv.data();
    const int* li = pi.data();
    if (splits > 1) {
        emu::launch(hs_topk_merge, dim3((rows + 127) / 128), dim3(128), pv.data(), pi.data(), rows, splits, k,
                    ov.data(), oi.data());
        lv = ov.data();
        li = oi.data();
    }
    std::vector<float> gate((size_t)rows, 777.f);
    emu::launch(hs_gate_seed, dim3((rows + 127) / 128), dim3(128), floors, lv, li, k, rows, gate.data());
    for (int g = 0; g < nb && why.empty(); g++)
        for (int i = 0; i < n && why.empty(); i++) {
            std::vector<float> lg = rowLogits(A, ldA, U, beta, n, hs, V, g, i);
            float f = floors ? floors[(size_t)g * n + i] : NAN;
            std::vector<int> adm;
            for (int t = t0; t < t0 + len; t++)
                if (f != f || lg[t] > f) adm.push_back(t);
            std::stable_sort(adm.begin(), adm.end(), [&](int a, int b) { return hostBefore(lg[a], a, lg[b], b); });
            if ((int)adm.size() >= k) {
                float v = lg[adm[k - 1]];
                if (v == v && v != -INFINITY) {
                    float s = std::nextafter(v, -INFINITY);
                    f = f != f ? s : std::max(f, s);
                }
            }
            if (!same(gate[(size_t)g * n + i], f))
                why = " seeded gate of head " + std::to_string(g) + " row " + std::to_string(i) + ": " +
                      std::to_string(gate[(size_t)g * n + i]) + ", want " + std::to_string(f);
        }
    return gate;
}
