package dev.headsweep.engine;

import dev.headsweep.model.Gpt2Weights;
import java.util.List;

/**
 * Where the arithmetic runs. Every backend computes the same two steps of the contract
 * (DESIGN.md section 1) and must give the CPU backend's answers.
 */
public interface Backend extends AutoCloseable {

    /** A short name for messages ("cpu", "cuda"). */
    String name();

    /** A one-line description of what this backend runs on (threads, instruction set, device). */
    String describe();

    /**
     * Step 2: the residual stream after block 0 at the given positions of each prompt.
     *
     * @return row-major {@code [Σ positions, d]}, prompt by prompt in the order given
     */
    float[] residualAfterBlock0(Gpt2Weights w, int[][] prompts, int[][] positions);

    /**
     * As {@link #residualAfterBlock0(Gpt2Weights, int[][], int[][])}, reporting progress (stage
     * {@code "block 0"}, in prompts) where the backend can; by default it reports nothing.
     */
    default float[] residualAfterBlock0(Gpt2Weights w, int[][] prompts, int[][] positions, Progress progress) {
        return residualAfterBlock0(w, prompts, positions);
    }

    /**
     * Steps 3 and 4 for every head asked: the top-k token ids of
     * {@code LN(LN(x; ln_1)·W_V + b_V)·W_O; ln_f)·wteᵀ} at each of the {@code n} rows of {@code x}.
     * Logits of all heads are never held at once.
     */
    HeadTopK ovTopK(Gpt2Weights w, float[] x, int n, List<HeadId> heads, int k, Progress progress);

    /**
     * Step 4 asked as a question, for scores that need no more: for every head asked, row {@code i}
     * and target {@code j}, whether the token id {@code targets[i][j]} is among the top-k ids of
     * row {@code i} (the same answer as looking it up in {@link #ovTopK}'s result, tie rule
     * included). A row may list any number of targets, none too; an id outside the vocabulary
     * never hits. Backends that can answer without the whole top-k (a target is out as soon as k
     * tokens are known to beat it) override this; by default it looks the targets up in
     * {@link #ovTopK}.
     *
     * @return {@code hits[h][i][j]} for head {@code heads.get(h)}, row {@code i}, target {@code targets[i][j]}
     */
    default boolean[][][] ovTargetsInTopK(Gpt2Weights w, float[] x, int n, List<HeadId> heads, int k,
            int[][] targets, Progress progress) {
        return TargetsInTopK.lookUp(ovTopK(w, x, n, heads, k, progress), targets);
    }

    @Override
    default void close() {
    }
}
