package dev.headsweep.engine.cpu;

import java.util.HashSet;
import java.util.Set;

/**
 * Agreement of a computed top-k row with the reference logits of that row, under an explicit
 * near-tie rule (the summation order of the kernels differs from the reference's):
 * <ul>
 *   <li>the row has k distinct ids in [0, V), its values ordered by the tie rule among themselves;</li>
 *   <li>each reported value is within {@code tol} of the reference logit of its id, where
 *       {@code tol = relTol × max|finite logit of the row|};</li>
 *   <li>with {@code kth} the reference's k-th value: every id whose reference value is above
 *       {@code kth + tol} is present, and no id whose reference value is below {@code kth - tol} is
 *       present. So the id sets are equal except that members within {@code tol} of the boundary
 *       (where the reference's k-th and (k+1)-th values are that close) may differ.</li>
 * </ul>
 * With {@code relTol == 0} the check is exact: same ids in the same order and bitwise-equal values
 * (NaN equal to NaN); that mode also handles infinities and NaN.
 */
public final class TopKAgreement {
    private TopKAgreement() {
    }

    /** Returns null when row i agrees, else a description of the first problem found. */
    public static String check(float[] logits, int V, int i, int k, int[] ids, float[] vals, double relTol) {
        int off = i * k;
        int roff = i * V;
        int[] ref = ReferenceTopK.sortedRow(logits, V, i);
        if (relTol == 0) {
            for (int q = 0; q < k; q++) {
                int g = ids[off + q];
                if (g != ref[q]) {
                    return "row " + i + " rank " + q + ": id " + g + " (" + vals[off + q] + "), expected "
                            + ref[q] + " (" + logits[roff + ref[q]] + ")";
                }
                if (Float.floatToIntBits(vals[off + q]) != Float.floatToIntBits(logits[roff + g])
                        && !(vals[off + q] == logits[roff + g])) {
                    return "row " + i + " rank " + q + ": value " + vals[off + q] + ", expected "
                            + logits[roff + g];
                }
            }
            return null;
        }
        float scale = 0f;
        for (int t = 0; t < V; t++) {
            float x = Math.abs(logits[roff + t]);
            if (x != Float.POSITIVE_INFINITY && x > scale) {
                scale = x;
            }
        }
        double tol = relTol * Math.max(scale, Float.MIN_NORMAL);
        Set<Integer> got = new HashSet<>();
        for (int q = 0; q < k; q++) {
            int g = ids[off + q];
            if (g < 0 || g >= V) {
                return "row " + i + " rank " + q + ": id " + g + " out of range";
            }
            if (!got.add(g)) {
                return "row " + i + " rank " + q + ": id " + g + " repeated";
            }
            double diff = Math.abs((double) vals[off + q] - logits[roff + g]);
            if (!(diff <= tol)) {
                return "row " + i + " rank " + q + ": value " + vals[off + q] + " of id " + g
                        + " differs from reference " + logits[roff + g] + " by more than " + tol;
            }
            if (q > 0 && !TopK.before(vals[off + q - 1], ids[off + q - 1], vals[off + q], g)) {
                return "row " + i + " ranks " + (q - 1) + "," + q + ": out of order";
            }
        }
        double kth = logits[roff + ref[k - 1]];
        for (int t = 0; t < V; t++) {
            double v = logits[roff + t];
            if (v > kth + tol && !got.contains(t)) {
                return "row " + i + ": id " + t + " (" + v + ") is clearly in the top-" + k
                        + " (k-th " + kth + ", tol " + tol + ") but missing";
            }
            if (v < kth - tol && got.contains(t)) {
                return "row " + i + ": id " + t + " (" + v + ") is clearly outside the top-" + k
                        + " (k-th " + kth + ", tol " + tol + ") but present";
            }
        }
        return null;
    }

    /** Checks all n rows; returns null or the first problem. */
    static String checkAll(float[] logits, int n, int V, int k, int[] ids, float[] vals, double relTol) {
        for (int i = 0; i < n; i++) {
            String s = check(logits, V, i, k, ids, vals, relTol);
            if (s != null) {
                return s;
            }
        }
        return null;
    }
}
