// Runs twopass.cu under the host emulator: hs_bf16_split bit for bit against a plain loop, and
// hs_row_bound's B1 against (a) the formula of twopass.cu recomputed in long double from the
// Gram matrices (hs_gram2 of ov.cu) and (b) what it bounds: |X_t − X̂_t| for every row and token of
// random and adversarial heads, X from A's fp32 chains (hs_sgemm2's order) and X̂ from Â (bf16
// products summed in double and rounded once, as the emulated mma does; a truncating GPU sum is
// inside the bound's δ). Prints one line per check and "twopass: N passed, M failed".
//   bash kernels/emu/run.sh
#include "../ov.cu"
#include "../twopass.cu"

#include "reference.h"

#include <cstdio>
#include <random>
#include <string>

static int passed = 0, failed = 0;
static void check(bool ok, const std::string& what) {
    if (ok) passed++; else failed++;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
}

static float bf16(float x) { return __uint_as_float(hs_bf16_bits(x) << 16); }

static void splitCase() {
    std::vector<float> m = {1.f + 0x1p-8f, 1.f + 3 * 0x1p-8f, -(1.f + 0x1p-8f), 3.4e38f, -0.f, 1e-40f, INFINITY, NAN,
                            0.1f, -123.456f, 0x1p-126f};
    std::mt19937 rng(3);
    std::normal_distribution<float> gauss(0.f, 1.f);
    for (int i = 0; i < 200; i++) m.push_back(gauss(rng) * std::ldexp(1.f, (int)(rng() % 40) - 20));
    long count = (long)m.size();
    std::vector<float> mh(count), ml(count), ma(count);
    emu::launch(hs_bf16_split, dim3(2), dim3(64), m.data(), count, mh.data(), ml.data(), ma.data());
    bool ok = true;
    for (long i = 0; i < count; i++) {
        float h = bf16(m[i]);
        ok &= same(mh[i], h) && same(ma[i], std::fabs(m[i]));
        if (std::isfinite(m[i]) && std::isfinite(h)) ok &= ml[i] == m[i] - h && (double)mh[i] + ml[i] == (double)m[i];
    }
    ok &= mh[0] == 1.f && mh[1] == 1.f + 4 * 0x1p-8f;  // ties to even
    check(ok, "hs_bf16_split: bits, ties to even, Mh + Ml = M exactly");
}

// One batch of nb heads: B1 against the formula and against |X − X̂| over every row and token.
// kind 0: gaussian; 1: E at bf16 ties and M with a wide dynamic range; 2: u with huge and tiny
// entries; 3: a NaN in M (B1 must be +inf for that head); 4: a row of M above 2^16 (+inf).
static void boundCase(int kind, int nb, int n, int d, int V, unsigned seed) {
    const int hs = 64;
    std::mt19937 rng(seed);
    std::normal_distribution<float> gauss(0.f, 1.f);
    std::vector<float> M((size_t)nb * hs * d), E((size_t)V * d), U((size_t)nb * n * hs), beta(V);
    for (auto& x : M) x = gauss(rng) * 0.05f;
    for (auto& x : E) x = gauss(rng) * 0.1f;
    for (auto& x : U) x = gauss(rng);
    for (auto& x : beta) x = gauss(rng);
    if (kind == 1) {
        for (auto& x : E) x = bf16(x) * (1.f + 0x1p-9f);  // halfway between two bf16 values, often
        for (size_t i = 0; i < M.size(); i++) M[i] *= std::ldexp(1.f, (int)(i % 13) - 6);
    }
    if (kind == 2)
        for (size_t i = 0; i < U.size(); i++) U[i] *= i % 5 == 0 ? 1e3f : i % 5 == 1 ? 1e-3f : 1.f;
    if (kind == 3) M[5] = NAN;
    if (kind == 4) M[(size_t)hs * d + 7] = 70000.f;  // head 1
    // Mh, Ml, |M| and their Gram matrices on the emulator
    size_t cm = M.size();
    std::vector<float> mh(cm), ml(cm), ma(cm);
    emu::launch(hs_bf16_split, dim3(8), dim3(256), M.data(), (long)cm, mh.data(), ml.data(), ma.data());
    std::vector<double> gl((size_t)nb * hs * hs), gh(gl.size()), ga(gl.size());
    emu::launch(hs_gram2, dim3(nb, (hs * hs + 255) / 256), dim3(256), ml.data(), gl.data(), hs, d);
    emu::launch(hs_gram2, dim3(nb, (hs * hs + 255) / 256), dim3(256), mh.data(), gh.data(), hs, d);
    emu::launch(hs_gram2, dim3(nb, (hs * hs + 255) / 256), dim3(256), ma.data(), ga.data(), hs, d);
    // the embedding's largest norms and |beta|, rounded up to floats
    double maxE = 0, maxEl = 0, maxB = 0;
    for (int t = 0; t < V; t++) {
        double s = 0, sl = 0;
        for (int i = 0; i < d; i++) {
            double e = E[(size_t)t * d + i];
            s += e * e;
            sl += (e - bf16(E[(size_t)t * d + i])) * (e - bf16(E[(size_t)t * d + i]));
        }
        maxE = std::max(maxE, std::sqrt(s));
        maxEl = std::max(maxEl, std::sqrt(sl));
        maxB = std::max(maxB, (double)std::fabs(beta[t]));
    }
    auto up = [](double x) { float f = (float)(x * (1 + 1e-12)); return (double)f < x ? std::nextafter(f, INFINITY) : f; };
    std::vector<float> B1((size_t)nb * n);
    emu::launch(hs_row_bound, dim3((n + 127) / 128, nb), dim3(128), U.data(), n, hs, gl.data(), gh.data(), ga.data(),
                up(maxE), up(maxEl), up(maxB), B1.data());
    std::string why;
    double worst = 0;  // the largest |X − X̂| / B1 seen
    for (int g = 0; g < nb && why.empty(); g++) {
        bool nonFinite = kind == 3 && g == 0, tooLarge = kind == 4 && g == 1;
        // A (fp32 chains over i from +0, hs_sgemm2's order) and Â (bf16 products in double, rounded once)
        std::vector<float> A((size_t)hs * V), Ah((size_t)hs * V);
        for (int j = 0; j < hs; j++)
            for (int t = 0; t < V; t++) {
                float a = 0.f;
                long double ah = 0;
                for (int i = 0; i < d; i++) {
                    float m = M[((size_t)g * hs + j) * d + i], e = E[(size_t)t * d + i];
                    a = fmaf(m, e, a);
                    ah += (long double)bf16(m) * bf16(e);
                }
                A[(size_t)j * V + t] = a;
                Ah[(size_t)j * V + t] = (float)ah;
            }
        for (int r = 0; r < n && why.empty(); r++) {
            float b1 = B1[(size_t)g * n + r];
            const float* u = &U[((size_t)g * n + r) * hs];
            // (a) the formula in long double
            long double ql = 0, qh = 0, qa = 0, su = 0, rowM = 0;
            for (int a = 0; a < hs; a++) {
                for (int b = 0; b < hs; b++) {
                    size_t e = ((size_t)g * hs + a) * hs + b;
                    ql += (long double)u[a] * gl[e] * u[b];
                    qh += (long double)u[a] * gh[e] * u[b];
                    qa += (long double)std::fabs(u[a]) * ga[e] * std::fabs(u[b]);
                }
                su += std::fabs(u[a]);
                rowM = std::max(rowM, (long double)ga[((size_t)g * hs + a) * hs + a]);
            }
            long double na = std::sqrt(std::max(qa, (long double)0));
            long double want = 0x1p-16L * up(maxB) + (std::sqrt(std::max(ql, (long double)0)) + 0x1p-18L * na +
                               0x1p-12L * na) * up(maxE) + (std::sqrt(std::max(qh, (long double)0)) + 0x1p-18L * na) * up(maxEl) +
                               0x1p-90L * (1 + su);
            if (nonFinite || tooLarge) {
                if (b1 != INFINITY) why = " head " + std::to_string(g) + ": B1 " + std::to_string(b1) + ", want +inf";
                continue;
            }
            if (!(b1 >= want) || !(b1 <= want * (1 + 1e-5L)))
                why = " head " + std::to_string(g) + " row " + std::to_string(r) + ": B1 " + std::to_string(b1) +
                      ", formula " + std::to_string((double)want);
            // (b) the bound holds: |X − X̂| ≤ B1 for every token
            for (int t = 0; t < V && why.empty(); t++) {
                float x = beta[t], xh = beta[t];
                for (int j = 0; j < hs; j++) {
                    x = fmaf(u[j], A[(size_t)j * V + t], x);
                    xh = fmaf(u[j], Ah[(size_t)j * V + t], xh);
                }
                double diff = std::fabs((double)x - xh);
                worst = std::max(worst, diff / b1);
                if (!(diff <= b1))
                    why = " head " + std::to_string(g) + " row " + std::to_string(r) + " token " + std::to_string(t) +
                          ": |X - X^| " + std::to_string(diff) + " above B1 " + std::to_string(b1);
            }
        }
    }
    const char* names[] = {"gauss", "ties-and-range", "wide-u", "nan-in-M", "M-above-2^16"};
    char tail[64];
    std::snprintf(tail, sizeof tail, " (largest |X-X^|/B1 %.3g)", worst);
    check(why.empty(), std::string("hs_row_bound ") + names[kind] + " heads=" + std::to_string(nb) + " n=" +
                           std::to_string(n) + " d=" + std::to_string(d) + " V=" + std::to_string(V) + tail + why);
}

// hs_zero, hs_tp_mark and hs_tp_compact: the union of the rows' collected tokens (rows above cap
// left out) in increasing id, against a plain loop.
static void unionCase(int V, long rows, int cap, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<int> count(rows), ids((size_t)rows * cap, -9), mask(V, 77), cols(V, -3), total(1, -1);
    std::vector<char> want(V, 0);
    for (long r = 0; r < rows; r++) {
        int c = rng() % (cap + 3);  // some above cap
        count[r] = c;
        for (int s = 0; s < std::min(c, cap); s++) {
            int t = rng() % V;
            ids[(size_t)r * cap + s] = t;
            if (c <= cap) want[t] = 1;
        }
    }
    emu::launch(hs_zero, dim3(3), dim3(64), mask.data(), (long)V);
    bool ok = std::all_of(mask.begin(), mask.end(), [](int x) { return x == 0; });
    emu::launch(hs_tp_mark, dim3((rows + 127) / 128), dim3(128), count.data(), ids.data(), cap, rows, mask.data());
    emu::launch(hs_tp_compact, dim3(1), dim3(1024), mask.data(), V, cols.data(), total.data());
    std::vector<int> w;
    for (int t = 0; t < V; t++)
        if (want[t]) w.push_back(t);
    ok &= total[0] == (int)w.size() && std::equal(w.begin(), w.end(), cols.begin());
    for (int t = 0; t < V; t++) ok &= (mask[t] != 0) == (want[t] != 0);
    check(ok, "hs_zero, hs_tp_mark, hs_tp_compact V=" + std::to_string(V) + " rows=" + std::to_string(rows) + " cap=" +
                  std::to_string(cap) + " (" + std::to_string(w.size()) + " tokens)");
}

int main() {
    splitCase();
    unionCase(50257, 300, 16, 7);   // the vocabulary of GPT-2: runs of 50 tokens a thread
    unionCase(1000, 40, 4, 8);      // fewer tokens than threads: a run of one a thread
    unionCase(7, 3, 2, 9);          // most threads without tokens
    boundCase(0, 2, 40, 96, 300, 1);
    boundCase(1, 1, 30, 64, 200, 2);
    boundCase(2, 1, 30, 80, 200, 3);
    boundCase(3, 2, 5, 32, 50, 4);
    boundCase(4, 2, 5, 32, 50, 5);
    std::printf("twopass: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
