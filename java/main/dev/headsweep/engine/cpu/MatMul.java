package dev.headsweep.engine.cpu;

/**
 * Small dense products in the layout GPT-2 checkpoints use ({@code x · W} with W stored
 * {@code [in, out]} row-major). Inner loops are plain {@code c[j] += a * b[j]} so the JIT
 * vectorizes them. Used where sizes are small (block 0 on short prompts, per-head projections);
 * the vocabulary-wide work lives in {@link FactoredTopK}. Where the native library runs,
 * {@link NativeMatMul} does the arithmetic, else with the Vector API {@link VectorMatMul}: the same
 * bits (an fma per term, in order).
 */
public final class MatMul {
    private static final int ROWS = 16;
    private MatMul() {
    }

    /**
     * {@code out[n × m] = x[n × k] · W[k × m](columns colOff .. colOff+m of a matrix with ld columns) + bias}.
     *
     * @param bias may be null; read at {@code bias[colOff + j]}
     */
    public static float[] xw(float[] x, int n, int k, float[] w, int ld, int colOff, int m, float[] bias) {
        float[] out = new float[n * m];
        if (bias != null) {
            for (int r = 0; r < n; r++) {
                System.arraycopy(bias, colOff, out, r * m, m);
            }
        }
        if (NativeMatMul.ENABLED) {
            NativeMatMul.xw(x, n, k, w, ld, colOff, m, out);
            return out;
        }
        if (VectorApi.ENABLED) {
            VectorMatMul.xw(x, n, k, w, ld, colOff, m, out);
            return out;
        }
        // ROWS rows at a time share each pass over W, so W is read from memory n/ROWS times, not n
        for (int r0 = 0; r0 < n; r0 += ROWS) {
            int r1 = Math.min(n, r0 + ROWS);
            for (int i = 0; i < k; i++) {
                int wo = i * ld + colOff;
                for (int r = r0; r < r1; r++) {
                    float a = x[r * k + i];
                    if (a == 0f) {
                        continue;
                    }
                    int o = r * m;
                    for (int j = 0; j < m; j++) {
                        out[o + j] += a * w[wo + j];
                    }
                }
            }
        }
        return out;
    }

    /** {@code x · W + bias} for a full {@code [k, m]} weight. */
    public static float[] xw(float[] x, int n, int k, float[] w, int m, float[] bias) {
        return xw(x, n, k, w, m, 0, m, bias);
    }
}
