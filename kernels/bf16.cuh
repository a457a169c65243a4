// bf16.cuh: what the tensor-core kernels share (topk_tc.cu, gemm_bf16.cu): fp32 → bf16 rounding
// (to nearest even, NaN kept a NaN), the packing of two bf16 into one 32-bit word (the lower half
// first), and mma.sync m16n8k16 (bf16 inputs, fp32 accumulation; sm_80 and newer). Under the host
// emulator (HEADSWEEP_EMU) emu/warp_emu.h provides the mma and the vector types.
#pragma once
#include "headsweep.cuh"
#ifdef HEADSWEEP_EMU
#include "emu/warp_emu.h"
#endif

__device__ __forceinline__ unsigned hs_bf16_bits(float f) {
    unsigned u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;  // NaN stays a (quiet) NaN
    u += 0x7fffu + ((u >> 16) & 1u);                                 // round to nearest even
    return u >> 16;
}

__device__ __forceinline__ unsigned hs_pack_bf16x2(float lo, float hi) {
    return hs_bf16_bits(lo) | (hs_bf16_bits(hi) << 16);
}

#ifndef HEADSWEEP_EMU
__device__ __forceinline__ void hs_mma_bf16_16816(float d[4], const unsigned a[4], unsigned b0, unsigned b1,
                                                  const float c[4]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%10,%11,%12,%13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "f"(c[0]), "f"(c[1]), "f"(c[2]),
          "f"(c[3]));
}
#endif
