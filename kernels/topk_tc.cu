// topk_tc.cu: the fused factored unembedding with top-k on tensor cores, with exact answers.
// Same contract as topk.cu's hs_ov_topk (for head g of a batch, keyword row i, token t:
//   logit[g][i][t] = beta[t] + Σ_j U[g][i][j]·A[g][j][t], fmaf over j = 0 .. 63 in order, beta first;
// each row's top k by the CPU's tie rule), for head size 64, and the same output layout, so the
// same hs_topk_merge finishes split vocabularies. The ids AND values it writes are those of the fp32
// formula above, bit for bit: the tensor cores only decide which tokens are worth scoring exactly.
//
// How (DESIGN.md section 2, "Exact at lower precision"):
//   1. hs_tc_prep, once per batch of heads: A (fp32, [nb·64][ldA]) → Abf, a bf16 copy, token-major,
//      each token's 64 values permuted so that one lane's eight mma B-fragment words are 32
//      contiguous bytes (word q·8+m of a token holds the pair j = 2q+8m, 2q+8m+1); per token
//      tok[t] = (‖a_t‖₂, beta[t] + 2⁻¹⁵|beta[t]| + 1e-30); per 32-token tile the maxima of both.
//   2. hs_ov_topk_tc: a warp owns 64 rows of one head (their bf16 U fragments stay in registers)
//      and streams its vocabulary split 32 tokens at a time: 64 mma.m16n8k16 (bf16 in, fp32
//      accumulate) give approximate logits â = Σ_j bf16(u_j)·bf16(a_jt). With
//        |â + beta_t − logit_t| ≤ C·‖u_i‖₂·‖a_t‖₂ + 2⁻¹⁵|beta_t|,   C = 2⁻⁷ + 2⁻¹¹,
//      (two bf16 roundings, 2⁻⁸ each, of every product term, Σ|u_j a_jt| ≤ ‖u‖‖a_t‖ by
//      Cauchy–Schwarz; the rest covers fp32 accumulation in either path, truncating or not, and
//      the rounding of the test itself) a token can only enter a row's top k if
//        â + C·‖u_i‖·‖a_t‖ + beta_t + 2⁻¹⁵|beta_t| > gate_i
//      (gate = the row's current exact k-th value; NaN while the row holds fewer than k, which
//      lets everything through; strict because tokens arrive in increasing id and a later equal
//      value ranks after). A coarse test per row and tile (tile maxima) comes first; tokens that
//      pass the fine test are re-scored exactly in fp32 from the fp32 A and U (the formula above)
//      and inserted into the row's sorted list (global memory, any k), and the gate is raised.
//      After the first tile almost nothing passes: the tensor cores do the work.
//   Rows whose values overflow bf16 or the norms get an infinite margin: everything passes,
//   slow but still exact.
//   With the targets' rank test (rank.cu: gate0, a floor per row) the gate starts at the floor
//   instead of NaN, so even the first tile sends only tokens that may beat a target to re-scoring,
//   and only re-scored tokens above the floor are inserted (headsweep.cuh's hs_admit): the list is
//   then that of topk.cu given the same floor, bit for bit. rank.cu's hs_gate_seed raises gate0 to
//   just below a lower bound of the row's k-th value (from a part of the vocabulary), for the whole
//   top k too: same lists, and the first tile of a split no longer lets everything through.
//
// Versions (mma.sync m16n8k16, sm_80 and newer; B fragments straight from global memory (L1/L2)
// with 16-byte loads, no shared-memory staging):
//   v1 hs_ov_topk_tc   one lane per row re-scores its row's candidates from the j-major fp32 A.
//   v2 hs_ov_topk_tc2  candidates numbered across the warp and re-scored by every lane from a
//                      token-major fp32 copy; short lists (k <= 8) in shared memory. The default.
// Measured on an NVIDIA H200 (bench/results/gpu-bench-h200.txt; GPT-2-small-shaped, 144 heads,
// top-k kernel time alone): numerals (388 rows a head) fp32 21.0 ms, v1 40.4 ms, v2 14.1 ms;
// vocab (50,257 rows) fp32 ~2.0 s, v1 0.56 s, v2 0.46 s. Both v1 and v2 gave the fp32 kernel's
// ids and values bit for bit on every row of both tasks (55,872 and 7,237,008 rows). What bounds
// v2 is still the re-scoring (the first tile of every split lets everything through, and each
// gate crossing costs an exact 64-term dot product): 47 TFLOP in 0.46 s is ~100 TFLOP/s, a
// fraction of the chip's bf16 rate. The CUDA backend runs v2 when the head size is 64 and the GPU
// has compute capability 8.0 or more, topk.cu's fp32 kernel otherwise
// (-Dheadsweep.cuda.topk=fp32|tc1|tc|auto picks one).
//
// Build: kernels/build.sh. Check: bash kernels/emu/run.sh (host emulator: against a plain fp32
// sort, incl. ties, ±inf/NaN, adversarial near-ties inside the margin, k above a tile, splits)
// and, on a GPU, bash bench/gpu-check.sh (against the CPU on every row of every head).
#include "bf16.cuh"

#define TC_HS 64      // head size
#define TC_TILE 32    // tokens per step
#define TC_WROWS 64   // rows per warp
#define TC_WARPS 4    // warps per block
#define TC_C 0.00830078125f          // 2^-7 + 2^-11
#define TC_CB 3.0517578125e-05f      // 2^-15


// A: [nb·64][ldA] fp32; Abf: [nb][Vpad][32] words; tok: [nb][Vpad] (norm, beta + slack);
// tmax: [nb][Vpad/32]; At (may be null): [nb][Vpad][64], A token-major in fp32 (for v2's re-scoring).
// Vpad a multiple of 32. grid (ceil(Vpad/128), nb), block 128: warp w of block b does the 32-token
// tile 4b + w (one warp a block ran at half occupancy on an H200: 5.7 ms for the numerals sweep's
// 144 heads, about 0.8 TB/s); each token's 32 words leave in 16-byte stores.
extern "C" __global__ void hs_tc_prep(const float* A, int ldA, const float* beta, int V, int Vpad, unsigned* Abf,
                                      float2* tok, float2* tmax, float* At) {
    const int lane = threadIdx.x & 31;
    const int tile = blockIdx.x * 4 + (threadIdx.x >> 5);
    if (tile >= Vpad / TC_TILE) return;  // the whole warp
    const int g = blockIdx.y;
    const int t = tile * TC_TILE + lane;
    const float* Ag = A + (long)g * TC_HS * ldA;
    unsigned* dst = Abf + ((long)g * Vpad + t) * 32;
    float an = 0.f, bb = -INFINITY;
    if (t < V) {
        float ss = 0.f;
        float a[TC_HS];
#pragma unroll
        for (int j = 0; j < TC_HS; j++) {
            a[j] = Ag[(long)j * ldA + t];
            ss = fmaf(a[j], a[j], ss);
        }
        uint4* d4 = reinterpret_cast<uint4*>(dst);
#pragma unroll
        for (int q = 0; q < 4; q++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int m = 4 * h;
                d4[q * 2 + h] = uint4{hs_pack_bf16x2(a[2 * q + 8 * m], a[2 * q + 8 * m + 1]),
                                      hs_pack_bf16x2(a[2 * q + 8 * (m + 1)], a[2 * q + 8 * (m + 1) + 1]),
                                      hs_pack_bf16x2(a[2 * q + 8 * (m + 2)], a[2 * q + 8 * (m + 2) + 1]),
                                      hs_pack_bf16x2(a[2 * q + 8 * (m + 3)], a[2 * q + 8 * (m + 3) + 1])};
            }
        if (At) {
            float4* at = reinterpret_cast<float4*>(At + ((long)g * Vpad + t) * TC_HS);
#pragma unroll
            for (int j = 0; j < TC_HS; j += 4) at[j / 4] = float4{a[j], a[j + 1], a[j + 2], a[j + 3]};
        }
        an = sqrtf(ss);
        if (an != an) an = INFINITY;  // a NaN in A: no bound, everything passes
        float b = beta[t];
        bb = b + (TC_CB * fabsf(b) + 1e-30f);
        if (bb != bb) bb = INFINITY;
    } else {
        for (int w = 0; w < 32; w++) dst[w] = 0u;
        if (At)
            for (int j = 0; j < TC_HS; j++) At[((long)g * Vpad + t) * TC_HS + j] = 0.f;
    }
    tok[(long)g * Vpad + t] = float2{an, bb};
    float ma = an, mb = bb;
    for (int o = 16; o > 0; o >>= 1) {
        ma = fmaxf(ma, __shfl_xor_sync(0xffffffffu, ma, o));
        mb = fmaxf(mb, __shfl_xor_sync(0xffffffffu, mb, o));
    }
    if (lane == 0) tmax[(long)g * (Vpad / TC_TILE) + tile] = float2{ma, mb};
}

// Inserts (v, id) into the sorted list LV/LI of f entries (capacity k); returns the new count.
__device__ __forceinline__ int hs_tc_insert(float* LV, int* LI, int f, int k, float v, int id) {
    int p;
    if (f == k) {
        if (!hs_before(v, id, LV[k - 1], LI[k - 1])) return f;
        p = k - 1;
    } else {
        p = f++;
    }
    while (p > 0 && hs_before(v, id, LV[p - 1], LI[p - 1])) {
        LV[p] = LV[p - 1];
        LI[p] = LI[p - 1];
        p--;
    }
    LV[p] = v;
    LI[p] = id;
    return f;
}

// ---- pieces shared by v1 and v2 (one warp, 64 rows, 32 tokens a step) ----

// This lane's bf16 U fragments: [m-tile][k-step][register], rows row0 + 16·mi + gq (+8); rows at or
// past n are zeros.
__device__ __forceinline__ void hs_tc_u_fragments(unsigned af[4][4][4], const float* Ug, int row0, int n, int gq,
                                                  int q) {
#pragma unroll
    for (int mi = 0; mi < 4; mi++) {
        int ra = row0 + mi * 16 + gq;
        int rb = ra + 8;
        const float* ua = Ug + (long)ra * TC_HS;
        const float* ub = Ug + (long)rb * TC_HS;
#pragma unroll
        for (int s = 0; s < 4; s++) {
            int c = 16 * s + 2 * q;
            af[mi][s][0] = ra < n ? hs_pack_bf16x2(ua[c], ua[c + 1]) : 0u;
            af[mi][s][1] = rb < n ? hs_pack_bf16x2(ub[c], ub[c + 1]) : 0u;
            af[mi][s][2] = ra < n ? hs_pack_bf16x2(ua[c + 8], ua[c + 9]) : 0u;
            af[mi][s][3] = rb < n ? hs_pack_bf16x2(ub[c + 8], ub[c + 9]) : 0u;
        }
    }
}

// The approximate logits (without beta) of the warp's 64 rows and tokens t0 .. t0+31: 64 mma.
__device__ __forceinline__ void hs_tc_tile(float acc[4][4][4], const unsigned af[4][4][4], const unsigned* Bg,
                                           int t0, int gq, int q) {
    unsigned b[4][8];
#pragma unroll
    for (int ni = 0; ni < 4; ni++) {
        const uint4* p = reinterpret_cast<const uint4*>(Bg + (long)(t0 + ni * 8 + gq) * 32 + q * 8);
        uint4 x = __ldg(p);
        uint4 y = __ldg(p + 1);
        b[ni][0] = x.x; b[ni][1] = x.y; b[ni][2] = x.z; b[ni][3] = x.w;
        b[ni][4] = y.x; b[ni][5] = y.y; b[ni][6] = y.z; b[ni][7] = y.w;
    }
#pragma unroll
    for (int mi = 0; mi < 4; mi++)
#pragma unroll
        for (int ni = 0; ni < 4; ni++)
#pragma unroll
            for (int c = 0; c < 4; c++) acc[mi][ni][c] = 0.f;
#pragma unroll
    for (int s = 0; s < 4; s++)
#pragma unroll
        for (int mi = 0; mi < 4; mi++)
#pragma unroll
            for (int ni = 0; ni < 4; ni++)
                hs_mma_bf16_16816(acc[mi][ni], af[mi][s], b[ni][2 * s], b[ni][2 * s + 1], acc[mi][ni]);
}

// Coarse test, with the tile's largest margin and beta (tm) for every token: bit i set when this
// lane's row i (row 16·(i/2) + 8·(i%2) + gq) is live and may have a candidate in the tile.
__device__ __forceinline__ unsigned hs_tc_coarse(const float acc[4][4][4], const float gt[8], const float cu[8],
                                                 const bool live[8], float2 tm) {
    unsigned flags = 0;
#pragma unroll
    for (int i = 0; i < 8; i++) {
        float thr = gt[i] - fmaf(cu[i], tm.x, tm.y);  // NaN while the row is not full: passes
        bool f = false;
#pragma unroll
        for (int ni = 0; ni < 4; ni++) {
            f |= !(acc[i >> 1][ni][(i & 1) * 2] <= thr);
            f |= !(acc[i >> 1][ni][(i & 1) * 2 + 1] <= thr);
        }
        if (f && live[i]) flags |= 1u << i;
    }
    return flags;
}

// Fine test per token of the flagged rows; the survivors go to their row's candidate list
// (candN[row], candT[row][slot]: the warp's own).
__device__ __forceinline__ void hs_tc_fine(const float acc[4][4][4], unsigned flags, const float gt[8],
                                           const float cu[8], const float2* tokg, int t0, int tEnd, int gq, int q,
                                           int* candN, int (*candT)[TC_TILE]) {
#pragma unroll
    for (int ni = 0; ni < 4; ni++) {
        int t = t0 + ni * 8 + 2 * q;
        float2 k0 = __ldg(tokg + t);
        float2 k1 = __ldg(tokg + t + 1);
#pragma unroll
        for (int i = 0; i < 8; i++) {
            if (!(flags >> i & 1u)) continue;
            int rr = (i >> 1) * 16 + (i & 1) * 8 + gq;
            float v0 = acc[i >> 1][ni][(i & 1) * 2];
            float v1 = acc[i >> 1][ni][(i & 1) * 2 + 1];
            if (t < tEnd && !(v0 + fmaf(cu[i], k0.x, k0.y) <= gt[i])) {
                int s = atomicAdd(&candN[rr], 1);
                candT[rr][s] = t;
            }
            if (t + 1 < tEnd && !(v1 + fmaf(cu[i], k1.x, k1.y) <= gt[i])) {
                int s = atomicAdd(&candN[rr], 1);
                candT[rr][s] = t + 1;
            }
        }
    }
}

// Abf/tok/tmax from hs_tc_prep; A: the fp32 A ([nb·64][ldA]); beta: [V]; U: [nb][n][64];
// out: [nb][n][splits][k] as hs_ov_topk. splitLen a multiple of 32.
// grid (ceil(n/256), splits, nb), block 128.
extern "C" __global__ void __launch_bounds__(128, 2)
hs_ov_topk_tc(const unsigned* Abf, int Vpad, const float2* tok, const float2* tmax, const float* A, int ldA,
              const float* beta, const float* U, int n, int V, int k, int splitLen, int splits, const float* gate0,
              float* outVal, int* outId) {
    __shared__ int candT[TC_WARPS][TC_WROWS][TC_TILE];
    __shared__ int candN[TC_WARPS][TC_WROWS];
    __shared__ float gateS[TC_WARPS][TC_WROWS];
    __shared__ float floorS[TC_WARPS][TC_WROWS];
    __shared__ int filledS[TC_WARPS][TC_WROWS];
    __shared__ float cuS[TC_WARPS][TC_WROWS];

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int gq = lane >> 2;
    const int q = lane & 3;
    const int g = blockIdx.z;
    const int split = blockIdx.y;
    const int row0 = (blockIdx.x * TC_WARPS + warp) * TC_WROWS;
    if (row0 >= n) return;  // the whole warp: only warp-level synchronization below
    const float* Ug = U + (long)g * n * TC_HS;
    const float* Ag = A + (long)g * TC_HS * ldA;
    const unsigned* Bg = Abf + (long)g * Vpad * 32;
    const float2* tokg = tok + (long)g * Vpad;
    const float2* tmaxg = tmax + (long)g * (Vpad / TC_TILE);
    const float nanf = __int_as_float(0x7fc00000);

    for (int rr = lane; rr < TC_WROWS; rr += 32) {
        int r = row0 + rr;
        float ss = 0.f;
        if (r < n)
            for (int j = 0; j < TC_HS; j++) {
                float u = Ug[(long)r * TC_HS + j];
                ss = fmaf(u, u, ss);
            }
        float cu = TC_C * sqrtf(ss);
        cuS[warp][rr] = cu == cu ? cu : INFINITY;
        float g0 = gate0 && r < n ? gate0[(long)g * n + r] : nanf;
        floorS[warp][rr] = g0;
        gateS[warp][rr] = g0;
        filledS[warp][rr] = 0;
        candN[warp][rr] = 0;
    }
    __syncwarp();

    unsigned af[4][4][4];
    hs_tc_u_fragments(af, Ug, row0, n, gq, q);
    // Per row of this lane (index mi·2 + h: row 16·mi + 8·h + gq): C·‖u‖ and the gate.
    float cu[8], gt[8];
    bool live[8];
#pragma unroll
    for (int i = 0; i < 8; i++) {
        int rr = (i >> 1) * 16 + (i & 1) * 8 + gq;
        cu[i] = cuS[warp][rr];
        gt[i] = gateS[warp][rr];
        live[i] = row0 + rr < n;
    }

    const int tBegin = split * splitLen;
    const int tEnd = min(V, tBegin + splitLen);
    for (int t0 = tBegin; t0 < tEnd; t0 += TC_TILE) {
        float acc[4][4][4];
        hs_tc_tile(acc, af, Bg, t0, gq, q);

        // Coarse test, then the fine one for the flagged rows
        unsigned flags = hs_tc_coarse(acc, gt, cu, live, __ldg(tmaxg + t0 / TC_TILE));
        if (!__any_sync(0xffffffffu, flags != 0)) continue;

        if (flags) {
            hs_tc_fine(acc, flags, gt, cu, tokg, t0, tEnd, gq, q, candN[warp], candT[warp]);
        }
        __syncwarp();

        // Exact fp32 re-scoring and insertion: lane l keeps rows l and l + 32.
        for (int rr = lane; rr < TC_WROWS; rr += 32) {
            const int cnt = candN[warp][rr];
            if (cnt == 0) continue;
            const int r = row0 + rr;
            const long base = (((long)g * n + r) * splits + split) * k;
            float* LV = outVal + base;
            int* LI = outId + base;
            const float* ur = Ug + (long)r * TC_HS;
            int f = filledS[warp][rr];
            const float g0 = floorS[warp][rr];
            for (int c = 0; c < cnt; c++) {
                const int t = candT[warp][rr][c];
                float x = beta[t];
                for (int j = 0; j < TC_HS; j++) x = fmaf(ur[j], Ag[(long)j * ldA + t], x);
                if (hs_admit(x, g0)) f = hs_tc_insert(LV, LI, f, k, x, t);
            }
            filledS[warp][rr] = f;
            candN[warp][rr] = 0;
            gateS[warp][rr] = f == k ? fmaxf(LV[k - 1], g0) : g0;
        }
        __syncwarp();
#pragma unroll
        for (int i = 0; i < 8; i++) gt[i] = gateS[warp][(i >> 1) * 16 + (i & 1) * 8 + gq];
    }

    for (int rr = lane; rr < TC_WROWS; rr += 32) {
        const int r = row0 + rr;
        if (r >= n) continue;
        const long base = (((long)g * n + r) * splits + split) * k;
        for (int p = filledS[warp][rr]; p < k; p++) {
            outVal[base + p] = nanf;
            outId[base + p] = -1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// v2: the same contract and the same tests as v1, with the exact re-scoring spread over the warp.
// v1 measured on an H200 (bench/results): bit for bit the fp32 kernel on every row, but its
// re-scoring (one lane per row, 64 scattered loads per candidate, lists in global memory) made it
// slower than the fp32 kernel on 388 rows and left the tensor cores mostly idle on 50,257. v2:
//   - the candidates of all 64 rows of a warp are numbered (a warp prefix sum) and each lane
//     re-scores every 32nd one, reading the candidate's A column token-major (At, 16-byte loads);
//   - each row's sorted list lives in shared memory when k <= TC_KS (global memory otherwise);
//   - two warps per block (the shared memory of candidates, values and lists fits 48 KB).
#define TC2_WARPS 2
#define TC_KS 8

// As hs_ov_topk_tc, plus At (from hs_tc_prep); grid (ceil(n/128), splits, nb), block 64.
// collectIds non-null (the cold rank test's first pass, CudaBackend.twoPass): no lists; the gates
// stay at gate0 (never NaN there) and every token whose exact value is above it is appended to its
// row's list: collectN[g·n + r] counts them (atomically, across splits; the caller zeroes it), the
// first cap land in collectIds[(g·n + r)·cap ..], in no particular order; k must be 0, outVal and
// outId may be null.
extern "C" __global__ void __launch_bounds__(64, 4)
hs_ov_topk_tc2(const unsigned* Abf, int Vpad, const float2* tok, const float2* tmax, const float* At,
               const float* beta, const float* U, int n, int V, int k, int splitLen, int splits, const float* gate0,
               float* outVal, int* outId, int* collectN, int* collectIds, int cap) {
    __shared__ int candT[TC2_WARPS][TC_WROWS][TC_TILE];
    __shared__ float candV[TC2_WARPS][TC_WROWS][TC_TILE];
    __shared__ int candN[TC2_WARPS][TC_WROWS];
    __shared__ int startS[TC2_WARPS][TC_WROWS];
    __shared__ float gateS[TC2_WARPS][TC_WROWS];
    __shared__ float floorS[TC2_WARPS][TC_WROWS];
    __shared__ int filledS[TC2_WARPS][TC_WROWS];
    __shared__ float listV[TC2_WARPS][TC_WROWS][TC_KS];
    __shared__ int listI[TC2_WARPS][TC_WROWS][TC_KS];

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int gq = lane >> 2;
    const int q = lane & 3;
    const int g = blockIdx.z;
    const int split = blockIdx.y;
    const int row0 = (blockIdx.x * TC2_WARPS + warp) * TC_WROWS;
    if (row0 >= n) return;  // the whole warp: only warp-level synchronization below
    const bool small = k <= TC_KS;
    const float* Ug = U + (long)g * n * TC_HS;
    const float* Atg = At + (long)g * Vpad * TC_HS;
    const unsigned* Bg = Abf + (long)g * Vpad * 32;
    const float2* tokg = tok + (long)g * Vpad;
    const float2* tmaxg = tmax + (long)g * (Vpad / TC_TILE);
    const float nanf = __int_as_float(0x7fc00000);

    float cuOwn[2];
    for (int h = 0; h < 2; h++) {
        int rr = lane + 32 * h;
        int r = row0 + rr;
        float ss = 0.f;
        if (r < n)
            for (int j = 0; j < TC_HS; j++) {
                float u = Ug[(long)r * TC_HS + j];
                ss = fmaf(u, u, ss);
            }
        float cu = TC_C * sqrtf(ss);
        cuOwn[h] = cu == cu ? cu : INFINITY;
        float g0 = gate0 && r < n ? gate0[(long)g * n + r] : nanf;
        floorS[warp][rr] = g0;
        gateS[warp][rr] = g0;
        filledS[warp][rr] = 0;
        candN[warp][rr] = 0;
    }

    unsigned af[4][4][4];
    hs_tc_u_fragments(af, Ug, row0, n, gq, q);
    // C·‖u‖ of this lane's mma rows (row 16·mi + 8·h + gq), from the owners' values
    float cu[8], gt[8];
    bool live[8];
#pragma unroll
    for (int i = 0; i < 8; i++) {
        int rr = (i >> 1) * 16 + (i & 1) * 8 + gq;
        float c0 = __shfl_sync(0xffffffffu, cuOwn[0], rr & 31);
        float c1 = __shfl_sync(0xffffffffu, cuOwn[1], rr & 31);
        cu[i] = rr < 32 ? c0 : c1;
        live[i] = row0 + rr < n;
    }
    __syncwarp();
#pragma unroll
    for (int i = 0; i < 8; i++) gt[i] = gateS[warp][(i >> 1) * 16 + (i & 1) * 8 + gq];

    const int tBegin = split * splitLen;
    const int tEnd = min(V, tBegin + splitLen);
    for (int t0 = tBegin; t0 < tEnd; t0 += TC_TILE) {
        float acc[4][4][4];
        hs_tc_tile(acc, af, Bg, t0, gq, q);

        // Coarse test, then the fine one for the flagged rows
        unsigned flags = hs_tc_coarse(acc, gt, cu, live, __ldg(tmaxg + t0 / TC_TILE));
        if (!__any_sync(0xffffffffu, flags != 0)) continue;

        if (flags) {
            hs_tc_fine(acc, flags, gt, cu, tokg, t0, tEnd, gq, q, candN[warp], candT[warp]);
        }
        __syncwarp();

        // Number the candidates: row rr's are start[rr] .. start[rr] + candN[rr].
        int c0 = candN[warp][lane];
        int c1 = candN[warp][lane + 32];
        int in0 = c0, in1 = c1;
        for (int o = 1; o < 32; o <<= 1) {
            int x0 = __shfl_up_sync(0xffffffffu, in0, o);
            int x1 = __shfl_up_sync(0xffffffffu, in1, o);
            if (lane >= o) {
                in0 += x0;
                in1 += x1;
            }
        }
        int total0 = __shfl_sync(0xffffffffu, in0, 31);
        int total = total0 + __shfl_sync(0xffffffffu, in1, 31);
        startS[warp][lane] = in0 - c0;
        startS[warp][lane + 32] = total0 + in1 - c1;
        __syncwarp();

        // Exact fp32 re-scoring, every 32nd candidate per lane: beta, then fmaf over j in order.
        for (int p = lane; p < total; p += 32) {
            int lo = 0, hi = TC_WROWS;  // the last row whose start is <= p
            while (hi - lo > 1) {
                int mid = (lo + hi) >> 1;
                if (startS[warp][mid] <= p) lo = mid; else hi = mid;
            }
            const int rr = lo;
            const int slot = p - startS[warp][rr];
            const int t = candT[warp][rr][slot];
            const float4* ur = reinterpret_cast<const float4*>(Ug + (long)(row0 + rr) * TC_HS);
            const float4* ar = reinterpret_cast<const float4*>(Atg + (long)t * TC_HS);
            float x = beta[t];
#pragma unroll
            for (int j = 0; j < TC_HS / 4; j++) {
                float4 u = ur[j];
                float4 a = __ldg(ar + j);
                x = fmaf(u.x, a.x, x);
                x = fmaf(u.y, a.y, x);
                x = fmaf(u.z, a.z, x);
                x = fmaf(u.w, a.w, x);
            }
            candV[warp][rr][slot] = x;
        }
        __syncwarp();

        // Insertion by the rows' owners (lane l: rows l and l + 32).
        for (int rr = lane; rr < TC_WROWS; rr += 32) {
            const int cnt = candN[warp][rr];
            if (cnt == 0) continue;
            const int r = row0 + rr;
            if (collectIds) {  // first pass: append, the gate stays at the floor
                const float g0 = floorS[warp][rr];
                const long row = (long)g * n + r;
                for (int c = 0; c < cnt; c++) {
                    if (!hs_admit(candV[warp][rr][c], g0)) continue;
                    const int slot = atomicAdd(collectN + row, 1);
                    if (slot < cap) collectIds[row * cap + slot] = candT[warp][rr][c];
                }
                candN[warp][rr] = 0;
                continue;
            }
            float* LV;
            int* LI;
            if (small) {
                LV = listV[warp][rr];
                LI = listI[warp][rr];
            } else {
                const long base = (((long)g * n + r) * splits + split) * k;
                LV = outVal + base;
                LI = outId + base;
            }
            int f = filledS[warp][rr];
            const float g0 = floorS[warp][rr];
            for (int c = 0; c < cnt; c++) {
                const float x = candV[warp][rr][c];
                if (hs_admit(x, g0)) f = hs_tc_insert(LV, LI, f, k, x, candT[warp][rr][c]);
            }
            filledS[warp][rr] = f;
            candN[warp][rr] = 0;
            gateS[warp][rr] = f == k ? fmaxf(LV[k - 1], g0) : g0;
        }
        __syncwarp();
#pragma unroll
        for (int i = 0; i < 8; i++) gt[i] = gateS[warp][(i >> 1) * 16 + (i & 1) * 8 + gq];
    }

    for (int rr = lane; rr < TC_WROWS; rr += 32) {
        const int r = row0 + rr;
        if (r >= n) continue;
        const long base = (((long)g * n + r) * splits + split) * k;
        const int f = filledS[warp][rr];
        if (small)
            for (int p = 0; p < f; p++) {
                outVal[base + p] = listV[warp][rr][p];
                outId[base + p] = listI[warp][rr][p];
            }
        for (int p = f; p < k; p++) {
            outVal[base + p] = nanf;
            outId[base + p] = -1;
        }
    }
}
