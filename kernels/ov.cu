// ov.cu: the per-head factors of DESIGN.md section 2, for a batch of heads of one layer:
//   logits = (1/σ)·v·A_h + β,  A_h = W̃_O·diag(ln_f.w)·wteᵀ,  β = ln_f.b·wteᵀ,
//   σ² = |v·W̃_O|²/d + eps = v·(W̃_O·W̃_Oᵀ)·vᵀ/d + eps.
// Kernels, each mirroring the CPU's engine/cpu/OvFactors loop by loop (same order, same
// precision: float sums where the CPU sums floats, double where it uses double), so that with
// --fmad=false their results equal the CPU's bit for bit:
//   hs_ov_center   W̃_O (each row minus its mean) and M = W̃_O·diag(ln_f.w), one thread per row
//   hs_gram        G = W̃_O·W̃_Oᵀ per head, in double
//   hs_head_scale  u = v/σ for every keyword row of every head of the batch
//   hs_beta        β = ln_f.b·wteᵀ, one thread per token
// and, the same arithmetic laid out for the GPU (the CUDA backend uses these):
//   hs_ov_center2  one warp per row: the row through shared memory (coalesced), the mean summed by
//                  one lane in the CPU's order, the rest element-wise
//   hs_gram2       one thread per entry of G, the rows in 64-wide chunks through shared memory
//                  (each entry still summed over i = 0 .. d-1 in order)
// A_h itself is one hs_sgemm (gemm.cu) of all the batch's M rows against wteᵀ; v = z·W_V + b_V
// one hs_sgemm per layer; the fused top-k is in topk.cu.
//
// Build: kernels/build.sh. Check: bash kernels/emu/run.sh (host emulator, no GPU) and
// bash bench/gpu-check.sh on a GPU. Status: the second versions run on an H200 through the CUDA
// backend (scores identical to the CPU's; hs_gram2 0.7 ms, hs_ov_center2 0.3 ms a numerals sweep).
#include "headsweep.cuh"

#define HS_MAX_HS 64

// wo: the layer's c_proj [d, d]; srcRows[r]: which of its rows is row r of the batch.
extern "C" __global__ void hs_ov_center(const float* wo, const int* srcRows, const float* lnfW,
                                        float* wc, float* m, int nr, int d) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= nr) return;
    const float* src = wo + (long)srcRows[r] * d;
    float sum = 0.f;
    for (int i = 0; i < d; i++) sum += src[i];
    float mean = sum / d;
    float* c = wc + (long)r * d;
    float* mr = m + (long)r * d;
    for (int i = 0; i < d; i++) {
        float x = src[i] - mean;
        c[i] = x;
        mr[i] = x * lnfW[i];
    }
}

// wc: [nb·hs, d] (head g's rows at g·hs); gram: [nb, hs, hs]. grid nb, block 256.
extern "C" __global__ void hs_gram(const float* wc, double* gram, int hs, int d) {
    int g = blockIdx.x;
    for (int e = threadIdx.x; e < hs * hs; e += blockDim.x) {
        int a = e / hs, b = e % hs;
        const float* ra = wc + ((long)g * hs + a) * d;
        const float* rb = wc + ((long)g * hs + b) * d;
        double s = 0;
        for (int i = 0; i < d; i++) s += (double)ra[i] * rb[i];
        gram[((long)g * hs + a) * hs + b] = s;
    }
}

// v: [n, ldv], head g's columns start at cols[g]; u: [nb, n, hs]. grid (ceil(n/128), nb), block 128.
// hs <= 64.
extern "C" __global__ void hs_head_scale(const float* v, int ldv, const int* cols, const double* gram,
                                         float* u, int n, int hs, int d, float eps) {
    __shared__ double G[HS_MAX_HS * HS_MAX_HS];
    int g = blockIdx.y;
    for (int e = threadIdx.x; e < hs * hs; e += blockDim.x) G[e] = gram[(long)g * hs * hs + e];
    __syncthreads();
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float* vr = v + i * ldv + cols[g];
    float x[HS_MAX_HS];
#pragma unroll
    for (int b = 0; b < HS_MAX_HS; b++) x[b] = b < hs ? vr[b] : 0.f;
    double sq = 0;
    for (int a = 0; a < hs; a++) {
        double row = 0;
#pragma unroll
        for (int b = 0; b < HS_MAX_HS; b++) {
            if (b < hs) row += G[a * hs + b] * (double)x[b];
        }
        sq += row * (double)vr[a];
    }
    float inv = (float)(1.0 / sqrt(sq / d + (double)eps));
    float* ur = u + ((long)g * n + i) * hs;
#pragma unroll
    for (int j = 0; j < HS_MAX_HS; j++) {
        if (j < hs) ur[j] = x[j] * inv;
    }
}

extern "C" __global__ void hs_beta(const float* wte, const float* lnfB, float* beta, int V, int d) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= V) return;
    const float* e = wte + (long)t * d;
    float s = 0.f;
    for (int i = 0; i < d; i++) s += lnfB[i] * e[i];
    beta[t] = s;
}

#define HS_CENTER_MAX_D 2048

// As hs_ov_center, bit for bit; d <= 2048. grid nr, block 32.
extern "C" __global__ void hs_ov_center2(const float* wo, const int* srcRows, const float* lnfW,
                                         float* wc, float* m, int nr, int d) {
    __shared__ float row[HS_CENTER_MAX_D];
    __shared__ float meanS;
    int r = blockIdx.x;
    const float* src = wo + (long)srcRows[r] * d;
    for (int i = threadIdx.x; i < d; i += 32) row[i] = src[i];
    __syncthreads();
    if (threadIdx.x == 0) {
        float sum = 0.f;
        for (int i = 0; i < d; i++) sum += row[i];
        meanS = sum / d;
    }
    __syncthreads();
    float mean = meanS;
    float* c = wc + (long)r * d;
    float* mr = m + (long)r * d;
    for (int i = threadIdx.x; i < d; i += 32) {
        float x = row[i] - mean;
        c[i] = x;
        mr[i] = x * lnfW[i];
    }
}

// As hs_gram, bit for bit; hs <= 64. grid (nb, ceil(hs·hs/256)), block 256.
extern "C" __global__ void hs_gram2(const float* wc, double* gram, int hs, int d) {
    __shared__ float chunk[HS_MAX_HS][65];
    int g = blockIdx.x;
    int e = blockIdx.y * 256 + threadIdx.x;
    int a = e / hs, b = e % hs;
    bool mine = e < hs * hs;
    const float* rows = wc + (long)g * hs * d;
    double s = 0;
    for (int i0 = 0; i0 < d; i0 += 64) {
        int len = min(64, d - i0);
        __syncthreads();
        for (int x = threadIdx.x; x < hs * 64; x += 256) {
            int rr = x / 64, ii = x % 64;
            chunk[rr][ii] = ii < len ? rows[(long)rr * d + i0 + ii] : 0.f;
        }
        __syncthreads();
        if (mine)
            for (int ii = 0; ii < len; ii++) s += (double)chunk[a][ii] * chunk[b][ii];
    }
    if (mine) gram[((long)g * hs + a) * hs + b] = s;
}
