// rank_case.h: the inputs of a targets' rank test case for the emulator tests: targets picked
// around each row's k-th place (reference.h's pickTargets) and rank.cu's floors and largest target
// logits for them, computed by hs_target_gate under the emulator. Include after ../rank.cu and
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
