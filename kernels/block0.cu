// block0.cu: block 0 of GPT-2 for all prompts at once (DESIGN.md section 1, step 2), as the
// CPU's engine/cpu/Block0 computes it. Prompts are stacked row after row (no padding); a row's
// attention window is [first[row], row].
//
// Kernels (one version each, plain and simple; block 0 is a small part of a sweep):
//   hs_embed      h = wte[token] + wpe[position]
//   hs_layernorm  y = (x - mean) / sqrt(var + eps) * w + b, one warp per row
//   hs_attention  causal softmax attention, one block per (row, head); the per-row loops run in
//                 the CPU's order (dot products, exp in double, the sum, the weighted values)
//   hs_gelu       gelu_new in place, in double like the CPU
//   hs_add        h += a
//   hs_gather     out[i] = h[rows[i]]
// The dense layers use hs_sgemm (gemm.cu).
//
// Build: nvcc -fatbin --fmad=false -gencode ... (kernels/build.sh; CMakeLists.txt does the same).
// Check: the host emulator runs every kernel here against plain loops without a GPU:
//   bash kernels/emu/run.sh
// and on a GPU the Java suite runs them through the CUDA backend: bash bench/gpu-check.sh.
// Status: run on an NVIDIA H200 through the CUDA backend (bench/results/gpu-bench-h200.txt: block 0
// of the numerals prompts in about 2.1 ms, scores identical to the CPU's).
#include "headsweep.cuh"

extern "C" __global__ void hs_embed(const int* tokens, const int* pos, const float* wte,
                                    const float* wpe, float* h, int n, int d) {
    long total = (long)n * d;
    for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long)gridDim.x * blockDim.x) {
        long row = idx / d;
        int c = (int)(idx - row * d);
        h[idx] = wte[(long)tokens[row] * d + c] + wpe[(long)pos[row] * d + c];
    }
}

__device__ __forceinline__ float hs_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// One warp per row; blockDim.x must be a multiple of 32.
extern "C" __global__ void hs_layernorm(const float* x, float* y, const float* w, const float* b,
                                        int n, int d, float eps) {
    int lane = threadIdx.x & 31;
    long row = (long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= n) return;  // whole warps leave together
    const float* xr = x + row * d;
    float s = 0.f;
    for (int i = lane; i < d; i += 32) s += xr[i];
    float mean = hs_warp_sum(s) / d;
    float q = 0.f;
    for (int i = lane; i < d; i += 32) {
        float c = xr[i] - mean;
        q += c * c;
    }
    float var = hs_warp_sum(q) / d + eps;
    float inv = (float)(1.0 / sqrt((double)var));
    float* yr = y + row * d;
    for (int i = lane; i < d; i += 32) yr[i] = (xr[i] - mean) * inv * w[i] + b[i];
}

#define HS_MAX_PROMPT 1024

// qkv: [n, 3d] (q | k | v, head h at columns h*hs); out: [n, d]. grid (n, nHead), block 128.
// first[row] is the row where row's prompt starts; prompts are at most HS_MAX_PROMPT tokens.
extern "C" __global__ void hs_attention(const float* qkv, float* out, const int* first, int n,
                                        int nHead, int hs, int d) {
    __shared__ float att[HS_MAX_PROMPT];
    __shared__ float red[2];
    int row = blockIdx.x;
    int head = blockIdx.y;
    int f = first[row];
    int len = row - f + 1;
    float scale = (float)(1.0 / sqrt((double)hs));
    const float* q = qkv + (long)row * 3 * d + head * hs;
    for (int u = threadIdx.x; u < len; u += blockDim.x) {
        const float* kr = qkv + (long)(f + u) * 3 * d + d + head * hs;
        float dot = 0.f;
        for (int j = 0; j < hs; j++) dot += q[j] * kr[j];
        att[u] = dot * scale;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        // the CPU's order: max, then exp and the sum left to right
        float mx = -INFINITY;
        for (int u = 0; u < len; u++) mx = fmaxf(mx, att[u]);
        float sum = 0.f;
        for (int u = 0; u < len; u++) {
            att[u] = (float)exp((double)(att[u] - mx));
            sum += att[u];
        }
        red[0] = sum;
    }
    __syncthreads();
    float sum = red[0];
    for (int j = threadIdx.x; j < hs; j += blockDim.x) {
        float o = 0.f;
        for (int u = 0; u < len; u++) {
            float p = att[u] / sum;
            o += p * qkv[(long)(f + u) * 3 * d + 2 * d + head * hs + j];
        }
        out[(long)row * d + head * hs + j] = o;
    }
}

extern "C" __global__ void hs_gelu(float* x, long n) {
    const double k = 0.7978845608028654;  // sqrt(2/pi)
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        double v = x[i];
        x[i] = (float)(0.5 * v * (1.0 + tanh(k * (v + 0.044715 * v * v * v))));
    }
}

extern "C" __global__ void hs_add(float* h, const float* a, long n) {
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        h[i] += a[i];
    }
}

extern "C" __global__ void hs_gather(const float* h, const int* rows, float* out, int n, int d) {
    long total = (long)n * d;
    for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long)gridDim.x * blockDim.x) {
        long i = idx / d;
        int c = (int)(idx - i * d);
        out[idx] = h[(long)rows[i] * d + c];
    }
}
