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

    /** As {@link #residual(Gpt2Weights, int[][], int[][])}, reporting stage "block 0" in prompts done. */
    public static float[] residual(Gpt2Weights w, int[][] prompts, int[][] positions,
                                   dev.headsweep.engine.Progress progress) {
        int d = w.config().nEmbd();
        int[] outRow = new int[prompts.length + 1];
        long tokens = 0;
        for (int p = 0; p < prompts.length; p++) {
            outRow[p + 1] = outRow[p] + positions[p].length;
            tokens += prompts[p].length;
            if (prompts[p].length > w.config().nPositions()) {
                throw new HeadSweepException("prompt " + p + " has " + prompts[p].length
                        + " tokens, more than the model's " + w.config().nPositions() + " positions");
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
            float[] h = forward(w, part);
            int row = 0;
            for (int p = c[0]; p < c[1]; p++) {
                for (int i = 0; i < positions[p].length; i++) {
                    System.arraycopy(h, (row + positions[p][i]) * d, out, (outRow[p] + i) * d, d);
                }
                row += prompts[p].length;
            }
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
        float eps = (float) cfg.layerNormEps();
        Gpt2Weights.Block0Weights b = w.block0();
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

        float[] a = LayerNorm.rows(h, n, d, b.ln1W(), b.ln1B(), eps);
        float[] qkv = MatMul.xw(a, n, d, b.attnW(), 3 * d, b.attnB());
        float[] attn = new float[n * d];
        row = 0;
        for (int[] p : prompts) {
            attend(qkv, row, p.length, cfg.nHead(), cfg.headSize(), d, attn);
            row += p.length;
        }
        float[] proj = MatMul.xw(attn, n, d, b.projW(), d, b.projB());
        for (int i = 0; i < h.length; i++) {
            h[i] += proj[i];
        }

        float[] m = LayerNorm.rows(h, n, d, b.ln2W(), b.ln2B(), eps);
        float[] fc = MatMul.xw(m, n, d, b.fcW(), 4 * d, b.fcB());
        Gelu.inPlace(fc);
        float[] mlp = MatMul.xw(fc, n, 4 * d, b.fcProjW(), d, b.fcProjB());
        for (int i = 0; i < h.length; i++) {
            h[i] += mlp[i];
        }
        return h;
    }

    /** Causal softmax attention of one prompt (rows {@code row0 .. row0+s}) for every head, into {@code out}. */
    private static void attend(float[] qkv, int row0, int s, int nHead, int hs, int d, float[] out) {
        float scale = (float) (1.0 / Math.sqrt(hs));
        float[] att = new float[s];
        for (int head = 0; head < nHead; head++) {
            int qo = head * hs;
            int ko = d + head * hs;
            int vo = 2 * d + head * hs;
            for (int t = 0; t < s; t++) {
                int tq = (row0 + t) * 3 * d;
                float max = Float.NEGATIVE_INFINITY;
                for (int u = 0; u <= t; u++) {
                    int uk = (row0 + u) * 3 * d;
                    float dot = 0f;
                    for (int j = 0; j < hs; j++) {
                        dot += qkv[tq + qo + j] * qkv[uk + ko + j];
                    }
                    att[u] = dot * scale;
                    max = Math.max(max, att[u]);
                }
                float sum = 0f;
                for (int u = 0; u <= t; u++) {
                    att[u] = (float) Math.exp(att[u] - max);
                    sum += att[u];
                }
                int o = (row0 + t) * d + qo;
                for (int u = 0; u <= t; u++) {
                    float p = att[u] / sum;
                    int uv = (row0 + u) * 3 * d + vo;
                    for (int j = 0; j < hs; j++) {
                        out[o + j] += p * qkv[uv + j];
                    }
                }
            }
        }
    }
}
