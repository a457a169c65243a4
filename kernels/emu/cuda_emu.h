// cuda_emu.h: just enough of CUDA's execution model, in plain C++20, to run the kernels of
// kernels/*.cu on the host without a GPU (for their logic, not their speed): every thread of a
// block is an OS thread, blocks run one after another, __shared__ variables are function
// statics (so one block's worth exists at a time), __syncthreads is a std::barrier, warp
// shuffles exchange through a per-warp buffer between two barriers. Threads that return early
// drop out of the barriers, as exited threads do on a GPU.
//
// Limits: no dynamic shared memory, no streams, no tensor-core intrinsics; full-warp shuffles only.
// Floating point: compile with -ffp-contract=off, the host twin of nvcc's --fmad=false.
#pragma once
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct alignas(16) float4 {
    float x, y, z, w;
};

namespace emu {
struct Idx {
    unsigned x, y, z;
};
struct Warp {
    double buf[32];
    std::unique_ptr<std::barrier<>> bar;
};
inline thread_local Idx tIdx;
inline thread_local Idx bIdx;
inline thread_local unsigned linearTid;
inline dim3 bDim, gDim;
inline std::barrier<>* blockBar;
inline std::vector<Warp>* warps;

template <class T>
T exchange(T v, int srcLane) {
    Warp& w = (*warps)[linearTid / 32];
    w.buf[linearTid % 32] = (double)v;
    w.bar->arrive_and_wait();
    T r = (T)w.buf[srcLane];
    w.bar->arrive_and_wait();
    return r;
}

template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, A... args) {
    gDim = grid;
    bDim = block;
    unsigned nt = block.x * block.y * block.z;
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                std::barrier<> bar(nt);
                blockBar = &bar;
                std::vector<Warp> ws((nt + 31) / 32);
                for (unsigned w = 0; w < ws.size(); w++)
                    ws[w].bar = std::make_unique<std::barrier<>>(std::min(32u, nt - 32 * w));
                warps = &ws;
                std::vector<std::thread> ts;
                ts.reserve(nt);
                for (unsigned t = 0; t < nt; t++) {
                    ts.emplace_back([&, t] {
                        linearTid = t;
                        tIdx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
                        bIdx = {bx, by, bz};
                        kernel(static_cast<P>(args)...);
                        (*warps)[t / 32].bar->arrive_and_drop();
                        bar.arrive_and_drop();
                    });
                }
                for (auto& th : ts) th.join();
            }
}
}  // namespace emu

#define threadIdx (emu::tIdx)
#define blockIdx (emu::bIdx)
#define blockDim (emu::bDim)
#define gridDim (emu::gDim)

inline void __syncthreads() { emu::blockBar->arrive_and_wait(); }
template <class T>
inline T __shfl_xor_sync(unsigned, T v, int laneMask) {
    return emu::exchange(v, (int)((emu::linearTid % 32) ^ laneMask));
}
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline float __int_as_float(int i) {
    float f;
    std::memcpy(&f, &i, 4);
    return f;
}
using std::max;
using std::min;
