// gemm.cu: the one dense product the GPU path uses, fp32 with fp32 accumulation:
//   hs_sgemm   C[M, N] = A[M, K] · op(B) (+ bias[N]),  op(B) = B[K, N] (transB = 0)
//                                                         or B[N, K]ᵀ (transB = 1)
// All row-major with leading dimensions lda, ldb, ldc (in floats). One version: 64 × 64 output
// tiles, 16-deep slices of K through shared memory, 256 threads of 4 × 4 outputs each. Every
// output is accumulated from 0 with fmaf over k = 0, 1, ..., K-1 in order and the bias is added
// last; so A_h = M·wteᵀ (transB = 1) equals the CPU's plain kernel bit for bit.
// Used for block 0's dense layers, the value projections v = z·W_V + b_V and the per-head
// precompute A_h = W̃_O·diag(ln_f.w)·wteᵀ of DESIGN.md section 2 (all heads of a batch at once).
// Not fast: a plain tiled SGEMM, about a quarter of the fp32 peak at best; a tensor-core (tf32)
// version is future work.
//
// Build: kernels/build.sh (nvcc -fatbin --fmad=false, sm_80/86/89/90 + compute_90 PTX).
// Check: bash kernels/emu/run.sh (host emulator, no GPU) and bash bench/gpu-check.sh on a GPU.
// Status: compiled with nvcc 13.0; run only under the emulator so far.
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
