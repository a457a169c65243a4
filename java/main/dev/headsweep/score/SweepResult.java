package dev.headsweep.score;

import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.HeadTopK;
import dev.headsweep.task.Keyword;
import dev.headsweep.task.ResolvedTask;
import java.util.List;

/**
 * What a sweep found: for every relation whether each keyword hit in each head and the head's
 * score ({@code 100 · hits / keywords}, DESIGN.md step 5), and, unless the sweep asked for the
 * hits alone ({@link Sweep#keepTopK(boolean)}), the top-k token ids of every head and keyword.
 */
public final class SweepResult {
    private final String model;
    private final ResolvedTask task;
    private final List<HeadId> heads;
    private final int k;
    private final HeadTopK topK;
    private final List<String> relations;
    /** hits[relation][head][keyword]. */
    private final boolean[][][] hits;
    private final Timings timings;

    /** Wall-clock nanoseconds of each stage; top-k (or the targets' rank test) is fused into the OV chain. */
    public record Timings(long block0Nanos, long ovTopKNanos, long scoringNanos) {
    }

    /**
     * {@code hits[relation][head][keyword]}; {@code topK} the heads' top-k, or null when the sweep
     * kept the hits alone.
     */
    SweepResult(String model, ResolvedTask task, List<HeadId> heads, int k, HeadTopK topK, List<String> relations,
                boolean[][][] hits, Timings timings) {
        this.model = model;
        this.task = task;
        this.heads = List.copyOf(heads);
        this.k = k;
        this.topK = topK;
        this.relations = List.copyOf(relations);
        this.hits = hits;
        this.timings = timings;
    }

    /** The checkpoint's name or path, as given. */
    public String model() {
        return model;
    }

    public String taskName() {
        return task.task().name();
    }

    public ResolvedTask task() {
        return task;
    }

    public int k() {
        return k;
    }

    public List<HeadId> heads() {
        return heads;
    }

    public List<String> relations() {
        return relations;
    }

    public List<Keyword> keywords() {
        return task.keywords();
    }

    public Timings timings() {
        return timings;
    }

    /** Whether this result holds the top-k ids ({@link #topK()}), i.e. the sweep did not ask for the hits alone. */
    public boolean hasTopK() {
        return topK != null;
    }

    /**
     * The raw top-k of every head and keyword.
     * @throws IllegalStateException when the sweep kept the hits alone ({@code Sweep.keepTopK(false)})
     */
    public HeadTopK topK() {
        if (topK == null) {
            throw new IllegalStateException("this sweep kept only the hits, not the top-k ids "
                    + "(Sweep.keepTopK(false)); sweep with keepTopK(true) to have them");
        }
        return topK;
    }

    /** Whether keyword {@code kw} hit relation {@code relation} in head {@code head}. */
    public boolean hit(HeadId head, String relation, int kw) {
        return hits[relationIndex(relation)][headIndex(head)][kw];
    }

    /** {@code 100 · hits / keywords}, in percent. */
    public double score(HeadId head, String relation) {
        boolean[] row = hits[relationIndex(relation)][headIndex(head)];
        int n = 0;
        for (boolean b : row) {
            if (b) {
                n++;
            }
        }
        return row.length == 0 ? 0.0 : 100.0 * n / row.length;
    }

    /** The top-k token ids of one head at one keyword, best first. */
    public int[] topIds(HeadId head, int kw) {
        return topK().ids(headIndex(head), kw);
    }

    public float[] topLogits(HeadId head, int kw) {
        HeadTopK top = topK();
        int h = headIndex(head);
        float[] out = new float[top.k()];
        System.arraycopy(top.logits()[h], kw * top.k(), out, 0, top.k());
        return out;
    }

    private int relationIndex(String relation) {
        int i = relations.indexOf(relation);
        if (i < 0) {
            throw new IllegalArgumentException("relation " + relation + " was not scored; scored: " + relations);
        }
        return i;
    }

    private int headIndex(HeadId head) {
        int i = heads.indexOf(head);
        if (i < 0) {
            throw new IllegalArgumentException("head " + head + " was not swept");
        }
        return i;
    }
}
