/*
 * simd.h: the function-level target attributes of the vector code (no -m flags on the command
 * line, so the library loads on any x86-64 and dispatch.c picks the path at run time).
 */
#ifndef HS_SIMD_H
#define HS_SIMD_H
#include <immintrin.h>

#define HS_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#define HS_AVX512_BF16 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx512bf16,fma")))
#define HS_INLINE static inline __attribute__((always_inline))
#endif
