package dev.headsweep.engine.cpu;

/**
 * {@link MatMul}'s product in the native library ({@code native/src/matmul_avx512.c}, AVX-512F):
 * each element its bias plus one fma per term over the inner index in order, the order of
 * {@link VectorMatMul}, so the same bits; 1–2.3 times the speed (register blocks of 4 rows × 64
 * columns). Used where the native library runs ({@link NativeKernel#AVAILABLE}) unless
 * {@code -Dheadsweep.native.matmul=false}.
 */
final class NativeMatMul {
    /** Whether {@link MatMul} uses this class. */
    static final boolean ENABLED = NativeKernel.AVAILABLE
            && !"false".equalsIgnoreCase(System.getProperty("headsweep.native.matmul"));

    private NativeMatMul() {
    }

    /**
     * {@code out[n × m] += x[n × k] · W[:, colOff .. colOff+m]} (W row-major with {@code ld} columns).
     * @throws IllegalArgumentException when the arrays are too small for the shapes
     */
    static void xw(float[] x, int n, int k, float[] w, int ld, int colOff, int m, float[] out) {
        if (n < 0 || k < 0 || m < 0 || colOff < 0 || colOff + m > ld
                || (long) n * k > x.length || (long) n * m > out.length
                || (k > 0 && (long) (k - 1) * ld + colOff + m > w.length)) {
            throw new IllegalArgumentException("x " + n + "×" + k + " · W[" + k + "×" + ld + "] columns " + colOff
                    + ".." + (colOff + m) + ": arrays of " + x.length + ", " + w.length + ", " + out.length);
        }
        if (n == 0 || m == 0) {
            return;
        }
        xw0(x, n, k, w, ld, colOff, m, out);
    }

    private static native void xw0(float[] x, int n, int k, float[] w, int ld, int colOff, int m, float[] out);
}
