package dev.headsweep.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.headsweep.engine.cpu.TopKAgreement;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused top-k kernel (A = M·Eᵀ by hs_sgemm2, then hs_ov_topk and hs_topk_merge) against a
 * plain full sort: ties, ±inf and NaN logits, k above a 64-token tile and above a vocabulary
 * split, V not a multiple of the tile, all-equal logits. On the GPU when there is one (else
 * skipped, saying so), and always on the simulated device, which checks the host side of the
 * launches (sizes, splits, offsets).
 */
class CudaKernelsTest {
    static Stream<String> devices() {
        return Stream.of("simulated", "gpu");
    }

    private static CudaBackend backend(String device) {
        return device.equals("gpu")
                ? Gpus.realOrSkip("the fused top-k kernel on ties, ±inf/NaN, k above a tile or a split, odd V")
                : Gpus.simulated();
    }

    /** One problem; integer data makes every logit exact, so the comparison is exact. */
    private static void check(CudaBackend b, int V, int d, int r, int n, int k, int splitLen, long seed,
            boolean integer, int special) {
        Random rnd = new Random(seed);
        float[] E = fill(V * d, rnd, integer);
        float[] beta = fill(V, rnd, integer);
        float[] M = fill(r * d, rnd, integer);
        float[] U = fill(n * r, rnd, integer);
        for (int t = 0; special > 0 && t < V; t++) {
            int x = rnd.nextInt(8);
            if (x == 0) {
                beta[t] = Float.NEGATIVE_INFINITY;
            } else if (x == 1) {
                beta[t] = Float.NaN;
            } else if (x == 2 && special > 1) {
                beta[t] = Float.POSITIVE_INFINITY;
            }
        }
        if (special == 3) {
            Arrays.fill(E, 0f);
            Arrays.fill(beta, 0.25f);
        }
        int[] ids = new int[n * k];
        float[] vals = new float[n * k];
        b.factoredTopK(E, V, d, beta, M, r, U, n, k, splitLen, ids, vals);
        float[] logits = logits(E, V, d, beta, M, r, U, n);
        for (int i = 0; i < n; i++) {
            String why = TopKAgreement.check(logits, V, i, k, ids, vals, integer ? 0 : 1e-5);
            int row = i;
            assertNull(why, () -> "V=" + V + " d=" + d + " r=" + r + " n=" + n + " k=" + k + " split=" + splitLen
                    + " row " + row + ": " + why);
        }
    }

    private static float[] fill(int size, Random rnd, boolean integer) {
        float[] a = new float[size];
        for (int q = 0; q < size; q++) {
            a[q] = integer ? rnd.nextInt(5) - 2 : rnd.nextFloat() * 2f - 1f;
        }
        return a;
    }

    /** The CPU's order: A[j][t] = Σ_c M[j][c]·E[t][c] by fma from 0; logit = beta, then fma over j. */
    private static float[] logits(float[] E, int V, int d, float[] beta, float[] M, int r, float[] U, int n) {
        float[] A = new float[r * V];
        for (int j = 0; j < r; j++) {
            for (int t = 0; t < V; t++) {
                float s = 0f;
                for (int c = 0; c < d; c++) {
                    s = Math.fma(M[j * d + c], E[t * d + c], s);
                }
                A[j * V + t] = s;
            }
        }
        float[] out = new float[n * V];
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < V; t++) {
                float s = beta[t];
                for (int j = 0; j < r; j++) {
                    s = Math.fma(U[i * r + j], A[j * V + t], s);
                }
                out[i * V + t] = s;
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void tiesAndOddSizes(String device) {
        CudaBackend b = backend(device);
        check(b, 37, 5, 7, 3, 5, 0, 1, true, 0);          // V below one tile
        check(b, 613, 33, 64, 33, 5, 0, 2, true, 0);      // V not a multiple of 64, rows over a 32-row block
        check(b, 257, 16, 16, 70, 40, 64, 3, true, 0);    // 5 splits of 64 tokens, merged
        check(b, 300, 9, 7, 5, 100, 64, 4, true, 0);      // k above a split: empty slots merged away
        check(b, 700, 9, 9, 9, 300, 0, 5, true, 0);       // k above a tile
        check(b, 130, 3, 3, 4, 130, 64, 6, true, 0);      // k = V over 3 splits
        check(b, 1, 2, 1, 2, 1, 0, 7, true, 0);           // a one-token vocabulary
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void infinitiesNaNAndEqualLogits(String device) {
        CudaBackend b = backend(device);
        check(b, 301, 7, 7, 34, 5, 0, 8, true, 1);        // -inf and NaN
        check(b, 333, 17, 64, 6, 40, 128, 9, true, 2);    // +inf, -inf and NaN, split
        check(b, 150, 4, 1, 3, 20, 64, 10, true, 3);      // all equal: ids 0..19 in order
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void randomFloatsWithinTheNearTieRule(String device) {
        CudaBackend b = backend(device);
        check(b, 2001, 96, 64, 40, 5, 0, 11, false, 0);
        check(b, 999, 40, 16, 130, 10, 256, 12, false, 0);
    }

    /** A problem with head size 64: the embedding E (V × d), beta, M (64 × d) and n keyword rows U. */
    private record Problem(float[] E, int V, int d, float[] beta, float[] M, float[] U, int n) {
        /** The backend's top-k on {@code kernel} (the rank test's lists when {@code targets} is not null). */
        void topK(CudaBackend b, int k, int splitLen, CudaBackend.TopKKernel kernel, int[][] targets, int[] ids,
                float[] vals) {
            b.factoredTopK(E, V, d, beta, M, 64, U, n, k, splitLen, kernel, targets, ids, vals);
        }

        float[] logits() {
            return CudaKernelsTest.logits(E, V, d, beta, M, 64, U, n);
        }
    }

    /**
     * A problem with head size 64. special 1: ±inf and NaN in beta; 2: near-ties (every token's
     * embedding within 1e-4 of token 0's, so bf16 products cannot tell the tokens apart and only the
     * exact re-scoring can); 3: all logits equal.
     */
    private static Problem headSize64Problem(int V, int d, int n, Random rnd, boolean integer, int special) {
        int r = 64;
        float[] E = fill(V * d, rnd, integer);
        float[] beta = fill(V, rnd, integer);
        float[] M = fill(r * d, rnd, integer);
        float[] U = fill(n * r, rnd, integer);
        if (special == 1) {
            for (int t = 0; t < V; t++) {
                int x = rnd.nextInt(8);
                beta[t] = x == 0 ? Float.NEGATIVE_INFINITY : x == 1 ? Float.NaN : x == 2 ? Float.POSITIVE_INFINITY : beta[t];
            }
        } else if (special == 2) {
            for (int t = 1; t < V; t++) {
                for (int c = 0; c < d; c++) {
                    E[t * d + c] = E[c] * (1f + 1e-4f * (float) rnd.nextGaussian());
                }
            }
            Arrays.fill(beta, 0f);
        } else if (special == 3) {
            Arrays.fill(E, 0f);
            Arrays.fill(beta, 0.25f);
        }
        return new Problem(E, V, d, beta, M, U, n);
    }

    /**
     * The tensor-core kernel (topk_tc.cu: bf16 candidates behind a margin, exact fp32 re-scoring)
     * gives the fp32 kernel's ids and values bit for bit, and both agree with the plain sort.
     */
    private static void checkTensorCores(CudaBackend b, int V, int d, int n, int k, int splitLen, long seed,
            boolean integer, int special) {
        Problem p = headSize64Problem(V, d, n, new Random(seed), integer, special);
        int[] ids = new int[n * k];
        float[] vals = new float[n * k];
        p.topK(b, k, splitLen, CudaBackend.TopKKernel.FP32, null, ids, vals);
        for (CudaBackend.TopKKernel kernel : List.of(CudaBackend.TopKKernel.TENSOR_CORES_V1,
                CudaBackend.TopKKernel.TENSOR_CORES)) {
            sameAsFp32(b, kernel, p, k, splitLen, seed, integer, ids, vals);
        }
    }

    private static void sameAsFp32(CudaBackend b, CudaBackend.TopKKernel kernel, Problem p, int k, int splitLen, long seed,
            boolean integer, int[] ids, float[] vals) {
        int V = p.V();
        int d = p.d();
        int n = p.n();
        int[] tcIds = new int[n * k];
        float[] tcVals = new float[n * k];
        p.topK(b, k, splitLen, kernel, null, tcIds, tcVals);
        String what = kernel + " V=" + V + " d=" + d + " n=" + n + " k=" + k + " split=" + splitLen + " seed " + seed;
        for (int q = 0; q < n * k; q++) {
            int at = q;
            assertEquals(ids[q], tcIds[q], () -> what + ": id at row " + at / k + " place " + at % k);
            assertEquals(Float.floatToIntBits(vals[q]), Float.floatToIntBits(tcVals[q]),
                    () -> what + ": value at row " + at / k + " place " + at % k + ": " + vals[at] + " vs " + tcVals[at]);
        }
        float[] logits = p.logits();
        for (int i = 0; i < n; i++) {
            String why = TopKAgreement.check(logits, V, i, k, tcIds, tcVals, integer ? 0 : 1e-5);
            int row = i;
            assertNull(why, () -> what + " row " + row + ": " + why);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void tensorCoreKernelEqualsTheFp32One(String device) {
        CudaBackend b = backend(device);
        checkTensorCores(b, 37, 5, 3, 5, 0, 21, true, 0);        // V below one tile
        checkTensorCores(b, 613, 33, 300, 5, 0, 22, true, 0);    // V not a multiple of 32, two row blocks
        checkTensorCores(b, 257, 16, 70, 40, 64, 23, true, 0);   // k above a 32-token step, 5 splits
        checkTensorCores(b, 130, 3, 4, 130, 64, 24, true, 0);    // k = V over 3 splits
        checkTensorCores(b, 301, 7, 34, 5, 0, 25, true, 1);      // ±inf and NaN in beta
        checkTensorCores(b, 150, 4, 3, 20, 64, 26, true, 3);     // all equal
        checkTensorCores(b, 2001, 96, 65, 5, 0, 27, false, 0);   // random floats
        checkTensorCores(b, 999, 64, 40, 10, 256, 28, false, 2); // near-ties inside the bf16 margin
        checkTensorCores(b, 5000, 48, 600, 5, 0, 29, false, 2);
    }

    /**
     * The rank test's kernels (rank.cu's floors, then each top-k kernel keeps the top k above them):
     * every kernel gives the same lists bit for bit, and a target is in a row's list exactly when it
     * is in the row's whole top k. Targets at ranks 1, k-1, k, k+1 and k+2, random, repeated, outside
     * the vocabulary and none; on ties, ±inf/NaN, all-equal logits and near-ties inside the bf16 margin.
     */
    private static void checkRank(CudaBackend b, int V, int d, int n, int k, int splitLen, long seed, boolean integer,
            int special) {
        Random rnd = new Random(seed);
        Problem p = headSize64Problem(V, d, n, rnd, integer, special);
        int deep = Math.min(V, k + 2);
        int[] deepIds = new int[n * deep];
        p.topK(b, deep, splitLen, CudaBackend.TopKKernel.FP32, null, deepIds, new float[n * deep]);
        int[][] targets = new int[n][];
        for (int i = 0; i < n; i++) {
            int base = i * deep;
            targets[i] = switch (i % 5) {
                case 0 -> new int[] {deepIds[base], deepIds[base + Math.max(0, k - 1)], deepIds[base + Math.min(deep - 1, k)]};
                case 1 -> new int[] {deepIds[base + deep - 1], rnd.nextInt(V), -1, V + 2};
                case 2 -> new int[] {};
                case 3 -> new int[] {deepIds[base + Math.max(0, k - 1)], deepIds[base + Math.max(0, k - 1)]};
                default -> new int[] {rnd.nextInt(V), deepIds[base + rnd.nextInt(deep)]};
            };
        }
        int[] wholeIds = new int[n * k];
        p.topK(b, k, splitLen, CudaBackend.TopKKernel.FP32, null, wholeIds, new float[n * k]);
        int[] firstIds = null;
        float[] firstVals = null;
        for (CudaBackend.TopKKernel kernel : List.of(CudaBackend.TopKKernel.FP32, CudaBackend.TopKKernel.TENSOR_CORES_V1,
                CudaBackend.TopKKernel.TENSOR_CORES)) {
            int[] ids = new int[n * k];
            float[] vals = new float[n * k];
            p.topK(b, k, splitLen, kernel, targets, ids, vals);
            String what = kernel + " V=" + V + " d=" + d + " n=" + n + " k=" + k + " split=" + splitLen + " seed " + seed;
            for (int i = 0; i < n; i++) {
                for (int t : targets[i]) {
                    boolean want = dev.headsweep.engine.TargetsInTopK.among(t, wholeIds, i * k, k);
                    boolean got = dev.headsweep.engine.TargetsInTopK.among(t, ids, i * k, k);
                    int row = i;
                    assertEquals(want, got, () -> what + ": target " + t + " at row " + row);
                }
            }
            if (firstIds == null) {
                firstIds = ids;
                firstVals = vals;
                continue;
            }
            for (int q = 0; q < n * k; q++) {
                int at = q;
                assertEquals(firstIds[q], ids[q], () -> what + ": id at row " + at / k + " place " + at % k);
                assertEquals(Float.floatToIntBits(firstVals[q]), Float.floatToIntBits(vals[q]),
                        () -> what + ": value at row " + at / k + " place " + at % k);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void rankTestKernelsGiveTheWholeTopKsHits(String device) {
        CudaBackend b = backend(device);
        checkRank(b, 613, 33, 300, 5, 0, 41, true, 0);    // ties everywhere, two row blocks
        checkRank(b, 257, 16, 70, 40, 64, 42, true, 0);   // k above a step, 5 splits
        checkRank(b, 130, 3, 4, 130, 64, 43, true, 0);    // k = V
        checkRank(b, 301, 7, 34, 5, 0, 44, true, 1);      // ±inf and NaN in beta
        checkRank(b, 150, 4, 3, 20, 64, 45, true, 3);     // all equal
        checkRank(b, 2001, 96, 65, 5, 0, 46, false, 0);   // random floats
        checkRank(b, 999, 64, 40, 10, 256, 47, false, 2); // near-ties inside the bf16 margin
    }

    /** The tie rule the kernels copy (headsweep.cuh's hs_before) is the CPU's. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void selfCheckPasses(String device) {
        assertNull(dev.headsweep.engine.Backends.selfCheck(backend(device)));
    }
}
