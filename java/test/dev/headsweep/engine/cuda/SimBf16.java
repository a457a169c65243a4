package dev.headsweep.engine.cuda;

/**
 * Plain-Java twins of kernels/gemm_bf16.cu for the simulated device: the bf16 rounding of
 * kernels/bf16.cuh ({@code hs_bf16_bits}), {@code hs_pack_bf16} and {@code hs_gemm_bf16}. A bf16 value
 * is the top half of a float's bits; a packed word holds two, the lower k in the low 16 bits.
 */
final class SimBf16 {
    private SimBf16() {
    }

    /** The bf16 bits of f exactly as hs_bf16_bits: round to nearest even, NaN kept a (quiet) NaN. */
    static int bits(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) {
            return (u >>> 16) | 0x40;
        }
        u += 0x7fff + ((u >>> 16) & 1);
        return u >>> 16;
    }

    /** The float whose bits are bf16 bits h (the low 16 bits of h). */
    static float value(int h) {
        return Float.intBitsToFloat(h << 16);
    }

    /**
     * hs_gemm_bf16: C[m][n] = Σ_{k<K} bf16(A[m][k])·B[n][k] for m &lt; M, n &lt; N, B packed bf16
     * ([N][ldb] words, word w of a row holding k = 2w low, 2w + 1 high). The products are exact in
     * double and summed in k order in double, then rounded once to float: an order within the
     * kernel's bound (|C − Σ| ≤ 2⁻¹³·Σ|products|). Entries of C outside M × N are not written.
     */
    static void gemm(float[] A, int aOff, int lda, int[] B, int bOff, int ldb, float[] C, int cOff, int ldc, int M, int N,
            int K) {
        if (K % 16 != 0) {
            throw new IllegalArgumentException("hs_gemm_bf16: K " + K + " is not a multiple of 16");
        }
        double[] a = new double[K];
        for (int m = 0; m < M; m++) {
            int rowA = aOff + m * lda;
            for (int k = 0; k < K; k++) {
                a[k] = value(bits(A[rowA + k]));
            }
            for (int n = 0; n < N; n++) {
                int rowB = bOff + n * ldb;
                double s = 0;
                for (int w = 0; w < K / 2; w++) {
                    int word = B[rowB + w];
                    s += a[2 * w] * value(word);
                    s += a[2 * w + 1] * value(word >>> 16);
                }
                C[cOff + m * ldc + n] = (float) s;
            }
        }
    }

    /** hs_pack_bf16: out[w] = bits(x[2w]) | bits(x[2w+1]) &lt;&lt; 16 for w &lt; pairs. */
    static void pack(float[] x, int xOff, long pairs, int[] out, int outOff) {
        for (int w = 0; w < pairs; w++) {
            out[outOff + w] = bits(x[xOff + 2 * w]) | bits(x[xOff + 2 * w + 1]) << 16;
        }
    }
}
