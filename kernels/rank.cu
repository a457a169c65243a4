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
//
// Build: kernels/build.sh. Check: bash kernels/emu/run.sh (host emulator: the floors against
// plain loops, and every top-k kernel's hits with floors against the whole top k's) and, on a
// GPU, bash bench/gpu-check.sh. Status: checked under the emulator and on the plain-Java
// simulated device; not yet run on a GPU.
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
