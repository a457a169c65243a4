package dev.headsweep.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API implementation of {@link FactoredTopK} (the only class that touches
 * {@code jdk.incubator.vector}). One instance per thread: it holds the scratch.
 *
 * <p>Layout. Both stages are token-major GEMMs {@code C[4 tokens][4 vectors] += a[token][kk] ·
 * b[kk][vector lanes]} with register-blocked 4×4-vector micro-kernels (16 accumulators,
 * broadcast-FMA outer products, no horizontal reductions):
 * <ul>
 *   <li>stage 1: {@code At[t][j] = Σ_c E[t][c]·M[j][c]} for a tile of tokens: {@code a} = the
 *       prepared E, 4 tokens interleaved ({@code [block][c][4]}, one stream, broadcast), {@code b}
 *       = M packed transposed in panels of 4 vectors ({@code [panel][c][W]}, L2-resident);</li>
 *   <li>stage 2: {@code logit[t][i] = beta[t] + Σ_j At[t][j]·U[i][j]}: {@code a} = rows of the At
 *       tile, {@code b} = U packed transposed in panels ({@code [panel][j][W]}, one panel is
 *       L1-resident while all tokens of the tile stream past it). The lanes of a vector are L
 *       keyword rows (16 with AVX-512), so each accumulator is compared lane-wise against the
 *       rows' top-k gates; only when some lane passes is the block stored and scanned by scalar
 *       code.</li>
 * </ul>
 * Rows of M/U that do not fill a panel use 1-vector panels and the 4×1 kernels; the padding
 * tokens of a short last block (zero rows of the packed E) are computed and ignored.
 *
 * <p>With a precomputed A ({@link FactoredTopK.ATileSource}, e.g. the {@link AhCache}) stage 1 is
 * skipped: each tile is copied into the At scratch, whose layout it already has (token-major), and
 * stage 2 runs unchanged. A sink receives the At tiles as stage 1 leaves them.
 */
final class VectorKernel implements FactoredTopK.Kernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Lanes per vector. */
    private static final int L = S.length();
    /** Panel width: 4 vectors. */
    private static final int W = 4 * L;
    /** Tokens per micro-tile: the interleave of the packed E. */
    private static final int MR = FactoredTopK.PACK;
    /** Tokens per tile (a multiple of MR). */
    static final int TILE = 256;

    private float[] mt = new float[0];
    private float[] ut = new float[0];
    private float[] at = new float[0];
    private final float[] lg = new float[MR * W];
    private final TopK topk = new TopK(0, 1);

    @Override
    public String name() {
        return "vector";
    }

    private static int roundUp(int x, int m) {
        return (x + m - 1) / m * m;
    }

    private static float[] ensure(float[] a, long size) {
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("scratch too large: " + size + " floats");
        }
        return a.length >= size ? a : new float[(int) size];
    }

    /**
     * Packs src (rows × K, row-major) transposed into panels: rows in groups of W (then of L for
     * the rest, zero-padded to a multiple of L); panel of width w holds [kk][w] contiguously.
     */
    static void pack(float[] src, int rows, int K, float[] dst) {
        int rowsPad = roundUp(rows, L);
        int off = 0;
        for (int row0 = 0; row0 < rowsPad; ) {
            int w = rowsPad - row0 >= W ? W : L;
            for (int l = 0; l < w; l++) {
                int row = row0 + l;
                if (row < rows) {
                    int s = row * K;
                    for (int kk = 0; kk < K; kk++) {
                        dst[off + kk * w + l] = src[s + kk];
                    }
                } else {
                    for (int kk = 0; kk < K; kk++) {
                        dst[off + kk * w + l] = 0f;
                    }
                }
            }
            off += K * w;
            row0 += w;
        }
    }

    @Override
    public void run(FactoredTopK.Prepared p, float[] M, FactoredTopK.ATileSource src, int r, float[] U,
            int n, int k, int[] ids, float[] vals, FactoredTopK.ATileSink sink) {
        final int V = p.V;
        final int d = p.d;
        final float[] Ep = src == null ? p.ep() : null; // a run from a source never reads E
        final float[] beta = p.beta;
        final int rPad = roundUp(r, L);
        final int nPad = roundUp(n, L);
        ut = ensure(ut, (long) nPad * r);
        at = ensure(at, (long) TILE * rPad);
        if (src == null) {
            mt = ensure(mt, (long) rPad * d);
            pack(M, r, d, mt);
        }
        pack(U, n, r, ut);
        final float[] mt = this.mt;
        final float[] ut = this.ut;
        final float[] at = this.at;
        final float[] lg = this.lg;
        final TopK topk = this.topk;
        topk.reset(n, k, ids, vals);
        final float[] gate = topk.gates();
        final int rFull = rPad / W;
        final int rRem = (rPad - rFull * W) / L;
        final int nFull = nPad / W;
        final int nRem = (nPad - nFull * W) / L;

        for (int t0 = 0; t0 < V; t0 += TILE) {
            final int len = Math.min(TILE, V - t0);
            if (src == null) {
                // Stage 1: the At tile, At[b][0..rPad) for b < len rounded up to MR (the packed E and
                // beta have zero rows up to a multiple of MR).
                for (int b = 0; b < len; b += MR) {
                    final int ep = (t0 + b) * d;
                    final int ao = b * rPad;
                    for (int q = 0; q < rFull; q++) {
                        k1x4(Ep, ep, d, mt, q * d * W, at, ao + q * W, rPad);
                    }
                    for (int q = 0; q < rRem; q++) {
                        k1x1(Ep, ep, d, mt, rFull * d * W + q * d * L, at, ao + rFull * W + q * L, rPad);
                    }
                }
            } else {
                // A precomputed tile; the rows of the last block's padding tokens are zeroed (their
                // logits are computed and ignored, as with the zero rows of the packed E).
                src.read(t0, len, at, rPad);
                java.util.Arrays.fill(at, len * rPad, roundUp(len, MR) * rPad, 0f);
            }
            if (sink != null) {
                sink.write(t0, len, at, rPad);
            }
            if (n == 0) {
                continue;
            }
            // Stage 2: logits of the tile, panel by panel of keyword rows, folded into the top-k.
            for (int q = 0; q < nFull + nRem; q++) {
                final boolean full = q < nFull;
                final int row0 = full ? q * W : nFull * W + (q - nFull) * L;
                final int uo = row0 * r;
                for (int b = 0; b < len; b += MR) {
                    final int t = t0 + b;
                    final int ao = b * rPad;
                    if (full) {
                        if (k2x4(at, ao, rPad, r, ut, uo, beta[t], beta[t + 1], beta[t + 2], beta[t + 3],
                                gate, row0, lg)) {
                            scan(topk, gate, lg, W, row0, n, t, Math.min(MR, len - b));
                        }
                    } else {
                        if (k2x1(at, ao, rPad, r, ut, uo, beta[t], beta[t + 1], beta[t + 2], beta[t + 3],
                                gate, row0, lg)) {
                            scan(topk, gate, lg, L, row0, n, t, Math.min(MR, len - b));
                        }
                    }
                }
            }
        }
    }

    /** Offers the lanes of a stored logit block (tokens t.., rows row0..) that pass their gates. */
    private static void scan(TopK topk, float[] gate, float[] lg, int width, int row0, int n,
            int t, int tokens) {
        int lanes = Math.min(width, n - row0);
        for (int m = 0; m < tokens; m++) {
            int o = m * width;
            for (int l = 0; l < lanes; l++) {
                float x = lg[o + l];
                if (!(x <= gate[row0 + l])) {
                    topk.offer(row0 + l, t + m, x);
                }
            }
        }
    }

    /**
     * Stage 1: c[co + m*ldc + (0..4L)] = sum_kk a[ap + 4kk + m] * b[bo + kk*4L + (0..4L)] for the
     * 4 tokens m of a packed block of E.
     */
    private static void k1x4(float[] a, int ap, int K,
            float[] b, int bo, float[] c, int co, int ldc) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z;
        FloatVector c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z;
        FloatVector c30 = z, c31 = z, c32 = z, c33 = z;
        for (int kk = 0; kk < K; kk++) {
            int bi = bo + kk * W;
            int ai = ap + kk * 4;
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bi + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, b, bi + 3 * L);
            FloatVector x;
            x = FloatVector.broadcast(S, a[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02); c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(S, a[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12); c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(S, a[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22); c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(S, a[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32); c33 = x.fma(b3, c33);
        }
        c00.intoArray(c, co);
        c01.intoArray(c, co + L);
        c02.intoArray(c, co + 2 * L);
        c03.intoArray(c, co + 3 * L);
        c10.intoArray(c, co + ldc);
        c11.intoArray(c, co + ldc + L);
        c12.intoArray(c, co + ldc + 2 * L);
        c13.intoArray(c, co + ldc + 3 * L);
        c20.intoArray(c, co + 2 * ldc);
        c21.intoArray(c, co + 2 * ldc + L);
        c22.intoArray(c, co + 2 * ldc + 2 * L);
        c23.intoArray(c, co + 2 * ldc + 3 * L);
        c30.intoArray(c, co + 3 * ldc);
        c31.intoArray(c, co + 3 * ldc + L);
        c32.intoArray(c, co + 3 * ldc + 2 * L);
        c33.intoArray(c, co + 3 * ldc + 3 * L);
    }

    /**
     * Stage 1: c[co + m*ldc + (0..1L)] = sum_kk a[ap + 4kk + m] * b[bo + kk*1L + (0..1L)] for the
     * 4 tokens m of a packed block of E.
     */
    private static void k1x1(float[] a, int ap, int K,
            float[] b, int bo, float[] c, int co, int ldc) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z;
        FloatVector c10 = z;
        FloatVector c20 = z;
        FloatVector c30 = z;
        for (int kk = 0; kk < K; kk++) {
            int bi = bo + kk * L;
            int ai = ap + kk * 4;
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector x;
            x = FloatVector.broadcast(S, a[ai]);
            c00 = x.fma(b0, c00);
            x = FloatVector.broadcast(S, a[ai + 1]);
            c10 = x.fma(b0, c10);
            x = FloatVector.broadcast(S, a[ai + 2]);
            c20 = x.fma(b0, c20);
            x = FloatVector.broadcast(S, a[ai + 3]);
            c30 = x.fma(b0, c30);
        }
        c00.intoArray(c, co);
        c10.intoArray(c, co + ldc);
        c20.intoArray(c, co + 2 * ldc);
        c30.intoArray(c, co + 3 * ldc);
    }

    /**
     * Stage 2: logits of 4 tokens (rows a0..a3 of the A tile) × 4 vector(s) of keyword rows,
     * starting from beta; returns false when every lane is {@code <=} its row's gate, else stores
     * the block in lg[m*W + lane] and returns true.
     */
    private static boolean k2x4(float[] a, int a0, int lda, int K, float[] b, int bo,
            float be0, float be1, float be2, float be3, float[] g, int go, float[] lg) {
        int a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        FloatVector c00 = FloatVector.broadcast(S, be0);
        FloatVector c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = FloatVector.broadcast(S, be1);
        FloatVector c11 = c10, c12 = c10, c13 = c10;
        FloatVector c20 = FloatVector.broadcast(S, be2);
        FloatVector c21 = c20, c22 = c20, c23 = c20;
        FloatVector c30 = FloatVector.broadcast(S, be3);
        FloatVector c31 = c30, c32 = c30, c33 = c30;
        for (int kk = 0; kk < K; kk++) {
            int bi = bo + kk * W;
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bi + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, b, bi + 3 * L);
            FloatVector x;
            x = FloatVector.broadcast(S, a[a0 + kk]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02); c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(S, a[a1 + kk]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12); c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(S, a[a2 + kk]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22); c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(S, a[a3 + kk]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32); c33 = x.fma(b3, c33);
        }
        FloatVector g0 = FloatVector.fromArray(S, g, go);
        FloatVector g1 = FloatVector.fromArray(S, g, go + L);
        FloatVector g2 = FloatVector.fromArray(S, g, go + 2 * L);
        FloatVector g3 = FloatVector.fromArray(S, g, go + 3 * L);
        VectorMask<Float> le = c00.compare(VectorOperators.LE, g0)
                .and(c01.compare(VectorOperators.LE, g1))
                .and(c02.compare(VectorOperators.LE, g2))
                .and(c03.compare(VectorOperators.LE, g3))
                .and(c10.compare(VectorOperators.LE, g0))
                .and(c11.compare(VectorOperators.LE, g1))
                .and(c12.compare(VectorOperators.LE, g2))
                .and(c13.compare(VectorOperators.LE, g3))
                .and(c20.compare(VectorOperators.LE, g0))
                .and(c21.compare(VectorOperators.LE, g1))
                .and(c22.compare(VectorOperators.LE, g2))
                .and(c23.compare(VectorOperators.LE, g3))
                .and(c30.compare(VectorOperators.LE, g0))
                .and(c31.compare(VectorOperators.LE, g1))
                .and(c32.compare(VectorOperators.LE, g2))
                .and(c33.compare(VectorOperators.LE, g3));
        if (le.allTrue()) {
            return false;
        }
        c00.intoArray(lg, 0);
        c01.intoArray(lg, 0 + L);
        c02.intoArray(lg, 0 + 2 * L);
        c03.intoArray(lg, 0 + 3 * L);
        c10.intoArray(lg, 1 * W);
        c11.intoArray(lg, 1 * W + L);
        c12.intoArray(lg, 1 * W + 2 * L);
        c13.intoArray(lg, 1 * W + 3 * L);
        c20.intoArray(lg, 2 * W);
        c21.intoArray(lg, 2 * W + L);
        c22.intoArray(lg, 2 * W + 2 * L);
        c23.intoArray(lg, 2 * W + 3 * L);
        c30.intoArray(lg, 3 * W);
        c31.intoArray(lg, 3 * W + L);
        c32.intoArray(lg, 3 * W + 2 * L);
        c33.intoArray(lg, 3 * W + 3 * L);
        return true;
    }

    /**
     * Stage 2: logits of 4 tokens (rows a0..a3 of the A tile) × 1 vector(s) of keyword rows,
     * starting from beta; returns false when every lane is {@code <=} its row's gate, else stores
     * the block in lg[m*L + lane] and returns true.
     */
    private static boolean k2x1(float[] a, int a0, int lda, int K, float[] b, int bo,
            float be0, float be1, float be2, float be3, float[] g, int go, float[] lg) {
        int a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        FloatVector c00 = FloatVector.broadcast(S, be0);
        FloatVector c10 = FloatVector.broadcast(S, be1);
        FloatVector c20 = FloatVector.broadcast(S, be2);
        FloatVector c30 = FloatVector.broadcast(S, be3);
        for (int kk = 0; kk < K; kk++) {
            int bi = bo + kk * L;
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector x;
            x = FloatVector.broadcast(S, a[a0 + kk]);
            c00 = x.fma(b0, c00);
            x = FloatVector.broadcast(S, a[a1 + kk]);
            c10 = x.fma(b0, c10);
            x = FloatVector.broadcast(S, a[a2 + kk]);
            c20 = x.fma(b0, c20);
            x = FloatVector.broadcast(S, a[a3 + kk]);
            c30 = x.fma(b0, c30);
        }
        FloatVector g0 = FloatVector.fromArray(S, g, go);
        VectorMask<Float> le = c00.compare(VectorOperators.LE, g0)
                .and(c10.compare(VectorOperators.LE, g0))
                .and(c20.compare(VectorOperators.LE, g0))
                .and(c30.compare(VectorOperators.LE, g0));
        if (le.allTrue()) {
            return false;
        }
        c00.intoArray(lg, 0);
        c10.intoArray(lg, 1 * L);
        c20.intoArray(lg, 2 * L);
        c30.intoArray(lg, 3 * L);
        return true;
    }
}
