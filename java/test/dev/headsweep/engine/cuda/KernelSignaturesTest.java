package dev.headsweep.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The launch check the simulated device applies ({@link KernelSignatures}): it reads every kernel
 * of kernels/*.cu, and it refuses each kind of launch a GPU would refuse or misread, while the
 * backend's own launches (all the simulation suites) pass it.
 */
class KernelSignaturesTest {
    private final SimDevice dev = new SimDevice();

    @Test
    void readsEveryKernelOfTheSources() {
        Map<String, KernelSignatures.Sig> all = KernelSignatures.all();
        for (String k : List.of("hs_embed", "hs_sgemm2", "hs_target_gate", "hs_ov_topk", "hs_ov_topk_tc2", "hs_tc_prep",
                "hs_topk_merge", "hs_gram2", "hs_head_scale")) {
            assertTrue(all.containsKey(k), k);
        }
        KernelSignatures.Sig merge = all.get("hs_topk_merge");
        assertEquals("topk", merge.image());
        assertEquals(List.of("float*", "int*", "long", "int", "int", "float*", "int*"),
                merge.params().stream().map(p -> p.type() + (p.pointer() ? "*" : "")).toList());
        assertEquals(256, all.get("hs_sgemm2").maxThreads());
        assertEquals(256, all.get("hs_sgemm2").block());
        assertEquals(64, all.get("hs_ov_topk_tc2").block());
        assertEquals(0, all.get("hs_add").block());
    }

    @Test
    void parsesLaunchBoundsPointersAndTheBlockComment() {
        Map<String, KernelSignatures.Sig> out = new LinkedHashMap<>();
        KernelSignatures.parse("x", """
                // first line
                // grid (n, 1), block 96.
                extern "C" __global__ void __launch_bounds__(96, 2)
                hs_x(const float2* a, unsigned*b, long n,
                     float eps) {
                }
                extern "C" __global__ void hs_y(double* g) {}
                """, out);
        KernelSignatures.Sig x = out.get("hs_x");
        assertEquals(96, x.maxThreads());
        assertEquals(96, x.block());
        assertEquals(List.of(new KernelSignatures.Param("float2", true, "a"), new KernelSignatures.Param("unsigned", true, "b"),
                new KernelSignatures.Param("long", false, "n"), new KernelSignatures.Param("float", false, "eps")),
                x.params());
        assertEquals(1024, out.get("hs_y").maxThreads());
        assertEquals(0, out.get("hs_y").block());
    }

    /** hs_topk_merge(const float* inVal, const int* inId, long rows, int splits, int k, float* outVal, int* outId). */
    private Object[] merge() {
        Device.Buffer f = dev.alloc(64, Device.Type.F32);
        Device.Buffer i = dev.alloc(64, Device.Type.I32);
        return new Object[] {f.ptr(), i.ptr(), 4L, 2, 4, f.at(32), i.at(32)};
    }

    @Test
    void aRightLaunchPasses() {
        KernelSignatures.check("hs_topk_merge", 1, 1, 1, 128, merge());
        Object[] a = merge();
        a[1] = null;  // a null pointer is a pointer
        KernelSignatures.check("hs_topk_merge", 1, 1, 1, 128, a);
    }

    @Test
    void refusesWhatAGpuWouldRefuseOrMisread() {
        assertRefused("no such kernel", () -> KernelSignatures.check("hs_nothing", 1, 1, 1, 128, merge()));
        Object[] intForLong = merge();
        intForLong[2] = 4;
        assertRefused("(rows) of hs_topk_merge: a Integer for long",
                () -> KernelSignatures.check("hs_topk_merge", 1, 1, 1, 128, intForLong));
        Object[] longForInt = merge();
        longForInt[3] = 2L;
        assertRefused("a Long for int", () -> KernelSignatures.check("hs_topk_merge", 1, 1, 1, 128, longForInt));
        Object[] wrongType = merge();
        wrongType[0] = wrongType[1];
        assertRefused("a I32 buffer for float*", () -> KernelSignatures.check("hs_topk_merge", 1, 1, 1, 128, wrongType));
        Object[] scalarForPointer = merge();
        scalarForPointer[5] = 1.0f;
        assertRefused("a Float for a pointer", () -> KernelSignatures.check("hs_topk_merge", 1, 1, 1, 128, scalarForPointer));
        Object[] short6 = java.util.Arrays.copyOf(merge(), 6);
        assertRefused("6 arguments for 7", () -> KernelSignatures.check("hs_topk_merge", 1, 1, 1, 128, short6));
        assertRefused("grid (0, 1, 1)", () -> KernelSignatures.check("hs_topk_merge", 0, 1, 1, 128, merge()));
        assertRefused("grid (1, 65536, 1)", () -> KernelSignatures.check("hs_topk_merge", 1, 65536, 1, 128, merge()));
        assertRefused("block 100", () -> KernelSignatures.check("hs_topk_merge", 1, 1, 1, 100, merge()));
        assertRefused("block 2048", () -> KernelSignatures.check("hs_topk_merge", 1, 1, 1, 2048, merge()));
        assertRefused("allows only 256", () -> KernelSignatures.check("hs_sgemm2", 1, 1, 1, 128, new Object[11]));
    }

    @Test
    void refusesMisalignedVectorPointers() {
        Device.Buffer a = dev.alloc(4096, Device.Type.F32);
        Device.Buffer i = dev.alloc(4096, Device.Type.I32);
        // hs_ov_topk(A, ldA, beta, U, n, hs, V, k, splitLen, splits, gate0, outVal, outId)
        Object[] ok = {a.at(8), 64, a.ptr(), a.ptr(), 1, 1, 64, 5, 64, 1, null, a.ptr(), i.ptr()};
        KernelSignatures.check("hs_ov_topk", 1, 1, 1, 256, ok);
        Object[] off = ok.clone();
        off[0] = a.at(6);
        assertRefused("(A) of hs_ov_topk: offset 6 elements, not 16-byte aligned",
                () -> KernelSignatures.check("hs_ov_topk", 1, 1, 1, 256, off));
        Object[] ld = ok.clone();
        ld[1] = 66;
        assertRefused("(ldA) of hs_ov_topk: 66, not a multiple of 4", () -> KernelSignatures.check("hs_ov_topk", 1, 1, 1, 256, ld));
        Object[] beyond = ok.clone();
        beyond[2] = a.at(5000);
        assertRefused("outside its buffer", () -> KernelSignatures.check("hs_ov_topk", 1, 1, 1, 256, beyond));
    }

    private static void assertRefused(String part, org.junit.jupiter.api.function.Executable launch) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, launch);
        assertTrue(e.getMessage().contains(part), "expected \"" + part + "\" in: " + e.getMessage());
    }
}
