// gemm_bf16.cu: a dense product on bf16 tensor cores with fp32 accumulation, and the packing of
// fp32 into bf16 pairs it reads:
//   hs_pack_bf16  out[w] = bf16(x[2w]) | bf16(x[2w+1]) << 16 (bf16.cuh's hs_pack_bf16x2: round to
//                 nearest even, NaN kept a NaN), w < pairs. Once per model: the token embedding
//                 [V][d] fp32 becomes [V][d/2] words.
//   hs_gemm_bf16  C[m][n] = Σ_{k<K} bf16(A[m][k]) · B[n][k] for m < M, n < N, where A is fp32
//                 [M][lda] (each element rounded to bf16 as it is read, as hs_bf16_bits does) and B
//                 is packed bf16 [N][ldb] words (word w of row n: k = 2w in the low half, k = 2w+1
//                 in the high half; what hs_pack_bf16 writes). mma.sync m16n8k16 (bf16 in, fp32
//                 accumulation, sm_80 and newer), summation order unspecified. Entries of C outside
//                 m < M, n < N are not written. Meant for the approximate vocabulary projection
//                 (M = 12 heads × 64 rows = 768, N = 50257, K = 768).
//
// Numerics: the products of the bf16 values are exact; only the fp32 accumulation rounds, about
// once per k16 step (the hardware aligns and truncates its sums, the emulator rounds each mma's sum
// once), so for the model widths
//   |C[m][n] − Σ_k bf16(A[m][k])·B[n][k]| ≤ 2⁻¹³ · Σ_k |bf16(A[m][k])·B[n][k]|
// with a wide margin (K/16 ≤ 100 roundings of about 2⁻²³ each). The bf16 rounding of A and B
// themselves is the caller's to bound.
//
// Requirements: K a multiple of 16 (model widths 768, 1024, 1280, 1600), lda >= K, ldb >= K/2,
// ldc >= N. M, N arbitrary (loads guarded with zeros, stores by bounds). No alignment is required:
// the fast path is chosen at run time, as hs_sgemm2 does: when A is 16-byte aligned with lda a
// multiple of 4, and B and C are 8-byte aligned with ldb and ldc even, A is read in 16-byte loads,
// B in 8-byte loads and C written in 8-byte stores, with the next slice's loads across the mma;
// otherwise all of them scalar and the loads after the mma (slower, same results). The
// vocabulary shape (lda 768, ldb 384, ldc 50260, buffers from cudaMalloc) takes the fast path.
//
// Layout of hs_gemm_bf16: 128 × 128 tiles of C, K in 32-deep slices, 256 threads = 8 warps of
// 32 × 64 outputs (4 along M × 2 along N; per warp and slice 2 × 8 × 2 = 32 mma on 64 fp32
// accumulators a thread). Why: 128 × 128 keeps the accumulators, the next slice's loads and the
// fragments within 128 registers, so two blocks share an SM (16 warps to hide the latencies of
// mma.sync, shared and global loads); per warp 32 × 64 and 64 × 32 need the same shared traffic
// (12 fragment loads of 16 bytes per 32 mma), but 32 × 64 holds its A fragments (16 registers)
// and streams B's one 8-column piece at a time (4), where 64 × 32 held 16 of B and streamed A's
// 8: ptxas fitted 32 × 64 into 128 registers without spills, 64 × 32 spilled on sm_80/86/89.
//   Shared memory: both tiles as packed bf16 words, row-major (one row of A or of B a tile row),
//   16 words a row (the slice's 32 k), double buffered: 32 KB a block. Within a row the words are
//   permuted, word w at 4·(w % 4) + w / 4, so that one lane's four fragment words of a row for
//   both k16 steps of the slice (pairs q, q+4, q+8, q+12) are one 16-byte load: a quarter warp
//   then reads two whole 64-byte rows, free of bank conflicts without padding.
//   Global → shared: thread t stages row t/2 of each tile, half h = t % 2: from A the float4s at
//   k 8i + 4h (i = 0..3; a thread pair reads 32 contiguous bytes a load), from B the word pairs
//   4i + 2h; both land as two 16-byte stores at words 8h and 8h + 4, issued in an order that
//   alternates every second row (no bank conflicts). The next slice's loads go to registers
//   across the current slice's mma and to the other buffer after them (register double buffering
//   as in gemm.cu's hs_sgemm2; A's across the first half of the mma, B's across the second, which
//   keeps fewer registers live), one __syncthreads a slice. A is rounded to bf16 at that store.
//   Block order: block (x, y) is numbered y·gridDim.x + x and takes M tile (number % gridDim.y),
//   N tile (number / gridDim.y): the few M tiles of one N tile run side by side, so each B tile is
//   read from DRAM about once and A (2.4 MB as fp32) stays in L2.
//   No cp.async, ldmatrix or wgmma: the host emulator has only plain loads and stores,
//   __syncthreads and the mma (emu/warp_emu.h).
//   Expected limits on an H100 (not measured): the 59 GFLOP of the vocabulary shape move ~1.4 GB
//   from L2 (A as fp32 is 2/3 of it: each 128 × 32 slice of A is 16 KB, of B 8 KB) and write
//   154 MB of C; the next steps if L2 bandwidth bounds it: A packed once to bf16, or 128 × 256 tiles.
//
// Build: kernels/build.sh (nvcc -fatbin --fmad=false, sm_80/86/89/90 + compute_90 PTX).
//   ptxas, nvcc 13.0 -O3: hs_gemm_bf16 128 registers, 32768 B shared memory, no spills on sm_80,
//   sm_86, sm_89 and sm_90 (__launch_bounds__(256, 2)); hs_pack_bf16 24 registers.
// Check: bash kernels/emu/run.sh (emu/test_gemm_bf16.cpp: against double sums of the exact bf16
// products within 2⁻¹³·Σ|products|, exactly on small integers, edges of M, N, K and the leading
// dimensions, unaligned operands, nothing written outside C's M × N; hs_pack_bf16 bit for bit with
// RNE ties, NaN, ±inf and overflow to inf). java/test/.../cuda/SimBf16.java is the plain-Java twin
// for the simulated device.
// Status: has not run on a GPU yet (none where it was written): correct under the emulator, speed
// unmeasured.
#include "bf16.cuh"

#define GB_BM 128  // rows of C (of A) a block
#define GB_BN 128  // columns of C (rows of B) a block
#define GB_BK 32   // k a slice
#define GB_W 16    // packed words a tile row and slice (GB_BK / 2)

#ifdef HEADSWEEP_EMU
#include <cstdio>
#include <cstdlib>
// Under the emulator a misaligned vector access would go unnoticed (x86 does not fault): stop there.
#define GB_ALIGNED(p, n)                                                                   \
    (reinterpret_cast<unsigned long long>(p) % (n) == 0                                    \
         ? (void)0                                                                         \
         : (std::fprintf(stderr, "gemm_bf16: misaligned %d-byte access\n", n), std::abort()))
#else
#define GB_ALIGNED(p, n) ((void)0)
#endif

// Four floats of A at p, zeros when !ok; a float4 load when vec.
__device__ __forceinline__ float4 gb_load_a(const float* p, bool ok, bool vec) {
    if (!ok) return float4{0.f, 0.f, 0.f, 0.f};
    if (vec) {
        GB_ALIGNED(p, 16);
        return *reinterpret_cast<const float4*>(p);
    }
    return float4{p[0], p[1], p[2], p[3]};
}

// Two words of B at p (p[0] in the low half), zeros when !ok; an 8-byte load when vec.
__device__ __forceinline__ unsigned long long gb_load_b(const unsigned* p, bool ok, bool vec) {
    if (!ok) return 0ull;
    if (vec) {
        GB_ALIGNED(p, 8);
        return *reinterpret_cast<const unsigned long long*>(p);
    }
    return (unsigned long long)p[0] | (unsigned long long)p[1] << 32;
}

// The body of hs_gemm_bf16. VEC: A 16-byte aligned with lda % 4 == 0, B and C 8-byte aligned
// with ldb and ldc even: vector loads and stores; else scalar ones, and the next slice loaded after
// the mma instead of across them (one instance each, so the slow path's registers do not add to
// the fast path's).
template <bool VEC>
__device__ __forceinline__ void gb_gemm(const float* A, int lda, const unsigned* B, int ldb, float* C, int ldc,
                                        int M, int N, int K, unsigned (*As)[GB_BM][GB_W],
                                        unsigned (*Bs)[GB_BN][GB_W]) {
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int g = lane >> 2;   // fragment row (A) / column (B) within 8
    const int q = lane & 3;    // fragment k pair within 4
    const int wm = warp >> 1;  // the warp's 32 rows of the tile
    const int wn = warp & 1;   // the warp's 64 columns

    // block order: the M tiles of one N tile consecutive
    const long bid = (long)blockIdx.y * gridDim.x + blockIdx.x;
    const long m0 = (bid % gridDim.y) * GB_BM;
    const long n0 = (bid / gridDim.y) * GB_BN;

    // staging: row r of both tiles, half h; the two 16-byte stores in alternating order (sw)
    const int r = tid >> 1;
    const int h = tid & 1;
    const int sw = (r >> 1) & 1;
    const bool rowA = m0 + r < M;
    const bool rowB = n0 + r < N;
    const float* pA = A + (rowA ? (m0 + r) * (long)lda : 0) + 4 * h;
    const unsigned* pB = B + (rowB ? (n0 + r) * (long)ldb : 0) + 2 * h;

    float acc[2][8][4];  // [16-row piece][8-column piece][fragment]
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int ni = 0; ni < 8; ni++)
#pragma unroll
            for (int c = 0; c < 4; c++) acc[mi][ni][c] = 0.f;

    float4 ra[4];
    unsigned long long rb[4];
    // global -> registers, the slice at k0 (its second k16 half zeros when k0 + 16 >= K)
    auto fetchA = [&](int k0) {
        const bool hi = k0 + 16 < K;
#pragma unroll
        for (int i = 0; i < 4; i++) ra[i] = gb_load_a(pA + k0 + 8 * i, rowA && (i < 2 || hi), VEC);
    };
    auto fetchB = [&](int k0) {
        const bool hi = k0 + 16 < K;
#pragma unroll
        for (int i = 0; i < 4; i++) rb[i] = gb_load_b(pB + k0 / 2 + 4 * i, rowB && (i < 2 || hi), VEC);
    };
    // registers -> shared buffer s (A rounded to bf16 here): words w = 4i + 2h (the low words,
    // positions 8h + i) and 4i + 2h + 1 (the high words, positions 8h + 4 + i)
    auto stashA = [&](int s) {
        const uint4 p0 = uint4{hs_pack_bf16x2(ra[0].x, ra[0].y), hs_pack_bf16x2(ra[1].x, ra[1].y),
                               hs_pack_bf16x2(ra[2].x, ra[2].y), hs_pack_bf16x2(ra[3].x, ra[3].y)};
        const uint4 p1 = uint4{hs_pack_bf16x2(ra[0].z, ra[0].w), hs_pack_bf16x2(ra[1].z, ra[1].w),
                               hs_pack_bf16x2(ra[2].z, ra[2].w), hs_pack_bf16x2(ra[3].z, ra[3].w)};
        uint4* d = reinterpret_cast<uint4*>(&As[s][r][8 * h]);
        d[sw] = sw ? p1 : p0;
        d[sw ^ 1] = sw ? p0 : p1;
    };
    auto stashB = [&](int s) {
        const uint4 p0 = uint4{(unsigned)rb[0], (unsigned)rb[1], (unsigned)rb[2], (unsigned)rb[3]};
        const uint4 p1 = uint4{(unsigned)(rb[0] >> 32), (unsigned)(rb[1] >> 32), (unsigned)(rb[2] >> 32),
                               (unsigned)(rb[3] >> 32)};
        uint4* d = reinterpret_cast<uint4*>(&Bs[s][r][8 * h]);
        d[sw] = sw ? p1 : p0;
        d[sw ^ 1] = sw ? p0 : p1;
    };
    // The mma of the warp's columns ni0 .. ni0 + 3 (8 each), both k16 steps of the slice in buffer
    // s. af[mi][e]: this lane's A words of row 16·mi + 8·e + g, pairs q, q + 4, q + 8, q + 12;
    // step 0's fragment is {a0, a1, a2, a3} = {af[mi][0].x, af[mi][1].x, af[mi][0].y, af[mi][1].y},
    // step 1's the .z, .w; one 16-byte load of B gives {b0, b1} of both steps likewise.
    auto part = [&](int s, const uint4 (&af)[2][2], int ni0) {
#pragma unroll
        for (int ni = ni0; ni < ni0 + 4; ni++) {
            const uint4 b = *reinterpret_cast<const uint4*>(&Bs[s][wn * 64 + ni * 8 + g][4 * q]);
#pragma unroll
            for (int mi = 0; mi < 2; mi++) {
                const unsigned a[4] = {af[mi][0].x, af[mi][1].x, af[mi][0].y, af[mi][1].y};
                hs_mma_bf16_16816(acc[mi][ni], a, b.x, b.y, acc[mi][ni]);
            }
#pragma unroll
            for (int mi = 0; mi < 2; mi++) {
                const unsigned a[4] = {af[mi][0].z, af[mi][1].z, af[mi][0].w, af[mi][1].w};
                hs_mma_bf16_16816(acc[mi][ni], a, b.z, b.w, acc[mi][ni]);
            }
        }
    };

    const int tiles = (K + GB_BK - 1) / GB_BK;
    if (tiles > 0) {
        fetchA(0);
        fetchB(0);
        stashA(0);
        stashB(0);
        __syncthreads();
    }
    // Slice t: the mma read buffer s while the next slice goes to buffer s ^ 1 (last read in slice
    // t - 1, before the barrier). VEC: A's loads are issued before the first half of the mma and
    // stored after it, B's before the second half and stored after it (fewer registers live at once).
    for (int t = 0; t < tiles; t++) {
        const int s = t & 1;
        const bool more = t + 1 < tiles;
        const int k1 = (t + 1) * GB_BK;
        uint4 af[2][2];
#pragma unroll
        for (int mi = 0; mi < 2; mi++)
#pragma unroll
            for (int e = 0; e < 2; e++)
                af[mi][e] = *reinterpret_cast<const uint4*>(&As[s][wm * 32 + mi * 16 + e * 8 + g][4 * q]);
        if (VEC) {
            if (more) fetchA(k1);
            part(s, af, 0);
            if (more) {
                stashA(s ^ 1);
                fetchB(k1);
            }
            part(s, af, 4);
            if (more) stashB(s ^ 1);
        } else {
            part(s, af, 0);
            part(s, af, 4);
            if (more) {
                fetchA(k1);
                stashA(s ^ 1);
                fetchB(k1);
                stashB(s ^ 1);
            }
        }
        __syncthreads();
    }

    // lane (g, q) holds rows g, g + 8 and columns 2q, 2q + 1 of each 16 × 8 piece
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
            const long m = m0 + wm * 32 + mi * 16 + e * 8 + g;
            if (m >= M) continue;
            float* crow = C + m * (long)ldc;
#pragma unroll
            for (int ni = 0; ni < 8; ni++) {
                const long n = n0 + wn * 64 + ni * 8 + 2 * q;
                const float v0 = acc[mi][ni][e * 2];
                const float v1 = acc[mi][ni][e * 2 + 1];
                if (VEC && n + 1 < N) {
                    GB_ALIGNED(crow + n, 8);
                    *reinterpret_cast<float2*>(crow + n) = float2{v0, v1};
                } else {
                    if (n < N) crow[n] = v0;
                    if (n + 1 < N) crow[n + 1] = v1;
                }
            }
        }
}

// grid (ceil(N/BN), ceil(M/BM)), block 256. BM = BN = 128 (the layout above).
extern "C" __global__ void __launch_bounds__(256, 2)
hs_gemm_bf16(const float* A, int lda, const unsigned* B, int ldb, float* C, int ldc, int M, int N, int K) {
    __shared__ __align__(16) unsigned As[2][GB_BM][GB_W];
    __shared__ __align__(16) unsigned Bs[2][GB_BN][GB_W];
    const bool vec = ((reinterpret_cast<unsigned long long>(A) & 15) == 0) && (lda & 3) == 0 &&
                     ((reinterpret_cast<unsigned long long>(B) & 7) == 0) && (ldb & 1) == 0 &&
                     ((reinterpret_cast<unsigned long long>(C) & 7) == 0) && (ldc & 1) == 0;
    if (vec) gb_gemm<true>(A, lda, B, ldb, C, ldc, M, N, K, As, Bs);
    else gb_gemm<false>(A, lda, B, ldb, C, ldc, M, N, K, As, Bs);
}

// out[w] = hs_pack_bf16x2(x[2w], x[2w+1]) for w < pairs; grid-stride loop, any grid, block any
// multiple of 32. Scalar loads (a warp reads 256 contiguous bytes): no alignment required.
extern "C" __global__ void hs_pack_bf16(const float* x, long pairs, unsigned* out) {
    const long stride = (long)gridDim.x * blockDim.x;
    for (long w = (long)blockIdx.x * blockDim.x + threadIdx.x; w < pairs; w += stride)
        out[w] = hs_pack_bf16x2(x[2 * w], x[2 * w + 1]);
}
