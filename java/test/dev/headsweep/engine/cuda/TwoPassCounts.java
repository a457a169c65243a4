package dev.headsweep.engine.cuda;

import dev.headsweep.HeadSweep;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.cpu.CpuBackend;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.plant.PlantedCheckpoint;
import dev.headsweep.score.Sweep;
import dev.headsweep.score.SweepResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the cold rank test on tensor cores (kernels/twopass.cu) has to do on a GPT-2-small-shaped
 * model, without a GPU: the CUDA backend's host logic on the simulated device (the kernels as plain
 * Java, Â as exact bf16 products summed in double) sweeps the numerals task (copy, next) for the
 * heads of the given layers of the planted checkpoint, and prints per layer what the screen ruled
 * out, the heads the two-pass answered or sent to the exact path, the tokens each keyword row
 * collected in the first pass (against 128 tokens; the cap is 256) and the exact columns of the union, and
 * whether every score equals the CPU backend's. Minutes a layer on 2 cores.
 *   java ... dev.headsweep.engine.cuda.TwoPassCounts [layer ...]   (default: 5 and 9)
 */
public final class TwoPassCounts {
    private TwoPassCounts() {
    }

    public static void main(String[] args) throws Exception {
        int[] layers = args.length == 0 ? new int[] {5, 9} : Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
        Path dir = Files.createTempDirectory("headsweep-twopass-counts");
        try {
            PlantedCheckpoint.of(PlantedCheckpoint.gpt2SmallShape(), PlantedCheckpoint.demoHeads(), 1)
                    .write(dir, Dtype.F32, "");
            Gpt2Weights w = HeadSweep.load(dir);
            boolean allSame = true;
            for (int layer : layers) {
                List<HeadId> heads = new ArrayList<>();
                for (int h = 0; h < w.config().nHead(); h++) {
                    heads.add(new HeadId(layer, h));
                }
                SimDevice sim = new SimDevice(Long.MAX_VALUE, 132);
                CudaBackend b = new CudaBackend(sim);
                b.useTopKKernel(CudaBackend.TopKKernel.TENSOR_CORES);
                long t0 = System.nanoTime();
                SweepResult gpu = Sweep.of(w, HeadSweep.task("numerals")).relations("copy", "next").heads(heads)
                        .keepTopK(false).backend(b).run();
                long t1 = System.nanoTime();
                SweepResult cpu = Sweep.of(w, HeadSweep.task("numerals")).relations("copy", "next").heads(heads)
                        .backend(new CpuBackend()).run();
                int differ = 0;
                for (HeadId h : heads) {
                    for (String rel : List.of("copy", "next")) {
                        differ += gpu.score(h, rel) == cpu.score(h, rel) ? 0 : 1;
                    }
                }
                allSame &= differ == 0;
                int[] c = sim.collected.stream().mapToInt(Integer::intValue).sorted().toArray();
                int over = (int) Arrays.stream(c).filter(x -> x > 128).count();
                System.out.printf(java.util.Locale.ROOT,
                        "layer %d: %d keyword rows; screen ruled out %d of %d heads; two-pass answered %d heads, sent %d to "
                                + "the exact path; first pass: tokens a row median %d, 90th percentile %d, 99th %d, "
                                + "largest %d, %d rows above the cap of 128; exact columns (the union) %d of %d; "
                                + "scores against the CPU: %d of %d differ; %.0f s on the simulated device%n",
                        layer, gpu.keywords().size(), b.retiredHeads, b.screenedHeads, b.twoPassHeads, b.twoPassFallbacks,
                        at(c, 0.5), at(c, 0.9), at(c, 0.99), c.length == 0 ? 0 : c[c.length - 1], over, b.twoPassColumns,
                        w.config().vocabSize(), differ, 2 * heads.size(), (t1 - t0) / 1e9);
                b.close();
            }
            System.out.println(allSame ? "twopass-counts: every score equals the CPU's" : "twopass-counts: SCORES DIFFER");
            if (!allSame) {
                System.exit(1);
            }
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static int at(int[] sorted, double q) {
        return sorted.length == 0 ? 0 : sorted[(int) Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    }
}
