// Runs every kernel of kernels/*.cu under the host emulator (cuda_emu.h) against plain loops.
// Exact (bitwise) where the kernel promises the CPU's order, within a tolerance where it reduces
// in another order (layernorm). Prints one line per check and "N passed, M failed".
//   bash kernels/emu/run.sh
#include "../block0.cu"
#include "../gemm.cu"
#include "../ov.cu"
#include "../rank.cu"
#include "../topk.cu"

#include "reference.h"
#include "rank_case.h"

#include <cstdio>
#include <numeric>
#include <random>
#include <string>

static int passed = 0, failed = 0;
static void check(bool ok, const std::string& what) {
    if (ok) passed++; else failed++;
    if (!ok) std::printf("FAIL %s\n", what.c_str());
}

// ---------- top-k ----------
// T > 0: the targets' rank test (rank.cu's floors, then the top k above them), T targets a row;
// seedLen > 0: the gates seeded from the top k of seedLen tokens from V/3 on (rank_case.h), same lists
static void topkCase(int V, int hs, int n, int k, int nb, int splitTiles, unsigned seed, int special, int T = 0,
                     int seedLen = 0) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> small(-2, 2);
    int ldA = (V + 3) / 4 * 4;
    std::vector<float> A((size_t)nb * hs * ldA, 0.f), U((size_t)nb * n * hs), beta(V);
    for (int g = 0; g < nb; g++)
        for (int j = 0; j < hs; j++)
            for (int t = 0; t < V; t++) A[((size_t)g * hs + j) * ldA + t] = (float)small(rng);
    for (auto& u : U) u = (float)small(rng);
    for (auto& b : beta) b = (float)small(rng) * 0.5f;
    if (special) {
        for (int t = 0; t < V; t++) {
            int x = rng() % 8;
            if (x == 0) beta[t] = -INFINITY;
            else if (x == 1) beta[t] = NAN;
            else if (x == 2 && special > 1) beta[t] = INFINITY;
        }
    }
    int splitLen = splitTiles * TK_BT;
    int splits = (V + splitLen - 1) / splitLen;
    std::vector<float> pv((size_t)nb * n * splits * k), ov((size_t)nb * n * k);
    std::vector<int> pi(pv.size()), oi(ov.size());
    RankCase rc = rankCase(A, ldA, U, beta, nb, n, hs, V, k, T, seed);
    std::string seedWhy;
    std::vector<float> seeded;
    const float* gates = rc.floors();
    if (seedLen > 0) {
        int t0 = V / 3 / 4 * 4;
        seeded = seededGates(A, ldA, U, beta, nb, n, hs, V, k, rc.floors(), t0, std::min(seedLen, V - t0), seedWhy);
        gates = seeded.data();
    }
    emu::launch(hs_ov_topk, dim3((n + TK_BR - 1) / TK_BR, splits, nb), dim3(256), A.data(), ldA,
                beta.data(), U.data(), n, hs, V, k, splitLen, splits, gates,
                pv.data(), pi.data());
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
    check(ok, std::string(seedLen > 0 ? "seeded " : "") + (T > 0 ? "rank " : "") + "topk V=" + std::to_string(V) + " hs=" + std::to_string(hs) + " n=" + std::to_string(n)
                  + " k=" + std::to_string(k) + " heads=" + std::to_string(nb) + " splits=" + std::to_string(splits)
                  + " special=" + std::to_string(special) + why);
}

// ---------- sgemm ----------
static void gemmCase(int M, int N, int K, int transB, bool withBias, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1, 1);
    int lda = K + 1, ldb = transB ? K + 2 : N + 3, ldc = N + 1;
    std::vector<float> A((size_t)M * lda), B((size_t)(transB ? N : K) * ldb), bias(N), C((size_t)M * ldc, 0.f);
    for (auto& x : A) x = u(rng);
    for (auto& x : B) x = u(rng);
    for (auto& x : bias) x = u(rng);
    emu::launch(hs_sgemm, dim3((N + 63) / 64, (M + 63) / 64), dim3(256), A.data(), B.data(),
                withBias ? bias.data() : (const float*)nullptr, C.data(), M, N, K, lda, ldb, ldc, transB);
    bool ok = true;
    for (int m = 0; m < M && ok; m++)
        for (int nn = 0; nn < N && ok; nn++) {
            float acc = 0.f;
            for (int kk = 0; kk < K; kk++)
                acc = fmaf(A[(size_t)m * lda + kk], transB ? B[(size_t)nn * ldb + kk] : B[(size_t)kk * ldb + nn], acc);
            if (withBias) acc = acc + bias[nn];
            ok = same(acc, C[(size_t)m * ldc + nn]);
        }
    check(ok, "sgemm M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K)
                  + " transB=" + std::to_string(transB) + " bias=" + std::to_string(withBias));
}

// ---------- block 0 pieces ----------
static void block0Cases() {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1, 1);
    int n = 9, d = 40, nHead = 2, hs = 20;
    // layernorm: tolerance (the warp sums in another order than the CPU's left-to-right sums)
    std::vector<float> x((size_t)n * d), y(x.size()), w(d), b(d);
    for (auto& v : x) v = u(rng) * 3 + 1;
    for (auto& v : w) v = u(rng) + 1;
    for (auto& v : b) v = u(rng);
    emu::launch(hs_layernorm, dim3((n + 7) / 8), dim3(256), x.data(), y.data(), w.data(), b.data(), n, d, 1e-5f);
    bool ok = true;
    for (int r = 0; r < n; r++) {
        double mean = 0, var = 0;
        for (int i = 0; i < d; i++) mean += x[r * d + i];
        mean /= d;
        for (int i = 0; i < d; i++) var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
        var /= d;
        for (int i = 0; i < d; i++) {
            double want = (x[r * d + i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i];
            if (std::fabs(want - y[r * d + i]) > 1e-5 * (1 + std::fabs(want))) ok = false;
        }
    }
    check(ok, "layernorm n=9 d=40");

    // attention: prompts of 3, 1 and 5 tokens stacked; exact against the CPU's loops
    std::vector<int> first = {0, 0, 0, 3, 4, 4, 4, 4, 4};
    std::vector<float> qkv((size_t)n * 3 * d), out((size_t)n * d, 0.f);
    for (auto& v : qkv) v = u(rng);
    emu::launch(hs_attention, dim3(n, nHead), dim3(128), qkv.data(), out.data(), first.data(), n, nHead, hs, d);
    ok = true;
    float scale = (float)(1.0 / std::sqrt((double)hs));
    for (int r = 0; r < n; r++)
        for (int h = 0; h < nHead; h++) {
            int f = first[r], len = r - f + 1;
            std::vector<float> att(len);
            float mx = -INFINITY;
            for (int q = 0; q < len; q++) {
                float dot = 0.f;
                for (int j = 0; j < hs; j++) dot += qkv[(size_t)r * 3 * d + h * hs + j] * qkv[(size_t)(f + q) * 3 * d + d + h * hs + j];
                att[q] = dot * scale;
                mx = std::max(mx, att[q]);
            }
            float sum = 0.f;
            for (int q = 0; q < len; q++) {
                att[q] = (float)std::exp((double)(att[q] - mx));
                sum += att[q];
            }
            for (int j = 0; j < hs; j++) {
                float o = 0.f;
                for (int q = 0; q < len; q++) o += att[q] / sum * qkv[(size_t)(f + q) * 3 * d + 2 * d + h * hs + j];
                if (!same(o, out[(size_t)r * d + h * hs + j])) ok = false;
            }
        }
    check(ok, "attention prompts 3+1+5, 2 heads");

    // embed, gelu, add, gather
    int V = 11, P = 6;
    std::vector<float> wte((size_t)V * d), wpe((size_t)P * d), h((size_t)n * d);
    for (auto& v : wte) v = u(rng);
    for (auto& v : wpe) v = u(rng);
    std::vector<int> tok = {3, 10, 0, 7, 7, 1, 2, 3, 4}, pos = {0, 1, 2, 0, 0, 1, 2, 3, 4};
    emu::launch(hs_embed, dim3(2), dim3(64), tok.data(), pos.data(), wte.data(), wpe.data(), h.data(), n, d);
    ok = true;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < d; i++) ok &= same(h[r * d + i], wte[tok[r] * d + i] + wpe[pos[r] * d + i]);
    check(ok, "embed");
    std::vector<float> g = h;
    emu::launch(hs_gelu, dim3(3), dim3(32), g.data(), (long)g.size());
    ok = true;
    for (size_t i = 0; i < g.size(); i++) {
        double v = h[i];
        ok &= same(g[i], (float)(0.5 * v * (1.0 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))));
    }
    check(ok, "gelu_new");
    std::vector<float> s = h;
    emu::launch(hs_add, dim3(2), dim3(32), s.data(), (const float*)g.data(), (long)s.size());
    ok = true;
    for (size_t i = 0; i < s.size(); i++) ok &= same(s[i], h[i] + g[i]);
    check(ok, "add");
    std::vector<int> rows = {8, 0, 4};
    std::vector<float> gat(3 * d);
    emu::launch(hs_gather, dim3(1), dim3(64), (const float*)h.data(), rows.data(), gat.data(), 3, d);
    ok = true;
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < d; c++) ok &= same(gat[i * d + c], h[rows[i] * d + c]);
    check(ok, "gather");
}

// ---------- OV factors ----------
static void ovCases() {
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> u(-1, 1);
    int d = 48, hs = 16, nb = 2, n = 5, V = 13;
    std::vector<float> wo((size_t)d * d), lnfW(d), lnfB(d);
    for (auto& v : wo) v = u(rng);
    for (auto& v : lnfW) v = u(rng) + 1;
    for (auto& v : lnfB) v = u(rng);
    std::vector<int> src(nb * hs);
    for (int g = 0; g < nb; g++)
        for (int j = 0; j < hs; j++) src[g * hs + j] = (g == 0 ? 2 : 0) * hs + j;  // heads 2 and 0
    std::vector<float> wc((size_t)nb * hs * d), m(wc.size());
    emu::launch(hs_ov_center, dim3(1), dim3(64), wo.data(), src.data(), lnfW.data(), wc.data(), m.data(), nb * hs, d);
    bool ok = true;
    for (int r = 0; r < nb * hs; r++) {
        float sum = 0.f;
        for (int i = 0; i < d; i++) sum += wo[src[r] * d + i];
        float mean = sum / d;
        for (int i = 0; i < d; i++) {
            float c = wo[src[r] * d + i] - mean;
            ok &= same(wc[r * d + i], c) && same(m[r * d + i], c * lnfW[i]);
        }
    }
    check(ok, "ov_center");
    std::vector<double> gram((size_t)nb * hs * hs);
    emu::launch(hs_gram, dim3(nb), dim3(256), (const float*)wc.data(), gram.data(), hs, d);
    ok = true;
    for (int g = 0; g < nb; g++)
        for (int a = 0; a < hs; a++)
            for (int b = 0; b < hs; b++) {
                double s = 0;
                for (int i = 0; i < d; i++) s += (double)wc[(g * hs + a) * d + i] * wc[(g * hs + b) * d + i];
                ok &= s == gram[(g * hs + a) * hs + b];
            }
    check(ok, "gram");
    {   // the second versions, bit for bit the first (d over the 64-wide gram chunk, hs 64)
        int d2 = 200, hs2 = 64, nr2 = 2 * hs2;
        std::vector<float> wo2((size_t)nr2 * d2), lnw2(d2);
        for (auto& x : wo2) x = u(rng);
        for (auto& x : lnw2) x = u(rng) + 1;
        std::vector<int> src2(nr2);
        for (int r = 0; r < nr2; r++) src2[r] = (r * 7) % nr2;
        std::vector<float> c1((size_t)nr2 * d2), m1(c1.size()), c2(c1.size()), m2(c1.size());
        emu::launch(hs_ov_center, dim3((nr2 + 127) / 128), dim3(128), wo2.data(), src2.data(), lnw2.data(), c1.data(),
                    m1.data(), nr2, d2);
        emu::launch(hs_ov_center2, dim3(nr2), dim3(32), wo2.data(), src2.data(), lnw2.data(), c2.data(), m2.data(),
                    nr2, d2);
        check(std::memcmp(c1.data(), c2.data(), c1.size() * 4) == 0 && std::memcmp(m1.data(), m2.data(), m1.size() * 4) == 0,
              "ov_center2 = ov_center bit for bit");
        std::vector<double> g1((size_t)2 * hs2 * hs2), g2(g1.size());
        emu::launch(hs_gram, dim3(2), dim3(256), (const float*)c1.data(), g1.data(), hs2, d2);
        emu::launch(hs_gram2, dim3(2, (hs2 * hs2 + 255) / 256), dim3(256), (const float*)c1.data(), g2.data(), hs2, d2);
        check(std::memcmp(g1.data(), g2.data(), g1.size() * 8) == 0, "gram2 = gram bit for bit");
    }
    int ldv = d + 5;
    std::vector<float> v((size_t)n * ldv), uu((size_t)nb * n * hs);
    for (auto& x : v) x = u(rng);
    std::vector<int> cols = {2 * hs, 0};
    emu::launch(hs_head_scale, dim3(1, nb), dim3(128), (const float*)v.data(), ldv, cols.data(),
                (const double*)gram.data(), uu.data(), n, hs, d, 1e-5f);
    ok = true;
    for (int g = 0; g < nb; g++)
        for (int i = 0; i < n; i++) {
            const float* vr = &v[(size_t)i * ldv + cols[g]];
            double sq = 0;
            for (int a = 0; a < hs; a++) {
                double row = 0;
                for (int b = 0; b < hs; b++) row += gram[(g * hs + a) * hs + b] * vr[b];
                sq += row * vr[a];
            }
            float inv = (float)(1.0 / std::sqrt(sq / d + (double)1e-5f));
            for (int j = 0; j < hs; j++) ok &= same(uu[((size_t)g * n + i) * hs + j], vr[j] * inv);
        }
    check(ok, "head_scale");
    std::vector<float> wte((size_t)V * d), beta(V);
    for (auto& x : wte) x = u(rng);
    emu::launch(hs_beta, dim3(1), dim3(32), (const float*)wte.data(), (const float*)lnfB.data(), beta.data(), V, d);
    ok = true;
    for (int t = 0; t < V; t++) {
        float s = 0.f;
        for (int i = 0; i < d; i++) s += lnfB[i] * wte[t * d + i];
        ok &= same(s, beta[t]);
    }
    check(ok, "beta");
}

// ---------- sgemm2 against sgemm, bit for bit ----------
// ldMode 0: tight leading dimensions (lda = K, ldb = K or N, ldc = N); 1: padded and odd (scalar
// loads); 2: padded to a multiple of 4 plus 4 (float4 path, tails inside the tile); 3: like 2 but
// every base pointer one float past 16-byte alignment (scalar path). C starts as the same NaN
// garbage for both kernels and the whole buffer is compared, so nothing outside C[M, N] is written.
static int gemm2Cases = 0;
static void gemm2Case(int M, int N, int K, int transB, bool withBias, int ldMode, unsigned seed, bool vsLoops = false) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1, 1);
    auto ld = [&](int need) {
        switch (ldMode) {
            case 0: return need;
            case 1: return need + (need % 2 == 0 ? 3 : 2);
            default: return (need + 3) / 4 * 4 + 4;
        }
    };
    int lda = ld(K), ldb = ld(transB ? K : N), ldc = ld(N);
    int off = ldMode == 3 ? 1 : 0;
    size_t nA = (size_t)M * lda + off, nB = (size_t)(transB ? N : K) * ldb + off, nC = (size_t)M * ldc + off;
    std::vector<float> A(nA), B(nB), bias(N + off), C1(nC), C2(nC);
    auto fill = [&](std::vector<float>& v) {
        for (auto& x : v) {
            int c = rng() % 16;
            x = c == 0 ? -0.f : c == 1 ? 0.f : c == 2 ? (float)((int)(rng() % 7) - 3) : u(rng);
        }
    };
    fill(A);
    fill(B);
    fill(bias);
    float garbage = __int_as_float(0x7fc0beef);
    std::fill(C1.begin(), C1.end(), garbage);
    std::fill(C2.begin(), C2.end(), garbage);
    const float* pb = withBias ? bias.data() + off : (const float*)nullptr;
    emu::launch(hs_sgemm, dim3((N + 63) / 64, (M + 63) / 64), dim3(256), (const float*)A.data() + off,
                (const float*)B.data() + off, pb, C1.data() + off, M, N, K, lda, ldb, ldc, transB);
    emu::launch(hs_sgemm2, dim3((N + 127) / 128, (M + 127) / 128), dim3(256), (const float*)A.data() + off,
                (const float*)B.data() + off, pb, C2.data() + off, M, N, K, lda, ldb, ldc, transB);
    bool ok = std::memcmp(C1.data(), C2.data(), nC * sizeof(float)) == 0;
    if (ok && vsLoops) {
        for (int m = 0; m < M && ok; m++)
            for (int nn = 0; nn < N && ok; nn++) {
                float acc = 0.f;
                for (int kk = 0; kk < K; kk++)
                    acc = fmaf(A[off + (size_t)m * lda + kk],
                               transB ? B[off + (size_t)nn * ldb + kk] : B[off + (size_t)kk * ldb + nn], acc);
                if (withBias) acc = acc + bias[off + nn];
                ok = same(acc, C2[off + (size_t)m * ldc + nn]);
            }
    }
    gemm2Cases++;
    check(ok, "sgemm2 == sgemm M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K)
                  + " transB=" + std::to_string(transB) + " bias=" + std::to_string(withBias)
                  + " ldMode=" + std::to_string(ldMode));
}

static void gemm2Sweep() {
    const int S[] = {1, 7, 64, 127, 128, 129, 300, 768};
    const int Ks[] = {1, 7, 8, 9, 64, 127, 129, 300};
    unsigned seed = 100;
    int idx = 0;
    // every (M, N) pair of S below 768, against a rotating K, both transB, rotating bias and
    // leading-dimension modes
    for (int mi = 0; mi < 7; mi++)
        for (int ni = 0; ni < 7; ni++)
            for (int tb = 0; tb < 2; tb++) {
                int K = Ks[(mi * 3 + ni * 5 + tb) % 8];
                gemm2Case(S[mi], S[ni], K, tb, (idx % 3) != 0, idx % 4, seed++);
                idx++;
            }
    // every K of the list (and K = 0) on a few shapes, all four leading-dimension modes
    for (int K : {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 127, 129, 300})
        for (int ldMode = 0; ldMode < 4; ldMode++)
            gemm2Case(129, 131, K, (K + ldMode) % 2, ldMode % 2 == 0, ldMode, seed++);
    // the sizes of 768 (K = 768 as in A_h and the v projection), with plain loops too
    gemm2Case(768, 300, 768, 1, false, 2, seed++, true);
    gemm2Case(300, 768, 768, 0, true, 2, seed++, true);
    gemm2Case(129, 768, 768, 1, false, 1, seed++, true);
    gemm2Case(768, 7, 129, 0, true, 3, seed++, true);
    gemm2Case(7, 768, 127, 1, true, 0, seed++, true);
    gemm2Case(257, 259, 300, 1, false, 2, seed++, true);
}

int main() {
    // top-k: V not a multiple of the 64-token tile, k above a tile and above a split, ties
    // (integer data), ±inf and NaN, several heads, vocabulary splits merged
    topkCase(37, 7, 3, 5, 1, 1, 1, 0);
    topkCase(613, 7, 33, 5, 2, 100, 2, 0);
    topkCase(300, 64, 17, 1, 1, 100, 3, 0);
    topkCase(257, 16, 70, 40, 2, 1, 4, 0);          // 5 splits of 64 tokens
    topkCase(300, 7, 5, 100, 1, 1, 5, 0);           // k above a split's 64 tokens: -1 slots merged
    topkCase(130, 3, 4, 130, 1, 1, 6, 0);           // k = V over 3 splits
    topkCase(700, 9, 9, 300, 1, 100, 7, 0);         // k above a tile, one split
    topkCase(301, 7, 34, 5, 1, 2, 8, 1);            // -inf and NaN
    topkCase(333, 64, 6, 40, 1, 100, 9, 2);         // +inf, -inf and NaN
    topkCase(1, 1, 2, 1, 1, 1, 10, 0);              // a one-token vocabulary
    {
        // all logits equal: the lowest ids, in order
        topkCase(150, 1, 3, 20, 1, 1, 11, 0);
    }
    // the targets' rank test: the same shapes with floors from hs_target_gate
    topkCase(37, 7, 3, 5, 1, 1, 21, 0, 3);
    topkCase(613, 7, 33, 5, 2, 100, 22, 0, 2);
    topkCase(300, 64, 17, 1, 1, 100, 23, 0, 4);
    topkCase(257, 16, 70, 40, 2, 1, 24, 0, 3);      // 5 splits, k above a split
    topkCase(130, 3, 4, 130, 1, 1, 26, 0, 5);       // k = V
    topkCase(700, 9, 9, 300, 1, 100, 27, 0, 3);     // k above a tile
    topkCase(301, 7, 34, 5, 1, 2, 28, 1, 3);        // -inf and NaN: targets at -inf or NaN get no floor
    topkCase(333, 64, 6, 40, 1, 100, 29, 2, 3);     // +inf, -inf and NaN
    topkCase(150, 1, 3, 20, 1, 1, 31, 0, 2);        // all logits equal
    topkCase(1, 1, 2, 1, 1, 1, 30, 0, 2);           // a one-token vocabulary
    // gates seeded from the top k of a part of the vocabulary (rank_case.h): the same lists
    topkCase(613, 7, 33, 5, 2, 1, 51, 0, 0, 128);   // whole top k, splits
    topkCase(257, 16, 70, 40, 2, 1, 52, 0, 0, 64);  // k above a split
    topkCase(301, 7, 34, 5, 1, 2, 53, 1, 0, 100);   // -inf and NaN: no seed from a -inf or NaN k-th
    topkCase(333, 64, 6, 40, 1, 100, 54, 2, 0, 64); // +inf, -inf and NaN
    topkCase(150, 1, 3, 20, 1, 1, 55, 0, 0, 64);    // all logits equal: the seed is the logit itself
    topkCase(613, 7, 33, 5, 2, 100, 56, 0, 2, 128); // rank test
    topkCase(257, 16, 70, 40, 2, 1, 57, 0, 3, 64);
    topkCase(301, 7, 34, 5, 1, 2, 58, 1, 3, 100);
    topkCase(150, 1, 3, 20, 1, 1, 59, 0, 2, 64);
    topkCase(130, 3, 4, 3, 1, 1, 60, 0, 0, 3);      // seed list exactly k long
    gemmCase(70, 130, 33, 0, true, 1);
    gemmCase(65, 64, 17, 1, false, 2);
    gemmCase(1, 5, 200, 1, true, 3);
    gemmCase(128, 67, 16, 0, false, 4);
    block0Cases();
    ovCases();
    gemm2Sweep();
    std::printf("sgemm2: %d cases against sgemm\n", gemm2Cases);
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
