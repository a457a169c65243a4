// gemm.cu: the one dense product the GPU path uses, fp32 with fp32 accumulation:
//   hs_sgemm,  C[M, N] = A[M, K] · op(B) (+ bias[N]),  op(B) = B[K, N] (transB = 0)
//   hs_sgemm2                                             or B[N, K]ᵀ (transB = 1)
// All row-major with leading dimensions lda, ldb, ldc (in floats). Every output is accumulated
// from 0 with fmaf over k = 0, 1, ..., K-1 in order and the bias is added last; so A_h = M·wteᵀ
// (transB = 1) equals the CPU's plain kernel bit for bit. Used for block 0's dense layers, the
// value projections v = z·W_V + b_V and the per-head precompute A_h = W̃_O·diag(ln_f.w)·wteᵀ of
// DESIGN.md section 2 (all heads of a batch at once).
//
// Versions (same arguments, same bits; CudaBackend.sgemm launches hs_sgemm2):
//   hs_sgemm   the reference: 64 × 64 tiles, BK 16, 256 threads of 4 × 4 outputs, scalar loads.
//              H200: 12.1 TFLOP/s on A_h (768 × 50257 × 768), 14.3 on v (50257 × 768 × 768).
//   hs_sgemm2  128 × 128 tiles, BK 8, 256 threads of 8 × 8 outputs, float4 global loads where
//              alignment is proven, double-buffered k-major shared tiles, LDS.128 fragments.
//              sm_90: 128 registers, 16896 B smem, no spills (__launch_bounds__(256, 2)).
//              H200: 38.6 TFLOP/s on A_h (1.54 ms; 12 of them 18.5 ms), 38.8 on v, bit-equal
//              to hs_sgemm on all bench shapes. Slower than hs_sgemm on small grids (block 0's
//              388-row MLP-out: 0.39 vs 0.35 ms, 24 blocks for 132 SMs).
// A tensor-core (tf32) version is future work (it cannot be bit-equal to the CPU).
//
// Build: kernels/build.sh (nvcc -fatbin --fmad=false, sm_80/86/89/90 + compute_90 PTX).
// Check: bash kernels/emu/run.sh (host emulator, no GPU: hs_sgemm against plain loops, hs_sgemm2
// against hs_sgemm bit for bit over 176 shapes); on a GPU bash kernels/bench/run.sh (timings and
// a bitwise device check) and bash bench/gpu-check.sh.
// Status: both run on an H200; hs_sgemm2 timed alone with kernels/bench (numbers above) and through
// the CUDA backend (bench/results/gpu-bench-h200.txt: 20.7 ms for the 28 GEMMs of a numerals sweep).
#include "headsweep.cuh"

#define HS_BM 64
#define HS_BN 64
#define HS_BK 16

// grid (ceil(N/64), ceil(M/64)), block 256.
extern "C" __global__ void hs_sgemm(const float* A, const float* B, const float* bias, float* C,
                                    int M, int N, int K, int lda, int ldb, int ldc, int transB) {
    __shared__ float As[HS_BK][HS_BM];
    __shared__ float Bs[HS_BK][HS_BN];
    int tid = threadIdx.x;
    int tx = tid & 15;
    int ty = tid >> 4;
    long m0 = (long)blockIdx.y * HS_BM;
    long n0 = (long)blockIdx.x * HS_BN;
    float acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = 0.f;

    for (int k0 = 0; k0 < K; k0 += HS_BK) {
        for (int e = tid; e < HS_BM * HS_BK; e += 256) {
            int mm = e / HS_BK, kk = e % HS_BK;
            long m = m0 + mm;
            int k = k0 + kk;
            As[kk][mm] = (m < M && k < K) ? A[m * lda + k] : 0.f;
        }
        if (transB) {
            for (int e = tid; e < HS_BN * HS_BK; e += 256) {
                int nn = e / HS_BK, kk = e % HS_BK;
                long nIdx = n0 + nn;
                int k = k0 + kk;
                Bs[kk][nn] = (nIdx < N && k < K) ? B[nIdx * ldb + k] : 0.f;
            }
        } else {
            for (int e = tid; e < HS_BN * HS_BK; e += 256) {
                int kk = e / HS_BN, nn = e % HS_BN;
                long nIdx = n0 + nn;
                int k = k0 + kk;
                Bs[kk][nn] = (nIdx < N && k < K) ? B[(long)k * ldb + nIdx] : 0.f;
            }
        }
        __syncthreads();
        int kmax = min(HS_BK, K - k0);  // beyond K the tiles hold zeros, but fmaf(0, x, acc) could
                                        // turn -0 into +0: stop at K exactly, as the CPU does
        for (int kk = 0; kk < kmax; kk++) {
            float a[4], b[4];
            for (int i = 0; i < 4; i++) a[i] = As[kk][ty + 16 * i];
            for (int j = 0; j < 4; j++) b[j] = Bs[kk][tx + 16 * j];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; i++) {
        long m = m0 + ty + 16 * i;
        if (m >= M) continue;
        for (int j = 0; j < 4; j++) {
            long nIdx = n0 + tx + 16 * j;
            if (nIdx >= N) continue;
            C[m * ldc + nIdx] = bias ? acc[i][j] + bias[nIdx] : acc[i][j];
        }
    }
}

// ---------------------------------------------------------------------------------------------
// hs_sgemm2: the same product, arguments and bits as hs_sgemm, laid out for fp32 FFMA throughput.
// grid (ceil(N/128), ceil(M/128)), block 256 (16 × 16 threads). Each block computes a 128 × 128
// tile of C through 8-deep slices of K; each thread 8 × 8 outputs: rows ty*4 + {0..3} and
// 64 + ty*4 + {0..3}, columns tx*4 + {0..3} and 64 + tx*4 + {0..3} (two 4-wide halves, so the
// fragments are float4 reads of shared memory that a warp reads as broadcasts / 256 contiguous
// bytes). Shared memory holds both tiles k-major (A transposed, and B transposed when transB),
// rows padded to 132 floats so the transposing stores are free of bank conflicts, double
// buffered: the next slice's global loads (one float4 of A and one of B per thread) are issued
// before the current slice's 64 FFMAs per k and stored to the other buffer after them, one
// __syncthreads per slice. Global loads and C stores are float4 where the alignment is proven
// (base pointer 16-byte aligned and leading dimension a multiple of 4, the four elements inside
// the matrix), guarded scalar otherwise.
// Order of operations per output, as in hs_sgemm: acc = 0, acc = fmaf(a[m][k], b[k][n], acc) for
// k = 0..K-1 (the last slice stops at K: no fmaf on the zero padding), then acc + bias[n].
#define HS2_BM 128
#define HS2_BN 128
#define HS2_BK 8
#ifndef HS2_WARP_4X8
#define HS2_WARP_4X8 0  // which cells of the 16 × 16 thread grid a warp holds (same outputs, same bits;
                        // 4 × 8 measured no faster on an H200: 37.8 vs 38.6 TFLOP/s on A_h)
#endif
#define HS2_LD (HS2_BM + 4)  // padded row of a k-major tile (floats); 528 bytes, float4-aligned

// One k of the 8 × 8 outer product from the k-major tiles As, Bs.
__device__ __forceinline__ void hs2_kstep(const float (*As)[HS2_LD], const float (*Bs)[HS2_LD], int kk,
                                          int tx, int ty, float (&acc)[8][8]) {
    float a[8], b[8];
    float4 a0 = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
    float4 a1 = *reinterpret_cast<const float4*>(&As[kk][64 + ty * 4]);
    float4 b0 = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
    float4 b1 = *reinterpret_cast<const float4*>(&Bs[kk][64 + tx * 4]);
    a[0] = a0.x; a[1] = a0.y; a[2] = a0.z; a[3] = a0.w;
    a[4] = a1.x; a[5] = a1.y; a[6] = a1.z; a[7] = a1.w;
    b[0] = b0.x; b[1] = b0.y; b[2] = b0.z; b[3] = b0.w;
    b[4] = b1.x; b[5] = b1.y; b[6] = b1.z; b[7] = b1.w;
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
}

// Four consecutive floats p[0..3] of a row; `vec` says a float4 load is proven aligned and
// `n` how many of the four lie inside the matrix (0..4); the rest read as 0.
__device__ __forceinline__ float4 hs2_load4(const float* p, bool vec, int n) {
    if (vec && n >= 4) return *reinterpret_cast<const float4*>(p);
    float4 v;
    v.x = n > 0 ? p[0] : 0.f;
    v.y = n > 1 ? p[1] : 0.f;
    v.z = n > 2 ? p[2] : 0.f;
    v.w = n > 3 ? p[3] : 0.f;
    return v;
}

// grid (ceil(N/128), ceil(M/128)), block 256 (the layout above).
extern "C" __global__ void __launch_bounds__(256, 2)
hs_sgemm2(const float* A, const float* B, const float* bias, float* C, int M, int N, int K, int lda,
          int ldb, int ldc, int transB) {
    __shared__ __align__(16) float As[2][HS2_BK][HS2_LD];
    __shared__ __align__(16) float Bs[2][HS2_BK][HS2_LD];
    const int tid = threadIdx.x;
#if HS2_WARP_4X8
    // a warp holds 4 ty × 8 tx: its fragment reads are 64 + 128 contiguous bytes (one wavefront each)
    const int tx = ((tid >> 5) & 1) * 8 + (tid & 7);
    const int ty = (tid >> 6) * 4 + ((tid >> 3) & 3);
#else
    // a warp holds 2 ty × 16 tx
    const int tx = tid & 15;
    const int ty = tid >> 4;
#endif
    const long m0 = (long)blockIdx.y * HS2_BM;
    const long n0 = (long)blockIdx.x * HS2_BN;
    const bool vecA = ((reinterpret_cast<unsigned long long>(A) & 15) == 0) && (lda & 3) == 0;
    const bool vecB = ((reinterpret_cast<unsigned long long>(B) & 15) == 0) && (ldb & 3) == 0;
    const bool vecC = ((reinterpret_cast<unsigned long long>(C) & 15) == 0) && (ldc & 3) == 0;

    // What this thread loads per slice. A (and B when transB): row r = tid/2 of the tile, k
    // offset kq = 0 or 4 (two threads read one row's 32 contiguous bytes), stored transposed.
    // B when !transB: k row kb = tid/32 of the slice, columns nb..nb+3, stored as is.
    const int r = tid >> 1;
    const int kq = (tid & 1) * 4;
    const int kb = tid >> 5;
    const int nb = (tid & 31) * 4;
    const bool rowA = m0 + r < M;
    const float* pA = A + (rowA ? (m0 + r) * (long)lda : 0) + kq;
    const bool rowB = transB ? n0 + r < N : true;
    const float* pB = transB ? B + (rowB ? (n0 + r) * (long)ldb : 0) + kq : B + kb * (long)ldb + n0 + nb;
    // columns of B inside the matrix for the !transB load (0..4)
    const int colsB = (int)max(0L, min(4L, (long)N - (n0 + nb)));

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[i][j] = 0.f;

    const int tiles = (K + HS2_BK - 1) / HS2_BK;
    float4 ra, rb;
    // global -> registers for the slice starting at k0
    auto fetch = [&](int k0) {
        int inA = rowA ? min(4, max(0, K - (k0 + kq))) : 0;
        ra = hs2_load4(pA + k0, vecA, inA);
        if (transB) {
            int inB = rowB ? min(4, max(0, K - (k0 + kq))) : 0;
            rb = hs2_load4(pB + k0, vecB, inB);
        } else {
            int inB = k0 + kb < K ? colsB : 0;
            rb = hs2_load4(pB + (long)k0 * ldb, vecB, inB);
        }
    };
    // registers -> shared buffer s
    auto stash = [&](int s) {
        As[s][kq + 0][r] = ra.x;
        As[s][kq + 1][r] = ra.y;
        As[s][kq + 2][r] = ra.z;
        As[s][kq + 3][r] = ra.w;
        if (transB) {
            Bs[s][kq + 0][r] = rb.x;
            Bs[s][kq + 1][r] = rb.y;
            Bs[s][kq + 2][r] = rb.z;
            Bs[s][kq + 3][r] = rb.w;
        } else {
            *reinterpret_cast<float4*>(&Bs[s][kb][nb]) = rb;
        }
    };

    if (tiles > 0) {
        fetch(0);
        stash(0);
        __syncthreads();
    }
    for (int t = 0; t < tiles; t++) {
        const int s = t & 1;
        const int k0 = t * HS2_BK;
        const bool more = t + 1 < tiles;
        if (more) fetch(k0 + HS2_BK);
        const int kmax = min(HS2_BK, K - k0);
        if (kmax == HS2_BK) {
#pragma unroll
            for (int kk = 0; kk < HS2_BK; kk++) hs2_kstep(As[s], Bs[s], kk, tx, ty, acc);
        } else {
            // the last, partial slice: stop at K exactly (fmaf(0, x, -0) would be +0)
            for (int kk = 0; kk < kmax; kk++) hs2_kstep(As[s], Bs[s], kk, tx, ty, acc);
        }
        if (more) stash(s ^ 1);
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < 8; i++) {
        const long m = m0 + (i < 4 ? 0 : 64) + ty * 4 + (i & 3);
        if (m >= M) continue;
        float* crow = C + m * (long)ldc;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const long n = n0 + h * 64 + tx * 4;
            float v[4];
#pragma unroll
            for (int j = 0; j < 4; j++) {
                v[j] = acc[i][h * 4 + j];
                if (bias && n + j < N) v[j] = v[j] + bias[n + j];
            }
            if (vecC && n + 3 < N) {
                float4 o;
                o.x = v[0]; o.y = v[1]; o.z = v[2]; o.w = v[3];
                *reinterpret_cast<float4*>(crow + n) = o;
            } else {
#pragma unroll
                for (int j = 0; j < 4; j++)
                    if (n + j < N) crow[n + j] = v[j];
            }
        }
    }
}
