package dev.headsweep.engine.cpu;

/**
 * LayerNorm as the contract defines it: {@code (x - mean) / sqrt(var + eps) * w + b}, biased
 * variance, fp32 arithmetic and fp32 accumulation.
 */
public final class LayerNorm {
    private LayerNorm() {
    }

    /** Normalizes {@code x[xOff .. xOff+d)} into {@code out[outOff ..]}; {@code out} may be {@code x}. */
    public static void apply(float[] x, int xOff, int d, float[] w, float[] b, float eps,
                             float[] out, int outOff) {
        float sum = 0f;
        for (int i = 0; i < d; i++) {
            sum += x[xOff + i];
        }
        float mean = sum / d;
        float sq = 0f;
        for (int i = 0; i < d; i++) {
            float c = x[xOff + i] - mean;
            sq += c * c;
        }
        float inv = (float) (1.0 / Math.sqrt(sq / d + eps));
        for (int i = 0; i < d; i++) {
            out[outOff + i] = (x[xOff + i] - mean) * inv * w[i] + b[i];
        }
    }

    /** Applies {@link #apply} to each of the {@code n} rows of a row-major {@code n × d} matrix. */
    public static float[] rows(float[] x, int n, int d, float[] w, float[] b, float eps) {
        return rows(x, n, d, w, b, eps, new float[n * d]);
    }

    /** As {@link #rows(float[], int, int, float[], float[], float)}, into {@code out} (at least {@code n × d}). */
    public static float[] rows(float[] x, int n, int d, float[] w, float[] b, float eps, float[] out) {
        for (int r = 0; r < n; r++) {
            apply(x, r * d, d, w, b, eps, out, r * d);
        }
        return out;
    }
}
