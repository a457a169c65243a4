package dev.headsweep.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link MatMul}'s product on the Vector API: register blocks of 4 rows × 4 vectors of columns,
 * each step one broadcast of {@code x} per row and one load of W per vector, 16 FMAs.
 * Loaded only when {@link VectorApi#ENABLED}.
 */
final class VectorMatMul {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

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
}
