package dev.headsweep.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.HeadTopK;
import dev.headsweep.engine.TargetsInTopK;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The targets' rank test ({@link TargetRankCheck}) against the whole top-k of the same kernel: for
 * every kernel, A from stage 1 or from a source, float and integer inputs (integers give many
 * exact ties at the k-th place), targets placed at ranks 1, k, k + 1 and k + 2, random ones,
 * repeated ones, ids outside the vocabulary, rows without targets and rows whose logits are all NaN.
 * Small screening tiles make every phase run on a small vocabulary.
 */
class TargetRankCheckTest {
    private static final int TILE = 16;
    private static final int[] PHASES = {1, 4, 12};

    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> impls() {
        return FactoredTopKTest.impls();
    }

    /** Targets per row: some at and around the k-th place of the whole top-(k+2), random ones, bad ones. */
    private static int[][] targets(FactoredTopK.Prepared p, FactoredTopK kernel, FactoredTopKTest.Case c, long seed) {
        int kk = c.k + 2;
        int[] ids = new int[c.n * kk];
        float[] vals = new float[c.n * kk];
        kernel.run(p, c.M, c.r, c.U, c.n, kk, ids, vals);
        Random rnd = new Random(seed);
        int[][] t = new int[c.n][];
        for (int i = 0; i < c.n; i++) {
            int[] top = Arrays.copyOfRange(ids, i * kk, i * kk + kk);
            t[i] = switch (i % 7) {
                case 0 -> new int[] {top[0]};                                    // a hit
                case 1 -> new int[] {top[c.k - 1], rnd.nextInt(c.V)};            // a hit at the k-th place
                case 2 -> new int[] {top[c.k], top[c.k + 1]};                   // just outside
                case 3 -> new int[] {rnd.nextInt(c.V), rnd.nextInt(c.V), -1};    // most likely far out
                case 4 -> new int[0];                                             // nothing to test
                case 5 -> new int[] {c.V, c.V + 7, -3};                           // outside the vocabulary
                default -> new int[] {top[c.k], top[c.k], rnd.nextInt(c.V)};      // repeated
            };
        }
        return t;
    }

    private static boolean[][] whole(FactoredTopK kernel, FactoredTopK.Prepared p, FactoredTopKTest.Case c, int[][] t) {
        int[] ids = new int[c.n * c.k];
        float[] vals = new float[c.n * c.k];
        kernel.run(p, c.M, c.r, c.U, c.n, c.k, ids, vals);
        HeadTopK top = new HeadTopK(List.of(new HeadId(0, 0)), c.n, c.k, new int[][] {ids}, new float[][] {vals});
        return TargetsInTopK.lookUp(top, t)[0];
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("impls")
    void screenedAnswersEqualTheWholeTopK(String name, Supplier<FactoredTopK> impl) {
        long[] rowsIn = new long[2]; // rows the screens dropped; rows with random targets
        for (boolean integer : new boolean[] {false, true}) {
            for (int[] shape : new int[][] {{700, 24, 16, 45, 5}, {333, 20, 64, 17, 1}, {1000, 16, 8, 30, 3}}) {
                FactoredTopKTest.Case c = new FactoredTopKTest.Case(shape[0], shape[1], shape[2], shape[3], shape[4],
                        31L * shape[0] + (integer ? 1 : 0), integer);
                if (shape[0] == 1000) { // one row all NaN: no screen may drop it, and NaNs rank by id
                    Arrays.fill(c.U, 2 * c.r, 3 * c.r, Float.NaN);
                }
                FactoredTopK kernel = impl.get();
                // beside each kernel, once the plain one as the one-pass kernel of the cheap runs
                FactoredTopK onePass = shape[0] == 700 ? FactoredTopK.plain() : null;
                FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
                int[][] t = targets(p, kernel, c, c.V);
                boolean[][] want = whole(kernel, p, c, t);
                String what = name + " " + c + (integer ? " integer" : " float");

                long[] stats = new long[2 * (PHASES.length + 2)];
                TargetRankCheck cold = new TargetRankCheck(p, c.k, t, true, TILE, PHASES);
                assertEquals(Arrays.stream(PHASES).filter(m -> m * TILE * 2 <= c.V).count(), cold.phases(), what);
                boolean[][] got = cold.head(kernel, onePass, c.M, null, c.r, c.U, c.n, stats);
                for (int i = 0; i < c.n; i++) {
                    assertArrayEquals(want[i], got[i], what + ", stage 1, row " + i + " targets " + Arrays.toString(t[i]));
                }
                assertTrue(stats[1 + cold.phases()] < stats[0], what + ": the screens dropped no row");

                float[] a = kernel.computeA(p, c.M, c.r);
                FactoredTopK.Prepared bias = FactoredTopK.prepareBias(c.V, c.d, c.beta);
                TargetRankCheck cached = new TargetRankCheck(bias, c.k, t, false, TILE, PHASES);
                got = cached.head(kernel, onePass, null, FactoredTopK.source(a, c.r), c.r, c.U, c.n, null);
                for (int i = 0; i < c.n; i++) {
                    assertArrayEquals(want[i], got[i], what + ", A from a source, row " + i);
                }
                rowsIn[0] += stats[0] - stats[1 + cold.phases()];
                rowsIn[1] += (c.n + 3) / 7; // rows of random targets (i % 7 == 3)
            }
        }
        // rows whose targets are random ids rank them far out: the screens must drop most of them
        assertTrue(rowsIn[0] >= rowsIn[1] / 2, "the screens dropped " + rowsIn[0] + " rows, of "
                + rowsIn[1] + " with random targets");
    }

    /** Targets that cover much of the vocabulary (as in the vocab task) take their columns from the whole A. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("impls")
    void manyTargetsAsInTheVocabTask(String name, Supplier<FactoredTopK> impl) {
        FactoredTopKTest.Case c = new FactoredTopKTest.Case(240, 12, 16, 90, 3, 17, true);
        FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
        FactoredTopK kernel = impl.get();
        int[][] t = new int[c.n][];
        int[] ids = new int[c.n * c.k];
        float[] vals = new float[c.n * c.k];
        kernel.run(p, c.M, c.r, c.U, c.n, c.k, ids, vals);
        for (int i = 0; i < c.n; i++) {
            t[i] = i % 3 == 0 ? new int[] {i, ids[i * c.k + c.k - 1]} : new int[] {i, (2 * i + 1) % c.V};
        }
        boolean[][] want = whole(kernel, p, c, t);
        boolean[][] got = new TargetRankCheck(p, c.k, t, true, TILE, PHASES).head(kernel, null, c.M, null, c.r, c.U, c.n, null);
        for (int i = 0; i < c.n; i++) {
            assertArrayEquals(want[i], got[i], name + " row " + i);
        }
    }

    @Test
    void screensLargerThanHalfTheVocabularyAreLeftOut() {
        FactoredTopKTest.Case c = new FactoredTopKTest.Case(100, 8, 4, 3, 2, 5, false);
        FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
        int[][] t = {{1}, {2}, {3}};
        assertEquals(1, new TargetRankCheck(p, c.k, t, true, 16, 3, 4).phases()); // 48 <= 50 < 64
        assertEquals(0, new TargetRankCheck(p, c.k, t, true, 512, 2, 16).phases());
        assertEquals(1, new TargetRankCheck(p, 17, t, true, 16, 1, 2).phases()); // 16 tokens < k = 17 <= 32
        boolean[][] got = new TargetRankCheck(p, c.k, t, true, 512, 2, 16)
                .head(FactoredTopK.plain(), null, c.M, null, c.r, c.U, c.n, null);
        assertArrayEquals(whole(FactoredTopK.plain(), p, c, t), got);
    }

    @Test
    void noRowsOrNoTargetsCostNothing() {
        FactoredTopKTest.Case c = new FactoredTopKTest.Case(300, 8, 4, 2, 3, 6, false);
        FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
        int[][] none = {{}, {-1, 300}};
        long[] stats = new long[8];
        boolean[][] got = new TargetRankCheck(p, c.k, none, true, TILE, 1, 4)
                .head(FactoredTopK.plain(), null, c.M, null, c.r, c.U, c.n, stats);
        assertEquals(0, got[0].length);
        assertArrayEquals(new boolean[] {false, false}, got[1]);
        assertEquals(0, stats[0]);
    }
}
