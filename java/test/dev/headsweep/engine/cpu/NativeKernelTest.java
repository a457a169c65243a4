package dev.headsweep.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The native kernels ({@code native/}, through {@link NativeKernel}) against the Java kernels, bit
 * for bit: ids and values of the top-k, and the A tiles of stage 1 (computeA, sink), for the fp32
 * variant, the bf16-gated one and the two-pass one, on random, tied, NaN/inf and adversarial inputs. Skipped, saying
 * why, where the library is not in the build or the CPU lacks AVX-512 (the Java kernels then run).
 */
class NativeKernelTest {

    @BeforeAll
    static void needsTheLibrary() {
        System.out.println("native kernels: " + FactoredTopK.nativeStatus());
        assumeTrue(FactoredTopK.nativeAvailable(), "SKIPPED: the native library is not available here ("
                + FactoredTopK.nativeStatus() + "); only the Java kernels were tested");
    }

    /** The variants to test: fp32, and bf16 and two-pass where the CPU has AVX512_BF16. */
    private static List<FactoredTopK> natives() {
        List<FactoredTopK> out = new ArrayList<>();
        out.add(FactoredTopK.nativeKernel(false));
        if (FactoredTopK.nativeBf16Available()) {
            out.add(FactoredTopK.nativeKernel(true));
            out.add(FactoredTopK.nativeTwoPass());
        } else {
            System.out.println("native bf16 variant not tested: this CPU lacks AVX512_BF16 ("
                    + FactoredTopK.nativeStatus() + ")");
        }
        return out;
    }

    /** Equal as floats bit for bit (NaN payloads aside: every NaN is the same NaN). */
    private static void assertSameBits(float[] want, float[] got, String what) {
        for (int q = 0; q < want.length; q++) {
            if (Float.floatToIntBits(want[q]) != Float.floatToIntBits(got[q])) {
                fail(what + ": entry " + q + " is " + got[q] + " (0x" + Integer.toHexString(Float.floatToRawIntBits(got[q]))
                        + "), want " + want[q] + " (0x" + Integer.toHexString(Float.floatToRawIntBits(want[q])) + ")");
            }
        }
    }

    private static void assertSameTopK(int[] wantIds, float[] wantVals, int[] ids, float[] vals, String what) {
        if (!Arrays.equals(wantIds, ids)) {
            for (int q = 0; q < ids.length; q++) {
                if (wantIds[q] != ids[q]) {
                    fail(what + ": ids differ first at " + q + ": " + ids[q] + " (" + vals[q] + "), want "
                            + wantIds[q] + " (" + wantVals[q] + ")");
                }
            }
        }
        assertSameBits(wantVals, vals, what + " values");
    }

    /**
     * Runs the case on the vector kernel (the reference bits; the plain kernel gives the same, as
     * FactoredTopKTest checks) and on every native variant: from M, from M with a sink, from the
     * cached A; top-k and A must match bit for bit.
     */
    static void compare(FactoredTopKTest.Case c) {
        FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
        FactoredTopK.Prepared bias = FactoredTopK.prepareBias(c.V, c.d, c.beta);
        FactoredTopK ref = FactoredTopK.vector();
        int nk = c.n * c.k;
        int[] wantIds = new int[nk];
        float[] wantVals = new float[nk];
        ref.run(p, c.M, c.r, c.U, c.n, c.k, wantIds, wantVals);
        float[] wantA = ref.computeA(p, c.M, c.r);
        for (FactoredTopK f : natives()) {
            String what = f.name() + " " + c;
            int[] ids = new int[nk];
            float[] vals = new float[nk];
            f.run(p, c.M, c.r, c.U, c.n, c.k, ids, vals);
            assertSameTopK(wantIds, wantVals, ids, vals, what + " from M");

            float[] sinkA = new float[c.V * c.r];
            int[] next = {0};
            int[] sIds = new int[nk];
            float[] sVals = new float[nk];
            f.run(p, c.M, c.r, c.U, c.n, c.k, sIds, sVals, (t0, len, src, ld) -> {
                assertEquals(next[0], t0, what + ": tiles in order");
                next[0] += len;
                for (int q = 0; q < len; q++) {
                    System.arraycopy(src, q * ld, sinkA, (t0 + q) * c.r, c.r);
                }
            });
            assertEquals(c.V, next[0], what + ": the sink's tiles cover V");
            assertSameTopK(wantIds, wantVals, sIds, sVals, what + " with a sink");
            assertSameBits(wantA, sinkA, what + " A through the sink");
            assertSameBits(wantA, f.computeA(p, c.M, c.r), what + " computeA");

            for (FactoredTopK.Prepared prep : List.of(p, bias)) {
                int[] cIds = new int[nk];
                float[] cVals = new float[nk];
                f.run(prep, FactoredTopK.source(wantA, c.r), c.r, c.U, c.n, c.k, cIds, cVals);
                assertSameTopK(wantIds, wantVals, cIds, cVals, what + " from the cached A");
            }
            // source and sink at once (a cached run that copies its A on)
            float[] copied = new float[c.V * c.r];
            int[] cIds = new int[nk];
            float[] cVals = new float[nk];
            f.kernel().run(bias, null, FactoredTopK.source(wantA, c.r), c.r, c.U, c.n, c.k, cIds, cVals,
                    (t0, len, src, ld) -> {
                        for (int q = 0; q < len; q++) {
                            System.arraycopy(src, q * ld, copied, (t0 + q) * c.r, c.r);
                        }
                    });
            assertSameTopK(wantIds, wantVals, cIds, cVals, what + " from the cached A with a sink");
            assertSameBits(wantA, copied, what + " A from source to sink");
        }
    }

    @Test
    void randomFloatsBitForBit() {
        for (FactoredTopKTest.Case c : FactoredTopKTest.grid(false, 5000)) {
            compare(c);
        }
    }

    @Test
    void integersAndTiesBitForBit() {
        for (FactoredTopKTest.Case c : FactoredTopKTest.grid(true, 6000)) {
            compare(c);
        }
    }

    /** k = 1..40 on a shape with n, V and d off every blocking (16-row vectors, 4-token blocks, tiles). */
    @Test
    void everyKUpTo40() {
        for (int k = 1; k <= 40; k++) {
            compare(new FactoredTopKTest.Case(1201 + 3 * k, 37, k % 3 == 0 ? 64 : 23, 1 + 7 * k, k, 100 + k, k % 4 == 0));
        }
    }

    @Test
    void gpt2ShapedHeadSlices() {
        // r = 64, d = 768 as GPT-2 small, a slice of the vocabulary that is not a multiple of the tiles
        compare(new FactoredTopKTest.Case(2 * NativeKernel.TILE + 77, 768, 64, 388, 5, 7, false));
        compare(new FactoredTopKTest.Case(NativeKernel.TILE * 3, 96, 64, 65, 40, 8, false));
        compare(new FactoredTopKTest.Case(7, 3, 64, 1, 7, 9, false)); // V below one token block... and k = V
    }

    /** A head size beyond the native scratch's design runs on the Java kernel inside the native one: same answers. */
    @Test
    void headSizeBeyondTheNativeLimitStillWorks() {
        compare(new FactoredTopKTest.Case(41, 3, NativeKernel.MAX_R + 3, 2, 3, 12, true));
    }

    /** Duplicate tokens (equal rows of E, so equal logits) scattered over the vocabulary: ties by lower id. */
    @Test
    void duplicateColumnsOfETieByLowerId() {
        Random rnd = new Random(3);
        for (int rep = 0; rep < 4; rep++) {
            FactoredTopKTest.Case c = new FactoredTopKTest.Case(1500 + rep * 111, 48, 64, 50, 1 + rep * 12, 70 + rep, rep % 2 == 1);
            for (int t = 1; t < c.V; t++) {
                if (rnd.nextInt(3) == 0) {
                    int src = rnd.nextInt(t);
                    System.arraycopy(c.E, src * c.d, c.E, t * c.d, c.d);
                    c.beta[t] = c.beta[src];
                }
            }
            compare(c);
        }
    }

    @Test
    void nanAndInfinityInputs() {
        Random rnd = new Random(5);
        for (int rep = 0; rep < 6; rep++) {
            FactoredTopKTest.Case c = new FactoredTopKTest.Case(900 + rep * 37, 33, rep % 2 == 0 ? 7 : 64, 40,
                    new int[] {1, 5, 40}[rep % 3], 300 + rep, rep % 2 == 0);
            for (int t = 0; t < c.V; t++) {
                int x = rnd.nextInt(10);
                if (x == 0) {
                    c.beta[t] = Float.NEGATIVE_INFINITY;
                } else if (x == 1 && rep >= 2) {
                    c.beta[t] = Float.NaN;
                } else if (x == 2 && rep >= 3) {
                    c.beta[t] = Float.POSITIVE_INFINITY;
                } else if (x == 3) {
                    c.beta[t] = 3e38f; // beyond the bf16 gate's range: always re-scored
                }
            }
            if (rep >= 4) {
                c.E[7 * c.d + 3] = Float.NaN;
                c.E[9 * c.d + 1] = Float.POSITIVE_INFINITY;
                c.E[11 * c.d + 2] = 1e30f; // huge: its A overflows to ±inf in some rows
                c.U[2 * c.r + 1] = Float.NaN; // a NaN keyword row
                c.U[3 * c.r] = Float.NEGATIVE_INFINITY;
                c.U[4 * c.r] = 3e38f;
                c.U[5 * c.r + 1] = 1e-40f; // subnormal
            }
            compare(c);
        }
    }

    /**
     * Adversarial inputs for the bf16 gate: every logit of a row lies within a few fp32 ulps to a few
     * margins of the others (embeddings = one shared vector plus tiny, structured perturbations),
     * so bf16 cannot order them and the exact re-scoring must decide every top-k member. Any
     * candidate that the gate dropped wrongly would change the top-k.
     */
    @ParameterizedTest(name = "spread 2^-{0}")
    @ValueSource(ints = {6, 9, 12, 16, 20, 24})
    void marginGateNeverDropsATopKMember(int spreadExp) {
        Random rnd = new Random(spreadExp);
        int V = 1500, d = 64, r = 64, n = 37;
        for (int k : new int[] {1, 5, 17, 40}) {
            FactoredTopKTest.Case c = new FactoredTopKTest.Case(V, d, r, n, k, spreadExp * 100 + k, false);
            float spread = (float) Math.scalb(1.0, -spreadExp);
            float[] base = new float[d];
            for (int q = 0; q < d; q++) {
                base[q] = rnd.nextFloat() * 2 - 1;
            }
            for (int t = 0; t < V; t++) {
                for (int q = 0; q < d; q++) {
                    // quantized perturbations: many exact ties and near-ties
                    c.E[t * d + q] = base[q] * (1 + spread * (rnd.nextInt(5) - 2));
                }
                c.beta[t] = rnd.nextInt(3) == 0 ? 0f : spread * (rnd.nextInt(7) - 3);
            }
            // M close to the identity so that A ~ E; U rows pointing along the shared vector
            Arrays.fill(c.M, 0f);
            for (int j = 0; j < r; j++) {
                c.M[j * d + j] = 1f + spread * (j % 3);
            }
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < r; j++) {
                    c.U[i * r + j] = base[j] * (i % 5 == 0 ? -1 : 1) + (i % 2) * spread * rnd.nextFloat();
                }
            }
            compare(c);
        }
    }

    /**
     * Adversarial inputs for the two-pass path's stage-1 bound: A = M·Eᵀ cancels (each row of M
     * takes the difference of two columns of E that agree in bf16), so bf16's A is 0 for every
     * token while the exact A is not, and stage 2's own margin (relative to bf16's A) is nothing.
     * Only the stage-1 bound (||u·Ml||·||E_t|| + ||u·Mh||·||El_t||) keeps the tokens that decide
     * the top-k; without it the first pass would pick by beta alone.
     */
    @ParameterizedTest(name = "k {0}")
    @ValueSource(ints = {1, 5, 23})
    void stageOneBoundKeepsWhatBf16CannotSee(int k) {
        Random rnd = new Random(k);
        int V = 1700, r = 16, d = 2 * r + 3, n = 21;
        FactoredTopKTest.Case c = new FactoredTopKTest.Case(V, d, r, n, k, 900 + k, false);
        Arrays.fill(c.M, 0f);
        for (int j = 0; j < r; j++) {
            c.M[j * d + 2 * j] = j % 3 == 0 ? 1f + 0x1p-15f : 1f; // some rows not bf16 either
            c.M[j * d + 2 * j + 1] = -1f;
        }
        for (int t = 0; t < V; t++) {
            for (int q = 0; q < d; q++) {
                c.E[t * d + q] = 1f;
            }
            for (int j = 0; j < r; j++) {
                c.E[t * d + 2 * j] = 1f + (rnd.nextInt(17) - 8) * 0x1p-14f; // rounds to 1 in bf16
            }
            c.beta[t] = rnd.nextInt(4) == 0 ? 0f : (rnd.nextInt(9) - 4) * 0x1p-16f;
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < r; j++) {
                c.U[i * r + j] = (float) rnd.nextGaussian();
            }
        }
        compare(c);
    }

    /**
     * Adversarial inputs for the two-pass path's stage-2 bound: M and E are exact in bf16 (stage 1's
     * own bound is only its rounding terms), the rows of U are 1 + k·2^-12 (1 in bf16), and beta
     * cancels what bf16's rows cannot see, so the bf16 logits rank the tokens by a term the exact
     * ones do not have. Only the stage-2 bound (||u - bf16(u)||·||a|| + ...) keeps the exact winners.
     */
    @ParameterizedTest(name = "k {0}")
    @ValueSource(ints = {1, 5, 17})
    void stageTwoBoundOfTheTwoPassPath(int k) {
        Random rnd = new Random(40 + k);
        int V = 1300, r = 32, d = 32, n = 20;
        FactoredTopKTest.Case c = new FactoredTopKTest.Case(V, d, r, n, k, 700 + k, false);
        Arrays.fill(c.M, 0f);
        for (int j = 0; j < r; j++) {
            c.M[j * d + j] = 1f;
        }
        int[] kk = new int[r];
        for (int j = 0; j < r; j++) {
            kk[j] = 1 + rnd.nextInt(7);
        }
        float[] scale = {1f, 1f, 1f, 2f, 0.5f, -1f};
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < r; j++) {
                c.U[i * r + j] = scale[i % scale.length] * (1f + kk[j] * 0x1p-12f);
            }
        }
        for (int t = 0; t < V; t++) {
            int a = rnd.nextInt(r);
            int b = (a + 1 + rnd.nextInt(r - 1)) % r;
            for (int q = 0; q < d; q++) {
                c.E[t * d + q] = 8f;
            }
            c.E[t * d + a] += 8f;
            c.E[t * d + b] -= 8f;
            c.beta[t] = -(kk[a] - kk[b]) * 0x1p-9f + rnd.nextInt(8) * 0x1p-14f;
        }
        compare(c);
    }

    /** The bf16 gate re-scores few pairs on ordinary data and (near-)everything when it cannot tell. */
    @Test
    void bf16GateRescoresOnlyCandidates() {
        assumeTrue(FactoredTopK.nativeBf16Available(), "SKIPPED: this CPU lacks AVX512_BF16 ("
                + FactoredTopK.nativeStatus() + ")");
        FactoredTopKTest.Case c = new FactoredTopKTest.Case(20000, 96, 64, 100, 5, 11, false);
        FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
        FactoredTopK f = FactoredTopK.nativeKernel(true);
        int[] ids = new int[c.n * c.k];
        float[] vals = new float[c.n * c.k];
        f.run(p, c.M, c.r, c.U, c.n, c.k, ids, vals);
        long rescored = ((NativeKernel) f.kernel()).rescoredPairs();
        long pairs = (long) c.n * c.V;
        System.out.println("bf16 gate, random data: " + rescored + " of " + pairs + " (token, row) pairs re-scored");
        assertTrue(rescored >= (long) c.n * c.k, "at least the first k tokens of each row");
        assertTrue(rescored < pairs / 20, rescored + " of " + pairs + " re-scored");

        Arrays.fill(c.E, 0.5f); // all logits equal: nothing can be dropped
        Arrays.fill(c.beta, 0f);
        p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
        f.run(p, c.M, c.r, c.U, c.n, c.k, ids, vals);
        assertEquals(pairs, ((NativeKernel) f.kernel()).rescoredPairs(), "equal logits: every pair is a candidate");
        for (int i = 0; i < c.n; i++) {
            for (int q = 0; q < c.k; q++) {
                assertEquals(q, ids[i * c.k + q]);
            }
        }
    }

    /**
     * The two-pass path runs on ordinary data (no guard refuses it), re-scores few (row, token)
     * pairs and exact columns there, and falls back to the one-pass path, with the same answers,
     * where a guard refuses the head (NaN in M) or the embedding (a norm beyond 2^60).
     */
    @Test
    void twoPassRescoresFewAndFallsBackWhenRefused() {
        assumeTrue(FactoredTopK.nativeBf16Available(), "SKIPPED: this CPU lacks AVX512_BF16 ("
                + FactoredTopK.nativeStatus() + ")");
        FactoredTopKTest.Case c = new FactoredTopKTest.Case(20000, 96, 64, 100, 5, 11, false);
        FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
        FactoredTopK f = FactoredTopK.nativeTwoPass();
        NativeKernel nk = (NativeKernel) f.kernel();
        int nk5 = c.n * c.k;
        int[] ids = new int[nk5];
        float[] vals = new float[nk5];
        int[] wantIds = new int[nk5];
        float[] wantVals = new float[nk5];
        f.run(p, c.M, c.r, c.U, c.n, c.k, ids, vals);
        FactoredTopK.vector().run(p, c.M, c.r, c.U, c.n, c.k, wantIds, wantVals);
        assertSameTopK(wantIds, wantVals, ids, vals, "two-pass, random data");
        assertEquals(0, nk.refusedHeads(), "no guard refuses ordinary data");
        long pairs = nk.rescoredPairs();
        long columns = nk.exactColumns();
        System.out.println("two-pass, random data: " + pairs + " (row, token) pairs and " + columns
                + " exact columns of " + c.V + " re-scored");
        assertTrue(pairs >= (long) c.n * c.k, "at least the k of each row");
        assertTrue(pairs < (long) c.n * c.V / 100, pairs + " pairs");
        assertTrue(columns >= c.k && columns <= pairs && columns < c.V / 4, columns + " columns");

        float[] m = c.M.clone();
        m[5] = Float.NaN;
        f.run(p, m, c.r, c.U, c.n, c.k, ids, vals);
        FactoredTopK.vector().run(p, m, c.r, c.U, c.n, c.k, wantIds, wantVals);
        assertSameTopK(wantIds, wantVals, ids, vals, "two-pass, NaN in M");
        assertEquals(1, nk.refusedHeads(), "NaN in M: the head runs on the one-pass path");

        c.E[3 * c.d] = 0x1p61f;
        p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
        f.run(p, c.M, c.r, c.U, c.n, c.k, ids, vals);
        FactoredTopK.vector().run(p, c.M, c.r, c.U, c.n, c.k, wantIds, wantVals);
        assertSameTopK(wantIds, wantVals, ids, vals, "two-pass, a huge embedding row");
        assertEquals(2, nk.refusedHeads(), "a norm beyond 2^60: the one-pass path");
    }

    @Test
    void marginConstantsAsDocumented() {
        float[] m = NativeKernel.marginConstants(64);
        assertEquals((float) (Math.scalb(1.0, -7) + Math.scalb(1.0, -12)), m[0]);
        assertEquals((float) Math.scalb(1.0, -15), m[1]);
        assertEquals((float) Math.scalb(1.0, -100), m[2]);
        assertTrue(NativeKernel.marginConstants(4096)[1] > m[1], "c2 grows with r beyond 127");
    }

    @Test
    void instancesAreReusableAcrossShapesAndVariants() {
        for (FactoredTopK f : natives()) {
            for (FactoredTopKTest.Case c : List.of(new FactoredTopKTest.Case(1400, 96, 64, 70, 5, 50, false),
                    new FactoredTopKTest.Case(50, 5, 1, 1, 3, 51, true),
                    new FactoredTopKTest.Case(600, 17, 33, 300, 9, 52, false))) {
                FactoredTopK.Prepared p = FactoredTopK.prepare(c.E, c.V, c.d, c.beta);
                int nk = c.n * c.k;
                int[] i1 = new int[nk];
                float[] v1 = new float[nk];
                int[] i2 = new int[nk];
                float[] v2 = new float[nk];
                FactoredTopK.plain().run(p, c.M, c.r, c.U, c.n, c.k, i1, v1);
                f.run(p, c.M, c.r, c.U, c.n, c.k, i2, v2);
                assertSameTopK(i1, v1, i2, v2, f.name() + " after other shapes, " + c);
            }
        }
    }
}
