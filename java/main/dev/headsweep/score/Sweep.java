package dev.headsweep.score;

import dev.headsweep.HeadSweepException;
import dev.headsweep.engine.Backend;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.HeadTopK;
import dev.headsweep.engine.Progress;
import dev.headsweep.engine.TargetsInTopK;
import dev.headsweep.engine.cpu.CpuBackend;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.task.Gpt2Tokenizer;
import dev.headsweep.task.Keyword;
import dev.headsweep.task.ResolvedTask;
import dev.headsweep.task.Task;
import java.util.ArrayList;
import java.util.List;

/**
 * One sweep, set up fluently and run: tokenize the task, run block 0 once for all prompts, push
 * every head's OV chain through the backend's fused top-k, and score each relation from the same
 * top-k. With {@link #keepTopK(boolean) keepTopK(false)} the backend is asked only whether each
 * relation's targets are among the top-k ({@link Backend#ovTargetsInTopK}): the same scores, and
 * on the CPU much less work (a row stops as soon as k tokens are known to beat all its targets),
 * but no top-k ids in the result.
 *
 * <pre>{@code
 * SweepResult r = Sweep.of(weights, BuiltinTasks.get("numerals").orElseThrow())
 *         .relations("copy", "next").k(5).run();
 * double next91 = r.score(new HeadId(9, 1), "next");
 * }</pre>
 */
public final class Sweep {
    private final Gpt2Weights weights;
    private final Task task;
    private List<String> relations;
    private int k = 5;
    private List<HeadId> heads;
    private Backend backend;
    private Progress progress = Progress.NONE;
    private boolean keepTopK = true;

    private Sweep(Gpt2Weights weights, Task task) {
        this.weights = weights;
        this.task = task;
        this.relations = task.defaultRelations();
    }

    public static Sweep of(Gpt2Weights weights, Task task) {
        return new Sweep(weights, task);
    }

    /** Relations to score (default: the task's, copy and next). */
    public Sweep relations(String... names) {
        return relations(List.of(names));
    }

    public Sweep relations(List<String> names) {
        if (names.isEmpty()) {
            throw new HeadSweepException("no relation to score: name at least one (e.g. copy,next)");
        }
        this.relations = List.copyOf(names);
        return this;
    }

    /** How many top tokens count as a hit (default 5). */
    public Sweep k(int k) {
        int vocab = weights.config().vocabSize();
        if (k < 1 || k > vocab) {
            throw new HeadSweepException("k must be between 1 and the vocabulary size " + vocab + ", got " + k);
        }
        this.k = k;
        return this;
    }

    /** Heads to sweep (default: all, ordered by layer then head). */
    public Sweep heads(List<HeadId> heads) {
        var cfg = weights.config();
        for (HeadId h : heads) {
            h.checkIn(cfg.nLayer(), cfg.nHead());
        }
        this.heads = heads.stream().distinct().sorted().toList();
        return this;
    }

    /** Where to compute (default: a new CPU backend on all cores). */
    public Sweep backend(Backend backend) {
        this.backend = backend;
        return this;
    }

    public Sweep progress(Progress progress) {
        this.progress = progress;
        return this;
    }

    /**
     * Whether the result keeps every head's top-k ids (default {@code true}, for
     * {@link SweepResult#topIds}); {@code false} computes the scores alone, the same ones, faster.
     */
    public Sweep keepTopK(boolean keep) {
        this.keepTopK = keep;
        return this;
    }

    public SweepResult run() {
        ResolvedTask rt = ResolvedTask.resolve(task, relations, Gpt2Tokenizer.instance());
        checkVocabulary(rt);
        List<HeadId> hs = heads != null ? heads : allHeads();
        Backend be = backend != null ? backend : new CpuBackend();

        int[][] prompts = rt.promptTokens();
        int[][] positions = new int[prompts.length][];
        int[] count = new int[prompts.length];
        int lastPrompt = 0;
        for (Keyword kw : rt.keywords()) {
            if (kw.prompt() < lastPrompt) {
                throw new IllegalStateException("keywords must be listed prompt by prompt");
            }
            lastPrompt = kw.prompt();
            count[kw.prompt()]++;
        }
        for (int p = 0; p < prompts.length; p++) {
            positions[p] = new int[count[p]];
            count[p] = 0;
        }
        for (Keyword kw : rt.keywords()) {
            positions[kw.prompt()][count[kw.prompt()]++] = kw.position();
        }

        long t0 = System.nanoTime();
        float[] x = be.residualAfterBlock0(weights, prompts, positions, progress);
        long t1 = System.nanoTime();
        int n = rt.keywords().size();
        RowTargets row = rowTargets(rt);
        HeadTopK top = keepTopK ? be.ovTopK(weights, x, n, hs, k, progress) : null;
        boolean[][][] in = keepTopK ? null : be.ovTargetsInTopK(weights, x, n, hs, k, row.targets(), progress);
        long t2 = System.nanoTime();
        if (top != null) {
            in = TargetsInTopK.lookUp(top, row.targets());
        }
        boolean[][][] hits = new boolean[relations.size()][hs.size()][n];
        for (int r = 0; r < relations.size(); r++) {
            for (int h = 0; h < hs.size(); h++) {
                for (int kw = 0; kw < n; kw++) {
                    for (int at : row.where()[r][kw]) {
                        hits[r][h][kw] |= in[h][kw][at];
                    }
                }
            }
        }
        long t3 = System.nanoTime();
        return new SweepResult(weights.source(), rt, hs, k, top, relations, hits,
                new SweepResult.Timings(t1 - t0, t2 - t1, t3 - t2));
    }

    /**
     * Every keyword's targets of all relations in one list ({@code targets[kw]}, each id once) and
     * where each relation's targets stand in it ({@code where[relation][kw][j]}).
     */
    private record RowTargets(int[][] targets, int[][][] where) {
    }

    private RowTargets rowTargets(ResolvedTask rt) {
        int n = rt.keywords().size();
        int[][] rowTargets = new int[n][];
        int[][][] where = new int[relations.size()][n][];
        int[][][] targets = new int[relations.size()][][];
        for (int r = 0; r < relations.size(); r++) {
            targets[r] = rt.targets(r);
        }
        for (int kw = 0; kw < n; kw++) {
            List<Integer> all = new ArrayList<>();
            for (int r = 0; r < relations.size(); r++) {
                int[] ts = targets[r][kw];
                where[r][kw] = new int[ts.length];
                for (int j = 0; j < ts.length; j++) {
                    int at = all.indexOf(ts[j]);
                    if (at < 0) {
                        at = all.size();
                        all.add(ts[j]);
                    }
                    where[r][kw][j] = at;
                }
            }
            rowTargets[kw] = all.stream().mapToInt(Integer::intValue).toArray();
        }
        return new RowTargets(rowTargets, where);
    }

    private List<HeadId> allHeads() {
        List<HeadId> all = new ArrayList<>();
        for (int l = 0; l < weights.config().nLayer(); l++) {
            for (int h = 0; h < weights.config().nHead(); h++) {
                all.add(new HeadId(l, h));
            }
        }
        return all;
    }

    private void checkVocabulary(ResolvedTask rt) {
        int vocab = weights.config().vocabSize();
        int[][] prompts = rt.promptTokens();
        for (int p = 0; p < prompts.length; p++) {
            for (int id : prompts[p]) {
                if (id >= vocab) {
                    throw new HeadSweepException("prompt " + p + " has token id " + id
                            + ", outside the model's vocabulary of " + vocab + " tokens");
                }
            }
        }
    }
}
