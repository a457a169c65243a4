// Runs gemm_bf16.cu under the host emulator: hs_gemm_bf16 against double sums of the exact
// products of the bf16-rounded operands, within 2^-13 · Σ|products| (the bound the caller assumes
// for tensor-core accumulation) and exactly where every input is a small integer; M and N off the
// 128 × 128 tile, K = 0, 16, 32, 48, 64, 768, leading dimensions above the minimum, unaligned
// operands (the scalar path), nothing written outside C's M × N, A's round-to-nearest-even on load,
// ±inf/NaN; hs_pack_bf16 bit for bit against a plain loop (ties, NaN, ±inf, overflow to inf).
//   bash kernels/emu/run.sh
#include "../gemm_bf16.cu"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

static int passed = 0, failed = 0;
static void check(bool ok, const std::string& what) {
    if (ok) passed++; else failed++;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
}

// bf16 bits of f, written out: NaN → its top half with the quiet bit set; otherwise the top half
// of the bit pattern, plus one when the dropped half is above 0x8000, or exactly 0x8000 with the
// kept half odd (round to nearest even; a carry into the exponent gives the next binade or inf).
static unsigned refBits(float f) {
    unsigned u = __float_as_uint(f);
    if (std::isnan(f)) return (u >> 16) | 0x40u;
    unsigned keep = u >> 16, drop = u & 0xffffu;
    if (drop > 0x8000u || (drop == 0x8000u && (keep & 1u))) keep++;
    return keep;
}
static double bfValue(unsigned h) {
    return (double)__uint_as_float((h & 0xffffu) << 16);
}

static const unsigned SENTINEL = 0x7fbadbadu;  // a NaN pattern no kernel computes

struct Problem {
    int M, N, K, lda, ldb, ldc;
    int aOff = 0, bOff = 0, cOff = 0;  // element offsets of the pointers passed (unaligned when odd)
    std::vector<float> A;              // [aOff + M·lda]
    std::vector<unsigned> B;           // [bOff + N·ldb]
};

enum Kind { GAUSS, INTS, WIDE };

static Problem makeProblem(Kind kind, int M, int N, int K, int lda, int ldb, int ldc, unsigned seed, int aOff = 0,
                           int bOff = 0, int cOff = 0) {
    Problem p{M, N, K, lda, ldb, ldc, aOff, bOff, cOff, {}, {}};
    std::mt19937 rng(seed);
    std::normal_distribution<float> gauss(0.f, 1.f);
    std::uniform_int_distribution<int> small(-8, 8);
    std::uniform_int_distribution<int> expo(-40, 40);
    auto value = [&]() -> float {
        if (kind == INTS) return (float)small(rng);
        if (kind == WIDE) return std::ldexp(gauss(rng), expo(rng));  // cancellation across magnitudes
        return gauss(rng);
    };
    // padding past K in A and B (and before the offsets) holds NaN, which the kernel must not read
    // (NaN · 0 is NaN: one operand's stray read shows even where the other's padding is zero)
    p.A.assign((size_t)aOff + (size_t)M * lda, NAN);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) p.A[aOff + (size_t)m * lda + k] = value();
    p.B.assign((size_t)bOff + (size_t)N * ldb, 0x7fc07fc0u);  // NaN pairs
    for (int n = 0; n < N; n++)
        for (int w = 0; w < K / 2; w++) {
            float lo = value(), hi = value();
            p.B[bOff + (size_t)n * ldb + w] = refBits(lo) | (refBits(hi) << 16);
        }
    return p;
}

// Launches hs_gemm_bf16 on p and checks every entry of C (and that nothing else was written).
// exact: the result must be the float rounding of the double sum.
static void run(const Problem& p, bool exact, const std::string& name) {
    const int M = p.M, N = p.N, K = p.K;
    size_t cSize = (size_t)p.cOff + (size_t)(M + 2) * p.ldc;  // two rows past M to catch stray writes
    std::vector<float> C(cSize, __uint_as_float(SENTINEL));
    dim3 grid((N + GB_BN - 1) / GB_BN, (M + GB_BM - 1) / GB_BM);
    emu::launch(hs_gemm_bf16, grid, dim3(256), p.A.data() + p.aOff, p.lda, p.B.data() + p.bOff, p.ldb,
                C.data() + p.cOff, p.ldc, M, N, K);
    std::string why;
    long bad = 0;
    double worst = 0;  // largest |C - ref| / bound
    for (size_t i = 0; i < cSize && bad < 5; i++) {
        long rel = (long)i - p.cOff;
        long m = rel >= 0 ? rel / p.ldc : -1, n = rel >= 0 ? rel % p.ldc : -1;
        bool inside = m >= 0 && m < M && n < N;
        if (!inside) {
            if (__float_as_uint(C[i]) != SENTINEL) {
                bad++;
                why += " wrote outside C at offset " + std::to_string(rel);
            }
            continue;
        }
        double s = 0, a = 0;
        for (int k = 0; k < K; k++) {
            double x = bfValue(refBits(p.A[p.aOff + (size_t)m * p.lda + k]));
            unsigned w = p.B[p.bOff + (size_t)n * p.ldb + k / 2];
            double y = bfValue(k % 2 ? w >> 16 : w);
            s += x * y;
            a += std::fabs(x * y);
        }
        float c = C[i];
        bool ok;
        if (std::isnan(s)) ok = std::isnan(c);
        else if (std::isinf(s)) ok = (double)c == s;
        else if (exact) ok = c == (float)s;
        else {
            double bound = std::ldexp(a, -13) + 1e-30;
            double err = std::fabs((double)c - s);
            ok = err <= bound;
            if (ok) worst = std::max(worst, err / bound);
        }
        if (!ok) {
            bad++;
            char buf[160];
            std::snprintf(buf, sizeof buf, " C[%ld][%ld] = %.9g, reference %.17g (sum |products| %.6g)", m, n, c, s, a);
            why += buf;
        }
    }
    char tail[64];
    std::snprintf(tail, sizeof tail, exact ? "" : " (worst error %.3g of the bound)", worst);
    check(bad == 0, name + " M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
                        " lda=" + std::to_string(p.lda) + " ldb=" + std::to_string(p.ldb) + " ldc=" +
                        std::to_string(p.ldc) + (p.aOff | p.bOff | p.cOff ? " unaligned" : "") + tail + why);
}

static void gemmCase(Kind kind, int M, int N, int K, int lda, int ldb, int ldc, unsigned seed, int aOff = 0,
                     int bOff = 0, int cOff = 0) {
    const char* names[] = {"gemm gauss", "gemm ints", "gemm wide"};
    run(makeProblem(kind, M, N, K, lda, ldb, ldc, seed, aOff, bOff, cOff), kind == INTS, names[kind]);
}

// A at a bf16 tie must round to even on load: 1 + 2^-8 → 1, 1 + 3·2^-8 → 1 + 2^-6, and their
// negatives; B = 1 at k = 0, every other product zero (K = 16). Then the special values.
static void roundingCase() {
    const float one = 1.f, ulp8 = std::ldexp(1.f, -8);
    const float a0[] = {one + ulp8, one + 3 * ulp8, -(one + ulp8), -(one + 3 * ulp8), 1.f + std::ldexp(1.f, -9)};
    const float want[] = {1.f, 1.f + std::ldexp(1.f, -6), -1.f, -(1.f + std::ldexp(1.f, -6)), 1.f};
    const int M = 5, N = 1, K = 16;
    Problem p{M, N, K, K, K / 2, 4, 0, 0, 0, std::vector<float>(M * K, 0.f), std::vector<unsigned>(K / 2, 0u)};
    for (int m = 0; m < M; m++) p.A[m * K] = a0[m];
    p.B[0] = refBits(1.f);  // k = 0: 1, k = 1: 0
    std::vector<float> C((size_t)M * p.ldc, __uint_as_float(SENTINEL));
    emu::launch(hs_gemm_bf16, dim3(1, 1), dim3(256), p.A.data(), p.lda, p.B.data(), p.ldb, C.data(), p.ldc, M, N, K);
    std::string why;
    for (int m = 0; m < M; m++)
        if (__float_as_uint(C[(size_t)m * p.ldc]) != __float_as_uint(want[m]))
            why += " row " + std::to_string(m) + ": " + std::to_string(C[(size_t)m * p.ldc]);
    check(why.empty(), "gemm rounds A to nearest even on load (1+2^-8 -> 1, 1+3*2^-8 -> 1+2^-6, negatives)" + why);

    // ±inf, NaN and overflow to inf in A; inf · 0 is NaN, inf − inf NaN, as the reference says
    Problem q = makeProblem(GAUSS, 40, 20, 32, 32, 16, 20, 99);
    q.A[0] = INFINITY;                  // row 0: inf times gaussians
    q.A[1 * 32 + 3] = -INFINITY;        // row 1
    q.A[2 * 32 + 5] = NAN;              // row 2
    q.A[3 * 32 + 7] = 3.4e38f;          // row 3: rounds to +inf on load
    q.A[4 * 32 + 0] = INFINITY;         // row 4: inf and -inf in one sum
    q.A[4 * 32 + 1] = -INFINITY;
    q.B[5 * 16 + 0] &= 0xffff0000u;     // column 5, k = 0: zero, so row 0 gets inf · 0
    run(q, false, "gemm special (inf, NaN, overflow on load)");
}

// hs_pack_bf16 against refBits, bit for bit; a small grid so the grid-stride loop goes round.
static void packCase() {
    std::vector<float> x;
    const float ulp8 = std::ldexp(1.f, -8);
    const float special[] = {1.f + ulp8, 1.f + 3 * ulp8, -(1.f + ulp8), -(1.f + 3 * ulp8), 0.f, -0.f, INFINITY,
                             -INFINITY, NAN, -NAN, __uint_as_float(0x7f800001u), __uint_as_float(0xff800001u), 3.4e38f, -3.4e38f,
                             __uint_as_float(0x7f7fffffu), __uint_as_float(0x7f7f8000u), __uint_as_float(0x7f7f7fffu), __uint_as_float(0x7f7f0000u),
                             __uint_as_float(0x00008000u), __uint_as_float(0x00018000u), __uint_as_float(0x80018000u), __uint_as_float(0x00000001u),
                             __uint_as_float(0x007fffffu), 1e-40f, 65504.f, 1.f / 3.f};
    for (float f : special) x.push_back(f);
    std::mt19937 rng(7);
    std::normal_distribution<float> gauss(0.f, 1.f);
    while (x.size() < 2001) x.push_back(gauss(rng) * std::ldexp(1.f, (int)(rng() % 60) - 30));
    for (int i = 0; i < 200; i++) {  // exact ties at random magnitudes: the top half plus 0x8000
        unsigned u = (rng() & 0xffff0000u) | 0x8000u;
        if ((u & 0x7f800000u) != 0x7f800000u) x.push_back(__uint_as_float(u));
    }
    if (x.size() % 2) x.push_back(2.5f);
    long pairs = (long)x.size() / 2 - 1;  // the last pair must stay unpacked
    std::vector<unsigned> out(x.size() / 2 + 3, 0xdeadbeefu);
    emu::launch(hs_pack_bf16, dim3(3), dim3(64), x.data(), pairs, out.data());
    std::string why;
    int bad = 0;
    for (long w = 0; w < (long)out.size() && bad < 5; w++) {
        unsigned want = w < pairs ? refBits(x[2 * w]) | (refBits(x[2 * w + 1]) << 16) : 0xdeadbeefu;
        if (out[w] != want) {
            bad++;
            char buf[96];
            std::snprintf(buf, sizeof buf, " word %ld: %08x, want %08x", w, out[w], want);
            why += buf;
        }
    }
    // the known answers, written out
    const unsigned known[][2] = {{__float_as_uint(1.f + ulp8), 0x3f80u}, {__float_as_uint(1.f + 3 * ulp8), 0x3f82u},
                                 {__float_as_uint(-(1.f + ulp8)), 0xbf80u}, {0x7f800000u, 0x7f80u}, {0xff800000u, 0xff80u},
                                 {0x7fc00000u, 0x7fc0u}, {0x7f800001u, 0x7fc0u}, {__float_as_uint(3.4e38f), 0x7f80u},
                                 {0x7f7fffffu, 0x7f80u}, {0x7f7f8000u, 0x7f80u}, {0x7f7f7fffu, 0x7f7fu},
                                 {0x00008000u, 0x0000u}, {0x00018000u, 0x0002u}, {0x80000000u, 0x8000u}};
    for (auto& kv : known)
        if (refBits(__uint_as_float(kv[0])) != kv[1] || hs_bf16_bits(__uint_as_float(kv[0])) != kv[1]) {
            char buf[96];
            std::snprintf(buf, sizeof buf, " bf16(%08x) = %04x, want %04x", kv[0], hs_bf16_bits(__uint_as_float(kv[0])), kv[1]);
            why += buf;
        }
    check(why.empty(), "pack_bf16 " + std::to_string(pairs) + " pairs bit for bit (ties, NaN, inf, overflow), "
                       "nothing past them" + why);
}

int main() {
    packCase();
    roundingCase();
    // shapes off the tile, leading dimensions above the minimum
    gemmCase(GAUSS, 70, 301, 32, 40, 20, 310, 1);
    gemmCase(GAUSS, 1, 200, 16, 16, 8, 200, 2);       // one row
    gemmCase(GAUSS, 150, 1, 48, 52, 26, 3, 3);        // one column, K = 48: a half slice
    gemmCase(GAUSS, 256, 257, 48, 48, 24, 260, 4);    // two full M tiles, N one past two tiles
    gemmCase(WIDE, 130, 129, 64, 68, 36, 132, 5);     // magnitudes 2^±40: cancellation, relative bound
    gemmCase(GAUSS, 3, 5, 0, 4, 2, 8, 6);             // K = 0: zeros
    // exact arithmetic: small integers, the float of the double sum
    gemmCase(INTS, 70, 301, 64, 64, 32, 304, 11);
    gemmCase(INTS, 129, 130, 48, 56, 28, 131, 12);
    // the scalar path: unaligned pointers, odd leading dimensions
    gemmCase(GAUSS, 70, 150, 48, 49, 25, 151, 21, 1, 1, 1);
    gemmCase(INTS, 33, 140, 32, 33, 17, 141, 22, 3, 0, 0);
    // each condition of the fast path failing alone (a wrong test stops the emulator: GB_ALIGNED)
    gemmCase(GAUSS, 40, 130, 32, 32, 16, 131, 23);          // ldc odd
    gemmCase(GAUSS, 40, 130, 32, 34, 16, 132, 24);          // lda even, not a multiple of 4
    gemmCase(GAUSS, 40, 130, 32, 32, 17, 132, 25);          // ldb odd
    gemmCase(GAUSS, 40, 130, 32, 32, 16, 132, 26, 2, 0, 0); // A 8-byte aligned, not 16
    gemmCase(INTS, 40, 130, 32, 32, 16, 132, 27, 0, 1, 0);  // B 4-byte aligned
    gemmCase(INTS, 40, 130, 32, 32, 16, 132, 28, 0, 0, 1);  // C 4-byte aligned
    // the model width (K = 768, one slice after another): gaussian and exact
    gemmCase(GAUSS, 130, 136, 768, 768, 384, 140, 31);
    gemmCase(INTS, 64, 128, 768, 772, 386, 128, 32);
    std::printf("gemm_bf16: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
