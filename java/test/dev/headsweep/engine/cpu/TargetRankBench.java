package dev.headsweep.engine.cpu;

import dev.headsweep.HeadSweep;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.score.Sweep;
import dev.headsweep.score.SweepResult;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Where the targets' rank test ({@link TargetRankCheck}) spends its rows: a plain main, not a JUnit
 * test. For each screening schedule given, sweeps the task once on one thread (cold, or from the
 * A_h cache with {@code --cache DIR}; the first N heads with {@code --heads N}) and prints how many rows went into each phase and the OV
 * chain's time:
 *
 * <pre>
 * mvn -q test-compile
 * java -cp target/headsweep.jar:target/test-classes dev.headsweep.engine.cpu.TargetRankBench \
 *     --model DIR [--task numerals] [--cache DIR] [--runs 2] [--heads N] 2,16 4,16 8 none
 * </pre>
 *
 * A schedule lists the tiles (of {@value TargetRankCheck#TILE} tokens) of each screening phase;
 * {@code none} sends every row with a target to the whole top-k.
 */
public final class TargetRankBench {
    private TargetRankBench() {
    }

    public static void main(String[] args) {
        String model = null;
        String task = "numerals";
        String cacheDir = null;
        int runs = 2;
        int heads = Integer.MAX_VALUE;
        java.util.List<int[]> schedules = new java.util.ArrayList<>();
        for (int a = 0; a < args.length; a++) {
            switch (args[a]) {
                case "--model": model = args[++a]; break;
                case "--task": task = args[++a]; break;
                case "--cache": cacheDir = args[++a]; break;
                case "--runs": runs = Integer.parseInt(args[++a]); break;
                case "--heads": heads = Integer.parseInt(args[++a]); break;
                default:
                    schedules.add(args[a].equals("none") ? new int[0]
                            : Arrays.stream(args[a].split(",")).mapToInt(Integer::parseInt).toArray());
            }
        }
        if (model == null || schedules.isEmpty()) {
            throw new IllegalArgumentException("usage: --model DIR [--task T] [--cache DIR] [--runs N] SCHEDULE...");
        }
        Gpt2Weights w = HeadSweep.load(Path.of(model));
        AhCache cache = cacheDir == null ? null : new AhCache(Path.of(cacheDir), s -> { }, false);
        for (int run = 0; run < runs; run++) {
            for (int[] phases : schedules) {
                long[] stats = new long[2 * (phases.length + 2)];
                try (CpuBackend be = new CpuBackend(1, FactoredTopK::new, cache)
                        .screening(TargetRankCheck.TILE, phases, stats)) {
                    Sweep sweep = Sweep.of(w, HeadSweep.task(task)).backend(be).keepTopK(false);
                    if (heads < w.config().nLayer() * w.config().nHead()) {
                        java.util.List<dev.headsweep.engine.HeadId> some = new java.util.ArrayList<>();
                        for (int h = 0; h < heads; h++) {
                            some.add(new dev.headsweep.engine.HeadId(h / w.config().nHead(), h % w.config().nHead()));
                        }
                        sweep.heads(some);
                    }
                    SweepResult r = sweep.run();
                    int m = phases.length + 2;
                    StringBuilder sec = new StringBuilder();
                    for (int q = m; q < 2 * m; q++) {
                        sec.append(String.format(" %.2f", stats[q] / 1e9));
                    }
                    System.out.printf("run %d, screens %-10s OV chain %.2f s (1 thread); rows with a target %d,"
                                    + " into each screen and the whole top-k: %s; seconds in the targets' logits,"
                                    + " each screen, the whole top-k:%s%n",
                            run, phases.length == 0 ? "none" : Arrays.toString(phases),
                            r.timings().ovTopKNanos() / 1e9, stats[0],
                            Arrays.toString(Arrays.copyOfRange(stats, 1, m)), sec);
                }
            }
        }
    }
}
