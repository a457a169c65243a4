package dev.headsweep.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Both implementations against the plain reference on small, awkward sizes. */
class FactoredTopKTest {

    static Stream<Arguments> impls() {
        List<Arguments> out = new ArrayList<>();
        out.add(Arguments.of("plain", (Supplier<FactoredTopK>) FactoredTopK::plain));
        // Surefire runs with --add-modules=jdk.incubator.vector, so the vector path must be tested.
        out.add(Arguments.of("vector", (Supplier<FactoredTopK>) FactoredTopK::vector));
        // The native kernels where this build and CPU have them (NativeKernelTest says when they are not).
        if (FactoredTopK.nativeAvailable()) {
            out.add(Arguments.of("native", (Supplier<FactoredTopK>) () -> FactoredTopK.nativeKernel(false)));
        }
        if (FactoredTopK.nativeBf16Available()) {
            out.add(Arguments.of("native-bf16", (Supplier<FactoredTopK>) () -> FactoredTopK.nativeKernel(true)));
            out.add(Arguments.of("native-2pass", (Supplier<FactoredTopK>) FactoredTopK::nativeTwoPass));
        }
        return out.stream();
    }

    /** One random problem. */
    static final class Case {
        final int V, d, r, n, k;
        final float[] E, beta, M, U;

        Case(int V, int d, int r, int n, int k, long seed, boolean integer) {
            this.V = V;
            this.d = d;
            this.r = r;
            this.n = n;
            this.k = k;
            Random rnd = new Random(seed);
            E = fill(V * d, rnd, integer, 2);
            beta = fill(V, rnd, integer, 3);
            M = fill(r * d, rnd, integer, 2);
            U = fill(n * r, rnd, integer, 2);
        }

        private static float[] fill(int size, Random rnd, boolean integer, int range) {
            float[] a = new float[size];
            for (int q = 0; q < size; q++) {
                a[q] = integer ? rnd.nextInt(2 * range + 1) - range : rnd.nextFloat() * 2f - 1f;
            }
            return a;
        }

        @Override
        public String toString() {
            return "V=" + V + " d=" + d + " r=" + r + " n=" + n + " k=" + k;
        }
    }

    /** Runs the implementation and checks every row against the reference; returns the outputs. */
    static void runAndCheck(FactoredTopK impl, Case c, double relTol) {
        FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
        int[] ids = new int[c.n * c.k];
        float[] vals = new float[c.n * c.k];
        impl.run(p, c.M, c.r, c.U, c.n, c.k, ids, vals);
        float[] logits = ReferenceTopK.logits(c.E, c.V, c.d, c.beta, c.M, c.r, c.U, c.n);
        String problem = TopKAgreement.checkAll(logits, c.n, c.V, c.k, ids, vals, relTol);
        assertNull(problem, () -> impl.name() + " " + c + ": " + problem);
    }

    /** The size grid: r × d × n all combinations, V and k cycling through awkward values. */
    static List<Case> grid(boolean integer, long seed) {
        int[] rs = {1, 7, 64};
        int[] ds = {5, 33, 96};
        int[] ns = {1, 3, 17, 70};
        int[] Vs = {613, 50, 1, 300, 257, 37};
        List<Case> cases = new ArrayList<>();
        int idx = 0;
        for (int r : rs) {
            for (int d : ds) {
                for (int n : ns) {
                    int V = Vs[idx % Vs.length];
                    int[] ks = {1, 5, 260, V}; // 260 > the tile (256) where V allows
                    int k = Math.min(ks[(idx / Vs.length + idx) % ks.length], V);
                    cases.add(new Case(V, d, r, n, k, seed + idx, integer));
                    idx++;
                }
            }
        }
        return cases;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("impls")
    void randomFloatsAgreeWithinNearTieRule(String name, Supplier<FactoredTopK> impl) {
        FactoredTopK f = impl.get();
        assertEquals(name, f.name());
        for (Case c : grid(false, 1000)) {
            runAndCheck(f, c, 1e-5);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("impls")
    void integerInputsAreExactIncludingTies(String name, Supplier<FactoredTopK> impl) {
        FactoredTopK f = impl.get();
        for (Case c : grid(true, 2000)) {
            runAndCheck(f, c, 0);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("impls")
    void kEqualsVAndKAboveTile(String name, Supplier<FactoredTopK> impl) {
        FactoredTopK f = impl.get();
        runAndCheck(f, new Case(700, 33, 7, 5, 700, 5, true), 0);
        runAndCheck(f, new Case(700, 33, 64, 3, 300, 6, true), 0);
        runAndCheck(f, new Case(513, 96, 64, 17, 513, 7, false), 1e-5);
        runAndCheck(f, new Case(1031, 40, 16, 130, 5, 8, false), 1e-5); // two full panels + rest
        runAndCheck(f, new Case(1100, 17, 7, 3, 600, 10, true), 0); // k above both tiles
        runAndCheck(f, new Case(50, 5, 7, 1100, 7, 11, true), 0); // n above a stage-2 row block
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("impls")
    void allEqualLogitsGiveLowestIds(String name, Supplier<FactoredTopK> impl) {
        FactoredTopK f = impl.get();
        for (int k : new int[] {1, 5, 300, 601}) {
            Case c = new Case(601, 9, 7, 17, k, 9, true);
            Arrays.fill(c.E, 0f);
            Arrays.fill(c.beta, 0.25f);
            int[] ids = new int[c.n * k];
            float[] vals = new float[c.n * k];
            f.run(FactoredTopK.prepare(c.E, c.V, c.d, c.beta), c.M, c.r, c.U, c.n, k, ids, vals);
            for (int i = 0; i < c.n; i++) {
                for (int q = 0; q < k; q++) {
                    assertEquals(q, ids[i * k + q], "k=" + k + " row " + i);
                    assertEquals(0.25f, vals[i * k + q]);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("impls")
    void infinitiesAndNaNRankAsSpecified(String name, Supplier<FactoredTopK> impl) {
        FactoredTopK f = impl.get();
        Random rnd = new Random(21);
        for (int rep = 0; rep < 6; rep++) {
            Case c = new Case(300 + rep * 37, 33, rep % 2 == 0 ? 7 : 64, 17, new int[] {1, 5, 40}[rep % 3],
                    30 + rep, true);
            for (int t = 0; t < c.V; t++) {
                int x = rnd.nextInt(8);
                if (x == 0) {
                    c.beta[t] = Float.NEGATIVE_INFINITY;
                } else if (x == 1) {
                    c.beta[t] = Float.NaN;
                } else if (x == 2 && rep >= 3) {
                    c.beta[t] = Float.POSITIVE_INFINITY;
                }
            }
            if (rep == 5) {
                c.E[7 * c.d + 3] = Float.NaN; // token 7 is NaN in every row
                c.E[9 * c.d + 1] = Float.POSITIVE_INFINITY; // token 9: ±inf or NaN per row
            }
            runAndCheck(f, c, 0);
        }
        // Mostly -inf and NaN: the k-th value itself is -inf or NaN.
        Case c = new Case(290, 5, 7, 3, 20, 40, true);
        Arrays.fill(c.beta, Float.NaN);
        for (int t = 0; t < c.V; t += 31) {
            c.beta[t] = Float.NEGATIVE_INFINITY;
        }
        c.beta[100] = 1f;
        runAndCheck(f, c, 0);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("impls")
    void instanceIsReusableAcrossShapes(String name, Supplier<FactoredTopK> impl) {
        FactoredTopK f = impl.get();
        runAndCheck(f, new Case(400, 96, 64, 70, 5, 50, false), 1e-5);
        runAndCheck(f, new Case(50, 5, 1, 1, 3, 51, true), 0);
        runAndCheck(f, new Case(400, 96, 64, 70, 5, 52, true), 0);
    }

    /**
     * The run from a precomputed A (the cache's path, stage 1 skipped) and the run that hands its A
     * tiles to a sink give the run from M's top-k: identical ids, and values within fp32 rounding
     * (bitwise equal when A comes from the same implementation); and both agree with the reference.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("impls")
    void precomputedAGivesTheSameTopK(String name, Supplier<FactoredTopK> impl) {
        FactoredTopK f = impl.get();
        List<Case> cases = new ArrayList<>(grid(false, 3000));
        cases.add(new Case(1031, 40, 16, 130, 5, 8, false));
        cases.add(new Case(700, 33, 64, 3, 300, 6, true));
        cases.add(new Case(1100, 17, 7, 3, 600, 10, true));
        for (Case c : cases) {
            FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
            FactoredTopK.Prepared bias = FactoredTopK.prepareBias(c.V, c.d, c.beta);
            int nk = c.n * c.k;
            int[] ids = new int[nk];
            float[] vals = new float[nk];
            f.run(p, c.M, c.r, c.U, c.n, c.k, ids, vals);

            // The fused run with a sink: same top-k, and the tiles cover A exactly once, in order.
            float[] fromSink = new float[c.V * c.r];
            int[] next = {0};
            int[] sinkIds = new int[nk];
            float[] sinkVals = new float[nk];
            f.run(p, c.M, c.r, c.U, c.n, c.k, sinkIds, sinkVals, (t0, len, src, ld) -> {
                assertEquals(next[0], t0, c + ": tiles in order");
                next[0] += len;
                for (int q = 0; q < len; q++) {
                    System.arraycopy(src, q * ld, fromSink, (t0 + q) * c.r, c.r);
                }
            });
            assertEquals(c.V, next[0], c + ": tiles cover V");
            assertTrue(Arrays.equals(ids, sinkIds), c + ": sink run ids");
            assertTrue(Arrays.equals(vals, sinkVals), c + ": sink run values");

            float[] a = f.computeA(p, c.M, c.r);
            assertTrue(Arrays.equals(a, fromSink), c + ": computeA equals the sink's tiles");
            for (FactoredTopK.Prepared prep : List.of(p, bias)) {
                int[] cIds = new int[nk];
                float[] cVals = new float[nk];
                f.run(prep, FactoredTopK.source(a, c.r), c.r, c.U, c.n, c.k, cIds, cVals);
                assertTrue(Arrays.equals(ids, cIds), () -> name + " " + c + ": cached ids differ");
                assertTrue(Arrays.equals(vals, cVals), () -> name + " " + c + ": cached values differ");
            }
            float[] logits = ReferenceTopK.logits(c.E, c.V, c.d, c.beta, c.M, c.r, c.U, c.n);
            int[] cIds = new int[nk];
            float[] cVals = new float[nk];
            f.run(bias, FactoredTopK.source(a, c.r), c.r, c.U, c.n, c.k, cIds, cVals);
            String problem = TopKAgreement.checkAll(logits, c.n, c.V, c.k, cIds, cVals, 1e-5);
            assertNull(problem, () -> name + " cached " + c + ": " + problem);
        }
    }

    /** A from one implementation read by the other: ids identical, values within fp32 rounding. */
    @Test
    void precomputedAFromTheOtherImplementation() {
        for (Case c : List.of(new Case(2000, 96, 64, 70, 5, 90, false), new Case(999, 64, 64, 100, 10, 77, true))) {
            FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
            FactoredTopK.Prepared bias = FactoredTopK.prepareBias(c.V, c.d, c.beta);
            float[] fromVector = FactoredTopK.vector().computeA(p, c.M, c.r);
            float[] fromPlain = FactoredTopK.plain().computeA(p, c.M, c.r);
            int nk = c.n * c.k;
            for (FactoredTopK f : List.of(FactoredTopK.plain(), FactoredTopK.vector())) {
                int[] ids = new int[nk];
                float[] vals = new float[nk];
                f.run(p, c.M, c.r, c.U, c.n, c.k, ids, vals);
                for (float[] a : List.of(fromVector, fromPlain)) {
                    int[] cIds = new int[nk];
                    float[] cVals = new float[nk];
                    f.run(bias, FactoredTopK.source(a, c.r), c.r, c.U, c.n, c.k, cIds, cVals);
                    assertTrue(Arrays.equals(ids, cIds), f.name() + " " + c);
                    for (int q = 0; q < nk; q++) {
                        assertEquals(vals[q], cVals[q], 1e-5f * Math.max(1f, Math.abs(vals[q])), f.name() + " " + c);
                    }
                }
            }
        }
    }

    @Test
    void biasOnlyPreparationServesOnlyPrecomputedRuns() {
        Case c = new Case(50, 8, 4, 3, 2, 4, true);
        FactoredTopK.Prepared bias = FactoredTopK.prepareBias(c.V, c.d, c.beta);
        assertTrue(!bias.hasEmbeddings());
        FactoredTopK f = new FactoredTopK();
        assertThrows(IllegalArgumentException.class,
                () -> f.run(bias, c.M, c.r, c.U, c.n, c.k, new int[6], new float[6]));
        assertThrows(IllegalArgumentException.class, () -> f.computeA(bias, c.M, c.r));
        assertThrows(IllegalArgumentException.class, () -> FactoredTopK.prepareBias(c.V, c.d, new float[3]));
    }

    @Test
    void bothImplementationsGiveIdenticalResultsOnIntegers() {
        Case c = new Case(999, 64, 64, 100, 10, 77, true);
        FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
        int[] i1 = new int[c.n * c.k];
        int[] i2 = new int[c.n * c.k];
        float[] v1 = new float[c.n * c.k];
        float[] v2 = new float[c.n * c.k];
        FactoredTopK.plain().run(p, c.M, c.r, c.U, c.n, c.k, i1, v1);
        FactoredTopK.vector().run(p, c.M, c.r, c.U, c.n, c.k, i2, v2);
        assertTrue(Arrays.equals(i1, i2));
        assertTrue(Arrays.equals(v1, v2));
    }

    @Test
    void validatesArguments() {
        Case c = new Case(10, 4, 2, 3, 2, 1, true);
        FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
        FactoredTopK f = new FactoredTopK();
        int[] ids = new int[c.n * 11];
        float[] vals = new float[c.n * 11];
        assertThrows(IllegalArgumentException.class, () -> f.run(p, c.M, c.r, c.U, c.n, 11, ids, vals));
        assertThrows(IllegalArgumentException.class, () -> f.run(p, c.M, c.r, c.U, c.n, 0, ids, vals));
        assertThrows(IllegalArgumentException.class, () -> f.run(p, c.M, 3, c.U, c.n, 2, ids, vals));
        assertThrows(IllegalArgumentException.class,
                () -> f.run(p, c.M, c.r, c.U, c.n, 2, new int[5], vals));
        assertThrows(IllegalArgumentException.class, () -> FactoredTopK.prepare(c.E, 11, 4, c.beta));
        f.run(p, c.M, c.r, c.U, 0, 2, new int[0], new float[0]); // n = 0: nothing to do
        assertEquals(10, p.vocabSize());
        assertEquals(4, p.modelDim());
    }

    @Test
    void nullBetaMeansZero() {
        Case c = new Case(77, 6, 3, 4, 3, 3, true);
        FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, null);
        int[] ids = new int[c.n * c.k];
        float[] vals = new float[c.n * c.k];
        new FactoredTopK().run(p, c.M, c.r, c.U, c.n, c.k, ids, vals);
        float[] logits = ReferenceTopK.logits(c.E, c.V, c.d, null, c.M, c.r, c.U, c.n);
        assertNull(TopKAgreement.checkAll(logits, c.n, c.V, c.k, ids, vals, 0));
    }

    @Test
    void vectorIsTheDefaultWhenTheModuleIsPresentAndNoNativeKernel() {
        assertTrue(FactoredTopK.vectorAvailable());
        String expected = FactoredTopK.nativeBf16Available() ? "native-2pass"
                : FactoredTopK.nativeAvailable() ? "native" : "vector";
        assertEquals(expected, FactoredTopK.implementation());
        assertEquals(expected, new FactoredTopK().name());
        assertEquals("vector", FactoredTopK.java().name());
    }
}
