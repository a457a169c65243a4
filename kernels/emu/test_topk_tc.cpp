// Runs topk_tc.cu (the tensor-core top-k with exact re-scoring) under the host emulator against
// a plain fp32 loop and a full sort, bit for bit (ids and values): random rows, small integers
// (exact ties everywhere), ±inf/NaN in beta, adversarial near-ties inside the bf16 margin,
// k above a tile and k = V, V not a multiple of the tile, split vocabularies merged by topk.cu.
//   bash kernels/emu/run.sh
#include "../rank.cu"
#include "../topk.cu"
#include "../topk_tc.cu"

#include "reference.h"
#include "rank_case.h"

#include <cstdio>
#include <numeric>
#include <random>
#include <string>

static int passed = 0, failed = 0;
static void check(bool ok, const std::string& what) {
    if (ok) passed++; else failed++;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
}

enum Kind { GAUSS, INTS, SPECIAL, NEAR_TIES };

// T > 0: the targets' rank test (rank.cu's floors, then the top k above them), T targets a row;
// seedLen > 0: the gates seeded from the top k of seedLen tokens from V/3 on (rank_case.h), same lists
static void tcCase(Kind kind, int V, int n, int k, int nb, int splitLen, unsigned seed, int version, int T = 0,
                   int seedLen = 0) {
    const int hs = TC_HS;
    std::mt19937 rng(seed);
    std::normal_distribution<float> gauss(0.f, 1.f);
    std::uniform_int_distribution<int> small(-2, 2);
    int ldA = (V + 3) / 4 * 4;
    int Vpad = (V + TC_TILE - 1) / TC_TILE * TC_TILE;
    std::vector<float> A((size_t)nb * hs * ldA, 0.f), U((size_t)nb * n * hs), beta(V);
    for (int g = 0; g < nb; g++)
        for (int j = 0; j < hs; j++)
            for (int t = 0; t < V; t++)
                A[((size_t)g * hs + j) * ldA + t] = kind == INTS ? (float)small(rng) : gauss(rng);
    for (auto& u : U) u = kind == INTS ? (float)small(rng) : gauss(rng);
    for (auto& b : beta) b = kind == INTS ? (float)small(rng) * 0.5f : gauss(rng) * 0.1f;
    if (kind == SPECIAL)
        for (int t = 0; t < V; t++) {
            int x = rng() % 8;
            if (x == 0) beta[t] = -INFINITY;
            else if (x == 1) beta[t] = NAN;
            else if (x == 2) beta[t] = INFINITY;
        }
    if (kind == NEAR_TIES) {
        // Every column a copy of column 0 bent by a few ulps-to-1e-4: the approximate logits of
        // all tokens agree to bf16 precision, only the exact ones tell them apart.
        for (int g = 0; g < nb; g++)
            for (int j = 0; j < hs; j++) {
                float base = A[((size_t)g * hs + j) * ldA];
                for (int t = 1; t < V; t++)
                    A[((size_t)g * hs + j) * ldA + t] = base * (1.f + 1e-4f * gauss(rng));
            }
        for (auto& b : beta) b = 0.f;
    }
    int splits = (V + splitLen - 1) / splitLen;
    std::vector<unsigned> Abf((size_t)nb * Vpad * 32, 0xdeadbeefu);
    std::vector<float2> tok((size_t)nb * Vpad), tmax((size_t)nb * Vpad / TC_TILE);
    std::vector<float> At(version == 2 ? (size_t)nb * Vpad * hs : 0, 777.f);
    emu::launch(hs_tc_prep, dim3((Vpad / TC_TILE + 3) / 4, nb), dim3(128), A.data(), ldA, beta.data(), V, Vpad, Abf.data(),
                tok.data(), tmax.data(), version == 2 ? At.data() : (float*)nullptr);
    std::vector<float> pv((size_t)nb * n * splits * k, 12345.f), ov((size_t)nb * n * k);
    std::vector<int> pi(pv.size(), -7), oi(ov.size());
    RankCase rc = rankCase(A, ldA, U, beta, nb, n, hs, V, k, T, seed);
    const float* g0 = rc.floors();
    std::string seedWhy;
    std::vector<float> seeded;
    if (seedLen > 0) {
        int t0 = V / 3 / 4 * 4;
        seeded = seededGates(A, ldA, U, beta, nb, n, hs, V, k, rc.floors(), t0, std::min(seedLen, V - t0), seedWhy);
        g0 = seeded.data();
    }
    if (version == 1) {
        int rowsPerBlock = TC_WARPS * TC_WROWS;
        emu::launch(hs_ov_topk_tc, dim3((n + rowsPerBlock - 1) / rowsPerBlock, splits, nb), dim3(128), Abf.data(),
                    Vpad, tok.data(), tmax.data(), A.data(), ldA, beta.data(), U.data(), n, V, k, splitLen, splits,
                    g0, pv.data(), pi.data());
    } else {
        int rowsPerBlock = TC2_WARPS * TC_WROWS;
        emu::launch(hs_ov_topk_tc2, dim3((n + rowsPerBlock - 1) / rowsPerBlock, splits, nb), dim3(64), Abf.data(),
                    Vpad, tok.data(), tmax.data(), At.data(), beta.data(), U.data(), n, V, k, splitLen, splits,
                    g0, pv.data(), pi.data());
    }
    float* resV = pv.data();
    int* resI = pi.data();
    if (splits > 1) {
        emu::launch(hs_topk_merge, dim3(((long)nb * n + 127) / 128), dim3(128), pv.data(), pi.data(),
                    (long)nb * n, splits, k, ov.data(), oi.data());
        resV = ov.data();
        resI = oi.data();
    }
    std::string why = T > 0 ? rankMismatch(A, ldA, U, beta, nb, n, hs, V, k, rc.targets, T, rc.gate0.data(), resI, resV, rc.top.data())
                            : topkMismatch(A, ldA, U, beta, nb, n, hs, V, k, resI, resV);
    why = seedWhy + why;
    bool ok = why.empty();
    const char* names[] = {"gauss", "ints", "special", "near-ties"};
    check(ok, std::string(seedLen > 0 ? "seeded " : "") + (T > 0 ? "rank " : "") + (version == 1 ? "topk_tc " : "topk_tc2 ") + names[kind] + " V=" + std::to_string(V) + " n=" + std::to_string(n) +
                  " k=" + std::to_string(k) + " heads=" + std::to_string(nb) + " splitLen=" +
                  std::to_string(splitLen) + why);
}

int main() {
    for (int version = 1; version <= 2; version++) {
        tcCase(GAUSS, 300, 70, 5, 2, 320, 1, version);        // one split, a partial second warp
        tcCase(GAUSS, 301, 3, 5, 1, 64, 2, version);          // splits merged, V not a multiple of 32
        tcCase(INTS, 200, 40, 5, 1, 224, 3, version);         // exact ties everywhere
        tcCase(INTS, 200, 9, 7, 2, 64, 4, version);           // ties across splits
        tcCase(SPECIAL, 150, 20, 5, 1, 160, 5, version);      // ±inf and NaN in beta
        tcCase(SPECIAL, 150, 20, 40, 1, 64, 6, version);      // k above a tile (and above TC_KS), with splits
        tcCase(NEAR_TIES, 257, 30, 5, 1, 288, 7, version);    // everything inside the margin
        tcCase(NEAR_TIES, 257, 30, 12, 1, 96, 8, version);
        tcCase(GAUSS, 37, 5, 37, 1, 64, 9, version);          // k = V
        tcCase(GAUSS, 5, 2, 5, 1, 32, 10, version);           // V below one tile
        tcCase(GAUSS, 1000, 300, 5, 1, 1024, 11, version);    // several blocks of rows
        tcCase(INTS, 400, 130, 8, 1, 416, 12, version);       // k = TC_KS, rows over one block of v2
        // the targets' rank test: floors from hs_target_gate, then the top k above them
        tcCase(GAUSS, 300, 70, 5, 2, 320, 21, version, 3);
        tcCase(GAUSS, 301, 3, 5, 1, 64, 22, version, 2);
        tcCase(INTS, 200, 40, 5, 1, 224, 23, version, 3);
        tcCase(INTS, 200, 9, 7, 2, 64, 24, version, 4);
        tcCase(SPECIAL, 150, 20, 5, 1, 160, 25, version, 3);
        tcCase(SPECIAL, 150, 20, 40, 1, 64, 26, version, 3);
        tcCase(NEAR_TIES, 257, 30, 5, 1, 288, 27, version, 3);
        tcCase(NEAR_TIES, 257, 30, 12, 1, 96, 28, version, 2);
        tcCase(GAUSS, 37, 5, 37, 1, 64, 29, version, 3);
        tcCase(GAUSS, 1000, 300, 5, 1, 1024, 31, version, 2);
        tcCase(INTS, 400, 130, 8, 1, 416, 32, version, 3);
        // gates seeded from the top k of a part of the vocabulary: the same lists, whole and rank test
        tcCase(GAUSS, 1000, 300, 5, 1, 1024, 41, version, 0, 128);
        tcCase(INTS, 400, 130, 8, 1, 96, 42, version, 0, 64);      // ties at the seed's k-th value
        tcCase(SPECIAL, 150, 20, 5, 1, 64, 43, version, 0, 64);    // ±inf/NaN: k-th -inf or NaN seeds nothing
        tcCase(NEAR_TIES, 257, 30, 5, 1, 96, 44, version, 0, 64);
        tcCase(GAUSS, 300, 70, 5, 2, 64, 45, version, 3, 64);
        tcCase(INTS, 200, 40, 5, 1, 224, 46, version, 3, 64);
        tcCase(SPECIAL, 150, 20, 5, 1, 160, 47, version, 3, 64);
        tcCase(NEAR_TIES, 257, 30, 12, 1, 96, 48, version, 2, 64);
    }
    std::printf("topk_tc: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
