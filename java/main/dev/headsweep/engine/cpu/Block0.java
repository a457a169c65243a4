package dev.headsweep.engine.cpu;

import dev.headsweep.model.Gpt2Weights;

import dev.headsweep.HeadSweepException;
import java.util.ArrayList;
import java.util.List;

/**
 * The residual stream after block 0 (contract step 2): {@code wte + wpe}, then ln_1, causal
 * self-attention, residual, ln_2, MLP with gelu_new, residual.
 *
 * <p>Prompts are stacked row after row with no padding (causal attention stays within each
 * prompt, which is what right-padding and a causal mask amount to), so the dense layers run on many
 * rows per pass over their weights. Chunks of prompts run in parallel.
 */
public final class Block0 {
    /** Rows per chunk: enough to share each pass over the weights, small enough to bound memory. */
    private static final int MAX_CHUNK_ROWS = 1024;

    private Block0() {
    }

    /**
     * @param prompts   token ids of each prompt
     * @param positions for each prompt, the positions whose residual is wanted
     * @return row-major {@code [Σ positions, d]}: the wanted rows, prompt by prompt, in the order given
     */
    public static float[] residual(Gpt2Weights w, int[][] prompts, int[][] positions) {
        return residual(w, prompts, positions, dev.headsweep.engine.Progress.NONE);
    }

    /**
     * As {@link #residual(Gpt2Weights, int[][], int[][])}, reporting stage "block 0" in prompts done.
     *
     * <p>Only the keys and values are needed at every position: ln_1 and the key and value columns
     * of c_attn run on every row; the query columns, the attention, c_proj, ln_2, the MLP and both
     * residual adds run on the wanted rows alone. Every step computes each output on its own with a
     * fixed order of operations ({@link MatMul} and {@link VectorMatMul}: each element is its bias
     * plus the products over the inner index in order, whatever the row count or column range;
     * {@link LayerNorm} per row; {@link Gelu} per element; the attention per query row and head), so
     * the wanted rows carry the same bits as the rows of {@link #forward(Gpt2Weights, int[][])}.
     * Positions may come in any order; one listed twice is computed twice.
     */
    public static float[] residual(Gpt2Weights w, int[][] prompts, int[][] positions,
                                   dev.headsweep.engine.Progress progress) {
        int d = w.config().nEmbd();
        if (positions.length != prompts.length) {
            throw new IllegalArgumentException(positions.length + " position lists for " + prompts.length + " prompts");
        }
        int[] outRow = new int[prompts.length + 1];
        long tokens = 0;
        for (int p = 0; p < prompts.length; p++) {
            outRow[p + 1] = outRow[p] + positions[p].length;
            tokens += prompts[p].length;
            if (prompts[p].length > w.config().nPositions()) {
                throw new HeadSweepException("prompt " + p + " has " + prompts[p].length
                        + " tokens, more than the model's " + w.config().nPositions() + " positions");
            }
            for (int t : positions[p]) {
                if (t < 0 || t >= prompts[p].length) {
                    throw new IllegalArgumentException("position " + t + " of prompt " + p + " is outside its "
                            + prompts[p].length + " tokens");
                }
            }
        }
        int cores = Runtime.getRuntime().availableProcessors();
        long target = Math.max(64, Math.min(MAX_CHUNK_ROWS, (tokens + 2L * cores - 1) / (2L * cores)));
        List<int[]> chunks = new ArrayList<>();
        int first = 0;
        long rows = 0;
        for (int p = 0; p < prompts.length; p++) {
            rows += prompts[p].length;
            if (rows >= target || p == prompts.length - 1) {
                chunks.add(new int[] {first, p + 1});
                first = p + 1;
                rows = 0;
            }
        }
        float[] out = new float[outRow[prompts.length] * d];
        java.util.concurrent.atomic.AtomicLong done = new java.util.concurrent.atomic.AtomicLong();
        progress.update("block 0", 0, prompts.length);
        chunks.parallelStream().forEach(c -> {
            int[][] part = java.util.Arrays.copyOfRange(prompts, c[0], c[1]);
            int[][] at = java.util.Arrays.copyOfRange(positions, c[0], c[1]);
            float[] h = wanted(w, part, at);
            System.arraycopy(h, 0, out, outRow[c[0]] * d, h.length);
            progress.update("block 0", done.addAndGet(c[1] - c[0]), prompts.length);
        });
        return out;
    }

    /** The full residual after block 0 for one prompt, {@code [s, d]}. */
    public static float[] forward(Gpt2Weights w, int[] tokens) {
        return forward(w, new int[][] {tokens});
    }

    /** The residual after block 0 at every position of every prompt, prompts stacked: {@code [Σ s, d]}. */
    static float[] forward(Gpt2Weights w, int[][] prompts) {
        var cfg = w.config();
        int d = cfg.nEmbd();
        Gpt2Weights.Block0Weights b = w.block0();
        float[] h = embed(w, prompts);
        int n = h.length / d;
        float[] a = LayerNorm.rows(h, n, d, b.ln1W(), b.ln1B(), (float) cfg.layerNormEps());
        float[] qkv = MatMul.xw(a, n, d, b.attnW(), 3 * d, b.attnB());
        float[] attn = new float[n * d];
        int row = 0;
        for (int[] p : prompts) {
            attend(qkv, row, p.length, cfg.nHead(), cfg.headSize(), d, attn);
            row += p.length;
        }
        afterAttention(w, h, attn, n);
        return h;
    }

    /**
     * The residual after block 0 at the given positions of each prompt, prompts stacked: {@code [Σ positions, d]}.
     * ln_1 and the key and value columns of {@code c_attn} run on every row, the query columns and
     * everything after the attention on the wanted rows alone.
     */
    private static float[] wanted(Gpt2Weights w, int[][] prompts, int[][] positions) {
        var cfg = w.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        Gpt2Weights.Block0Weights b = w.block0();
        float[] all = embed(w, prompts);
        int n = all.length / d;
        float[] a = LayerNorm.rows(all, n, d, b.ln1W(), b.ln1B(), (float) cfg.layerNormEps());
        float[] kv = MatMul.xw(a, n, d, b.attnW(), 3 * d, d, 2 * d, b.attnB());
        int nw = 0;
        for (int[] at : positions) {
            nw += at.length;
        }
        float[] h = new float[nw * d];
        float[] aw = new float[nw * d];
        int row0 = 0;
        int r = 0;
        for (int p = 0; p < prompts.length; p++) {
            for (int t : positions[p]) {
                System.arraycopy(all, (row0 + t) * d, h, r * d, d);
                System.arraycopy(a, (row0 + t) * d, aw, r * d, d);
                r++;
            }
            row0 += prompts[p].length;
        }
        float[] q = MatMul.xw(aw, nw, d, b.attnW(), 3 * d, 0, d, b.attnB());
        float[] attn = new float[nw * d];
        float[] att = new float[maxLength(prompts)];
        float scale = (float) (1.0 / Math.sqrt(hs));
        row0 = 0;
        r = 0;
        for (int p = 0; p < prompts.length; p++) {
            for (int t : positions[p]) {
                for (int head = 0; head < cfg.nHead(); head++) {
                    attendQuery(q, r * d + head * hs, kv, row0 * 2 * d, 2 * d, head * hs, d + head * hs,
                            t, hs, scale, att, attn, r * d + head * hs);
                }
                r++;
            }
            row0 += prompts[p].length;
        }
        afterAttention(w, h, attn, nw);
        return h;
    }

    private static int maxLength(int[][] prompts) {
        int max = 0;
        for (int[] p : prompts) {
            max = Math.max(max, p.length);
        }
        return max;
    }

    /** {@code wte + wpe} at every position of every prompt, prompts stacked: {@code [Σ s, d]}. */
    private static float[] embed(Gpt2Weights w, int[][] prompts) {
        int d = w.config().nEmbd();
        int n = 0;
        for (int[] p : prompts) {
            n += p.length;
        }
        float[] h = new float[n * d];
        int row = 0;
        for (int[] p : prompts) {
            for (int t = 0; t < p.length; t++, row++) {
                for (int i = 0; i < d; i++) {
                    h[row * d + i] = w.wte()[p[t] * d + i] + w.wpe()[t * d + i];
                }
            }
        }
        return h;
    }

    /**
     * Given the attention output {@code attn} of the {@code n} rows of {@code h}, adds c_proj, then
     * ln_2 and the MLP with gelu_new, to {@code h} in place.
     */
    private static void afterAttention(Gpt2Weights w, float[] h, float[] attn, int n) {
        int d = w.config().nEmbd();
        float eps = (float) w.config().layerNormEps();
        Gpt2Weights.Block0Weights b = w.block0();
        float[] proj = MatMul.xw(attn, n, d, b.projW(), d, b.projB());
        for (int i = 0; i < n * d; i++) {
            h[i] += proj[i];
        }

        float[] m = LayerNorm.rows(h, n, d, b.ln2W(), b.ln2B(), eps);
        float[] fc = MatMul.xw(m, n, d, b.fcW(), 4 * d, b.fcB());
        Gelu.inPlace(fc);
        float[] mlp = MatMul.xw(fc, n, 4 * d, b.fcProjW(), d, b.fcProjB());
        for (int i = 0; i < n * d; i++) {
            h[i] += mlp[i];
        }
    }

    /** Causal softmax attention of one prompt (rows {@code row0 .. row0+s}) for every head, into {@code out}. */
    private static void attend(float[] qkv, int row0, int s, int nHead, int hs, int d, float[] out) {
        float scale = (float) (1.0 / Math.sqrt(hs));
        float[] att = new float[s];
        for (int head = 0; head < nHead; head++) {
            int qo = head * hs;
            for (int t = 0; t < s; t++) {
                attendQuery(qkv, (row0 + t) * 3 * d + qo, qkv, row0 * 3 * d, 3 * d, d + qo, 2 * d + qo,
                        t, hs, scale, att, out, (row0 + t) * d + qo);
            }
        }
    }

    /**
     * One head's causal softmax attention for the query at position {@code t} of a prompt: the
     * query is {@code q[qAt .. qAt+hs)}; the key and value of position {@code u} are at
     * {@code kvAt + u·kvStride + kOff} and {@code .. + vOff} in {@code kv}. Adds the {@code hs}
     * outputs to {@code out[outAt ..]}. {@code att} is scratch of at least {@code t + 1} floats.
     * Package-private for {@link JitWarmUp}.
     */
    static void attendQuery(float[] q, int qAt, float[] kv, int kvAt, int kvStride, int kOff, int vOff,
                                    int t, int hs, float scale, float[] att, float[] out, int outAt) {
        float max = Float.NEGATIVE_INFINITY;
        for (int u = 0; u <= t; u++) {
            int uk = kvAt + u * kvStride + kOff;
            float dot = 0f;
            for (int j = 0; j < hs; j++) {
                dot += q[qAt + j] * kv[uk + j];
            }
            att[u] = dot * scale;
            max = Math.max(max, att[u]);
        }
        float sum = 0f;
        for (int u = 0; u <= t; u++) {
            att[u] = (float) Math.exp(att[u] - max);
            sum += att[u];
        }
        for (int u = 0; u <= t; u++) {
            float p = att[u] / sum;
            int uv = kvAt + u * kvStride + vOff;
            for (int j = 0; j < hs; j++) {
                out[outAt + j] += p * kv[uv + j];
            }
        }
    }
}
