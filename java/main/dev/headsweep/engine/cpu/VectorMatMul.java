package dev.headsweep.engine.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link MatMul}'s product on the Vector API: register blocks of 4 rows × 4 vectors of columns,
 * each step one broadcast of {@code x} per row and one load of W per vector, 16 FMAs. Also the
 * double-precision sums of {@link OvFactors} (the head's Gram matrix and the keyword rows' σ), with
 * the bits of its scalar loops. Loaded only when {@link VectorApi#ENABLED}.
 */
final class VectorMatMul {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final VectorSpecies<Double> SD = DoubleVector.SPECIES_PREFERRED;
    private static final int LD = SD.length();

    private VectorMatMul() {
    }

    /** {@code out[n × m] += x[n × k] · W[:, colOff .. colOff+m]} (W has {@code ld} columns). */
    static void xw(float[] x, int n, int k, float[] w, int ld, int colOff, int m, float[] out) {
        int full = m - m % L;
        for (int r0 = 0; r0 < n; r0 += 4) {
            int rows = Math.min(4, n - r0);
            int c = 0;
            if (rows == 4) {
                for (; c + 4 * L <= full; c += 4 * L) {
                    block4x4(x, r0, k, w, ld, colOff + c, out, m, c);
                }
            }
            for (; c < full; c += L) {
                for (int r = r0; r < r0 + rows; r++) {
                    FloatVector acc = FloatVector.fromArray(S, out, r * m + c);
                    for (int i = 0; i < k; i++) {
                        acc = FloatVector.broadcast(S, x[r * k + i])
                                .fma(FloatVector.fromArray(S, w, i * ld + colOff + c), acc);
                    }
                    acc.intoArray(out, r * m + c);
                }
            }
            for (int r = r0; r < r0 + rows; r++) {
                for (int j = full; j < m; j++) {
                    float s = out[r * m + j];
                    for (int i = 0; i < k; i++) {
                        s = Math.fma(x[r * k + i], w[i * ld + colOff + j], s);
                    }
                    out[r * m + j] = s;
                }
            }
        }
    }

    private static void block4x4(float[] x, int r0, int k, float[] w, int ld, int wc, float[] out, int m, int c) {
        int o0 = r0 * m + c;
        int o1 = o0 + m;
        int o2 = o1 + m;
        int o3 = o2 + m;
        FloatVector a00 = FloatVector.fromArray(S, out, o0);
        FloatVector a01 = FloatVector.fromArray(S, out, o0 + L);
        FloatVector a02 = FloatVector.fromArray(S, out, o0 + 2 * L);
        FloatVector a03 = FloatVector.fromArray(S, out, o0 + 3 * L);
        FloatVector a10 = FloatVector.fromArray(S, out, o1);
        FloatVector a11 = FloatVector.fromArray(S, out, o1 + L);
        FloatVector a12 = FloatVector.fromArray(S, out, o1 + 2 * L);
        FloatVector a13 = FloatVector.fromArray(S, out, o1 + 3 * L);
        FloatVector a20 = FloatVector.fromArray(S, out, o2);
        FloatVector a21 = FloatVector.fromArray(S, out, o2 + L);
        FloatVector a22 = FloatVector.fromArray(S, out, o2 + 2 * L);
        FloatVector a23 = FloatVector.fromArray(S, out, o2 + 3 * L);
        FloatVector a30 = FloatVector.fromArray(S, out, o3);
        FloatVector a31 = FloatVector.fromArray(S, out, o3 + L);
        FloatVector a32 = FloatVector.fromArray(S, out, o3 + 2 * L);
        FloatVector a33 = FloatVector.fromArray(S, out, o3 + 3 * L);
        int x0 = r0 * k;
        int x1 = x0 + k;
        int x2 = x1 + k;
        int x3 = x2 + k;
        for (int i = 0; i < k; i++) {
            int wi = i * ld + wc;
            FloatVector w0 = FloatVector.fromArray(S, w, wi);
            FloatVector w1 = FloatVector.fromArray(S, w, wi + L);
            FloatVector w2 = FloatVector.fromArray(S, w, wi + 2 * L);
            FloatVector w3 = FloatVector.fromArray(S, w, wi + 3 * L);
            FloatVector b = FloatVector.broadcast(S, x[x0 + i]);
            a00 = b.fma(w0, a00);
            a01 = b.fma(w1, a01);
            a02 = b.fma(w2, a02);
            a03 = b.fma(w3, a03);
            b = FloatVector.broadcast(S, x[x1 + i]);
            a10 = b.fma(w0, a10);
            a11 = b.fma(w1, a11);
            a12 = b.fma(w2, a12);
            a13 = b.fma(w3, a13);
            b = FloatVector.broadcast(S, x[x2 + i]);
            a20 = b.fma(w0, a20);
            a21 = b.fma(w1, a21);
            a22 = b.fma(w2, a22);
            a23 = b.fma(w3, a23);
            b = FloatVector.broadcast(S, x[x3 + i]);
            a30 = b.fma(w0, a30);
            a31 = b.fma(w1, a31);
            a32 = b.fma(w2, a32);
            a33 = b.fma(w3, a33);
        }
        a00.intoArray(out, o0);
        a01.intoArray(out, o0 + L);
        a02.intoArray(out, o0 + 2 * L);
        a03.intoArray(out, o0 + 3 * L);
        a10.intoArray(out, o1);
        a11.intoArray(out, o1 + L);
        a12.intoArray(out, o1 + 2 * L);
        a13.intoArray(out, o1 + 3 * L);
        a20.intoArray(out, o2);
        a21.intoArray(out, o2 + L);
        a22.intoArray(out, o2 + 2 * L);
        a23.intoArray(out, o2 + 3 * L);
        a30.intoArray(out, o3);
        a31.intoArray(out, o3 + L);
        a32.intoArray(out, o3 + 2 * L);
        a33.intoArray(out, o3 + 3 * L);
    }

    // ---------------------------------------------------------------------------------------------
    // OvFactors' sums. Each sum runs in index order from 0, one multiply and one add per term (no
    // FMA), exactly as OvFactors' scalar loops; the vector lanes hold different sums side by side.
    // Same operations on the same operands in the same order per sum: the same bits.

    /** Each thread's scratch for W̃_Oᵀ in {@link #gram} (393 KB for GPT-2; reused, not garbage per head). */
    private static final ThreadLocal<double[]> TRANSPOSED = new ThreadLocal<>();

    private static double[] transposed(int size) {
        double[] t = TRANSPOSED.get();
        if (t == null || t.length < size) {
            t = new double[size];
            TRANSPOSED.set(t);
        }
        return t;
    }

    /** {@link OvFactors#gram}: {@code G[a][b] = Σ_i wo[a][i]·wo[b][i]} (in double), exactly symmetric. */
    static double[] gram(float[] wo, int hs, int d) {
        double[] t = transposed(d * hs); // W̃_Oᵀ in double: t[i·hs + b] = wo[b·d + i]
        for (int b = 0; b < hs; b++) {
            int ob = b * d;
            for (int i = 0; i < d; i++) {
                t[i * hs + b] = wo[ob + i];
            }
        }
        // Rows a and a + 1 together (they share the lane block of a, LD being even), from that
        // block on: eight sums side by side share each load of W̃_Oᵀ. Whole vectors are stored, so
        // some entries below the diagonal are written too, with the same sums as their mirror
        // images (the products commute exactly); the mirror step below writes them again.
        double[] g = new double[hs * hs];
        int full = hs - hs % LD;
        int a = 0;
        for (; a + 1 < hs; a += 2) {
            int oa = a * d;
            int oa1 = oa + d;
            int ga = a * hs;
            int ga1 = ga + hs;
            int b0 = a / LD * LD;
            for (; b0 + 4 * LD <= full; b0 += 4 * LD) {
                DoubleVector s0 = DoubleVector.zero(SD);
                DoubleVector s1 = DoubleVector.zero(SD);
                DoubleVector s2 = DoubleVector.zero(SD);
                DoubleVector s3 = DoubleVector.zero(SD);
                DoubleVector r0 = DoubleVector.zero(SD);
                DoubleVector r1 = DoubleVector.zero(SD);
                DoubleVector r2 = DoubleVector.zero(SD);
                DoubleVector r3 = DoubleVector.zero(SD);
                for (int i = 0; i < d; i++) {
                    DoubleVector x = DoubleVector.broadcast(SD, (double) wo[oa + i]);
                    DoubleVector y = DoubleVector.broadcast(SD, (double) wo[oa1 + i]);
                    int ti = i * hs + b0;
                    DoubleVector t0 = DoubleVector.fromArray(SD, t, ti);
                    DoubleVector t1 = DoubleVector.fromArray(SD, t, ti + LD);
                    DoubleVector t2 = DoubleVector.fromArray(SD, t, ti + 2 * LD);
                    DoubleVector t3 = DoubleVector.fromArray(SD, t, ti + 3 * LD);
                    s0 = s0.add(x.mul(t0));
                    s1 = s1.add(x.mul(t1));
                    s2 = s2.add(x.mul(t2));
                    s3 = s3.add(x.mul(t3));
                    r0 = r0.add(y.mul(t0));
                    r1 = r1.add(y.mul(t1));
                    r2 = r2.add(y.mul(t2));
                    r3 = r3.add(y.mul(t3));
                }
                s0.intoArray(g, ga + b0);
                s1.intoArray(g, ga + b0 + LD);
                s2.intoArray(g, ga + b0 + 2 * LD);
                s3.intoArray(g, ga + b0 + 3 * LD);
                r0.intoArray(g, ga1 + b0);
                r1.intoArray(g, ga1 + b0 + LD);
                r2.intoArray(g, ga1 + b0 + 2 * LD);
                r3.intoArray(g, ga1 + b0 + 3 * LD);
            }
            for (; b0 < full; b0 += LD) {
                DoubleVector s0 = DoubleVector.zero(SD);
                DoubleVector r0 = DoubleVector.zero(SD);
                for (int i = 0; i < d; i++) {
                    DoubleVector t0 = DoubleVector.fromArray(SD, t, i * hs + b0);
                    s0 = s0.add(DoubleVector.broadcast(SD, (double) wo[oa + i]).mul(t0));
                    r0 = r0.add(DoubleVector.broadcast(SD, (double) wo[oa1 + i]).mul(t0));
                }
                s0.intoArray(g, ga + b0);
                r0.intoArray(g, ga1 + b0);
            }
            gramTail(wo, hs, d, g, a, full);
            gramTail(wo, hs, d, g, a + 1, full);
        }
        for (; a < hs; a++) { // the last row of an odd hs
            int oa = a * d;
            for (int b0 = a / LD * LD; b0 < full; b0 += LD) {
                DoubleVector s0 = DoubleVector.zero(SD);
                for (int i = 0; i < d; i++) {
                    s0 = s0.add(DoubleVector.broadcast(SD, (double) wo[oa + i])
                            .mul(DoubleVector.fromArray(SD, t, i * hs + b0)));
                }
                s0.intoArray(g, a * hs + b0);
            }
            gramTail(wo, hs, d, g, a, full);
        }
        // The lower triangle: the same sums (the products commute exactly), copied.
        for (int p = 0; p < hs; p++) {
            for (int q = p + 1; q < hs; q++) {
                g[q * hs + p] = g[p * hs + q];
            }
        }
        return g;
    }

    /** Row a's sums for the columns past the last full lane block, one scalar loop each. */
    private static void gramTail(float[] wo, int hs, int d, double[] g, int a, int full) {
        int oa = a * d;
        for (int b = Math.max(a, full); b < hs; b++) {
            double s = 0;
            for (int i = 0; i < d; i++) {
                s += (double) wo[oa + i] * wo[b * d + i];
            }
            g[a * hs + b] = s;
        }
    }

    /** {@link OvFactors#quadForms}: {@code v·G·vᵀ} per row, {@code (G·vᵀ)[a] = Σ_b G[a][b]·v[b]}. */
    static double[] quadForms(float[] v, int n, int hs, double[] gram) {
        double[] gt = new double[hs * hs]; // Gᵀ: gt[b·hs + a] = G[a][b]
        for (int a = 0; a < hs; a++) {
            for (int b = 0; b < hs; b++) {
                gt[b * hs + a] = gram[a * hs + b];
            }
        }
        double[] out = new double[n];
        double[] rows = new double[hs];
        int full = hs - hs % LD;
        for (int r = 0; r < n; r++) {
            int vo = r * hs;
            int a0 = 0;
            for (; a0 + 4 * LD <= full; a0 += 4 * LD) {
                DoubleVector s0 = DoubleVector.zero(SD);
                DoubleVector s1 = DoubleVector.zero(SD);
                DoubleVector s2 = DoubleVector.zero(SD);
                DoubleVector s3 = DoubleVector.zero(SD);
                for (int b = 0; b < hs; b++) {
                    DoubleVector x = DoubleVector.broadcast(SD, (double) v[vo + b]);
                    int gb = b * hs + a0;
                    s0 = s0.add(DoubleVector.fromArray(SD, gt, gb).mul(x));
                    s1 = s1.add(DoubleVector.fromArray(SD, gt, gb + LD).mul(x));
                    s2 = s2.add(DoubleVector.fromArray(SD, gt, gb + 2 * LD).mul(x));
                    s3 = s3.add(DoubleVector.fromArray(SD, gt, gb + 3 * LD).mul(x));
                }
                s0.intoArray(rows, a0);
                s1.intoArray(rows, a0 + LD);
                s2.intoArray(rows, a0 + 2 * LD);
                s3.intoArray(rows, a0 + 3 * LD);
            }
            for (; a0 < full; a0 += LD) {
                DoubleVector s0 = DoubleVector.zero(SD);
                for (int b = 0; b < hs; b++) {
                    DoubleVector x = DoubleVector.broadcast(SD, (double) v[vo + b]);
                    s0 = s0.add(DoubleVector.fromArray(SD, gt, b * hs + a0).mul(x));
                }
                s0.intoArray(rows, a0);
            }
            for (int a = full; a < hs; a++) {
                double row = 0;
                for (int b = 0; b < hs; b++) {
                    row += gram[a * hs + b] * v[vo + b];
                }
                rows[a] = row;
            }
            double sq = 0;
            for (int a = 0; a < hs; a++) {
                sq += rows[a] * v[vo + a];
            }
            out[r] = sq;
        }
        return out;
    }
}
