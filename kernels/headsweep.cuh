// headsweep.cuh: what every kernel file shares: the tie rule of the top-k (the CPU's
// engine/cpu/TopK.before) and the switch that lets the same sources compile for the host
// emulator in kernels/emu/ (HEADSWEEP_EMU), where CUDA's built-ins are plain C++.
//
// Numerics: the kernel files are compiled with --fmad=false, so `a * b + c` rounds twice as Java
// does; a fused multiply-add is written out as fmaf() wherever the CPU uses Math.fma. That keeps
// the kernels that mirror the CPU's loop order bit-for-bit equal to it (see each kernel's comment).
#pragma once

#ifdef HEADSWEEP_EMU
#include "emu/cuda_emu.h"
#else
#include <cuda_runtime.h>
#endif

// True when (va, ia) ranks before (vb, ib): the larger value first; equal values (also -0 == 0)
// by the lower token id; NaN below every number (also -inf), NaNs among themselves by id.
__device__ __forceinline__ bool hs_before(float va, int ia, float vb, int ib) {
    if (va > vb) return true;
    if (va < vb) return false;
    bool na = va != va;
    bool nb = vb != vb;
    if (na != nb) return nb;
    return ia < ib;
}

// The targets' rank test (rank.cu): a row's gate0 is NaN for a whole top-k, else a value below
// which no token can matter (every target's exact logit is above it). A top-k kernel given gate0
// keeps the top k of the tokens this admits: all of them while gate0 is NaN, else those whose
// exact value is a number above gate0.
__device__ __forceinline__ bool hs_admit(float v, float gate0) {
    return gate0 != gate0 || v > gate0;
}
