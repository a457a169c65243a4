package dev.headsweep.engine.cpu;

import java.util.Arrays;

/**
 * Running top-k of one or many rows: for each row, the {@code k} best (id, value) pairs offered so
 * far, kept in a small array sorted best first.
 *
 * <p>Order ("ranks before"): a larger value first; equal values (including {@code -0.0f == 0.0f})
 * by lower id first; NaN ranks below every number, including {@code -inf}, and NaNs among
 * themselves by lower id first. See {@link #before(float, int, float, int)}.
 *
 * <p>The rows live in caller-visible arrays {@code ids} and {@code vals} of at least
 * {@code rows * k} entries, row {@code i} at offset {@code i * k}; they can be the final output
 * arrays so nothing is copied at the end. Slots of a row that got fewer than {@code k} offers hold
 * id {@code -1} and value NaN.
 *
 * <p>For fast scanning a row has a <em>gate</em> ({@link #gate(int)}): when candidates of a row
 * are offered in increasing id order (as the kernels do), a candidate with {@code v <= gate} can
 * never enter, so a scan only needs to call {@link #offer} when {@code !(v <= gate)}. The gate is
 * NaN while the row is not full (or its k-th value is NaN), which lets everything through. The
 * gate array is padded with {@code +inf} to a multiple of 256 rows so vector code can read whole
 * blocks.
 *
 * <p>Not thread-safe; an instance can be reused with {@link #reset}.
 */
public final class TopK {
    /** Rows of the gate array are padded to a multiple of this. */
    static final int GATE_PAD = 256;

    private int rows;
    private int k;
    private int[] ids;
    private float[] vals;
    private int[] count = new int[0];
    private float[] gate = new float[0];

    /** Top-k of {@code rows} rows with its own storage. */
    public TopK(int rows, int k) {
        reset(rows, k, new int[checkedSize(rows, k)], new float[checkedSize(rows, k)]);
    }

    /** Top-k of {@code rows} rows written into {@code ids}/{@code vals} (row i at offset i*k). */
    public TopK(int rows, int k, int[] ids, float[] vals) {
        reset(rows, k, ids, vals);
    }

    private static int checkedSize(int rows, int k) {
        if (rows < 0 || k < 1) {
            throw new IllegalArgumentException("rows=" + rows + ", k=" + k);
        }
        long size = (long) rows * k;
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("rows*k too large: " + size);
        }
        return (int) size;
    }

    /** Empties all rows and (re)binds the storage; internal scratch is reused when large enough. */
    public void reset(int rows, int k, int[] ids, float[] vals) {
        int size = checkedSize(rows, k);
        if (ids.length < size || vals.length < size) {
            throw new IllegalArgumentException("ids/vals need " + size + " entries, have "
                    + ids.length + "/" + vals.length);
        }
        this.rows = rows;
        this.k = k;
        this.ids = ids;
        this.vals = vals;
        if (count.length < rows) {
            count = new int[rows];
        } else {
            Arrays.fill(count, 0, rows, 0);
        }
        int padded = (rows + GATE_PAD - 1) / GATE_PAD * GATE_PAD;
        if (gate.length < padded) {
            gate = new float[padded];
        }
        Arrays.fill(gate, 0, rows, Float.NaN);
        Arrays.fill(gate, rows, gate.length, Float.POSITIVE_INFINITY);
        Arrays.fill(ids, 0, size, -1);
        Arrays.fill(vals, 0, size, Float.NaN);
    }

    public int rows() {
        return rows;
    }

    public int k() {
        return k;
    }

    public int[] ids() {
        return ids;
    }

    public float[] vals() {
        return vals;
    }

    /** Number of entries held by {@code row} (at most k). */
    public int count(int row) {
        return count[row];
    }

    /** The row's gate: with increasing ids, an offer with {@code v <= gate(row)} is always rejected. */
    public float gate(int row) {
        return gate[row];
    }

    /** The gate array itself (length a multiple of 256, rows beyond {@link #rows()} are +inf). Read only. */
    float[] gates() {
        return gate;
    }

    /** True when (va, ia) ranks before (vb, ib): larger value first, ties by lower id, NaN last. */
    public static boolean before(float va, int ia, float vb, int ib) {
        if (va > vb) {
            return true;
        }
        if (va < vb) {
            return false;
        }
        boolean na = va != va;
        boolean nb = vb != vb;
        if (na != nb) {
            return nb;
        }
        return ia < ib;
    }

    /**
     * Offers (id, v) to a row (any id order); returns whether it entered the row's top-k.
     * Ids within a row should be distinct.
     */
    public boolean offer(int row, int id, float v) {
        int base = row * k;
        int c = count[row];
        int last = base + k - 1;
        if (c == k) {
            if (!before(v, id, vals[last], ids[last])) {
                return false;
            }
            c = k - 1;
        } else {
            count[row] = c + 1;
        }
        int p = base + c;
        while (p > base && before(v, id, vals[p - 1], ids[p - 1])) {
            vals[p] = vals[p - 1];
            ids[p] = ids[p - 1];
            p--;
        }
        vals[p] = v;
        ids[p] = id;
        if (count[row] == k) {
            gate[row] = vals[last]; // NaN k-th value keeps the gate open
        }
        return true;
    }

    /**
     * Offers {@code len} consecutive values of one row with ids {@code firstId, firstId+1, ...}.
     * Uses the gate, so {@code firstId} must be above every id offered to the row before (as when a
     * vocabulary is scanned in order); otherwise use {@link #offer}.
     */
    public void offerAll(int row, int firstId, float[] v, int off, int len) {
        float g = gate[row];
        for (int q = 0; q < len; q++) {
            float x = v[off + q];
            if (!(x <= g)) {
                offer(row, firstId + q, x);
                g = gate[row];
            }
        }
    }
}
