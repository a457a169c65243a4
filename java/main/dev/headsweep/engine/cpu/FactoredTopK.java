package dev.headsweep.engine.cpu;

import java.util.Objects;

/**
 * Top-k tokens of the factored logits of one attention head's OV circuit, without materializing
 * the logits.
 *
 * <p>For a head with {@code M} (r × d), the shared token embedding {@code E} (V × d), the bias
 * {@code beta} (V) and keyword rows {@code U} (n × r), row {@code i}'s logits are
 * {@code logit[i][t] = Σ_j U[i][j]·A[j][t] + beta[t]} with {@code A = M·Eᵀ} (r × V). For each row
 * the {@code k} token ids with the largest logits are written, best first, to
 * {@code ids[i*k .. i*k+k)} and their fp32 values to {@code vals[i*k .. i*k+k)}; equal values rank
 * by lower id first and NaN ranks below every number (see {@link TopK}). Arithmetic is fp32 with
 * fp32 accumulation; the summation order is not that of a naive loop (beta is added first, FMAs).
 *
 * <p>The vocabulary is processed in tiles: a tile of {@code A} (tile × r, token-major) is computed
 * from the tile's rows of {@code E}, then the tile's logits are formed in register blocks and
 * folded straight into a running per-row {@link TopK}. Only the tile scratch is kept; the n × V
 * logits never exist.
 *
 * <p>Threading: {@link Prepared} is immutable and shared read-only by all threads. An instance
 * of this class holds per-thread scratch: use one instance per thread; a single {@link #run} is
 * single-threaded. Scratch grows to the largest problem seen and is reused.
 *
 * <p>Implementations: a native one ({@link NativeKernel}: C through JNI with AVX-512, in an fp32,
 * a bf16-gated and a two-pass bf16 variant that give the same answer), a Vector API one
 * ({@code jdk.incubator.vector}, register-blocked FMA micro-kernels) and a plain-Java one (loops
 * that C2 auto-vectorizes). All give the same top-k, bit for bit. The default is chosen once at
 * class-load time: the native one where its library is in the jar, loads and runs on this CPU
 * (the two-pass variant where the CPU has AVX512_BF16) unless {@code headsweep.native} is {@code false};
 * else the Vector one when the module {@code jdk.incubator.vector} is in the boot layer (run with
 * {@code --add-modules=jdk.incubator.vector}) and the system property {@code headsweep.vector} is
 * not {@code false}; else the plain one. The Vector code lives in its own class, which is never
 * loaded on the plain path.
 *
 * <p>Performance (GPT-2 small, r=64, d=768, V=50257, n=388, k=5; 2-core Zen 5, Java 17): native
 * two-pass about 27 ms per head on one thread (stage 1 in bf16 13 ms, bounded stage 2 9.4 ms,
 * second pass 2–5 ms); native bf16 about 36 ms per head on one thread (stage 1 28.5 ms, stage 2 8.7 ms), about 19 ms per
 * head with two threads; native fp32 about 41 ms; vector about 41–46 ms per head on one thread
 * (160–180 GFLOP/s), about 22–26 ms per head with two threads; plain about 175 ms per head. The first Vector call runs until C2 has compiled the
 * micro-kernels (about 1 s); see {@code FactoredTopKBench} in the tests.
 */
public final class FactoredTopK {

    /** What each implementation provides; package-private. */
    interface Kernel {
        /** Stage 1 from {@code M}, then the top-k: the general form without a source or a sink. */
        default void run(Prepared p, float[] M, int r, float[] U, int n, int k, int[] ids, float[] vals) {
            run(p, M, null, r, U, n, k, ids, vals, null);
        }

        /**
         * The general form: A comes from stage 1 ({@code M} and the prepared E) when {@code src} is
         * null, else from {@code src} (stage 1 skipped, {@code M} unused); each tile of A is handed to
         * {@code sink} when it is not null; the top-k (stage 2) runs when {@code n > 0}.
         */
        void run(Prepared p, float[] M, ATileSource src, int r, float[] U, int n, int k, int[] ids, float[] vals,
                ATileSink sink);

        String name();
    }

    /**
     * A precomputed {@code A = M·Eᵀ} (r × V) of one head, handed out tile by tile, e.g. from the
     * {@link AhCache}. Implementations must allow concurrent reads of different heads (one reader
     * per head).
     */
    public interface ATileSource {
        /**
         * Copies tokens {@code t0 .. t0+len} of A, token-major:
         * {@code dst[q·ld + j] = A[j][t0 + q]} for {@code q < len}, {@code j < r}. Entries of
         * {@code dst} at {@code j >= r} may be left as they are.
         */
        void read(int t0, int len, float[] dst, int ld);
    }

    /** Receives the tiles of a head's A as a kernel computes them. */
    public interface ATileSink {
        /**
         * Tokens {@code t0 .. t0+len} of A, token-major: {@code A[j][t0 + q] = src[q·ld + j]} for
         * {@code q < len}, {@code j < r}. Tiles arrive in increasing {@code t0} and cover
         * {@code 0 .. V} exactly once. {@code src} is scratch: copy what you keep.
         */
        void write(int t0, int len, float[] src, int ld);
    }

    /** Tokens interleaved per block of the packed embedding (the micro-kernels' token count). */
    static final int PACK = 4;

    /**
     * The one-off, shared preparation of the vocabulary side: E repacked so that the kernels'
     * blocks of {@value #PACK} tokens are one contiguous stream ({@code Ep[b][c][m] = E[PACK·b+m][c]},
     * V rounded up to a multiple of {@value #PACK} with zero rows), and beta padded alike. The
     * repacked copy (about 1× the size of E) is made on first use: the native two-pass path reads
     * E itself and its own bf16 view, and never needs it. Shared read-only by all threads.
     */
    public static final class Prepared {
        /** E itself (row-major, not copied): the native two-pass path reads single tokens' rows from it. */
        final float[] E;
        private float[] Ep;
        final int V;
        final int d;
        final float[] beta;
        /** The native two-pass path's view of the embedding (NativeKernel.view), made on first use. */
        Object nativeView;

        private Prepared(float[] E, int V, int d, float[] beta) {
            this.E = E;
            this.V = V;
            this.d = d;
            this.beta = beta;
        }

        /** The packed E (see the class comment), made on the first call. */
        synchronized float[] ep() {
            if (Ep == null) {
                if (E == null) {
                    throw new IllegalStateException("this preparation has no embeddings (prepareBias)");
                }
                Ep = pack(E, V, d);
            }
            return Ep;
        }

        /** V, the number of tokens. */
        public int vocabSize() {
            return V;
        }

        /**
         * Whether this preparation holds the embeddings (from {@link #prepare}); one from
         * {@link #prepareBias} only serves runs that read a precomputed A.
         */
        public boolean hasEmbeddings() {
            return E != null;
        }

        /** d, the model width. */
        public int modelDim() {
            return d;
        }
    }

    private static final boolean VECTOR_MODULE = VectorApi.PRESENT;
    private static final boolean USE_VECTOR = VectorApi.ENABLED;
    private static final boolean USE_NATIVE = NativeKernel.AVAILABLE;

    private final Kernel kernel;

    /** An instance of the default implementation (see {@link #implementation()}). */
    public FactoredTopK() {
        this(USE_NATIVE ? new NativeKernel(NativeKernel.DEFAULT_VARIANT) : javaKernel());
    }

    private static Kernel javaKernel() {
        return USE_VECTOR ? newVectorKernel() : new PlainKernel();
    }

    private FactoredTopK(Kernel kernel) {
        this.kernel = kernel;
    }

    /** An instance of the plain-Java implementation. */
    public static FactoredTopK plain() {
        return new FactoredTopK(new PlainKernel());
    }

    /**
     * An instance of the Vector API implementation, regardless of {@code headsweep.vector}.
     *
     * @throws UnsupportedOperationException when {@code jdk.incubator.vector} is not available
     */
    public static FactoredTopK vector() {
        if (!VECTOR_MODULE) {
            throw new UnsupportedOperationException(
                    "jdk.incubator.vector is not available (run with --add-modules=jdk.incubator.vector)");
        }
        return new FactoredTopK(newVectorKernel());
    }

    /** Whether the Vector API implementation can be used in this JVM. */
    public static boolean vectorAvailable() {
        return VECTOR_MODULE;
    }

    /**
     * An instance of the best Java implementation (Vector API when enabled, else plain), whatever
     * the native library.
     */
    public static FactoredTopK java() {
        return new FactoredTopK(javaKernel());
    }

    /**
     * An instance of the native implementation: fp32 throughout, or ({@code bf16}) with the bf16
     * gate of stage 2; same answers.
     *
     * @throws UnsupportedOperationException when the native library is not available here (see
     *         {@link #nativeStatus()}) or, for bf16, the CPU lacks AVX512_BF16
     */
    public static FactoredTopK nativeKernel(boolean bf16) {
        return new FactoredTopK(new NativeKernel(bf16));
    }

    /**
     * An instance of the native two-pass implementation ({@code native-2pass}: both stages in bf16,
     * exact re-scoring of the few tokens that can reach a row's top-k; same answers).
     *
     * @throws UnsupportedOperationException when the native library or AVX512_BF16 is not available
     */
    public static FactoredTopK nativeTwoPass() {
        return new FactoredTopK(new NativeKernel(NativeKernel.Variant.TWO_PASS));
    }

    /** Whether the native implementation runs in this JVM (library present and loaded, CPU with AVX-512F). */
    public static boolean nativeAvailable() {
        return NativeKernel.AVAILABLE;
    }

    /** Whether the native implementation's bf16 variant runs here (also AVX512_BF16). */
    public static boolean nativeBf16Available() {
        return NativeKernel.BF16_AVAILABLE;
    }

    /** The native library's code path ({@code "avx512f+avx512bf16"}, {@code "avx512f"}) or why it is not used. */
    public static String nativeStatus() {
        return NativeKernel.STATUS;
    }

    /**
     * The default implementation's name: {@code "native-2pass"}, {@code "native-bf16"}, {@code "native"}, {@code "vector"}
     * or {@code "plain"}.
     */
    public static String implementation() {
        if (USE_NATIVE) {
            return NativeKernel.DEFAULT_VARIANT.label;
        }
        return USE_VECTOR ? "vector" : "plain";
    }

    /** This instance's implementation (see {@link #implementation()}). */
    public String name() {
        return kernel.name();
    }

    /** The implementation itself; package-private, for tests. */
    Kernel kernel() {
        return kernel;
    }

    private static Kernel newVectorKernel() {
        // Only this method names VectorKernel; the plain path never loads it.
        return new VectorKernel();
    }

    /**
     * Prepares the vocabulary side once for all heads (beta is copied; E is repacked on first use
     * by the kernels that need it). The preparation keeps a reference to E itself, which must not
     * change while it is in use.
     *
     * @param E    token embeddings, V × d row-major
     * @param V    number of tokens
     * @param d    model width
     * @param beta per-token bias, length V; {@code null} means zeros
     */
    public static Prepared prepare(float[] E, int V, int d, float[] beta) {
        Objects.requireNonNull(E, "E");
        checkShape(V, d);
        if (E.length < (long) V * d) {
            throw new IllegalArgumentException("E has " + E.length + " floats, needs V*d=" + (long) V * d);
        }
        if ((long) padded(V) * d > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("V*d too large: " + (long) padded(V) * d);
        }
        return withBias(E, V, d, beta);
    }

    /** V rounded up to a multiple of {@value #PACK}: the tokens of the packed E and of the padded beta. */
    static int padded(int V) {
        return (V + PACK - 1) / PACK * PACK;
    }

    private static void checkShape(int V, int d) {
        if (V < 1 || d < 1) {
            throw new IllegalArgumentException("V=" + V + ", d=" + d);
        }
    }

    /** The preparation of E (null: none) with beta copied, zero-padded to {@link #padded} tokens. */
    private static Prepared withBias(float[] E, int V, int d, float[] beta) {
        if (beta != null && beta.length < V) {
            throw new IllegalArgumentException("beta has " + beta.length + " floats, needs V=" + V);
        }
        float[] b = new float[padded(V)];
        if (beta != null) {
            System.arraycopy(beta, 0, b, 0, V);
        }
        return new Prepared(E, V, d, b);
    }

    /** E packed in blocks of {@value #PACK} tokens ({@code Ep[b][c][m] = E[PACK·b+m][c]}, zero rows past V). */
    private static float[] pack(float[] E, int V, int d) {
        float[] Ep = new float[padded(V) * d];
        int blocks = padded(V) / PACK;
        if (USE_NATIVE) {
            // the same copy in C: no interpreted loop while the JIT has not compiled it yet
            int chunks = 8;
            java.util.stream.IntStream.range(0, chunks).parallel().forEach(ch -> NativeKernel.packE(E, V, d, Ep,
                    (int) ((long) blocks * ch / chunks), (int) ((long) blocks * (ch + 1) / chunks)));
            return Ep;
        }
        java.util.stream.IntStream.range(0, blocks).parallel().forEach(block -> {
            int t0 = block * PACK;
            int base = t0 * d;
            for (int m = 0; m < PACK && t0 + m < V; m++) {
                int src = (t0 + m) * d;
                for (int c = 0; c < d; c++) {
                    Ep[base + c * PACK + m] = E[src + c];
                }
            }
        });
        return Ep;
    }

    /**
     * The preparation for runs that read a precomputed A only ({@link #run(Prepared, ATileSource,
     * int, float[], int, int, int[], float[])}): the bias, without the embeddings (no copy of E).
     *
     * @param V    number of tokens
     * @param d    model width (for reports; not used by the cached runs)
     * @param beta per-token bias, length V; {@code null} means zeros
     */
    public static Prepared prepareBias(int V, int d, float[] beta) {
        checkShape(V, d);
        return withBias(null, V, d, beta);
    }

    /**
     * Computes the top-k tokens of each of the n rows of one head.
     *
     * @param p    the shared preparation
     * @param M    r × d row-major
     * @param r    head size (rows of M)
     * @param U    n × r row-major
     * @param n    number of rows (0 allowed)
     * @param k    1 ≤ k ≤ V
     * @param ids  output, at least n·k; row i at offset i·k, best first
     * @param vals output, at least n·k; the logits of {@code ids}
     */
    public void run(Prepared p, float[] M, int r, float[] U, int n, int k, int[] ids, float[] vals) {
        checkM(p, M, r);
        checkRows(p, r, U, n, k, ids, vals);
        if (n == 0) {
            return;
        }
        kernel.run(p, M, r, U, n, k, ids, vals);
    }

    /**
     * As {@link #run(Prepared, float[], int, float[], int, int, int[], float[])}, and hands every
     * tile of the head's {@code A = M·Eᵀ} to {@code sink} as it is computed (to fill the
     * {@link AhCache} during a cold sweep at no extra arithmetic). With {@code n == 0} only A is
     * computed. Same top-k, bit for bit.
     */
    public void run(Prepared p, float[] M, int r, float[] U, int n, int k, int[] ids, float[] vals,
            ATileSink sink) {
        checkM(p, M, r);
        checkRows(p, r, U, n, k, ids, vals);
        Objects.requireNonNull(sink, "sink");
        kernel.run(p, M, null, r, U, n, k, ids, vals, sink);
    }

    /**
     * Computes the top-k tokens of each of the n rows of one head from a precomputed
     * {@code A = M·Eᵀ} (r × V): stage 1 is skipped. {@code p} may come from {@link #prepareBias}.
     * Same output and tie rule as the run from {@code M}; with the A that this implementation's
     * stage 1 computes (e.g. through a sink), the same bits.
     */
    public void run(Prepared p, ATileSource a, int r, float[] U, int n, int k, int[] ids, float[] vals) {
        Objects.requireNonNull(p, "prepared");
        Objects.requireNonNull(a, "A source");
        checkRows(p, r, U, n, k, ids, vals);
        if (n == 0) {
            return;
        }
        kernel.run(p, null, a, r, U, n, k, ids, vals, null);
    }

    /** Computes only the head's {@code A = M·Eᵀ}, tile by tile into {@code sink} (stage 1 alone). */
    public void computeA(Prepared p, float[] M, int r, ATileSink sink) {
        checkM(p, M, r);
        Objects.requireNonNull(sink, "sink");
        kernel.run(p, M, null, r, new float[0], 0, 1, new int[0], new float[0], sink);
    }

    /** The head's {@code A = M·Eᵀ} as one token-major array ({@code A[j][t]} at {@code t·r + j}); for tests and tools. */
    public float[] computeA(Prepared p, float[] M, int r) {
        checkM(p, M, r);
        long size = (long) p.V * r;
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("V*r too large: " + size);
        }
        float[] a = new float[(int) size];
        computeA(p, M, r, (t0, len, src, ld) -> {
            for (int q = 0; q < len; q++) {
                System.arraycopy(src, q * ld, a, (t0 + q) * r, r);
            }
        });
        return a;
    }

    /** A source over a token-major array ({@code A[j][t]} at {@code t·r + j}), as {@link #computeA(Prepared, float[], int)} returns. */
    public static ATileSource source(float[] a, int r) {
        Objects.requireNonNull(a, "A");
        return (t0, len, dst, ld) -> {
            if (ld == r) {
                System.arraycopy(a, t0 * r, dst, 0, len * r);
            } else {
                for (int q = 0; q < len; q++) {
                    System.arraycopy(a, (t0 + q) * r, dst, q * ld, r);
                }
            }
        };
    }

    private static void checkM(Prepared p, float[] M, int r) {
        Objects.requireNonNull(p, "prepared");
        Objects.requireNonNull(M, "M");
        if (p.E == null) {
            throw new IllegalArgumentException("this preparation has no embeddings (prepareBias): "
                    + "it only serves runs from a precomputed A");
        }
        if (r >= 1 && M.length < (long) r * p.d) {
            throw new IllegalArgumentException("M has " + M.length + " floats, needs r*d=" + (long) r * p.d);
        }
    }

    private static void checkRows(Prepared p, int r, float[] U, int n, int k, int[] ids, float[] vals) {
        Objects.requireNonNull(U, "U");
        Objects.requireNonNull(ids, "ids");
        Objects.requireNonNull(vals, "vals");
        if (r < 1 || n < 0) {
            throw new IllegalArgumentException("r=" + r + ", n=" + n);
        }
        if (k < 1 || k > p.V) {
            throw new IllegalArgumentException("k=" + k + " must be in 1.." + p.V);
        }
        if (U.length < (long) n * r) {
            throw new IllegalArgumentException("U has " + U.length + " floats, needs n*r=" + (long) n * r);
        }
        long out = (long) n * k;
        if (ids.length < out || vals.length < out) {
            throw new IllegalArgumentException("ids/vals need n*k=" + out + " entries");
        }
    }

    /** Floating-point operations of one head: 2·r·d·V + 2·n·r·V. */
    public static double flops(int r, int d, int V, int n) {
        return 2.0 * r * d * V + 2.0 * n * r * (double) V;
    }
}
