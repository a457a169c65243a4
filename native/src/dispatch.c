/*
 * dispatch.c: which code path this CPU runs, decided once at run time with
 * __builtin_cpu_supports (which also checks that the OS saves the AVX-512 state): AVX-512F (with
 * DQ/BW/VL) for the fp32 kernels, plus AVX512_BF16 for the bf16 gate of stage 2. Without
 * AVX-512F the library reports HS_ISA_NONE and the Java side keeps its own kernels. The vector
 * code carries function-level target attributes (simd.h), so the library loads on any x86-64.
 *
 * Checked by NativeKernelTest (the reported path is printed and must be consistent with the
 * kernels the Java side selects).
 */
#include "hs_native.h"

#include <stdlib.h>
#include <string.h>

int hs_isa(void) {
    static int cached = -1;
    if (cached >= 0) {
        return cached;
    }
    int isa = HS_ISA_NONE;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("fma")) {
        isa = HS_ISA_AVX512;
        if (__builtin_cpu_supports("avx512bf16")) {
            isa = HS_ISA_AVX512_BF16;
        }
    }
#endif
    /* HEADSWEEP_NATIVE_ISA=none|avx512 caps the path (to test the fallbacks on a capable machine) */
    const char *cap = getenv("HEADSWEEP_NATIVE_ISA");
    if (cap != NULL) {
        if (strcmp(cap, "none") == 0) {
            isa = HS_ISA_NONE;
        } else if (strcmp(cap, "avx512") == 0 && isa > HS_ISA_AVX512) {
            isa = HS_ISA_AVX512;
        }
    }
    cached = isa;
    return isa;
}

const char *hs_isa_name(int isa) {
    switch (isa) {
    case HS_ISA_AVX512_BF16: return "avx512f+avx512bf16";
    case HS_ISA_AVX512: return "avx512f";
    default: return "none";
    }
}
