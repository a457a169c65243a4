// sgemm_bench.cu: times hs_sgemm (the reference) and hs_sgemm2 of kernels/gemm.cu on the shapes
// the GPU path uses, checks hs_sgemm2 == hs_sgemm bit for bit on the device (random data with
// zeros and -0, not all zeros) and a sample of hs_sgemm2's outputs against host fmaf loops.
//   bash kernels/bench/run.sh            (nvcc -arch=sm_90 --fmad=false, then runs it)
// Shapes: A_h = M·wteᵀ (M 768, N 50257, K 768, transB 1, ldc 50260 as CudaBackend's ldA), the
// value projection v = z·W_V + b_V (M 50257, N 768, K 768, transB 0, bias), block 0's MLP-out
// (M 388, N 768, K 3072, bias), and an unaligned one (odd leading dimensions, scalar path).
// Times: CUDA events, 3 warm-up runs, median of 10; TFLOP/s = 2·M·N·K / time.
// Measured on an NVIDIA H200 (nvcc 13.0, sm_90): A_h hs_sgemm 4.9 ms (12.1 TFLOP/s), hs_sgemm2
// 1.54 ms (38.6); v 4.15 / 1.53 ms (14.3 / 38.8); block0 MLP-out 0.35 / 0.39 ms; unaligned
// 0.16 / 0.085 ms; all bit-equal, and equal to host fmaf loops on 2000 samples per shape.
#include "../gemm.cu"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#define CK(x)                                                                                   \
    do {                                                                                        \
        cudaError_t e_ = (x);                                                                   \
        if (e_ != cudaSuccess) {                                                                \
            std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            std::exit(2);                                                                       \
        }                                                                                       \
    } while (0)

// Counts the (bitwise) differences of two M x N matrices with leading dimension ld.
__global__ void countDiff(const unsigned* a, const unsigned* b, long M, long N, long ld,
                          unsigned long long* diff) {
    long total = M * N;
    unsigned long long mine = 0;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
        long r = i / N, c = i % N;
        mine += a[r * ld + c] != b[r * ld + c];
    }
    if (mine) atomicAdd(diff, mine);
}

struct Shape {
    const char* name;
    int M, N, K, lda, ldb, ldc, transB;
    bool bias;
};

static std::vector<float> randomData(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> v(n);
    for (auto& x : v) {
        unsigned c = rng() % 64;
        x = c == 0 ? -0.f : c == 1 ? 0.f : u(rng);
    }
    return v;
}

typedef void (*Kernel)(const float*, const float*, const float*, float*, int, int, int, int, int, int, int);

static float launchTimed(Kernel k, int tile, const Shape& s, const float* A, const float* B, const float* bias,
                         float* C, cudaEvent_t e0, cudaEvent_t e1) {
    dim3 grid((s.N + tile - 1) / tile, (s.M + tile - 1) / tile);
    CK(cudaEventRecord(e0));
    k<<<grid, 256>>>(A, B, bias, C, s.M, s.N, s.K, s.lda, s.ldb, s.ldc, s.transB);
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    CK(cudaGetLastError());
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    return ms;
}

static float median(Kernel k, int tile, const Shape& s, const float* A, const float* B, const float* bias, float* C,
                    cudaEvent_t e0, cudaEvent_t e1) {
    for (int i = 0; i < 3; i++) launchTimed(k, tile, s, A, B, bias, C, e0, e1);
    std::vector<float> t;
    for (int i = 0; i < 10; i++) t.push_back(launchTimed(k, tile, s, A, B, bias, C, e0, e1));
    std::sort(t.begin(), t.end());
    return (t[4] + t[5]) / 2;
}

int main(int argc, char** argv) {
    bool timeOld = !(argc > 1 && std::strcmp(argv[1], "--new-only") == 0);
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s, %d SMs, sm_%d%d\n", prop.name, prop.multiProcessorCount, prop.major, prop.minor);
    const Shape shapes[] = {
        {"A_h = M*wte^T", 768, 50257, 768, 768, 768, 50260, 1, false},
        {"v = z*W_V + b_V", 50257, 768, 768, 768, 768, 768, 0, true},
        {"block0 MLP out", 388, 768, 3072, 3072, 768, 768, 0, true},
        {"unaligned lds", 1001, 3001, 301, 303, 305, 3003, 1, true},
    };
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    unsigned long long* dDiff;
    CK(cudaMalloc(&dDiff, sizeof(unsigned long long)));
    bool allSame = true;
    std::printf("%-18s %6s %6s %5s %2s | %10s %8s | %10s %8s | %7s | %s\n", "shape", "M", "N", "K", "tB",
                "sgemm ms", "TFLOP/s", "sgemm2 ms", "TFLOP/s", "speedup", "bits");
    for (const Shape& s : shapes) {
        size_t nA = (size_t)s.M * s.lda, nB = (size_t)(s.transB ? s.N : s.K) * s.ldb, nC = (size_t)s.M * s.ldc;
        std::vector<float> hA = randomData(nA, 1), hB = randomData(nB, 2), hBias = randomData(s.N, 3);
        float *A, *B, *bias, *C1, *C2;
        CK(cudaMalloc(&A, nA * 4));
        CK(cudaMalloc(&B, nB * 4));
        CK(cudaMalloc(&bias, s.N * 4));
        CK(cudaMalloc(&C1, nC * 4));
        CK(cudaMalloc(&C2, nC * 4));
        CK(cudaMemcpy(A, hA.data(), nA * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(B, hB.data(), nB * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(bias, hBias.data(), s.N * 4, cudaMemcpyHostToDevice));
        CK(cudaMemset(C1, 0xff, nC * 4));  // NaN garbage, the same in both
        CK(cudaMemset(C2, 0xff, nC * 4));
        const float* pb = s.bias ? bias : nullptr;
        double flop = 2.0 * s.M * s.N * s.K;
        float t1 = timeOld ? median(hs_sgemm, 64, s, A, B, pb, C1, e0, e1)
                           : launchTimed(hs_sgemm, 64, s, A, B, pb, C1, e0, e1);
        float t2 = median(hs_sgemm2, 128, s, A, B, pb, C2, e0, e1);
        // bitwise over the whole buffers (padding columns included: neither may write them)
        CK(cudaMemset(dDiff, 0, sizeof(unsigned long long)));
        countDiff<<<1024, 256>>>((const unsigned*)C1, (const unsigned*)C2, s.M, s.ldc, s.ldc, dDiff);
        unsigned long long diff;
        CK(cudaMemcpy(&diff, dDiff, sizeof diff, cudaMemcpyDeviceToHost));
        // a sample of hs_sgemm2 against host fmaf loops
        std::vector<float> hC(nC);
        CK(cudaMemcpy(hC.data(), C2, nC * 4, cudaMemcpyDeviceToHost));
        std::mt19937 rng(7);
        int bad = 0;
        for (int q = 0; q < 2000; q++) {
            int m = rng() % s.M, n = rng() % s.N;
            float acc = 0.f;
            for (int k = 0; k < s.K; k++)
                acc = std::fmaf(hA[(size_t)m * s.lda + k],
                                s.transB ? hB[(size_t)n * s.ldb + k] : hB[(size_t)k * s.ldb + n], acc);
            if (s.bias) acc = acc + hBias[n];
            float got = hC[(size_t)m * s.ldc + n];
            bad += std::memcmp(&acc, &got, 4) != 0;
        }
        bool ok = diff == 0 && bad == 0;
        allSame &= ok;
        char t1s[32];
        std::snprintf(t1s, sizeof t1s, timeOld ? "%8.3f" : "(%6.3f)", t1);
        std::printf("%-18s %6d %6d %5d %2d | %10s %8.2f | %10.3f %8.2f | %6.2fx | %s (%llu differ, %d/2000 vs host)\n",
                    s.name, s.M, s.N, s.K, s.transB, t1s, flop / t1 / 1e9, t2, flop / t2 / 1e9, t1 / t2,
                    ok ? "equal" : "DIFFER", diff, bad);
        if (s.name[0] == 'A')
            std::printf("%-18s 12 x A_h (one numerals sweep): sgemm %.1f ms, sgemm2 %.1f ms\n", "", 12 * t1, 12 * t2);
        CK(cudaFree(A));
        CK(cudaFree(B));
        CK(cudaFree(bias));
        CK(cudaFree(C1));
        CK(cudaFree(C2));
    }
    std::printf("%s\n", allSame ? "hs_sgemm2 == hs_sgemm bit for bit on every shape" : "MISMATCH");
    return allSame ? 0 : 1;
}
