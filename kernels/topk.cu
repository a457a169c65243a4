// topk.cu: the hot kernel of a sweep, the fused factored unembedding with top-k
// (DESIGN.md section 2): for head g of a batch, keyword row i and token t,
//   logit[g][i][t] = beta[t] + Σ_j U[g][i][j]·A[g][j][t]
// accumulated exactly as the CPU's engine/cpu/PlainKernel does (beta first, then fmaf over
// j = 0 .. hs-1 in order), so each logit equals the CPU's bit for bit given the same A and U.
// The logits are never written: only each row's top k (ids and values) leave the chip.
//
// Versions:
//   v1 (this file, fp32 CUDA cores; the one the CUDA backend uses)
//     hs_ov_topk: a block owns 32 rows of one head and a contiguous split of the vocabulary
//       (grid (ceil(n/32), splits, heads), 256 threads). The 32 rows of U stay in shared memory;
//       the vocabulary streams through shared memory 64 tokens at a time (hs × 64 of A); each
//       thread forms 2 rows × 4 tokens of logits in registers and compares them with its row's
//       gate (the row's current k-th value; NaN while the row holds fewer than k, which lets
//       everything through). Values that pass go to the row's candidate buffer in shared
//       memory (64 slots: a tile cannot overflow it); after the tile one thread per row inserts
//       them into the row's sorted list, which lives in global memory (so any k works) and
//       tightens the gate. After the first tiles almost nothing passes the gate.
//     hs_topk_merge: when the vocabulary is split (to fill the GPU when rows × heads are few),
//       merges each row's per-split lists into its final top k.
//   The targets' rank test (rank.cu) gives each row a floor (gate0): the gate starts there
//   instead of at NaN, and only tokens above it are kept (headsweep.cuh's hs_admit), so the list
//   is the top k of those, maybe shorter (null gate0: every row's whole top k, as before).
//   Tie rule (the CPU's engine/cpu/TopK.before): value descending, equal values by the lower
//   token id, NaN below everything; rows that see fewer than k tokens are padded with id -1,
//   value NaN (only possible per split; the final merge always has k ≤ V entries).
//   The tensor-core version (bf16 mma for the logits, candidates re-scored exactly) is topk_tc.cu.
//
// Build: kernels/build.sh. Check: bash kernels/emu/run.sh (host emulator: ties, ±inf/NaN,
// k above a tile and above a split, V not a multiple of the tile, against a plain sort) and, on
// a GPU, bash bench/gpu-check.sh (CudaKernelsTest against the CPU's reference).
// Status: run on an H200 (bench/results/gpu-bench-h200.txt): 21 ms for the numerals sweep's 144 heads,
// about 2 s for vocab's; the tensor-core kernel of topk_tc.cu gives its answers bit for bit, faster.
#include "headsweep.cuh"

#define TK_BR 32
#define TK_BT 64
#define TK_MAXH 64

// A: [nb][hs][ldA] (ldA a multiple of 4, 16-byte aligned rows); beta: [V]; U: [nb][n][hs];
// out: [nb][n][splits][k]. splitLen: tokens per split, a multiple of 64. hs <= 64.
// gate0: null for every row's whole top k, else [nb][n] from rank.cu's hs_target_gate: the top k
// of the tokens hs_admit lets in (headsweep.cuh). grid (ceil(n/TK_BR), splits, nb), block 256.
extern "C" __global__ void __launch_bounds__(256)
hs_ov_topk(const float* A, int ldA, const float* beta, const float* U, int n, int hs, int V, int k,
           int splitLen, int splits, const float* gate0, float* outVal, int* outId) {
    __shared__ float Us[TK_MAXH][TK_BR];
    __shared__ __align__(16) float As[TK_MAXH][TK_BT];
    __shared__ float candV[TK_BR][TK_BT];
    __shared__ int candI[TK_BR][TK_BT];
    __shared__ int candN[TK_BR];
    __shared__ float gate[TK_BR];
    __shared__ float floor0[TK_BR];
    __shared__ int filled[TK_BR];

    const int tid = threadIdx.x;
    const int tx = tid & 15;   // tokens tx*4 .. tx*4+3 of the tile
    const int ty = tid >> 4;   // rows ty*2, ty*2+1 of the block
    const int g = blockIdx.z;
    const int split = blockIdx.y;
    const int row0 = blockIdx.x * TK_BR;
    const int rows = min(TK_BR, n - row0);
    const float* Ag = A + (long)g * hs * ldA;
    const float* Ug = U + ((long)g * n + row0) * hs;
    const int tBegin = split * splitLen;
    const int tEnd = min(V, tBegin + splitLen);

    for (int e = tid; e < TK_BR * hs; e += blockDim.x) {
        int r = e / hs, j = e % hs;
        Us[j][r] = r < rows ? Ug[(long)r * hs + j] : 0.f;
    }
    if (tid < TK_BR) {
        // NaN: the row is not full (and no floor): everything passes
        float g0 = gate0 && tid < rows ? gate0[(long)g * n + row0 + tid] : __int_as_float(0x7fc00000);
        candN[tid] = 0;
        floor0[tid] = g0;
        gate[tid] = g0;
        filled[tid] = 0;
    }

    for (int t0 = tBegin; t0 < tEnd; t0 += TK_BT) {
        __syncthreads();  // the previous tile's merge is done and As is free
        for (int e = tid; e < hs * (TK_BT / 4); e += blockDim.x) {
            int j = e / (TK_BT / 4), c = (e % (TK_BT / 4)) * 4;
            int t = t0 + c;
            float4 a;
            if (t + 3 < tEnd) {
                a = *reinterpret_cast<const float4*>(Ag + (long)j * ldA + t);
            } else {
                a.x = t < tEnd ? Ag[(long)j * ldA + t] : 0.f;
                a.y = t + 1 < tEnd ? Ag[(long)j * ldA + t + 1] : 0.f;
                a.z = t + 2 < tEnd ? Ag[(long)j * ldA + t + 2] : 0.f;
                a.w = 0.f;
            }
            *reinterpret_cast<float4*>(&As[j][c]) = a;
        }
        __syncthreads();

        float acc[2][4];
        for (int q = 0; q < 4; q++) {
            int t = t0 + tx * 4 + q;
            float b = t < tEnd ? beta[t] : 0.f;
            acc[0][q] = b;
            acc[1][q] = b;
        }
        for (int j = 0; j < hs; j++) {
            float4 a = *reinterpret_cast<const float4*>(&As[j][tx * 4]);
            float u0 = Us[j][ty * 2];
            float u1 = Us[j][ty * 2 + 1];
            acc[0][0] = fmaf(u0, a.x, acc[0][0]);
            acc[0][1] = fmaf(u0, a.y, acc[0][1]);
            acc[0][2] = fmaf(u0, a.z, acc[0][2]);
            acc[0][3] = fmaf(u0, a.w, acc[0][3]);
            acc[1][0] = fmaf(u1, a.x, acc[1][0]);
            acc[1][1] = fmaf(u1, a.y, acc[1][1]);
            acc[1][2] = fmaf(u1, a.z, acc[1][2]);
            acc[1][3] = fmaf(u1, a.w, acc[1][3]);
        }
        for (int i = 0; i < 2; i++) {
            int r = ty * 2 + i;
            if (r >= rows) continue;
            float gt = gate[r];
            for (int q = 0; q < 4; q++) {
                int t = t0 + tx * 4 + q;
                float v = acc[i][q];
                if (t < tEnd && !(v <= gt)) {  // NaN passes, as does everything while the gate is NaN
                    int s = atomicAdd(&candN[r], 1);
                    candV[r][s] = v;
                    candI[r][s] = t;
                }
            }
        }
        __syncthreads();

        if (tid < rows && candN[tid] > 0) {
            const int r = tid;
            const long base = (((long)g * n + row0 + r) * splits + split) * k;
            float* LV = outVal + base;
            int* LI = outId + base;
            int f = filled[r];
            const int cnt = candN[r];
            const float g0 = floor0[r];
            for (int c = 0; c < cnt; c++) {
                float v = candV[r][c];
                int id = candI[r][c];
                if (!hs_admit(v, g0)) continue;
                int p;
                if (f == k) {
                    if (!hs_before(v, id, LV[k - 1], LI[k - 1])) continue;
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
            }
            filled[r] = f;
            candN[r] = 0;
            gate[r] = f == k ? fmaxf(LV[k - 1], g0) : g0;  // fmaxf: a NaN side gives the other
        }
    }
    __syncthreads();
    if (tid < rows) {
        const long base = (((long)g * n + row0 + tid) * splits + split) * k;
        for (int q = filled[tid]; q < k; q++) {
            outVal[base + q] = __int_as_float(0x7fc00000);
            outId[base + q] = -1;
        }
    }
}

// in: [rows][splits][k] sorted lists (id -1 = empty slot); out: [rows][k]. One thread per row.
extern "C" __global__ void hs_topk_merge(const float* inVal, const int* inId, long rows, int splits,
                                         int k, float* outVal, int* outId) {
    long r = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    float* LV = outVal + r * k;
    int* LI = outId + r * k;
    int f = 0;
    for (int s = 0; s < splits; s++) {
        const float* sv = inVal + (r * splits + s) * k;
        const int* si = inId + (r * splits + s) * k;
        for (int q = 0; q < k; q++) {
            int id = si[q];
            if (id < 0) break;  // the rest of this split's list is empty
            float v = sv[q];
            int p;
            if (f == k) {
                if (!hs_before(v, id, LV[k - 1], LI[k - 1])) break;  // the split's list is sorted
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
        }
    }
    for (int q = f; q < k; q++) {
        LV[q] = __int_as_float(0x7fc00000);
        LI[q] = -1;
    }
}
