// rank.cu: the targets' rank test on the GPU (the CPU's engine/cpu/TargetRankCheck, asked the
// GPU's way). A score only asks whether a target token is among a row's top k, and a token whose
// exact logit is below every target's cannot change that: it ranks after all of them. So each
// (head, row) gets a floor, gate0, and the top-k kernels (topk.cu, topk_tc.cu) keep the top k of
// the tokens above it (headsweep.cuh's hs_admit) instead of the whole vocabulary's:
//   - a target t of the row is among the true top k  <=>  t is among the kernel's (shorter) list,
//     because every token that ranks before t has a logit >= t's >= the floor and is kept;
//   - the kernels' gates start at the floor instead of "let everything through while the list is
//     not full", so the first tiles no longer send every token to exact re-scoring and insertion.
// The list is the top k of the admitted tokens, bit for bit the same in every top-k kernel, and
// padded with id -1 / NaN where fewer than k are admitted (hs_topk_merge merges such lists).
//
//   hs_target_gate  per (head, row): each target's exact logit, beta[t] then fmaf over j in order
//                   (the very sum the top-k kernels form, so a target compares equal to itself),
//                   and gate0 = the largest float below the smallest of them. NaN (a whole top k)
//                   when a target's logit is NaN or -inf (the floor must let equal -inf values
//                   with lower ids in); +inf when the row has no target inside the vocabulary.
//                   Optionally also the largest target logit (NaN if one is NaN, -inf if there is
//                   none), for the screens of CudaBackend: a row whose k-th value over some tokens
//                   is above it has no hit.
//   hs_gate_seed    per (head, row): the gate raised to just below the k-th value of the row's top k
//                   over a part of the vocabulary (CudaBackend: the first 2,048 tokens, topk.cu's fp32
//                   kernel with the same floor). That k-th value is a lower bound of the whole
//                   vocabulary's, so the lists stay the same, bit for bit, and each split's first tiles
//                   send only tokens near the final top k to exact re-scoring (what bounded the tensor-
//                   core kernel); for the whole top-k (no floor) too.
//
// Build: kernels/build.sh. Check: bash kernels/emu/run.sh (host emulator: the floors and seeded
// gates against plain loops, and every top-k kernel's lists with floors, seeds or both against the
// whole top k's) and, on a GPU, bash bench/gpu-check.sh. Status: checked under the emulator and on
// the plain-Java simulated device; not yet run on a GPU.
#include "headsweep.cuh"

// A: [nb][hs][ldA]; beta: [V]; U: [nb][n][hs]; targets: [n][T] token ids (any id outside
// 0 .. V-1 is no target); gate0 and top (may be null): [nb][n]. grid (ceil(n/128), nb), block 128.
extern "C" __global__ void hs_target_gate(const float* A, int ldA, const float* beta, const float* U, int n, int hs,
                                          int V, const int* targets, int T, float* gate0, float* top) {
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    const int g = blockIdx.y;
    if (r >= n) return;
    const float* Ag = A + (long)g * hs * ldA;
    const float* u = U + ((long)g * n + r) * hs;
    float lo = INFINITY, hi = -INFINITY;
    bool any = false, whole = false, nan = false;
    for (int c = 0; c < T; c++) {
        const int t = targets[(long)r * T + c];
        if (t < 0 || t >= V) continue;
        float x = beta[t];
        for (int j = 0; j < hs; j++) x = fmaf(u[j], Ag[(long)j * ldA + t], x);
        any = true;
        if (x != x) nan = true;
        else hi = fmaxf(hi, x);
        if (x != x || x == -INFINITY) whole = true;
        else lo = fminf(lo, x);
    }
    float floor = !any ? INFINITY : whole ? __int_as_float(0x7fc00000) : nextafterf(lo, -INFINITY);
    gate0[(long)g * n + r] = floor;
    if (top) top[(long)g * n + r] = nan ? __int_as_float(0x7fc00000) : hi;
}

// hs_gate_seed: a row's gate raised to what a part of the vocabulary shows. list: [rows][k], the
// top-k lists (ids, exact values, padded with -1 / NaN) of the same rows over any subset of the
// tokens, each admitted by the row's floor (hs_admit with the same gate0). When a list is full and
// its k-th value v is a number above -inf, at least k tokens have logits >= v, so every token of the
// row's top k (of the tokens the floor admits) has a logit >= v, and a gate just below v (nextafter)
// loses none of them: the top-k kernels started there give the same lists, bit for bit, and
// re-score far fewer tokens in the first tiles of each split. gate0[r] = the larger of floor[r]
// (null: NaN, a whole top k) and that seed; floor may be gate0 itself. grid ceil(rows/128), block 128.
extern "C" __global__ void hs_gate_seed(const float* floor, const float* listV, const int* listI, int k, long rows,
                                        float* gate0) {
    const long r = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    float g = floor ? floor[r] : __int_as_float(0x7fc00000);
    const float v = listV[r * k + k - 1];
    if (listI[r * k + k - 1] >= 0 && v == v && v != -INFINITY) {
        const float s = nextafterf(v, -INFINITY);
        g = g != g ? s : fmaxf(g, s);
    }
    gate0[r] = g;
}
