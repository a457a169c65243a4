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

// A batch of nb random heads: A ([nb·64][ldA], zero past V), U ([nb][n][64]) and beta, gaussian or
// small integers (exact ties everywhere).
struct TcProblem {
    int ldA, Vpad;
    std::vector<float> A, U, beta;
};
static TcProblem tcProblem(bool ints, int V, int n, int nb, std::mt19937& rng) {
    std::normal_distribution<float> gauss(0.f, 1.f);
    std::uniform_int_distribution<int> small(-2, 2);
    TcProblem p{(V + 3) / 4 * 4, (V + TC_TILE - 1) / TC_TILE * TC_TILE, {}, {}, {}};
    p.A.assign((size_t)nb * TC_HS * p.ldA, 0.f);
    p.U.resize((size_t)nb * n * TC_HS);
    p.beta.resize(V);
    for (int g = 0; g < nb; g++)
        for (int j = 0; j < TC_HS; j++)
            for (int t = 0; t < V; t++) p.A[((size_t)g * TC_HS + j) * p.ldA + t] = ints ? (float)small(rng) : gauss(rng);
    for (auto& u : p.U) u = ints ? (float)small(rng) : gauss(rng);
    for (auto& b : p.beta) b = ints ? (float)small(rng) * 0.5f : gauss(rng) * 0.1f;
    return p;
}

// T > 0: the targets' rank test (rank.cu's floors, then the top k above them), T targets a row;
// seedLen > 0: the gates seeded from the top k of seedLen tokens from V/3 on (rank_case.h), same lists
static void tcCase(Kind kind, int V, int n, int k, int nb, int splitLen, unsigned seed, int version, int T = 0,
                   int seedLen = 0) {
    const int hs = TC_HS;
    std::mt19937 rng(seed);
    std::normal_distribution<float> gauss(0.f, 1.f);
    TcProblem pr = tcProblem(kind == INTS, V, n, nb, rng);
    const int ldA = pr.ldA, Vpad = pr.Vpad;
    std::vector<float>&A = pr.A, &U = pr.U, &beta = pr.beta;
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
                    g0, pv.data(), pi.data(), (int*)nullptr, (int*)nullptr, 0);
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

// hs_ov_topk_tc2 collecting (the cold rank test's first pass): every token whose exact value is
// above the row's gate, appended to its row (any order, the first cap kept, all counted), the gates
// here a random value around each row's (k·3)-th logit, some +inf (nothing) and some -inf (all).
static void collectCase(Kind kind, int V, int n, int nb, int splitLen, int cap, unsigned seed) {
    const int hs = TC_HS;
    std::mt19937 rng(seed);
    TcProblem pr = tcProblem(kind == INTS, V, n, nb, rng);
    const int ldA = pr.ldA, Vpad = pr.Vpad;
    std::vector<float>&A = pr.A, &U = pr.U, &beta = pr.beta;
    std::vector<unsigned> Abf((size_t)nb * Vpad * 32);
    std::vector<float2> tok((size_t)nb * Vpad), tmax((size_t)nb * Vpad / TC_TILE);
    std::vector<float> At((size_t)nb * Vpad * hs);
    emu::launch(hs_tc_prep, dim3((Vpad / TC_TILE + 3) / 4, nb), dim3(128), A.data(), ldA, beta.data(), V, Vpad, Abf.data(),
                tok.data(), tmax.data(), At.data());
    std::vector<float> gate((size_t)nb * n);
    std::vector<std::vector<float>> lgs;
    for (int g = 0; g < nb; g++)
        for (int i = 0; i < n; i++) {
            std::vector<float> lg = rowLogits(A, ldA, U, beta, n, hs, V, g, i);
            std::vector<float> sorted = lg;
            std::sort(sorted.begin(), sorted.end(), [](float a, float b) { return a > b; });
            int at = std::min(V - 1, (int)(rng() % (3 * 5)));
            float gv = sorted[at];
            if (i % 7 == 3) gv = INFINITY;
            else if (i % 11 == 5) gv = -INFINITY;
            else if (i % 2 == 0) gv = std::nextafter(gv, -INFINITY);  // ties at the gate: equal values pass
            gate[(size_t)g * n + i] = gv;
            lgs.push_back(lg);
        }
    int splits = (V + splitLen - 1) / splitLen;
    std::vector<int> cnt((size_t)nb * n, 0), ids((size_t)nb * n * cap, -5);
    int rowsPerBlock = TC2_WARPS * TC_WROWS;
    emu::launch(hs_ov_topk_tc2, dim3((n + rowsPerBlock - 1) / rowsPerBlock, splits, nb), dim3(64), Abf.data(), Vpad,
                tok.data(), tmax.data(), At.data(), beta.data(), U.data(), n, V, 0, splitLen, splits, gate.data(),
                (float*)nullptr, (int*)nullptr, cnt.data(), ids.data(), cap);
    std::string why;
    for (int g = 0; g < nb && why.empty(); g++)
        for (int i = 0; i < n && why.empty(); i++) {
            size_t row = (size_t)g * n + i;
            const std::vector<float>& lg = lgs[row];
            std::vector<int> want;
            for (int t = 0; t < V; t++)
                if (lg[t] > gate[row]) want.push_back(t);
            std::vector<int> got(ids.begin() + row * cap, ids.begin() + row * cap + std::min(cnt[row], cap));
            std::sort(got.begin(), got.end());
            bool ok = cnt[row] == (int)want.size();
            if (ok && (int)want.size() <= cap) ok = got == want;
            if (ok && (int)want.size() > cap) {  // the first cap: distinct members of want
                ok = std::adjacent_find(got.begin(), got.end()) == got.end();
                for (int t : got) ok &= std::binary_search(want.begin(), want.end(), t);
            }
            for (size_t s = std::min(cnt[row], cap); ok && s < (size_t)cap; s++) ok = ids[row * cap + s] == -5;
            if (!ok)
                why = " head " + std::to_string(g) + " row " + std::to_string(i) + ": " + std::to_string(cnt[row]) +
                      " collected, want " + std::to_string(want.size());
        }
    const char* names[] = {"gauss", "ints", "special", "near-ties"};
    check(why.empty(), std::string("collect topk_tc2 ") + names[kind] + " V=" + std::to_string(V) + " n=" +
                           std::to_string(n) + " heads=" + std::to_string(nb) + " splitLen=" + std::to_string(splitLen) +
                           " cap=" + std::to_string(cap) + why);
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
    collectCase(GAUSS, 1000, 300, 1, 1024, 64, 61);   // several warps, one split
    collectCase(GAUSS, 301, 70, 2, 64, 32, 62);       // splits (atomics across blocks), two heads
    collectCase(INTS, 400, 130, 1, 96, 400, 63);      // ties at the gate; cap = V: all kept
    collectCase(INTS, 200, 40, 1, 64, 3, 64);         // overflow: counted, the first cap kept
    std::printf("topk_tc: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
