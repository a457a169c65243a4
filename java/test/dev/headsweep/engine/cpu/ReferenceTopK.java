package dev.headsweep.engine.cpu;

import java.util.Arrays;
import java.util.Comparator;

/**
 * The plain reference for tests: straight loops, fp32, the full logits materialized (tiny sizes
 * only), each row fully sorted with the tie rule. Deliberately shares no code with the kernels.
 */
final class ReferenceTopK {
    private ReferenceTopK() {
    }

    /** Full logits, n × V: {@code Σ_j U[i][j]·(Σ_c M[j][c]·E[t][c]) + beta[t]}, left to right. */
    static float[] logits(float[] E, int V, int d, float[] beta, float[] M, int r, float[] U, int n) {
        float[] A = new float[r * V];
        for (int j = 0; j < r; j++) {
            for (int t = 0; t < V; t++) {
                float s = 0f;
                for (int c = 0; c < d; c++) {
                    s += M[j * d + c] * E[t * d + c];
                }
                A[j * V + t] = s;
            }
        }
        float[] out = new float[n * V];
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < V; t++) {
                float s = 0f;
                for (int j = 0; j < r; j++) {
                    s += U[i * r + j] * A[j * V + t];
                }
                out[i * V + t] = s + (beta == null ? 0f : beta[t]);
            }
        }
        return out;
    }

    /** The tie rule as a comparator on token ids of one row: value descending, NaN last, id ascending. */
    static Comparator<Integer> order(float[] row, int off) {
        return (a, b) -> {
            float x = row[off + a];
            float y = row[off + b];
            boolean nx = Float.isNaN(x);
            boolean ny = Float.isNaN(y);
            if (nx || ny) {
                if (nx && ny) {
                    return Integer.compare(a, b);
                }
                return nx ? 1 : -1;
            }
            if (x != y) {
                return x > y ? -1 : 1; // -0.0 == 0.0 falls through to the id
            }
            return Integer.compare(a, b);
        };
    }

    /** All V ids of row i sorted by the tie rule. */
    static int[] sortedRow(float[] logits, int V, int i) {
        Integer[] idx = new Integer[V];
        for (int t = 0; t < V; t++) {
            idx[t] = t;
        }
        Arrays.sort(idx, order(logits, i * V));
        int[] out = new int[V];
        for (int t = 0; t < V; t++) {
            out[t] = idx[t];
        }
        return out;
    }

    /** Top-k of every row of materialized logits, into ids/vals (row i at i*k). */
    static void topK(float[] logits, int n, int V, int k, int[] ids, float[] vals) {
        for (int i = 0; i < n; i++) {
            int[] s = sortedRow(logits, V, i);
            for (int q = 0; q < k; q++) {
                ids[i * k + q] = s[q];
                vals[i * k + q] = logits[i * V + s[q]];
            }
        }
    }
}
