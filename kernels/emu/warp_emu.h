// warp_emu.h: the warp-wide operations of topk_tc.cu for the host emulator (cuda_emu.h): the
// tensor-core product mma.m16n8k16 (bf16 inputs, fp32 accumulation) with the fragment layout of
// the PTX ISA, __syncwarp, __any_sync, 16-byte vector loads and the bit casts. Each emulated
// lane deposits its fragments in a per-warp table, the warp meets at a barrier, every lane reads
// back the whole 16 × 16 and 16 × 8 operands and computes its own four outputs.
//
// The sums are formed in double and rounded once, not as the hardware does (it truncates its
// fp32 partial sums); topk_tc.cu only uses these values behind a margin that covers either.
#pragma once
#include "cuda_emu.h"

#undef __launch_bounds__
#define __launch_bounds__(...)

struct alignas(16) uint4 {
    unsigned x, y, z, w;
};
struct alignas(8) float2 {
    float x, y;
};

inline unsigned __float_as_uint(float f) {
    unsigned u;
    std::memcpy(&u, &f, 4);
    return u;
}
inline float __uint_as_float(unsigned u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
template <class T>
inline T __ldg(const T* p) {
    return *p;
}

namespace emu {
struct WarpTable {
    unsigned a[32][4];
    unsigned b[32][2];
    int flag[32];
};
inline WarpTable warpTables[32];  // one block at a time, at most 32 warps

inline float bf16(unsigned short h) {
    return __uint_as_float((unsigned)h << 16);
}
}  // namespace emu

inline void __syncwarp(unsigned = 0xffffffffu) {
    (*emu::warps)[emu::linearTid / 32].bar->arrive_and_wait();
}

template <class T>
inline T __shfl_sync(unsigned, T v, int srcLane) {
    return emu::exchange(v, srcLane & 31);
}
template <class T>
inline T __shfl_up_sync(unsigned, T v, unsigned delta) {
    int lane = (int)(emu::linearTid % 32);
    T r = emu::exchange(v, lane >= (int)delta ? lane - (int)delta : lane);
    return r;
}

inline bool __any_sync(unsigned, int pred) {
    unsigned w = emu::linearTid / 32, lane = emu::linearTid % 32;
    emu::WarpTable& t = emu::warpTables[w];
    t.flag[lane] = pred != 0;
    __syncwarp();
    bool any = false;
    for (int l = 0; l < 32; l++) any |= t.flag[l] != 0;
    __syncwarp();
    return any;
}

// d = a·b + c for one warp: a is 16 × 16 (row-major fragments a0..a3), b is 16 × 8 (b0, b1),
// c and d 16 × 8 in fp32 (c0..c3); lane l holds rows l/4 and l/4 + 8, columns 2(l%4), +1 of c/d.
inline void hs_mma_bf16_16816(float d[4], const unsigned a[4], unsigned b0, unsigned b1, const float c[4]) {
    unsigned w = emu::linearTid / 32, lane = emu::linearTid % 32;
    emu::WarpTable& t = emu::warpTables[w];
    for (int i = 0; i < 4; i++) t.a[lane][i] = a[i];
    t.b[lane][0] = b0;
    t.b[lane][1] = b1;
    __syncwarp();
    float A[16][16], B[16][8];
    for (int l = 0; l < 32; l++) {
        int g = l >> 2, q = l & 3;
        for (int i = 0; i < 4; i++) {
            int row = g + (i & 1) * 8, col = 2 * q + (i >> 1) * 8;
            A[row][col] = emu::bf16(t.a[l][i] & 0xffff);
            A[row][col + 1] = emu::bf16(t.a[l][i] >> 16);
        }
        for (int i = 0; i < 2; i++) {
            int k = 2 * q + i * 8;
            B[k][g] = emu::bf16(t.b[l][i] & 0xffff);
            B[k + 1][g] = emu::bf16(t.b[l][i] >> 16);
        }
    }
    __syncwarp();
    int g = lane >> 2, q = lane & 3;
    for (int i = 0; i < 4; i++) {
        int row = g + (i >> 1) * 8, col = 2 * q + (i & 1);
        double s = c[i];
        for (int k = 0; k < 16; k++) s += (double)A[row][k] * (double)B[k][col];
        d[i] = (float)s;
    }
}
