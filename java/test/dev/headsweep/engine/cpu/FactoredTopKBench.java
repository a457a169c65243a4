package dev.headsweep.engine.cpu;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Benchmark of {@link FactoredTopK} on the GPT-2-small shape (a plain main, not a JUnit test).
 *
 * <pre>
 * mvn -q test-compile
 * java --add-modules=jdk.incubator.vector -cp target/classes:target/test-classes \
 *     dev.headsweep.engine.cpu.FactoredTopKBench [--impl both|all|fast|LIST] [--reps 5]
 *     [--heads 8] [--big] [--no-threads]
 * </pre>
 *
 * {@code --impl}: {@code both} = vector,plain; {@code all} = native-2pass,native-bf16,native,vector,plain;
 * {@code fast} = native-2pass,native-bf16,native,vector; or a comma-separated list of those names (native ones
 * are skipped, saying so, where the library is not available).
 * Prints ms per head single-threaded (after warm-up) and GFLOP/s, with flops per head
 * {@code 2·r·d·V + 2·n·r·V}; then a 2-thread run over {@code --heads} heads (one instance per
 * thread, Prepared shared); with {@code --big}, one head with n = V = 50257 rows.
 */
public final class FactoredTopKBench {
    static final int V = 50257;
    static final int D = 768;
    static final int R = 64;
    static final int N = 388;
    static final int K = 5;

    private FactoredTopKBench() {
    }

    private static float[] random(int size, Random rnd, float scale) {
        float[] a = new float[size];
        for (int q = 0; q < size; q++) {
            a[q] = (float) rnd.nextGaussian() * scale;
        }
        return a;
    }

    private static FactoredTopK create(String impl) {
        switch (impl) {
            case "vector": return FactoredTopK.vector();
            case "native": return FactoredTopK.nativeKernel(false);
            case "native-bf16": return FactoredTopK.nativeKernel(true);
            case "native-2pass": return FactoredTopK.nativeTwoPass();
            default: return FactoredTopK.plain();
        }
    }

    public static void main(String[] args) throws Exception {
        String which = "both";
        int reps = 5;
        int heads = 8;
        boolean big = false;
        boolean threads = true;
        for (int a = 0; a < args.length; a++) {
            switch (args[a]) {
                case "--impl": which = args[++a]; break;
                case "--reps": reps = Integer.parseInt(args[++a]); break;
                case "--heads": heads = Integer.parseInt(args[++a]); break;
                case "--big": big = true; break;
                case "--no-threads": threads = false; break;
                default: throw new IllegalArgumentException("unknown option " + args[a]);
            }
        }
        String list = switch (which) {
            case "both" -> "vector,plain";
            case "all" -> "native-2pass,native-bf16,native,vector,plain";
            case "fast" -> "native-2pass,native-bf16,native,vector";
            default -> which;
        };
        List<String> impls = new ArrayList<>();
        for (String impl : list.split(",")) {
            if (impl.equals("vector") && !FactoredTopK.vectorAvailable()) {
                System.out.println("vector: jdk.incubator.vector not available, skipped");
            } else if (impl.equals("native") && !FactoredTopK.nativeAvailable()
                    || impl.startsWith("native-") && !FactoredTopK.nativeBf16Available()) {
                System.out.println(impl + ": not available (" + FactoredTopK.nativeStatus() + "), skipped");
            } else if (List.of("vector", "plain", "native", "native-bf16", "native-2pass").contains(impl)) {
                impls.add(impl);
            } else {
                throw new IllegalArgumentException("unknown implementation " + impl);
            }
        }
        System.out.printf("JVM %s, %d CPUs, default implementation %s, native: %s%n",
                Runtime.version(), Runtime.getRuntime().availableProcessors(), FactoredTopK.implementation(),
                FactoredTopK.nativeStatus());
        Random rnd = new Random(42);
        float[] E = random(V * D, rnd, 0.1f);
        float[] beta = random(V, rnd, 1f);
        FactoredTopK.Prepared p = FactoredTopK.prepare(E, V, D, beta);
        int nh = Math.max(heads, 2);
        float[][] Ms = new float[nh][];
        float[][] Us = new float[nh][];
        for (int h = 0; h < nh; h++) {
            Ms[h] = random(R * D, rnd, 0.05f);
            Us[h] = random(N * R, rnd, 1f);
        }
        double flops = FactoredTopK.flops(R, D, V, N);
        System.out.printf("shape r=%d d=%d V=%d n=%d k=%d: %.2f GFLOP per head%n", R, D, V, N, K, flops / 1e9);

        int[] ids = new int[N * K];
        float[] vals = new float[N * K];
        for (String impl : impls) {
            FactoredTopK f = create(impl);
            long w0 = System.nanoTime();
            for (int h = 0; h < 3; h++) { // warm-up (JIT)
                f.run(p, Ms[h % nh], R, Us[h % nh], N, K, ids, vals);
            }
            double warm = (System.nanoTime() - w0) / 1e6;
            double[] ms = new double[reps];
            for (int q = 0; q < reps; q++) {
                long t0 = System.nanoTime();
                f.run(p, Ms[q % nh], R, Us[q % nh], N, K, ids, vals);
                ms[q] = (System.nanoTime() - t0) / 1e6;
            }
            double[] sorted = ms.clone();
            Arrays.sort(sorted);
            double med = sorted[reps / 2];
            if (f.kernel() instanceof NativeKernel nk && impl.equals("native-bf16")) {
                System.out.printf("native-bf16: the bf16 gate passed %d of %d (token, row) pairs to exact re-scoring%n",
                        nk.rescoredPairs(), (long) N * V);
            }
            if (f.kernel() instanceof NativeKernel nk && impl.equals("native-2pass")) {
                System.out.printf("native-2pass: last head: %d (token, row) pairs and %d exact columns re-scored"
                        + " in the second pass%n", nk.rescoredPairs(), nk.exactColumns());
            }
            System.out.printf("%-6s 1 thread : median %.1f ms/head (min %.1f, max %.1f) = %.1f GFLOP/s"
                    + " [warm-up 3 heads %.0f ms]%n", impl, med, sorted[0], sorted[reps - 1],
                    flops / (med * 1e6), warm);
        }

        // From a precomputed A (the A_h cache's path, stage 1 skipped), in memory.
        double flops2 = 2.0 * N * R * (double) V;
        for (String impl : impls) {
            FactoredTopK f = create(impl);
            FactoredTopK.Prepared bias = FactoredTopK.prepareBias(V, D, beta);
            float[][] As = new float[2][];
            long a0 = System.nanoTime();
            As[0] = f.computeA(p, Ms[0], R);
            double msA = (System.nanoTime() - a0) / 1e6;
            As[1] = f.computeA(p, Ms[1], R);
            double[] msS1 = new double[reps];
            for (int q = 0; q < reps; q++) {
                long t0 = System.nanoTime();
                f.computeA(p, Ms[q % nh], R, (tt, len, src, ld) -> { });
                msS1[q] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(msS1);
            for (int h = 0; h < 3; h++) { // warm-up
                f.run(bias, FactoredTopK.source(As[h % 2], R), R, Us[h % nh], N, K, ids, vals);
            }
            double[] ms = new double[reps];
            for (int q = 0; q < reps; q++) {
                long t0 = System.nanoTime();
                f.run(bias, FactoredTopK.source(As[q % 2], R), R, Us[q % nh], N, K, ids, vals);
                ms[q] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(ms);
            double med = ms[reps / 2];
            System.out.printf("%-6s 1 thread, precomputed A: median %.1f ms/head (min %.1f) = %.1f GFLOP/s"
                    + " of stage 2; stage 1 alone (computeA) median %.1f ms/head [first call %.0f ms]%n", impl, med,
                    ms[0], flops2 / (med * 1e6), msS1[reps / 2], msA);
        }

        if (threads) {
            for (String impl : impls) {
                double best = Double.MAX_VALUE;
                for (int round = 0; round < 2; round++) { // round 0 also warms the second thread
                    ExecutorService pool = Executors.newFixedThreadPool(2);
                    List<Future<?>> fs = new ArrayList<>();
                    final int H = heads;
                    long t0 = System.nanoTime();
                    for (int tid = 0; tid < 2; tid++) {
                        final int me = tid;
                        fs.add(pool.submit(() -> {
                            FactoredTopK f = create(impl);
                            int[] id2 = new int[N * K];
                            float[] v2 = new float[N * K];
                            for (int h = me; h < H; h += 2) {
                                f.run(p, Ms[h], R, Us[h], N, K, id2, v2);
                            }
                            return null;
                        }));
                    }
                    for (Future<?> fu : fs) {
                        fu.get();
                    }
                    double wall = (System.nanoTime() - t0) / 1e6;
                    pool.shutdown();
                    best = Math.min(best, wall);
                }
                System.out.printf("%-6s 2 threads: %d heads in %.0f ms = %.1f ms/head = %.1f GFLOP/s"
                        + " (144-head sweep ~ %.1f s)%n", impl, heads, best, best / heads,
                        flops * heads / (best * 1e6), best / heads * 144 / 1e3);
            }
        }

        if (big) {
            int n = V;
            float[] U = random(n * R, rnd, 1f);
            int[] idb = new int[n * K];
            float[] vb = new float[n * K];
            double fb = FactoredTopK.flops(R, D, V, n);
            for (String impl : impls) {
                FactoredTopK f = create(impl);
                f.run(p, Ms[0], R, U, n, K, idb, vb); // warm-up with the large scratch
                long t0 = System.nanoTime();
                f.run(p, Ms[1], R, U, n, K, idb, vb);
                double msb = (System.nanoTime() - t0) / 1e6;
                System.out.printf("%-6s n=%d, 1 thread: %.0f ms/head = %.1f GFLOP/s (%.1f GFLOP)%n",
                        impl, n, msb, fb / (msb * 1e6), fb / 1e9);
            }
        }
    }
}
