// twopass.cu: the cold rank test on tensor cores (CudaBackend.twoPass), where A_h is not on the
// device and its fp32 product (768 × V × 768 per head, the largest cost of a cold sweep) is not
// worth computing whole. The CPU's native two-pass kernel (native/src/twopass.c) does the same
// on AVX512_BF16; the GPU's steps:
//   1. Â = bf16(M)·bf16(E)ᵀ on tensor cores (gemm_bf16.cu), M split here into its bf16 part Mh,
//      the rest Ml = M − Mh (exact in fp32) and |M| (hs_bf16_split);
//   2. per (head, row) a bound B1 on |X̂_t − X_t| for every token t (hs_row_bound), where X_t is the
//      exact logit (beta, then fmaf over j of u_j·A_jt, A from the fp32 chains of hs_sgemm2) and
//      X̂_t the same chain over Â's fp32 values (what hs_ov_topk_tc2 re-scores from hs_tc_prep's
//      token-major copy of Â);
//   3. hs_ov_topk_tc2 in collecting mode over Â with each row's gate lowered by B1: every token
//      whose X̂ is above it, i.e. every token whose exact logit can be above the row's exact gate
//      (its floor, raised by a seed from the screen: a lower bound of its k-th value);
//   4. the exact columns of A at the union of those tokens only (hs_sgemm2 on the gathered
//      embedding rows: A_h's columns bit for bit) and the exact top k over them (topk.cu).
// The answer is the whole vocabulary's, bit for bit: every token of a row's exact top k (above its
// gate) is collected in step 3, and step 4 ranks a superset of them by their exact values.
//
//   hs_bf16_split  Mh = bf16(M) (to nearest even, as an fp32 value), Ml = M − Mh, Ma = |M|
//   hs_row_bound   B1 per (head, row) from u and the Gram matrices (hs_gram2 in double) of Ml, Mh
//                  and |M|, and the embedding's largest ‖E_t‖, ‖E_t − bf16(E_t)‖ and |beta_t|:
//     X_t − X̂_t = (u·Ml)·E_t + (u·Mh)·El_t + Σ_j u_j (ρ'_jt − ρ_jt) + (the two chains' rounding),
//     with ρ' the fp32 chain's rounding of A (≤ γ768·Σ_i|M_ji E_ti|), ρ the tensor cores' of Â
//     (assumed ≤ δ·Σ_i|Mh_ji Eh_ti|, δ = 2⁻¹³: ten times what a truncating fp32 accumulation of
//     768 products costs; GpuBench measures it on the GPU and fails beyond it), each chain ≤ γ64·(|beta_t| + Σ_j|u_j a_jt|); by Cauchy–Schwarz
//       B1 = 2⁻¹⁶·max|beta| + (‖u·Ml‖ + 2⁻¹²·‖|u|·|M|‖)·max‖E_t‖ + ‖u·Mh‖·max‖El_t‖ + 2⁻⁹⁰(1 + Σ|u_j|)
//     (2⁻¹² ≥ γ768 + γ64 + (δ + γ64)(1 + 2⁻⁸)², 2⁻¹⁶ ≥ 2γ64; the last term covers subnormals
//     flushed to zero, given |M|, |E| ≤ 2¹⁶). The quadratic forms are summed in double and each
//     norm gets 2⁻¹⁸·‖|u|·|M|‖ for the Gram matrices' and the forms' own rounding; B1 is rounded up
//     to a float, +inf where anything is not finite or a row of M is above 2¹⁶ (the caller then
//     takes the exact path for that row).
//
// Build: kernels/build.sh. Check: bash kernels/emu/run.sh (host emulator: the split and B1
// against plain loops in long double, and B1 against the measured |X − X̂| of random and
// adversarial heads) and, on a GPU, bash bench/gpu-check.sh. Status: not yet run on a GPU.
#include "bf16.cuh"

#define HS_TP_MAX_HS 64

// M, Mh, Ml, Ma: [count] (any layout). grid-stride, any block.
extern "C" __global__ void hs_bf16_split(const float* M, long count, float* Mh, float* Ml, float* Ma) {
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x) {
        const float m = M[i];
        const float h = __uint_as_float(hs_bf16_bits(m) << 16);
        Mh[i] = h;
        Ml[i] = m - h;  // exact: h is m rounded to 8 significant bits (NaN/inf: not finite, caught by B1)
        Ma[i] = fabsf(m);
    }
}

// U: [nb][n][hs]; Gl, Gh, Ga: [nb][hs][hs] (hs_gram2 of Ml, Mh, |M|); maxE, maxEl, maxBeta: the
// embedding's largest ‖E_t‖₂, ‖E_t − bf16(E_t)‖₂ and |beta_t|, each rounded up; B1: [nb][n].
// grid (ceil(n/128), nb), block 128.
extern "C" __global__ void hs_row_bound(const float* U, int n, int hs, const double* Gl, const double* Gh,
                                        const double* Ga, float maxE, float maxEl, float maxBeta, float* B1) {
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    const int g = blockIdx.y;
    if (r >= n) return;
    const float* u = U + ((long)g * n + r) * hs;
    const double* gl = Gl + (long)g * hs * hs;
    const double* gh = Gh + (long)g * hs * hs;
    const double* ga = Ga + (long)g * hs * hs;
    double ql = 0, qh = 0, qa = 0, sumU = 0, rowM = 0;
    for (int a = 0; a < hs; a++) {
        const double ua = u[a];
        double sl = 0, sh = 0, sa = 0;
        for (int b = 0; b < hs; b++) {
            const double ub = u[b];
            sl += gl[a * hs + b] * ub;
            sh += gh[a * hs + b] * ub;
            sa += ga[a * hs + b] * fabs(ub);
        }
        ql += ua * sl;
        qh += ua * sh;
        qa += fabs(ua) * sa;
        sumU += fabs(ua);
        if (!(ga[a * hs + a] <= rowM)) rowM = ga[a * hs + a];  // a NaN stays (fmax would drop it)
    }
    const double na = sqrt(fmax(qa, 0.0)) * (1.0 + 0x1p-40);
    const double nl = sqrt(fmax(ql, 0.0)) + 0x1p-18 * na;
    const double nh = sqrt(fmax(qh, 0.0)) + 0x1p-18 * na;
    double b = 0x1p-16 * (double)maxBeta + (nl + 0x1p-12 * na) * (double)maxE + nh * (double)maxEl +
               0x1p-90 * (1.0 + sumU);
    b *= 1.0 + 0x1p-20;
    // rowM: the largest ‖M_j‖²; ‖M_j‖ ≤ 2¹⁶ keeps every |M_ji| there (|E| is checked by the caller)
    // a NaN anywhere (the forms, rowM, b: fmax above drops NaNs) fails these tests too
    if (!(b <= 3.0e38) || !(rowM <= 0x1p32) || !(ql <= 1e300 && qh <= 1e300 && qa <= 1e300)) b = INFINITY;
    float f = (float)b;
    if ((double)f < b) f = nextafterf(f, INFINITY);
    B1[(long)g * n + r] = f;
}

// p[0 .. n) = 0. grid-stride, any block.
extern "C" __global__ void hs_zero(int* p, long n) {
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) p[i] = 0;
}

// count: [rows], ids: [rows][cap] (hs_ov_topk_tc2's collecting mode); mask: [V], zero before.
// mask[t] = 1 for every token a row collected, rows with more than cap left out (they take the
// exact path). grid ceil(rows/128), block 128.
extern "C" __global__ void hs_tp_mark(const int* count, const int* ids, int cap, long rows, int* mask) {
    const long r = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const int c = count[r];
    if (c > cap) return;
    for (int s = 0; s < c; s++) mask[ids[r * cap + s]] = 1;
}

// The marked tokens in increasing id: cols[0 .. *total) (cols: [V]). One block of 1024 threads,
// each a contiguous run of tokens, a block-wide scan of their counts. grid 1, block 1024.
extern "C" __global__ void hs_tp_compact(const int* mask, int V, int* cols, int* total) {
    __shared__ int sums[1024];
    const int tid = threadIdx.x;
    const int per = (V + 1023) / 1024;
    const int t0 = min(V, tid * per), t1 = min(V, t0 + per);
    int c = 0;
    for (int t = t0; t < t1; t++) c += mask[t] != 0;
    sums[tid] = c;
    __syncthreads();
    for (int o = 1; o < 1024; o <<= 1) {  // inclusive scan (Hillis–Steele)
        const int x = tid >= o ? sums[tid - o] : 0;
        __syncthreads();
        sums[tid] += x;
        __syncthreads();
    }
    int at = sums[tid] - c;
    for (int t = t0; t < t1; t++)
        if (mask[t] != 0) cols[at++] = t;
    if (tid == 1023) *total = sums[1023];
}
