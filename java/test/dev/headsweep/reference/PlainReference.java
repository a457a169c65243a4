package dev.headsweep.reference;

import dev.headsweep.checkpoint.Checkpoint;
import dev.headsweep.checkpoint.GptConfig;

/**
 * A second, plain implementation of the contract (DESIGN.md section 1), written to be obviously
 * right rather than fast: two-dimensional arrays, straight loops, block 0 on one prompt at a time,
 * per head the d-wide {@code o}, the full {@code ln_f} and the full unembedding over the whole
 * vocabulary (the tests then sort all of it). It shares nothing with the engine but the checkpoint
 * reader.
 */
public final class PlainReference {
    private final GptConfig cfg;
    private final Checkpoint ckpt;
    private final float[][] wte;
    private final java.util.Map<String, float[][]> matrices = new java.util.HashMap<>();

    public PlainReference(Checkpoint ckpt) {
        this.ckpt = ckpt;
        this.cfg = ckpt.config();
        this.wte = matrix("wte.weight", cfg.vocabSize(), cfg.nEmbd());
    }

    /** A tensor as rows (read once, then kept). */
    private float[][] matrix(String name, int rows, int cols) {
        return matrices.computeIfAbsent(name, n -> rowsOf(ckpt.floats(n), rows, cols));
    }

    private static float[][] rowsOf(float[] flat, int rows, int cols) {
        float[][] m = new float[rows][cols];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(flat, i * cols, m[i], 0, cols);
        }
        return m;
    }

    private static float[] layerNorm(float[] x, float[] w, float[] b, float eps) {
        int d = x.length;
        float mean = 0;
        for (float v : x) {
            mean += v;
        }
        mean /= d;
        float var = 0;
        for (float v : x) {
            var += (v - mean) * (v - mean);
        }
        var /= d;
        float[] out = new float[d];
        for (int i = 0; i < d; i++) {
            out[i] = (float) ((x[i] - mean) / Math.sqrt(var + eps)) * w[i] + b[i];
        }
        return out;
    }

    /** {@code x · W + b} with W stored {@code [in, out]}. */
    private static float[] affine(float[] x, float[][] w, float[] b) {
        float[] out = new float[w[0].length];
        for (int j = 0; j < out.length; j++) {
            float s = b == null ? 0 : b[j];
            for (int i = 0; i < x.length; i++) {
                s += x[i] * w[i][j];
            }
            out[j] = s;
        }
        return out;
    }

    /** The residual stream after block 0 at every position of one prompt. */
    public float[][] block0(int[] tokens) {
        int d = cfg.nEmbd();
        int s = tokens.length;
        int nh = cfg.nHead();
        int hs = d / nh;
        float eps = (float) cfg.layerNormEps();
        float[][] wpe = matrix("wpe.weight", cfg.nPositions(), d);
        float[][] cAttn = matrix("h.0.attn.c_attn.weight", d, 3 * d);
        float[][] cProj = matrix("h.0.attn.c_proj.weight", d, d);
        float[][] fc = matrix("h.0.mlp.c_fc.weight", d, 4 * d);
        float[][] fcProj = matrix("h.0.mlp.c_proj.weight", 4 * d, d);

        float[][] h = new float[s][d];
        for (int t = 0; t < s; t++) {
            for (int i = 0; i < d; i++) {
                h[t][i] = wte[tokens[t]][i] + wpe[t][i];
            }
        }
        float[][] qkv = new float[s][];
        for (int t = 0; t < s; t++) {
            qkv[t] = affine(layerNorm(h[t], ckpt.floats("h.0.ln_1.weight"), ckpt.floats("h.0.ln_1.bias"), eps),
                    cAttn, ckpt.floats("h.0.attn.c_attn.bias"));
        }
        float[][] heads = new float[s][d];
        for (int head = 0; head < nh; head++) {
            for (int t = 0; t < s; t++) {
                double[] score = new double[t + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int u = 0; u <= t; u++) {
                    float dot = 0;
                    for (int j = 0; j < hs; j++) {
                        dot += qkv[t][head * hs + j] * qkv[u][d + head * hs + j];
                    }
                    score[u] = dot / Math.sqrt(hs);
                    max = Math.max(max, score[u]);
                }
                double z = 0;
                for (int u = 0; u <= t; u++) {
                    score[u] = Math.exp(score[u] - max);
                    z += score[u];
                }
                for (int u = 0; u <= t; u++) {
                    for (int j = 0; j < hs; j++) {
                        heads[t][head * hs + j] += (float) (score[u] / z) * qkv[u][2 * d + head * hs + j];
                    }
                }
            }
        }
        for (int t = 0; t < s; t++) {
            float[] a = affine(heads[t], cProj, ckpt.floats("h.0.attn.c_proj.bias"));
            for (int i = 0; i < d; i++) {
                h[t][i] += a[i];
            }
            float[] m = affine(layerNorm(h[t], ckpt.floats("h.0.ln_2.weight"), ckpt.floats("h.0.ln_2.bias"), eps),
                    fc, ckpt.floats("h.0.mlp.c_fc.bias"));
            for (int i = 0; i < m.length; i++) {
                double v = m[i];
                m[i] = (float) (0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))));
            }
            float[] out = affine(m, fcProj, ckpt.floats("h.0.mlp.c_proj.bias"));
            for (int i = 0; i < d; i++) {
                h[t][i] += out[i];
            }
        }
        return h;
    }

    /** All vocabulary logits of head {@code (layer, head)} for one residual vector. */
    public float[] logits(int layer, int head, float[] x) {
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        float eps = (float) cfg.layerNormEps();
        String p = "h." + layer + ".";
        float[] z = layerNorm(x, ckpt.floats(p + "ln_1.weight"), ckpt.floats(p + "ln_1.bias"), eps);
        float[][] cAttn = matrix(p + "attn.c_attn.weight", d, 3 * d);
        float[] bias = ckpt.floats(p + "attn.c_attn.bias");
        float[][] cProj = matrix(p + "attn.c_proj.weight", d, d);
        float[] v = new float[hs];
        for (int j = 0; j < hs; j++) {
            int col = 2 * d + head * hs + j;
            float s = bias[col];
            for (int i = 0; i < d; i++) {
                s += z[i] * cAttn[i][col];
            }
            v[j] = s;
        }
        float[] o = new float[d];
        for (int i = 0; i < d; i++) {
            float s = 0;
            for (int j = 0; j < hs; j++) {
                s += v[j] * cProj[head * hs + j][i];
            }
            o[i] = s;
        }
        float[] f = layerNorm(o, ckpt.floats("ln_f.weight"), ckpt.floats("ln_f.bias"), eps);
        float[] logits = new float[cfg.vocabSize()];
        for (int t = 0; t < logits.length; t++) {
            float s = 0;
            for (int i = 0; i < d; i++) {
                s += f[i] * wte[t][i];
            }
            logits[t] = s;
        }
        return logits;
    }
}
