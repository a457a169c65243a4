package dev.headsweep.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweep;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.HeadTopK;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.reference.RandomCheckpoints;
import dev.headsweep.score.Sweep;
import dev.headsweep.score.SweepResult;
import dev.headsweep.task.BuiltinTasks;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CUDA backend's host logic on the simulated device: memory limits, chunking, the vocab task. */
class CudaBackendSimTest {
    @TempDir
    Path dir;

    @Test
    void outOfMemorySplitsTheHeadsAndGivesTheSameAnswer() {
        RandomCheckpoints.write(dir, 1, 4, 64, 3, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        SweepResult roomy = Sweep.of(w, HeadSweep.task("numwords")).k(5).backend(Gpus.simulated()).run();
        // the weights take 13.1 MB (wte is 12.9 MB); A of all 4 heads (4·16·50260 floats, 12.9 MB)
        // does not fit in the 8.4 MB left, that of 2 heads does
        long limit = 21_500_000;
        SimDevice small = new SimDevice(limit, 4);
        CudaBackend tight = new CudaBackend(small);
        SweepResult r = Sweep.of(w, HeadSweep.task("numwords")).k(5).backend(tight).run();
        assertTrue(small.outOfMemory > 0, "the limit was never hit");
        assertTrue(small.peak <= limit);
        for (int h = 0; h < roomy.heads().size(); h++) {
            assertArrayEquals(roomy.topK().ids()[h], r.topK().ids()[h], "head " + roomy.heads().get(h));
            assertArrayEquals(roomy.topK().logits()[h], r.topK().logits()[h]);
        }
        tight.close();
        assertEquals(0, small.used(), "device memory left allocated after close");
        // the rank test on a tight device too
        SimDevice small2 = new SimDevice(limit, 4);
        CudaBackend tight2 = new CudaBackend(small2);
        SweepResult ranked = Sweep.of(w, HeadSweep.task("numwords")).k(5).backend(tight2).keepTopK(false).run();
        assertSameHits(roomy, ranked, "tight device");
        tight2.close();
        assertEquals(0, small2.used(), "device memory left allocated after close");
    }

    @Test
    void simulatedCudaMatchesTheCpuOnTheVocabTaskExceptNearTies() {
        RandomCheckpoints.write(dir, 1, 2, 32, 5, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        var task = BuiltinTasks.vocab(200, 330);  // " 5" ... a stretch with numerals and letters
        SweepResult cpu = Sweep.of(w, task).relations("copy", "next", "prev").run();
        AtomicLong updates = new AtomicLong();
        SweepResult gpu = Sweep.of(w, task).relations("copy", "next", "prev").backend(Gpus.simulated())
                .progress((stage, done, total) -> updates.incrementAndGet()).run();
        assertTrue(updates.get() >= 2);
        int differ = 0;
        for (HeadId h : cpu.heads()) {
            for (int kw = 0; kw < cpu.keywords().size(); kw++) {
                if (!java.util.Arrays.equals(cpu.topIds(h, kw), gpu.topIds(h, kw))) {
                    differ++;
                }
            }
            for (String rel : List.of("copy", "next", "prev")) {
                assertEquals(cpu.score(h, rel), gpu.score(h, rel), 100.0 * 2 / cpu.keywords().size(),
                        rel + " of head " + h);
            }
        }
        assertTrue(differ <= 2, differ + " rows differ between the CPU and the simulated GPU");
    }

    @Test
    void keptFactorsSkipTheProductsAndGiveTheSameAnswer() {
        RandomCheckpoints.write(dir, 2, 4, 64, 7, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        SimDevice sim = new SimDevice();
        CudaBackend b = new CudaBackend(sim);
        SweepResult first = Sweep.of(w, HeadSweep.task("numerals")).k(5).backend(b).run();
        long afterFirst = sim.used();
        int launchesBefore = sim.launches;
        SweepResult second = Sweep.of(w, HeadSweep.task("numerals")).k(5).backend(b).run();
        int secondLaunches = sim.launches - launchesBefore;
        b.keepFactors(false);
        assertTrue(sim.used() < afterFirst, "turning the kept factors off frees them");
        launchesBefore = sim.launches;
        SweepResult cold = Sweep.of(w, HeadSweep.task("numerals")).k(5).backend(b).run();
        int coldLaunches = sim.launches - launchesBefore;
        assertTrue(secondLaunches < coldLaunches, "a sweep with kept factors launches less: " + secondLaunches
                + " vs " + coldLaunches);
        for (int h = 0; h < first.heads().size(); h++) {
            assertArrayEquals(first.topK().ids()[h], second.topK().ids()[h], "head " + first.heads().get(h));
            assertArrayEquals(first.topK().logits()[h], second.topK().logits()[h]);
            assertArrayEquals(first.topK().ids()[h], cold.topK().ids()[h]);
            assertArrayEquals(first.topK().logits()[h], cold.topK().logits()[h]);
        }
        b.close();
        assertEquals(0, sim.used(), "device memory left allocated after close");
    }

    @Test
    void everyTopKKernelRunsThroughTheSweepWithTheSameAnswer() {
        RandomCheckpoints.write(dir, 1, 2, 64, 11, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        SweepResult fp32 = null;
        for (CudaBackend.TopKKernel kernel : List.of(CudaBackend.TopKKernel.FP32, CudaBackend.TopKKernel.TENSOR_CORES_V1,
                CudaBackend.TopKKernel.TENSOR_CORES)) {
            SimDevice sim = new SimDevice();
            CudaBackend b = new CudaBackend(sim);
            b.useTopKKernel(kernel);
            for (int run = 0; run < 2; run++) { // the second with the factors kept from the first
                SweepResult r = Sweep.of(w, HeadSweep.task("numerals")).k(5).backend(b).run();
                if (fp32 == null) {
                    fp32 = r;
                }
                for (int h = 0; h < r.heads().size(); h++) {
                    assertArrayEquals(fp32.topK().ids()[h], r.topK().ids()[h], kernel + " head " + r.heads().get(h));
                    assertArrayEquals(fp32.topK().logits()[h], r.topK().logits()[h], kernel + " run " + run);
                }
            }
            b.close();
            assertEquals(0, sim.used(), kernel + ": device memory left allocated after close");
        }
    }
    /**
     * The rank test on the CUDA backend (kernels/rank.cu's floors, then the top k above them) gives
     * the hits of a look-up in the whole top k, on every top-k kernel, with rows split into chunks
     * by a small device too: targets at ranks 1, k-1, k, k+1 and k+2 of each row, random ones,
     * repeats, ids outside the vocabulary and rows without targets; the keyword rows in one chunk
     * and in chunks of 16 (the targets are uploaded once and read per chunk).
     */
    @Test
    void rankTestGivesTheWholeTopKsHitsOnEveryKernel() {
        int k = 5;
        int n = 40;
        List<HeadId> heads = List.of(new HeadId(0, 0), new HeadId(0, 1), new HeadId(1, 1));
        RankCase rc = rankCase(13, 5, n, heads, k);
        Gpt2Weights w = rc.w();
        float[] x = rc.x();
        int[][] targets = rc.targets();
        boolean[][][] want = rc.want();
        for (CudaBackend.TopKKernel kernel : CudaBackend.TopKKernel.values()) {
            // the weights' 1.7 MB, then A (0.8 MB a head; 2 MB with the tensor cores' inputs) of one head but not two
            long small = kernel == CudaBackend.TopKKernel.FP32 ? 2_900_000 : 4_900_000;
            for (long limit : new long[] {Long.MAX_VALUE, small}) {
                SimDevice sim = new SimDevice(limit, 4);
                CudaBackend b = new CudaBackend(sim);
                b.useTopKKernel(kernel);
                if (limit != Long.MAX_VALUE) {
                    b.rowsPerChunk(16);
                }
                assertSameHits(want, b.ovTargetsInTopK(w, x, n, heads, k, targets, dev.headsweep.engine.Progress.NONE),
                        kernel + ", limit " + limit);
                if (limit != Long.MAX_VALUE) {
                    assertTrue(sim.outOfMemory > 0, kernel + ": the limit was never hit");
                }
                b.close();
                assertEquals(0, sim.used(), "device memory left allocated after close");
            }
        }
    }

    /**
     * Gates seeded from the top k of the first tokens (rank.cu's hs_gate_seed) change no list: on
     * every top-k kernel, the whole top k (ids and values, bit for bit) and the rank test's hits
     * with seeds of 64 and 1,500 tokens equal those without, rows in one chunk and in chunks of 16.
     */
    @Test
    void seededGatesGiveTheSameListsOnEveryKernel() {
        int k = 5;
        int n = 40;
        List<HeadId> heads = List.of(new HeadId(0, 0), new HeadId(1, 1));
        RankCase rc = rankCase(29, 9, n, heads, k);
        Gpt2Weights w = rc.w();
        float[] x = rc.x();
        HeadTopK want = rc.whole();
        for (CudaBackend.TopKKernel kernel : CudaBackend.TopKKernel.values()) {
            for (int seed : new int[] {64, 1500}) {
                for (int chunk : new int[] {n, 16}) {
                    String what = kernel + ", seed " + seed + ", chunks of " + chunk;
                    SimDevice sim = new SimDevice();
                    CudaBackend b = new CudaBackend(sim);
                    b.useTopKKernel(kernel);
                    b.seedTokens(seed);
                    b.rowsPerChunk(chunk);
                    dev.headsweep.engine.HeadTopK got = b.ovTopK(w, x, n, heads, k, dev.headsweep.engine.Progress.NONE);
                    for (int h = 0; h < heads.size(); h++) {
                        for (int i = 0; i < n; i++) {
                            for (int q = 0; q < k; q++) {
                                assertEquals(want.id(h, i, q), got.id(h, i, q), what + ", head " + h + " row " + i);
                                assertEquals(Float.floatToRawIntBits(want.logit(h, i, q)),
                                        Float.floatToRawIntBits(got.logit(h, i, q)), what + ", head " + h + " row " + i);
                            }
                        }
                    }
                    assertSameHits(rc.want(), b.ovTargetsInTopK(w, x, n, heads, k, rc.targets(),
                            dev.headsweep.engine.Progress.NONE), what);
                    assertTrue(sim.launches("hs_gate_seed") > 0 && sim.seedsRaised > n, what + ": gates seeded "
                            + sim.seedsRaised + " times");
                    b.close();
                }
            }
        }
    }

    /**
     * Repeated sweeps of the same weights and task allocate nothing new on the device (block 0's
     * working buffers, the residual's, the targets' and the OV chain's are kept between sweeps:
     * an allocation and a free cost synchronizations on a GPU), whole top-k and rank test alike,
     * and give the same answers.
     */
    @Test
    void repeatedSweepsAllocateNothingNew() {
        RandomCheckpoints.write(dir, 1, 2, 64, 17, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        SimDevice sim = new SimDevice();
        CudaBackend b = new CudaBackend(sim);
        for (boolean keep : new boolean[] {true, false}) {
            SweepResult first = Sweep.of(w, HeadSweep.task("numerals")).k(5).backend(b).keepTopK(keep).run();
            Sweep.of(w, HeadSweep.task("numerals")).k(5).backend(b).keepTopK(keep).run();
            int allocs = sim.allocs;
            SweepResult third = Sweep.of(w, HeadSweep.task("numerals")).k(5).backend(b).keepTopK(keep).run();
            assertEquals(allocs, sim.allocs, "allocations in a third sweep, keepTopK " + keep);
            assertSameHits(first, third, "third sweep, keepTopK " + keep);
        }
        b.close();
        assertEquals(0, sim.used(), "device memory left allocated after close");
    }
    /**
     * The rank test's screens (A_h not on the device yet): heads whose every row has k tokens of
     * the screen above all its targets skip A_h, the others take the ordinary path, and the hits
     * are the whole top-k's. Every fourth row's target is head 1.1's best token there (so 1.1 has
     * hits and must survive), the others random tokens, ranked far out by every head (so heads
     * retire); screens off gives the same hits; a second sweep keeps the survivors' A_h.
     */
    @Test
    void screensSkipHeadsWithoutAPossibleHitAndKeepTheHits() {
        RandomCheckpoints.write(dir, 2, 2, 128, 19, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        int V = w.config().vocabSize();
        int k = 5;
        java.util.Random rnd = new java.util.Random(7);
        int n = 40;
        List<HeadId> heads = List.of(new HeadId(0, 0), new HeadId(0, 1), new HeadId(1, 0), new HeadId(1, 1));
        CudaBackend ref = Gpus.simulated();
        float[] x = randomKeywordRows(ref, w, n, rnd);
        dev.headsweep.engine.HeadTopK top = ref.ovTopK(w, x, n, heads, k, dev.headsweep.engine.Progress.NONE);
        int[][] targets = new int[n][];
        for (int i = 0; i < n; i++) {
            targets[i] = i % 4 == 0 ? new int[] {top.id(3, i, 0)} : new int[] {rnd.nextInt(V), rnd.nextInt(V)};
        }
        boolean[][][] want = dev.headsweep.engine.TargetsInTopK.lookUp(top, targets);
        for (boolean screens : new boolean[] {true, false}) {
            SimDevice sim = new SimDevice();
            CudaBackend b = new CudaBackend(sim);
            b.useScreens(screens);
            for (int run = 0; run < 2; run++) {
                boolean[][][] got = b.ovTargetsInTopK(w, x, n, heads, k, targets, dev.headsweep.engine.Progress.NONE);
                for (int h = 0; h < heads.size(); h++) {
                    for (int i = 0; i < n; i++) {
                        assertArrayEquals(want[h][i], got[h][i], "head " + heads.get(h) + " row " + i + ", screens "
                                + screens + ", run " + run);
                    }
                }
            }
            if (screens) {
                assertTrue(b.retiredHeads >= 2, b.retiredHeads + " heads retired by the screens");
                assertTrue(b.screenedHeads > b.retiredHeads, "head 1.1 has hits and must survive");
            } else {
                assertEquals(0, b.screenedHeads);
            }
            b.close();
            assertEquals(0, sim.used(), "device memory left allocated after close");
        }
    }
    /**
     * The cold rank test on tensor cores (twopass.cu): the screened heads that may hit get Â on
     * tensor cores, the first pass collects each row's tokens above its gate less the bound B1, and
     * the exact top k over the union gives the whole top k's hits; heads whose rows collect more
     * than the cap take the exact path, same hits ({@link #rankCase}'s targets: every head has rows
     * that may hit, so every head survives the screen; with twin tokens, so that a row's k-th and
     * (k+1)-th are within bf16's error of each other and the bound B1 must be right).
     */
    @Test
    void twoPassGivesTheWholeTopKsHits() {
        int k = 5;
        int n = 40;
        List<HeadId> heads = List.of(new HeadId(0, 0), new HeadId(0, 1), new HeadId(1, 1));
        RankCase rc = rankCase(31, 11, n, heads, k, true);
        Gpt2Weights w = rc.w();
        float[] x = rc.x();
        int[][] targets = rc.targets();
        boolean[][][] want = rc.want();
        int V = w.config().vocabSize();
        for (int cap : new int[] {128, 2}) {
            SimDevice sim = new SimDevice();
            CudaBackend b = new CudaBackend(sim);
            b.useTopKKernel(CudaBackend.TopKKernel.TENSOR_CORES);
            b.screenTiles(2);
            b.twoPassCap(cap);
            assertSameHits(want, b.ovTargetsInTopK(w, x, n, heads, k, targets, dev.headsweep.engine.Progress.NONE),
                    "cap " + cap);
            assertTrue(sim.launches("hs_gemm_bf16") > 0, "cap " + cap + ": no Â computed");
            if (cap == 128) {
                assertEquals(heads.size(), b.twoPassHeads, "heads the two-pass answered");
                assertTrue(b.twoPassColumns > k && b.twoPassColumns < V / 2, b.twoPassColumns + " exact columns");
            } else {
                assertTrue(b.twoPassFallbacks > 0, "a cap of 2 sent no head to the exact path");
            }
            // a second sweep (the factors may stay): the exact path, same hits
            assertSameHits(want, b.ovTargetsInTopK(w, x, n, heads, k, targets, dev.headsweep.engine.Progress.NONE),
                    "second sweep, cap " + cap);
            b.close();
            assertEquals(0, sim.used(), "device memory left allocated after close");
        }
    }

    /** Turning kept factors off frees all of their device memory (the tensor cores' inputs too). */
    @Test
    void droppingKeptFactorsFreesAllTheirMemory() {
        RandomCheckpoints.write(dir, 1, 1, 64, 23, Dtype.F32, "");  // head size 64: the tensor-core inputs are kept
        Gpt2Weights w = HeadSweep.load(dir);
        SimDevice sim = new SimDevice();
        CudaBackend b = new CudaBackend(sim);
        Sweep.of(w, HeadSweep.task("numerals")).k(5).backend(b).run();
        long before = sim.used();
        b.keepFactors(false);
        long V = w.config().vocabSize();
        long ldA = (V + 3) / 4 * 4;
        long vpad = (V + 31) / 32 * 32;
        long perHead = 8L * 64 * 64 + 4L * 64 * ldA + 128 * vpad + 256 * vpad + 8 * vpad + 8 * vpad / 32;
        assertEquals(perHead, before - sim.used(), "bytes freed: Gram, A_h, bf16 A, norms, tile maxima, A token-major");
        b.close();
        assertEquals(0, sim.used(), "device memory left allocated after close");
    }
    /**
     * A rank-test case on a checkpoint with head size 64 (the tensor-core kernels run) and a
     * vocabulary of 3,001 tokens (no multiple of a tile): random keyword rows, and targets at ranks
     * 1, k-1, k, k+1 and k+2 of each row, random ones, repeats, ids outside the vocabulary and rows
     * without targets; {@code want} the hits of a look-up in the whole top k.
     */
    private record RankCase(Gpt2Weights w, float[] x, int[][] targets, HeadTopK whole, boolean[][][] want) {
    }

    private RankCase rankCase(long modelSeed, long seed, int n, List<HeadId> heads, int k) {
        return rankCase(modelSeed, seed, n, heads, k, false);
    }

    /**
     * With {@code twins}, token 2j+1's embedding is token 2j's bent by about 10⁻⁶ of each value, so
     * the two logits of a pair differ far less than any bf16 approximation can tell, and every row
     * also gets its (k+1)-th token as a target, which then sits right below its twin at rank k.
     */
    private RankCase rankCase(long modelSeed, long seed, int n, List<HeadId> heads, int k, boolean twins) {
        var cfg = new dev.headsweep.checkpoint.GptConfig(2, 2, 128, 3001, 32, 1e-5);
        List<dev.headsweep.checkpoint.NamedTensor> tensors = RandomCheckpoints.tensors(cfg, modelSeed);
        if (twins) {
            float[] wte = tensors.get(0).data();
            java.util.Random r = new java.util.Random(modelSeed);
            int d = cfg.nEmbd();
            for (int t = 0; t + 1 < cfg.vocabSize(); t += 2) {
                for (int c = 0; c < d; c++) {
                    wte[(t + 1) * d + c] = wte[t * d + c] * (float) (1 + 1e-6 * r.nextGaussian());
                }
            }
        }
        dev.headsweep.checkpoint.SafetensorsWriter.writeCheckpoint(dir, cfg, tensors, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        int V = w.config().vocabSize();
        java.util.Random rnd = new java.util.Random(seed);
        CudaBackend ref = Gpus.simulated();
        ref.seedTokens(0);
        float[] x = randomKeywordRows(ref, w, n, rnd);
        HeadTopK deep = ref.ovTopK(w, x, n, heads, k + 2, dev.headsweep.engine.Progress.NONE);
        int[][] targets = new int[n][];
        for (int i = 0; i < n; i++) {
            int[] at = deep.ids(i % heads.size(), i);
            targets[i] = switch (i % 5) {
                case 0 -> new int[] {at[0], at[k - 1], at[k]};
                case 1 -> new int[] {at[k + 1], rnd.nextInt(V), -1, V + 3};
                case 2 -> new int[] {};
                case 3 -> new int[] {at[k - 1], at[k - 1], at[k + 1]};
                default -> new int[] {rnd.nextInt(V), at[rnd.nextInt(k + 2)]};
            };
            if (twins) {
                targets[i] = java.util.stream.IntStream.concat(java.util.stream.IntStream.of(at[k]),
                        java.util.Arrays.stream(targets[i])).toArray();
            }
        }
        HeadTopK whole = ref.ovTopK(w, x, n, heads, k, dev.headsweep.engine.Progress.NONE);
        boolean[][][] want = dev.headsweep.engine.TargetsInTopK.lookUp(whole, targets);
        int hits = 0;
        int misses = 0;
        for (boolean[][] head : want) {
            for (boolean[] row : head) {
                for (boolean b : row) {
                    hits += b ? 1 : 0;
                    misses += b ? 0 : 1;
                }
            }
        }
        assertTrue(hits > 10 && misses > 10, hits + " hits, " + misses + " misses: the targets do not test both");
        return new RankCase(w, x, targets, whole, want);
    }

    /** Every (head, row) of {@code got} equals {@code want}'s. */
    private static void assertSameHits(boolean[][][] want, boolean[][][] got, String what) {
        for (int h = 0; h < want.length; h++) {
            for (int i = 0; i < want[h].length; i++) {
                assertArrayEquals(want[h][i], got[h][i], what + ", head " + h + " row " + i);
            }
        }
    }

    /** The residual after block 0 at the second token of {@code n} random two-token prompts. */
    private static float[] randomKeywordRows(CudaBackend b, Gpt2Weights w, int n, java.util.Random rnd) {
        int V = w.config().vocabSize();
        int[][] prompts = new int[n][];
        int[][] positions = new int[n][];
        for (int p = 0; p < n; p++) {
            prompts[p] = new int[] {rnd.nextInt(V), rnd.nextInt(V)};
            positions[p] = new int[] {1};
        }
        return b.residualAfterBlock0(w, prompts, positions);
    }
    /** Every (head, relation, keyword) hit of {@code got} is {@code want}'s. */
    private static void assertSameHits(SweepResult want, SweepResult got, String what) {
        for (HeadId h : want.heads()) {
            for (String rel : want.relations()) {
                for (int i = 0; i < want.keywords().size(); i++) {
                    assertEquals(want.hit(h, rel, i), got.hit(h, rel, i), what + ": " + rel + " at head " + h
                            + " keyword " + i);
                }
            }
        }
    }
}
