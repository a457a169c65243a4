package dev.headsweep.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.headsweep.HeadSweep;
import dev.headsweep.checkpoint.Checkpoint;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.engine.Backend;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.cuda.Gpus;
import dev.headsweep.engine.cpu.CpuBackend;
import dev.headsweep.engine.cpu.FactoredTopK;
import dev.headsweep.engine.cpu.TopKAgreement;
import dev.headsweep.engine.cpu.Block0;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.score.Sweep;
import dev.headsweep.score.SweepResult;
import dev.headsweep.task.Keyword;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The engine against {@link PlainReference} on small random checkpoints: for every head and
 * keyword the engine's top-k set equals the reference's and its top-k logits match the reference's
 * values, under the explicit near-tie rule of {@link TopKAgreement}; the scores follow from the sets.
 */
class EngineMatchesReferenceTest {
    /** Relative tolerance of the near-tie rule: a few fp32 ulps of the row's largest logit. */
    private static final double NEAR_TIE = 2e-5;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} layers × {1} heads, d {2}, {3}, prefix ''{4}'', task {5}, k {6}, {7} threads, {8} kernel")
    @CsvSource({
        "2, 2, 32,  F32,  '',           numerals, 5,  2, default",
        "1, 2, 128, F16,  transformer., months,   5,  1, default",
        "2, 3, 48,  BF16, '',           numwords, 1,  2, default",
        "1, 1, 64,  F32,  '',           months,   40, 2, default",
        "1, 2, 128, F32,  '',           numerals, 5,  2, plain",
        "1, 1, 64,  BF16, '',           months,   40, 1, plain",
        "2, 3, 48,  F32,  '',           numwords, 5,  2, native",
        "1, 2, 128, F16,  transformer., months,   5,  1, native",
        "1, 1, 64,  F32,  '',           months,   40, 2, native",
        "1, 2, 128, F16,  transformer., months,   5,  2, native-bf16",
        "2, 3, 48,  BF16, '',           numwords, 1,  2, native-bf16",
        "1, 1, 64,  BF16, '',           months,   40, 1, native-bf16",
    })
    void topKSetsEqualTheReference(int layers, int heads, int d, Dtype dtype, String prefix, String task,
                                   int k, int threads, String kernel) {
        CpuBackend backend;
        switch (kernel) {
            case "plain" -> backend = new CpuBackend(threads, FactoredTopK::plain);
            case "native", "native-bf16" -> {
                boolean bf16 = kernel.equals("native-bf16");
                assumeTrue(bf16 ? FactoredTopK.nativeBf16Available() : FactoredTopK.nativeAvailable(),
                        "SKIPPED: the " + kernel + " kernel is not available here (" + FactoredTopK.nativeStatus() + ")");
                backend = new CpuBackend(threads, () -> FactoredTopK.nativeKernel(bf16));
            }
            default -> backend = new CpuBackend(threads);
        }
        sweepAndCompare(backend, layers, heads, d, dtype, prefix, task, k);
    }

    /**
     * The native kernels give the Java kernels' sweep bit for bit (top-k ids and logits of every
     * head and keyword) on the numerals task, with the plain and the default Java kernels as the reference.
     */
    @ParameterizedTest(name = "{0} against the Java kernels, k {1}")
    @CsvSource({"native, 5", "native-bf16, 5", "native-bf16, 40", "native-2pass, 5", "native-2pass, 40"})
    void nativeSweepEqualsTheJavaKernelsBitForBit(String kernel, int k) {
        boolean bf16 = !kernel.equals("native");
        assumeTrue(bf16 ? FactoredTopK.nativeBf16Available() : FactoredTopK.nativeAvailable(),
                "SKIPPED: the " + kernel + " kernel is not available here (" + FactoredTopK.nativeStatus() + ")");
        RandomCheckpoints.write(dir, 2, 2, 128, 91, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        java.util.function.Supplier<FactoredTopK> kernels = kernel.equals("native-2pass") ? FactoredTopK::nativeTwoPass
                : () -> FactoredTopK.nativeKernel(bf16);
        SweepResult mine = Sweep.of(w, HeadSweep.task("numerals")).relations("copy", "next").k(k)
                .backend(new CpuBackend(2, kernels, null)).run();
        for (CpuBackend ref : List.of(new CpuBackend(2, FactoredTopK::plain, null), new CpuBackend(1, FactoredTopK::java, null))) {
            SweepResult want = Sweep.of(w, HeadSweep.task("numerals")).relations("copy", "next").k(k).backend(ref).run();
            for (HeadId h : want.heads()) {
                for (int i = 0; i < want.keywords().size(); i++) {
                    assertArrayEquals(want.topIds(h, i), mine.topIds(h, i), "ids, head " + h + " keyword " + i);
                    float[] a = want.topLogits(h, i);
                    float[] b = mine.topLogits(h, i);
                    for (int q = 0; q < a.length; q++) {
                        assertEquals(Float.floatToIntBits(a[q]), Float.floatToIntBits(b[q]),
                                "logit bits, head " + h + " keyword " + i + " rank " + q);
                    }
                }
            }
        }
    }

    /**
     * Scores from the targets' rank test ({@code Sweep.keepTopK(false)}: on the CPU a keyword stops
     * as soon as k tokens beat all its targets) equal those looked up in the whole top-k, hit by hit,
     * for every kernel, cold and from the A_h cache (a damaged cache file too), and on the CUDA
     * backend (kernels/rank.cu's floors: on the simulated device, and on the GPU when there is one,
     * else skipped saying so). The random heads rank most targets far out, so the screens do drop
     * rows here.
     */
    @ParameterizedTest(name = "{0}, {1} threads, cache {2}, k {3}, {4} checkpoint")
    @CsvSource({
        "default,      2, none,    5,  planted",
        "default,      1, fresh,   5,  planted",
        "default,      2, none,    5,  random",
        "plain,        2, none,    5,  planted",
        "native,       2, fresh,   40, random",
        "native-bf16,  1, none,    1,  planted",
        "native-2pass, 2, none,    5,  planted",
        "native-2pass, 2, damaged, 5,  planted",
        "cuda-sim,     1, none,    5,  planted",
        "cuda-sim,     1, none,    40, random",
        "cuda,         1, none,    5,  planted",
        "cuda,         1, none,    5,  random",
    })
    void rankTestScoresEqualTheWholeTopK(String kernel, int threads, String cacheMode, int k, String checkpoint)
            throws Exception {
        java.util.function.Supplier<FactoredTopK> kernels = switch (kernel) {
            case "plain" -> FactoredTopK::plain;
            case "native" -> {
                assumeTrue(FactoredTopK.nativeAvailable(), "SKIPPED: no native kernel here (" + FactoredTopK.nativeStatus() + ")");
                yield () -> FactoredTopK.nativeKernel(false);
            }
            case "native-bf16" -> {
                assumeTrue(FactoredTopK.nativeBf16Available(), "SKIPPED: no native bf16 kernel here (" + FactoredTopK.nativeStatus() + ")");
                yield () -> FactoredTopK.nativeKernel(true);
            }
            case "native-2pass" -> {
                assumeTrue(FactoredTopK.nativeBf16Available(), "SKIPPED: no native bf16 kernel here (" + FactoredTopK.nativeStatus() + ")");
                yield FactoredTopK::nativeTwoPass;
            }
            default -> FactoredTopK::new;
        };
        Path model = dir.resolve("model");
        if (checkpoint.equals("planted")) { // a next head 1.0, a copy head 1.1, a previous head 0.1
            dev.headsweep.plant.PlantedCheckpoint.of(new dev.headsweep.checkpoint.GptConfig(2, 2, 128, 50257, 32, 1e-5),
                    java.util.Map.of(new HeadId(1, 0), dev.headsweep.plant.PlantedCheckpoint.Kind.NEXT,
                            new HeadId(1, 1), dev.headsweep.plant.PlantedCheckpoint.Kind.COPY,
                            new HeadId(0, 1), dev.headsweep.plant.PlantedCheckpoint.Kind.PREV), 3)
                    .write(model, Dtype.F32, "");
        } else {
            RandomCheckpoints.write(model, 2, 2, 64, 23, Dtype.F32, "");
        }
        Gpt2Weights w = HeadSweep.load(model);
        Path cacheDir = dir.resolve("cache");
        List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());
        dev.headsweep.engine.cpu.AhCache cache = cacheMode.equals("none") ? null
                : new dev.headsweep.engine.cpu.AhCache(cacheDir, log::add, false);
        if (cache != null) { // fill it
            Sweep.of(w, HeadSweep.task("numerals")).backend(new CpuBackend(2, kernels, cache)).run();
            if (cacheMode.equals("damaged")) {
                try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(cacheDir)) {
                    Path f = files.filter(p -> p.getFileName().toString().endsWith(".bin")).findFirst().orElseThrow();
                    try (var raf = new java.io.RandomAccessFile(f.toFile(), "rw")) {
                        raf.seek(raf.length() - 4000); // inside the last head
                        raf.write(0x7f);
                    }
                }
            }
        }
        Backend whole;
        Backend ranked;
        if (kernel.equals("cuda")) {
            whole = Gpus.realOrSkip("the rank test's floors (kernels/rank.cu) against the whole top-k, hit by hit");
            ranked = whole;
        } else if (kernel.equals("cuda-sim")) {
            whole = Gpus.simulated();
            ranked = Gpus.simulated();
        } else {
            whole = new CpuBackend(threads, kernels, null);
            ranked = new CpuBackend(threads, kernels, cache);
        }
        List<String> rels = List.of("copy", "next", "prev");
        SweepResult want;
        SweepResult got;
        // on the GPU the whole top-k keeps no A_h, so the rank test's sweep is a cold one: the screens
        // and the two-pass on tensor cores (kernels/twopass.cu), as on the simulated device
        boolean keep = !(ranked instanceof dev.headsweep.engine.cuda.CudaBackend c) || c.keepsFactors();
        try {
            if (ranked instanceof dev.headsweep.engine.cuda.CudaBackend c) {
                c.keepFactors(false);
            }
            want = Sweep.of(w, HeadSweep.task("numerals")).relations(rels).k(k).backend(whole).run();
            got = Sweep.of(w, HeadSweep.task("numerals")).relations(rels).k(k).backend(ranked).keepTopK(false).run();
        } finally {
            if (ranked instanceof dev.headsweep.engine.cuda.CudaBackend c) {
                c.keepFactors(keep);
            }
        }
        assertTrue(want.hasTopK());
        assertTrue(!got.hasTopK());
        int hits = 0;
        for (String rel : rels) {
            for (HeadId h : want.heads()) {
                for (int i = 0; i < want.keywords().size(); i++) {
                    assertEquals(want.hit(h, rel, i), got.hit(h, rel, i), rel + " at head " + h + " keyword " + i);
                    hits += want.hit(h, rel, i) ? 1 : 0;
                }
                assertEquals(want.score(h, rel), got.score(h, rel), rel + " score of head " + h);
            }
        }
        if (cacheMode.equals("damaged")) { // reported once, rewritten, then read
            assertEquals(1, log.stream().filter(l -> l.contains("is damaged")).count(), log.toString());
            SweepResult again = Sweep.of(w, HeadSweep.task("numerals")).relations(rels).k(k).backend(ranked)
                    .keepTopK(false).run();
            assertEquals(1, log.stream().filter(l -> l.contains("is damaged")).count(), log.toString());
            for (HeadId h : want.heads()) {
                assertEquals(want.score(h, "next"), again.score(h, "next"), "next score of head " + h + ", rewritten cache");
            }
        }
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> got.topIds(want.heads().get(0), 0));
        assertTrue(e.getMessage().contains("keepTopK"), e.getMessage());
        if (checkpoint.equals("planted")) {
            assertTrue(hits > 3 * want.keywords().size(), hits + " hits: the planted heads should hit"); // next, copy, prev
        }
    }

    /**
     * The same cases on the CUDA backend: on the GPU when there is one (else skipped, saying so),
     * and on the simulated device (plain-Java kernels), which runs the backend's host logic here.
     */
    @ParameterizedTest(name = "{7}: {0} layers × {1} heads, d {2}, {3}, prefix ''{4}'', task {5}, k {6}")
    @CsvSource({
        "1, 2, 128, F16,  transformer., months,   5,  cuda-sim",
        "2, 2, 32,  F32,  '',           numerals, 5,  cuda",
        "1, 2, 128, F16,  transformer., months,   5,  cuda",
        "2, 3, 48,  BF16, '',           numwords, 1,  cuda",
        "1, 1, 64,  F32,  '',           months,   40, cuda",
    })
    void cudaTopKSetsEqualTheReference(int layers, int heads, int d, Dtype dtype, String prefix, String task,
                                       int k, String device) {
        Backend backend = device.equals("cuda")
                ? Gpus.realOrSkip("the CUDA backend's top-k sets against the plain reference (" + task + ")")
                : Gpus.simulated();
        sweepAndCompare(backend, layers, heads, d, dtype, prefix, task, k);
    }

    private void sweepAndCompare(Backend backend, int layers, int heads, int d, Dtype dtype, String prefix,
                                 String task, int k) {
        RandomCheckpoints.write(dir, layers, heads, d, 7L * d + layers, dtype, prefix);
        Gpt2Weights w = HeadSweep.load(dir);
        SweepResult r = Sweep.of(w, HeadSweep.task(task)).relations("copy", "next").k(k)
                .backend(backend).run();

        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            PlainReference ref = new PlainReference(ckpt);
            List<Keyword> kws = r.keywords();
            int[][] prompts = r.task().promptTokens();
            float[][][] residual = new float[prompts.length][][];
            List<String> problems = new ArrayList<>();
            int exactSets = 0;
            for (HeadId h : r.heads()) {
                for (int i = 0; i < kws.size(); i++) {
                    Keyword kw = kws.get(i);
                    if (residual[kw.prompt()] == null) {
                        residual[kw.prompt()] = ref.block0(prompts[kw.prompt()]);
                    }
                    float[] logits = ref.logits(h.layer(), h.head(), residual[kw.prompt()][kw.position()]);
                    int[] mine = r.topIds(h, i);
                    String why = TopKAgreement.check(logits, logits.length, 0, k, mine, r.topLogits(h, i), NEAR_TIE);
                    if (why != null) {
                        problems.add("head " + h + " keyword " + i + " (" + kw.word() + "): " + why);
                    }
                    if (isExactTopK(mine, logits)) {
                        exactSets++;
                    }
                    for (String rel : r.relations()) {
                        boolean expected = false;
                        for (int t : r.task().targets(r.relations().indexOf(rel))[i]) {
                            for (int id : mine) {
                                expected |= id == t;
                            }
                        }
                        assertEquals(expected, r.hit(h, rel, i), "hit of " + rel + " at head " + h + " keyword " + i);
                    }
                }
            }
            if (!problems.isEmpty()) {
                fail(problems.size() + " disagreements, first: " + String.join("\n", problems.subList(0,
                        Math.min(5, problems.size()))));
            }
            int rows = r.heads().size() * kws.size();
            // near ties are rare: nearly every row must match the reference's order exactly
            assertTrue(exactSets >= rows * 0.98, exactSets + " of " + rows + " rows in the reference's exact order");
        }
    }

    /** Whether {@code ids} is exactly the reference's top-k in order (value descending, ties by lower id). */
    private static boolean isExactTopK(int[] ids, float[] logits) {
        java.util.Set<Integer> chosen = new java.util.HashSet<>();
        for (int q = 0; q < ids.length; q++) {
            chosen.add(ids[q]);
            if (q > 0 && !before(logits, ids[q - 1], ids[q])) {
                return false;
            }
        }
        int last = ids[ids.length - 1];
        for (int t = 0; t < logits.length; t++) {
            if (!chosen.contains(t) && before(logits, t, last)) {
                return false;
            }
        }
        return true;
    }

    private static boolean before(float[] logits, int a, int b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    }

    @ParameterizedTest(name = "block 0, d {0}, {1}")
    @CsvSource({"32, cpu", "128, cpu", "32, cuda-sim", "128, cuda"})
    void block0MatchesTheReference(int d, String device) {
        RandomCheckpoints.write(dir, 1, 2, d, 11, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        int[] tokens = {16, 362, 513, 604, 642, 718};
        float[] mine;
        if (device.equals("cpu")) {
            mine = Block0.forward(w, tokens);
        } else {
            Backend b = device.equals("cuda") ? Gpus.realOrSkip("block 0 on the GPU against the plain reference")
                    : Gpus.simulated();
            // two prompts stacked (the kernels' causal window must stay within each): the second is the one checked
            int[][] prompts = {{50, 51, 52}, tokens};
            int[][] positions = {{2}, {0, 1, 2, 3, 4, 5}};
            float[] both = b.residualAfterBlock0(w, prompts, positions);
            mine = java.util.Arrays.copyOfRange(both, d, both.length);
        }
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            float[][] ref = new PlainReference(ckpt).block0(tokens);
            for (int t = 0; t < tokens.length; t++) {
                for (int i = 0; i < d; i++) {
                    float want = ref[t][i];
                    assertEquals(want, mine[t * d + i], 1e-4f * (1 + Math.abs(want)), "position " + t + " dim " + i);
                }
            }
        }
    }
}
