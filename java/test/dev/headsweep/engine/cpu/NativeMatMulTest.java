package dev.headsweep.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The native product of block 0 and the value projections ({@link NativeMatMul}) against
 * {@link VectorMatMul}, bit for bit: odd row and column counts (masked tails), column offsets,
 * inner sizes from 1 to 768, biases, zeros, infinities and NaN.
 */
class NativeMatMulTest {
    @BeforeAll
    static void needsTheLibrary() {
        assumeTrue(NativeKernel.AVAILABLE, "SKIPPED: the native library is not available here ("
                + NativeKernel.STATUS + "); this would check NativeMatMul against VectorMatMul bit for bit");
        assumeTrue(VectorApi.PRESENT, "SKIPPED: no jdk.incubator.vector to compare with");
    }

    private static float[] fill(SplittableRandom r, int size, boolean special) {
        float[] a = new float[size];
        for (int q = 0; q < size; q++) {
            a[q] = (float) (r.nextGaussian() * 3);
            if (special && r.nextInt(50) == 0) {
                a[q] = switch (r.nextInt(4)) {
                    case 0 -> 0f;
                    case 1 -> Float.POSITIVE_INFINITY;
                    case 2 -> Float.NaN;
                    default -> -0f;
                };
            }
        }
        return a;
    }

    @Test
    void sameBitsAsTheVectorProduct() {
        SplittableRandom r = new SplittableRandom(42);
        int[][] shapes = { // n, k, ld, colOff, m
            {1, 1, 1, 0, 1}, {5, 3, 40, 7, 17}, {7, 17, 64, 0, 64}, {13, 64, 130, 1, 129},
            {6, 768, 2304, 768, 64}, {97, 768, 2304, 0, 2304}, {100, 31, 300, 33, 250}, {2, 5, 15, 0, 15},
            {11, 2, 96, 32, 63}, {12, 9, 70, 5, 65},
        };
        int checked = 0;
        for (int[] s : shapes) {
            for (boolean special : new boolean[] {false, true}) {
                int n = s[0], k = s[1], ld = s[2], colOff = s[3], m = s[4];
                float[] x = fill(r, n * k, special);
                float[] w = fill(r, k * ld, special);
                float[] bias = fill(r, n * m, false);
                float[] want = bias.clone();
                float[] got = bias.clone();
                VectorMatMul.xw(x, n, k, w, ld, colOff, m, want);
                NativeMatMul.xw(x, n, k, w, ld, colOff, m, got);
                for (int q = 0; q < want.length; q++) {
                    assertEquals(Float.floatToRawIntBits(want[q]), Float.floatToRawIntBits(got[q]),
                            "n " + n + " k " + k + " ld " + ld + " colOff " + colOff + " m " + m + " element " + q
                                    + ": " + want[q] + " vs " + got[q]);
                    checked++;
                }
            }
        }
        assertEquals(2 * (1 + 85 + 448 + 1677 + 384 + 97 * 2304 + 25000 + 30 + 693 + 780), checked);
    }

    @Test
    void shapesOutsideTheArraysAreRefused() {
        float[] a = new float[12];
        assertThrows(IllegalArgumentException.class, () -> NativeMatMul.xw(a, 4, 4, a, 3, 0, 3, a));
        assertThrows(IllegalArgumentException.class, () -> NativeMatMul.xw(a, 3, 4, a, 3, 1, 3, a));
    }
}
