package dev.headsweep.engine.cpu;

import java.io.IOException;
import java.io.InputStream;
import java.lang.ref.Cleaner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * The native implementation of {@link FactoredTopK} ({@code native/}, C through JNI, AVX-512):
 * the same vocabulary tiling, arithmetic order and tie rule as {@link PlainKernel} and
 * {@link VectorKernel}, so the same top-k bit for bit (ids and values) and the same A tiles.
 * Java keeps the tile loop, so {@link FactoredTopK.ATileSource} and {@link FactoredTopK.ATileSink}
 * work unchanged; each tile is one or two calls into the library. One instance per thread: it
 * owns a native context (scratch, packed operands, the running top-k), freed when the instance
 * becomes unreachable.
 *
 * <p>Three variants ({@link Variant}): {@code native} computes every logit in fp32;
 * {@code native-bf16} forms the logits first in bf16 ({@code VDPBF16PS}), drops every (token,
 * row) whose approximation plus a rigorous error margin cannot reach the row's k-th value, and
 * re-scores the rest in exact fp32 (bound and proof in {@code native/src/stage2_bf16.c});
 * {@code native-2pass} also computes A in bf16 and adds stage 1's bound to the margin
 * ({@code native/src/stage1_bf16.c}): a first pass bounds every logit and keeps, per row, the
 * tokens whose upper bound reaches the k-th largest lower bound; a second pass computes the exact
 * A columns and logits of those alone ({@code native/src/twopass.c}). All give the fp32 answer.
 * A head whose values the two-pass guards refuse (norms near overflow, non-finite) runs as
 * {@code native-bf16}.
 *
 * <p>The library is the jar's resource {@code /native/linux-x86_64/libheadsweep_native.so}
 * (extracted to a temporary file, loaded, and the file removed), or the file the system property
 * {@code headsweep.native.lib} names. It runs where the CPU has AVX-512F (with DQ, BW, VL) and
 * uses the bf16 variant where it also has AVX512_BF16. {@code -Dheadsweep.native=false} keeps the
 * library from loading; {@code -Dheadsweep.native.bf16=false} makes the fp32 variant the default.
 * When the library is missing, fails to load or the CPU lacks the features, {@link FactoredTopK}
 * keeps the Java kernels (one line on stderr when a present library fails to load).
 */
final class NativeKernel implements FactoredTopK.Kernel {
    /** Tokens per tile (HS_TILE in native/src/hs_native.h). */
    static final int TILE = 512;

    /** Whether the library is loaded and this CPU runs it. */
    static final boolean AVAILABLE;
    /** Whether the CPU also runs the bf16 variant. */
    static final boolean BF16_AVAILABLE;
    /** The code path the library chose ("avx512f+avx512bf16", "avx512f", "none"), or why there is none. */
    static final String STATUS;
    /** The default variant is bf16 (available and not turned off). */
    static final boolean BF16_DEFAULT;

    private static final Cleaner CLEANER = Cleaner.create();

    static {
        boolean ok = false;
        boolean bf16 = false;
        String status;
        if ("false".equalsIgnoreCase(System.getProperty("headsweep.native"))) {
            status = "off (-Dheadsweep.native=false)";
        } else {
            String why = load();
            if (why != null) {
                status = why;
            } else {
                int isa = isa();
                ok = isa >= 1;
                bf16 = isa >= 2;
                status = ok ? isaName() : "this CPU lacks AVX-512F";
            }
        }
        AVAILABLE = ok;
        BF16_AVAILABLE = bf16;
        STATUS = status;
        BF16_DEFAULT = bf16 && !"false".equalsIgnoreCase(System.getProperty("headsweep.native.bf16"));
    }

    /** Loads the library; returns null when loaded, else why not (and says so on stderr when a library was there). */
    private static String load() {
        String file = System.getProperty("headsweep.native.lib");
        try {
            if (file != null) {
                System.load(Path.of(file).toAbsolutePath().toString());
                return null;
            }
            String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
            String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
            if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
                return "no native library for " + os + "-" + arch;
            }
            String resource = "/native/linux-x86_64/libheadsweep_native.so";
            try (InputStream in = NativeKernel.class.getResourceAsStream(resource)) {
                if (in == null) {
                    return "not in this build (no " + resource + ")";
                }
                Path tmp = Files.createTempFile("libheadsweep_native-", ".so");
                try {
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                    System.load(tmp.toAbsolutePath().toString());
                } finally {
                    Files.deleteIfExists(tmp); // the mapping outlives the file
                }
            }
            return null;
        } catch (IOException | RuntimeException | LinkageError e) {
            String why = "failed to load (" + e + ")";
            System.err.println("headsweep: native kernels " + why + "; using the Java kernels");
            return why;
        }
    }

    static native int isa();

    static native String isaName();

    private static native long create();

    private static native void destroy(long ctx);

    private static native int begin(long ctx, float[] U, int n, int r, int k, boolean bf16);

    private static native int packM(long ctx, float[] M, int r, int d);

    private static native void stage1(long ctx, float[] Ep, int d, int t0, int len, float[] out, int ld);

    private static native void load(long ctx, float[] in, int ld, int len);

    private static native void stage2(long ctx, float[] beta, int t0, int len);

    private static native void finish(long ctx, int[] ids, float[] vals);

    private static native long rescored(long ctx);

    private static native float prepareE(float[] E, int V, int d, int[] eb, float[] ne, float[] nel);

    private static native int twoPass(long ctx, float[] M, float[] U, int[] eb, float[] ne, float[] nel, float emax,
            float[] E, float[] beta, float betamax, int V, int d);

    private static native long columns(long ctx);

    /** {@link FactoredTopK#prepare}'s packing of E, blocks {@code b0 .. b1} of 4 tokens (only where {@link #AVAILABLE}). */
    static native void packE(float[] E, int V, int d, float[] Ep, int b0, int b1);

    /** The margin constants {c, c2, tiny} of the bf16 gate for head size r (for tests). */
    static native float[] marginConstants(int r);

    /** The largest head size the native code takes (hs_begin); larger ones run on the Java kernel. */
    static final int MAX_R = 4096;

    /** The variants; all give the fp32 answer, bit for bit. */
    enum Variant {
        /** every logit in fp32 */
        FP32("native"),
        /** stage 1 in fp32; stage 2 in bf16 behind a margin, candidates re-scored in fp32 */
        BF16("native-bf16"),
        /**
         * both stages in bf16, two passes (native/src/twopass.c): bounds first, then exact columns
         * and values for the few tokens that can still be in a row's top-k. Runs that read A from a
         * source or hand it to a sink need the exact A of every token and run as {@link #BF16}.
         */
        TWO_PASS("native-2pass");

        final String label;

        Variant(String label) {
            this.label = label;
        }
    }

    /** The default variant where the library runs: the two-pass one unless turned off, then bf16, then fp32. */
    static final Variant DEFAULT_VARIANT = !BF16_DEFAULT ? Variant.FP32
            : "false".equalsIgnoreCase(System.getProperty("headsweep.native.twopass")) ? Variant.BF16
            : Variant.TWO_PASS;

    private final Variant variant;
    private final boolean bf16;
    private final long ctx;
    private FactoredTopK.Kernel javaFallback;
    private float[] tile = new float[0];

    /**
     * A kernel of the given variant.
     *
     * @throws UnsupportedOperationException when the library is not available or (bf16) the CPU lacks AVX512_BF16
     */
    NativeKernel(boolean bf16) {
        this(bf16 ? Variant.BF16 : Variant.FP32);
    }

    /**
     * A kernel of the given variant.
     *
     * @throws UnsupportedOperationException when the library is not available or (bf16, two-pass) the CPU lacks AVX512_BF16
     */
    NativeKernel(Variant variant) {
        boolean bf16 = variant != Variant.FP32;
        if (!AVAILABLE || (bf16 && !BF16_AVAILABLE)) {
            throw new UnsupportedOperationException("native kernels" + (bf16 ? " (" + variant.label + ")" : "")
                    + " are not available: " + STATUS);
        }
        this.variant = variant;
        this.bf16 = bf16;
        long c = create();
        if (c == 0) {
            throw new OutOfMemoryError("native kernel context");
        }
        this.ctx = c;
        CLEANER.register(this, () -> destroy(c));
    }

    @Override
    public String name() {
        return variant.label;
    }

    /** (token, row) pairs the last run's bf16 gate passed to the exact re-scoring (0 for the fp32 variant). */
    long rescoredPairs() {
        return rescored(ctx);
    }

    /** Exact columns of A the last run computed in its second pass (two-pass variant; 0 otherwise). */
    long exactColumns() {
        return columns(ctx);
    }

    /** Heads the two-pass variant handed to the one-pass path because a guard refused them (for tests). */
    long refusedHeads() {
        return refused;
    }

    private long refused;

    /**
     * The vocabulary side of the two-pass path, made once per preparation: E in bf16 pairs (half the
     * size of E) and the norms of its rows and of their bf16 rounding errors.
     */
    record Bf16View(int[] eb, float[] ne, float[] nel, float emax, float betamax) {
        /** Whether the guards admit this embedding (every ||E_t|| < 2^60, finite; |beta| < 2^110). */
        boolean usable() {
            return emax < 0x1p60f && betamax < 0x1p110f;
        }
    }

    static Bf16View view(FactoredTopK.Prepared p) {
        synchronized (p) {
            if (p.nativeView == null) {
                int[] eb = new int[Math.multiplyExact(FactoredTopK.padded(p.V), (p.d + 1) / 2)];
                float[] ne = new float[p.V];
                float[] nel = new float[p.V];
                float emax = prepareE(p.E, p.V, p.d, eb, ne, nel);
                float bmax = 0f;
                for (int t = 0; t < p.V; t++) {
                    float b = Math.abs(p.beta[t]);
                    bmax = b > bmax || b != b ? b : bmax;
                }
                p.nativeView = new Bf16View(eb, ne, nel, emax, bmax != bmax ? Float.POSITIVE_INFINITY : bmax);
            }
            return (Bf16View) p.nativeView;
        }
    }

    private static void check(int rc, String what) {
        if (rc == -2) {
            throw new OutOfMemoryError("native kernel: " + what);
        }
        if (rc != 0) {
            throw new IllegalArgumentException("native kernel: " + what + " failed (" + rc + ")");
        }
    }

    @Override
    public void run(FactoredTopK.Prepared p, float[] M, FactoredTopK.ATileSource src, int r, float[] U,
            int n, int k, int[] ids, float[] vals, FactoredTopK.ATileSink sink) {
        if (r > MAX_R) { // beyond the native scratch's design: the Java kernel, same answers
            if (javaFallback == null) {
                javaFallback = FactoredTopK.java().kernel();
            }
            javaFallback.run(p, M, src, r, U, n, k, ids, vals, sink);
            return;
        }
        final int V = p.V;
        final int d = p.d;
        check(begin(ctx, U, n, r, k, bf16 && n > 0), "rows");
        if (src == null) {
            check(packM(ctx, M, r, d), "M");
        }
        if (variant == Variant.TWO_PASS && src == null && sink == null && n > 0) {
            Bf16View v = view(p);
            if (v.usable()) {
                int rc = twoPass(ctx, M, U, v.eb(), v.ne(), v.nel(), v.emax(), p.E, p.beta, v.betamax(), V, d);
                if (rc == 0) {
                    finish(ctx, ids, vals);
                    java.lang.ref.Reference.reachabilityFence(this);
                    return;
                }
                if (rc != 1) {
                    check(rc, "two-pass");
                }
                refused++;
                check(begin(ctx, U, n, r, k, true), "rows"); // the guards refused: the one-pass path
            } else {
                refused++;
            }
        }
        if ((src != null || sink != null) && tile.length < TILE * r) {
            tile = new float[TILE * r];
        }
        final float[] tile = this.tile;
        for (int t0 = 0; t0 < V; t0 += TILE) {
            final int len = Math.min(TILE, V - t0);
            if (src != null) {
                src.read(t0, len, tile, r);
                if (sink != null) {
                    sink.write(t0, len, tile, r);
                }
                load(ctx, tile, r, len);
            } else {
                stage1(ctx, p.ep(), d, t0, len, sink != null ? tile : null, r);
                if (sink != null) {
                    sink.write(t0, len, tile, r);
                }
            }
            if (n > 0) {
                stage2(ctx, p.beta, t0, len);
            }
        }
        if (n > 0) {
            finish(ctx, ids, vals);
        }
        java.lang.ref.Reference.reachabilityFence(this);
    }
}
