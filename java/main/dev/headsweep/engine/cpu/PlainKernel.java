package dev.headsweep.engine.cpu;

/**
 * The plain-Java implementation of {@link FactoredTopK}: the same vocabulary tiling as
 * {@link VectorKernel}, with inner loops {@code y[q] = fma(x3, b3[q], ... fma(x0, b0[q], y[q]))}
 * that C2 auto-vectorizes. One instance per thread: it holds the scratch.
 *
 * <p>C2 (Java 17) only vectorizes such loops when every array is indexed by the same loop variable
 * (an invariant offset on an array that might alias the stored one blocks it) and when the loop
 * is long; so the scratch is kept as arrays of rows, and the loops run over tokens of a tile
 * (stage 1) or over keyword rows (stage 2):
 * <ul>
 *   <li>stage 1, per tile: the tile of (the prepared) E is transposed into {@code et[c][t]}, then
 *       {@code at[j][t] = Σ_c M[j][c]·et[c][t]}, four values of c per pass, c in L1-sized blocks;</li>
 *   <li>stage 2, per block of keyword rows and token of the tile:
 *       {@code l[t][i] = beta[t] + Σ_j at[j][t]·ut[j][i]} (U transposed into rows once per head),
 *       four values of j per pass; for 8 tokens at a time the lane-wise max of their logits is
 *       compared with the rows' gates (one scalar test per row), and only the rows that pass are
 *       offered token by token.</li>
 * </ul>
 * A precomputed A ({@link FactoredTopK.ATileSource}) arrives token-major and is transposed into
 * {@code at[j][t]} tile by tile (stage 1 skipped); a sink gets {@code at} transposed back.
 */
final class PlainKernel implements FactoredTopK.Kernel {
    /** Tokens per tile. */
    static final int TILE = 512;
    /** Keyword rows per stage-2 block (r × ROWS floats of U stay in L2). */
    static final int ROWS = 1024;
    /** Rows of the transposed E tile per stage-1 block (CB × TILE floats = 32 KiB, L1). */
    static final int CB = 16;
    /** Tokens per stage-2 gate check. */
    static final int TB = 8;

    private float[][] et = new float[0][];
    private float[][] at = new float[0][];
    private float[][] ut = new float[0][];
    private float[][] l = new float[0][];
    private float[] mx = new float[0];
    /** A token-major tile (TILE × r), for precomputed tiles in and tiles out to a sink. */
    private float[] tm = new float[0];
    private final TopK topk = new TopK(0, 1);

    @Override
    public String name() {
        return "plain";
    }

    /** A scratch of at least {@code rows} rows of at least {@code cols} floats, reused when large enough. */
    private static float[][] ensure(float[][] a, int rows, int cols) {
        if (a.length >= rows && (rows == 0 || a[0].length >= cols)) {
            return a;
        }
        int rr = Math.max(rows, a.length);
        int cc = Math.max(cols, a.length == 0 ? 0 : a[0].length);
        float[][] out = new float[rr][];
        for (int q = 0; q < rr; q++) {
            out[q] = new float[cc];
        }
        return out;
    }

    @Override
    public void run(FactoredTopK.Prepared p, float[] M, FactoredTopK.ATileSource src, int r, float[] U,
            int n, int k, int[] ids, float[] vals, FactoredTopK.ATileSink sink) {
        final int V = p.V;
        final int d = p.d;
        final float[] Ep = src == null ? p.ep() : null; // a run from a source never reads E
        final float[] beta = p.beta;
        if (src == null) {
            et = ensure(et, d, TILE);
        }
        if ((src != null || sink != null) && tm.length < TILE * r) {
            tm = new float[TILE * r];
        }
        final float[] tm = this.tm;
        at = ensure(at, r, TILE);
        ut = ensure(ut, r, n);
        l = ensure(l, TB, n);
        if (mx.length < n) {
            mx = new float[n];
        }
        final float[][] et = this.et;
        final float[][] at = this.at;
        final float[][] ut = this.ut;
        final float[][] l = this.l;
        final float[] mx = this.mx;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < r; j++) {
                ut[j][i] = U[i * r + j];
            }
        }
        final TopK topk = this.topk;
        topk.reset(n, k, ids, vals);
        final float[] gate = topk.gates();

        for (int t0 = 0; t0 < V; t0 += TILE) {
            final int len = Math.min(TILE, V - t0);
            if (src != null) {
                // A precomputed tile, token-major, transposed into at[j][t].
                src.read(t0, len, tm, r);
                for (int t = 0; t < len; t++) {
                    final int o = t * r;
                    for (int j = 0; j < r; j++) {
                        at[j][t] = tm[o + j];
                    }
                }
                if (sink != null) {
                    sink.write(t0, len, tm, r);
                }
            } else {
                stage1(Ep, d, M, r, t0, len, et, at);
                if (sink != null) {
                    for (int t = 0; t < len; t++) {
                        final int o = t * r;
                        for (int j = 0; j < r; j++) {
                            tm[o + j] = at[j][t];
                        }
                    }
                    sink.write(t0, len, tm, r);
                }
            }
            if (n == 0) {
                continue;
            }
            stage2(beta, r, n, t0, len, at, ut, l, mx, topk, gate);
        }
    }

    /** Stage 1 of one tile: at[j][0..len) = A[j][t0..t0+len) from the packed E and M. */
    private static void stage1(float[] Ep, int d, float[] M, int r, int t0, int len, float[][] et, float[][] at) {
        // Transpose the tile out of the packed E (4 tokens interleaved per block).
        for (int b = 0; b < len; b += FactoredTopK.PACK) {
            final int e = (t0 + b) * d;
            for (int c = 0; c < d; c++) {
                final float[] row = et[c];
                final int src = e + c * FactoredTopK.PACK;
                row[b] = Ep[src];
                row[b + 1] = Ep[src + 1];
                row[b + 2] = Ep[src + 2];
                row[b + 3] = Ep[src + 3];
            }
        }
        // Stage 1: at[j][0..len) = Σ_c M[j][c]·et[c][0..len), c in blocks of CB rows of et
        // (CB × TILE floats stay in L1 while all j pass over them).
        for (int j = 0; j < r; j++) {
            final float[] y = at[j];
            for (int t = 0; t < len; t++) {
                y[t] = 0f;
            }
        }
        for (int c0 = 0; c0 < d; c0 += CB) {
            final int c1 = Math.min(d, c0 + CB);
            for (int j = 0; j < r; j++) {
                final float[] y = at[j];
                final int mo = j * d;
                int c = c0;
                for (; c + 4 <= c1; c += 4) {
                    axpy4(y, 0, len, M[mo + c], M[mo + c + 1], M[mo + c + 2], M[mo + c + 3],
                            et[c], et[c + 1], et[c + 2], et[c + 3]);
                }
                for (; c < c1; c++) {
                    axpy1(y, 0, len, M[mo + c], et[c]);
                }
            }
        }
    }

    /** Stage 2 of one tile: the logits of every row, folded into the top-k. */
    private static void stage2(float[] beta, int r, int n, int t0, int len, float[][] at, float[][] ut,
            float[][] l, float[] mx, TopK topk, float[] gate) {
        // Stage 2: logits of TB tokens at a time for a block of rows; their lane-wise max is
        // compared with the rows' gates, and only rows that pass are scanned token by token.
        for (int i0 = 0; i0 < n; i0 += ROWS) {
            final int i1 = Math.min(n, i0 + ROWS);
            for (int tb = 0; tb < len; tb += TB) {
                final int cnt = Math.min(TB, len - tb);
                for (int m = 0; m < cnt; m++) {
                    final int t = tb + m;
                    final float[] y = l[m];
                    final float b = beta[t0 + t];
                    for (int i = i0; i < i1; i++) {
                        y[i] = b;
                    }
                    int j = 0;
                    for (; j + 4 <= r; j += 4) {
                        axpy4(y, i0, i1, at[j][t], at[j + 1][t], at[j + 2][t], at[j + 3][t],
                                ut[j], ut[j + 1], ut[j + 2], ut[j + 3]);
                    }
                    for (; j < r; j++) {
                        axpy1(y, i0, i1, at[j][t], ut[j]);
                    }
                }
                System.arraycopy(l[0], i0, mx, i0, i1 - i0);
                for (int m = 1; m < cnt; m++) {
                    max(mx, l[m], i0, i1);
                }
                for (int i = i0; i < i1; i++) {
                    if (!(mx[i] <= gate[i])) { // NaN passes
                        for (int m = 0; m < cnt; m++) {
                            final float x = l[m][i];
                            if (!(x <= gate[i])) {
                                topk.offer(i, t0 + tb + m, x);
                            }
                        }
                    }
                }
            }
        }
    }

    /** y[q] = max(y[q], b[q]) (Java semantics: NaN propagates), from ≤ q < to. */
    private static void max(float[] y, float[] b, int from, int to) {
        for (int q = from; q < to; q++) {
            y[q] = Math.max(y[q], b[q]);
        }
    }

    /** y[q] = fma(x3, b3[q], fma(x2, b2[q], fma(x1, b1[q], fma(x0, b0[q], y[q])))), from ≤ q < to. */
    private static void axpy4(float[] y, int from, int to, float x0, float x1, float x2, float x3,
            float[] b0, float[] b1, float[] b2, float[] b3) {
        for (int q = from; q < to; q++) {
            y[q] = Math.fma(x3, b3[q], Math.fma(x2, b2[q], Math.fma(x1, b1[q], Math.fma(x0, b0[q], y[q]))));
        }
    }

    /** y[q] = fma(x0, b0[q], y[q]), from ≤ q < to. */
    private static void axpy1(float[] y, int from, int to, float x0, float[] b0) {
        for (int q = from; q < to; q++) {
            y[q] = Math.fma(x0, b0[q], y[q]);
        }
    }
}
