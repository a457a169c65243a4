package dev.headsweep.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link SimBf16}, the plain-Java twin of kernels/gemm_bf16.cu: the bf16 rounding on ties, NaN,
 * ±inf and overflow, the packing, and the product on a small case against a direct loop.
 */
class SimBf16Test {
    private static int b(float f) {
        return SimBf16.bits(f);
    }

    @Test
    void bitsRoundToNearestEvenAndKeepNaN() {
        assertEquals(0x3f80, b(1f));
        assertEquals(0x3f80, b(1f + 0x1p-8f));         // tie, kept half even: down
        assertEquals(0x3f82, b(1f + 3 * 0x1p-8f));     // tie, kept half odd: up to even
        assertEquals(0x3f81, b(1f + 0x1p-8f + 0x1p-20f)); // above the tie: up
        assertEquals(0xbf80, b(-(1f + 0x1p-8f)));
        assertEquals(0xbf82, b(-(1f + 3 * 0x1p-8f)));
        assertEquals(0x0000, b(0f));
        assertEquals(0x8000, b(-0f));
        assertEquals(0x0000, b(Float.intBitsToFloat(0x00008000)));  // subnormal tie: down
        assertEquals(0x0002, b(Float.intBitsToFloat(0x00018000)));  // subnormal tie: up
        assertEquals(0x7f80, b(Float.POSITIVE_INFINITY));
        assertEquals(0xff80, b(Float.NEGATIVE_INFINITY));
        assertEquals(0x7f80, b(3.4e38f));                 // rounds up to +inf
        assertEquals(0xff80, b(-3.4e38f));
        assertEquals(0x7f80, b(Float.MAX_VALUE));
        assertEquals(0x7f7f, b(Float.intBitsToFloat(0x7f7f7fff)));  // the largest bf16 below inf
        assertEquals(0x7fc0, b(Float.NaN));
        assertEquals(0x7fc0, b(Float.intBitsToFloat(0x7f800001)));  // signaling NaN: quiet, not inf
        assertEquals(0xffc0, b(Float.intBitsToFloat(0xff800001)));
        assertEquals(0x7fd2, b(Float.intBitsToFloat(0x7f92ffff)));  // payload kept, no carry
    }

    @Test
    void bitsAgreeWithAPlainRoundingOfTheBitPattern() {
        Random rnd = new Random(5);
        for (int i = 0; i < 200_000; i++) {
            int u = i < 1000 ? (rnd.nextInt() & 0xffff0000) | 0x8000 : rnd.nextInt();  // ties first
            float f = Float.intBitsToFloat(u);
            int want;
            if (Float.isNaN(f)) {
                want = (u >>> 16) | 0x40;
            } else {
                int keep = u >>> 16, drop = u & 0xffff;
                want = drop > 0x8000 || (drop == 0x8000 && (keep & 1) == 1) ? keep + 1 : keep;
            }
            assertEquals(want, b(f), () -> Integer.toHexString(u));
        }
    }

    @Test
    void packPutsTheLowerKInTheLowHalf() {
        float[] x = {99f, 1f, -2f, 1f + 0x1p-8f, Float.NaN, 3.4e38f, 7f};
        int[] out = {-1, -1, -1, -1, -1};
        SimBf16.pack(x, 1, 3, out, 1);
        // 1 | -2; 1 + 2⁻⁸ (a tie: 1) | NaN; 3.4e38 (+inf) | 7; nothing outside the three words
        assertArrayEquals(new int[] {-1, 0xc0003f80, 0x7fc03f80, 0x40e07f80, -1}, out);
    }

    private static int packed(float lo, float hi) {
        return b(lo) | b(hi) << 16;
    }

    @Test
    void gemmMatchesADirectLoopOnRoundedOperands() {
        int M = 5, N = 7, K = 32, lda = 35, ldb = 17, ldc = 9, aOff = 3, bOff = 2, cOff = 4;
        Random rnd = new Random(11);
        float[] A = new float[aOff + M * lda];
        for (int i = 0; i < A.length; i++) {
            A[i] = (float) rnd.nextGaussian();
        }
        float[] Bf = new float[N * K];
        for (int i = 0; i < Bf.length; i++) {
            Bf[i] = (float) rnd.nextGaussian();
        }
        Bf[3] = 1f + 0x1p-8f;  // a tie in B as well
        A[aOff + lda + 5] = 1f + 3 * 0x1p-8f;
        int[] B = new int[bOff + N * ldb];
        for (int n = 0; n < N; n++) {
            SimBf16.pack(Bf, n * K, K / 2, B, bOff + n * ldb);
        }
        float[] C = new float[cOff + M * ldc + 3];
        java.util.Arrays.fill(C, -777f);
        SimBf16.gemm(A, aOff, lda, B, bOff, ldb, C, cOff, ldc, M, N, K);
        for (int i = 0; i < C.length; i++) {
            int r = i - cOff;
            int m = Math.floorDiv(r, ldc), n = Math.floorMod(r, ldc);
            if (r < 0 || m >= M || n >= N) {
                assertEquals(-777f, C[i], "written outside C at " + i);
                continue;
            }
            double s = 0, a = 0;
            for (int k = 0; k < K; k++) {
                double p = (double) Float.intBitsToFloat(b(A[aOff + m * lda + k]) << 16)
                        * (double) Float.intBitsToFloat(b(Bf[n * K + k]) << 16);
                s += p;
                a += Math.abs(p);
            }
            assertEquals((float) s, C[i], "C[" + m + "][" + n + "]");
            assertTrue(Math.abs(C[i] - s) <= 0x1p-13 * a + 1e-30);
        }
        // the rounding of A on load: 1 + 3·2⁻⁸ counts as 1 + 2⁻⁶, B's 1 + 2⁻⁸ as 1
        float[] a1 = new float[16];
        a1[0] = 1f + 3 * 0x1p-8f;
        int[] b1 = new int[8];
        b1[0] = packed(1f + 0x1p-8f, 0f);
        float[] c1 = new float[1];
        SimBf16.gemm(a1, 0, 16, b1, 0, 8, c1, 0, 1, 1, 1, 16);
        assertEquals(1f + 0x1p-6f, c1[0]);
    }

    @Test
    void gemmRefusesKOffTheMmaStep() {
        assertThrows(IllegalArgumentException.class,
                () -> SimBf16.gemm(new float[8], 0, 8, new int[4], 0, 4, new float[1], 0, 1, 1, 1, 8));
    }
}
