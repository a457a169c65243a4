package dev.headsweep.cli;

import dev.headsweep.HeadSweep;
import dev.headsweep.HeadSweepException;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.Progress;
import dev.headsweep.engine.Backend;
import dev.headsweep.engine.Backends;
import dev.headsweep.engine.cpu.AhCache;
import dev.headsweep.engine.cpu.JitWarmUp;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.score.Sweep;
import dev.headsweep.score.SweepResult;
import dev.headsweep.task.Task;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Option;

/** The options every command that sweeps shares: which model, which task, what counts as a hit. */
final class SweepOptions {
    @Option(names = "--model", required = true, paramLabel = "MODEL",
            description = "A checkpoint folder, a .safetensors file, or a Hugging Face name such as gpt2 or "
                    + "org/name@revision (found in the Hugging Face cache, else downloaded into it; "
                    + "HF_HUB_OFFLINE=1 uses the cache only, HF_TOKEN for gated repos).")
    String model;

    @Option(names = "--task", defaultValue = "numerals", paramLabel = "TASK",
            description = "numerals, numwords, months, or a task JSON file (see README). Default: ${DEFAULT-VALUE}.")
    String task;

    @Option(names = "--k", defaultValue = "5", paramLabel = "K",
            description = "A keyword hits when its target is among the top K tokens. Default: ${DEFAULT-VALUE}.")
    int k;

    @Option(names = "--relations", split = ",", paramLabel = "REL",
            description = "Relations to score, comma-separated: copy, next, prev, or the task file's own. "
                    + "Default: copy,next.")
    List<String> relations;

    @Option(names = "--threads", paramLabel = "N",
            description = "CPU threads. Default: all processors (${sys:headsweep.cores}).")
    Integer threads;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "DEV",
            description = "auto, cpu or cuda. auto uses a usable NVIDIA GPU that passes a quick self-check, "
                    + "else the CPU (the line on stderr says which). Default: ${DEFAULT-VALUE}.")
    String device;

    @Option(names = {"-q", "--quiet"}, description = "No progress bar and no timing line on stderr.")
    boolean quiet;

    static {
        System.setProperty("headsweep.cores", Integer.toString(Runtime.getRuntime().availableProcessors()));
    }

    /** Checks what can be checked before anything is loaded. */
    void validate() {
        if (k < 1) {
            throw new HeadSweepException("--k must be at least 1, got " + k);
        }
        if (threads != null && threads < 1) {
            throw new HeadSweepException("--threads must be at least 1, got " + threads);
        }
    }

    /**
     * Loads, sweeps and reports the time each stage took on stderr (unless quiet); no A_h cache;
     * the scores alone (no top-k ids in the result).
     */
    SweepResult run(List<HeadId> heads) {
        return run(heads, null, false);
    }

    /**
     * As {@link #run(List)}, the CPU backend with the A_h cache {@code cache} (null: none), and the
     * top-k ids of every head and keyword in the result when {@code keepTopK}.
     */
    SweepResult run(List<HeadId> heads, AhCache cache, boolean keepTopK) {
        validate();
        Task t = HeadSweep.task(task);
        Backends.Choice choice = Backends.select(device, threads, cache);   // before loading: a bad --device fails fast
        try (Backend backend = choice.backend()) {
            JitWarmUp.startInBackground();
            Progress progress = ProgressBar.forTerminal(quiet);
            long t0 = System.nanoTime();
            Gpt2Weights w = HeadSweep.load(model, progress);
            long loadNanos = System.nanoTime() - t0;
            JitWarmUp.await(2000);
            if (heads != null) {
                for (HeadId h : heads) {
                    h.checkIn(w.config().nLayer(), w.config().nHead());
                }
            }
            Sweep sweep = Sweep.of(w, t).k(k).progress(progress).backend(backend).keepTopK(keepTopK);
            if (relations != null) {
                sweep.relations(relations);
            }
            if (heads != null) {
                sweep.heads(heads);
            }
            SweepResult r = sweep.run();
            if (progress instanceof ProgressBar bar) {
                bar.finish();
            }
            if (!quiet) {
                var tm = r.timings();
                System.err.println(choice.description());
                System.err.printf(Locale.ROOT, "%d heads × %d keywords on %s: load %.2f s, block 0 %.2f s, "
                                + "OV chain + %s %.2f s, scoring %.3f s%n",
                        r.heads().size(), r.keywords().size(), backend.describe(), loadNanos / 1e9,
                        tm.block0Nanos() / 1e9, keepTopK ? "top-k" : "targets' rank", tm.ovTopKNanos() / 1e9,
                        tm.scoringNanos() / 1e9);
            }
            return r;
        }
    }
}
