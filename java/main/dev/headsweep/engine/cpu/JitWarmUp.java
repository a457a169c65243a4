package dev.headsweep.engine.cpu;

import java.util.SplittableRandom;

/**
 * Compiles the hot loops before the real work reaches them. Vector API code runs orders of
 * magnitude slower until the JIT has compiled it, which on a one-shot sweep costs about a second;
 * running the same loops on small random data in a background thread while the checkpoint is being
 * read (I/O-bound, one core) hides that cost. The same holds for SHA-256 (the A_h cache's key: the
 * first 100 MB hash about 3× slower before the JIT has the intrinsic in place, and the first
 * {@code MessageDigest} costs about 70 ms to set up) and CRC32C (its checksums). Results are
 * discarded; it never fails the caller.
 */
public final class JitWarmUp {
    private static volatile Thread running;

    private JitWarmUp() {
    }

    /**
     * Starts the warm-up once per JVM in a daemon thread (not with {@code -Dheadsweep.warmup=false});
     * returns at once. Without the Vector API only the A_h cache's hashing and checksums are warmed up.
     */
    public static synchronized void startInBackground() {
        if (running != null || "false".equalsIgnoreCase(System.getProperty("headsweep.warmup"))) {
            return;
        }
        running = new Thread(JitWarmUp::run, "headsweep-jit-warm-up");
        running.setDaemon(true);
        running.setPriority(Thread.MIN_PRIORITY);
        running.start();
    }

    /** Waits (at most {@code millis}) for a started warm-up to finish, so it does not compete with real work. */
    public static void await(long millis) {
        Thread t = running;
        if (t != null) {
            try {
                t.join(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void run() {
        try {
            // The A_h cache's key (SHA-256 over the weights): 256 KB at a time until the JIT has the
            // SHA-256 intrinsic in place (about 20× faster than interpreted; some 15 rounds, 0.1 s)
            // or for 0.25 s at most. Then its checksums (CRC32C).
            float[] floats = new float[1 << 16];
            java.nio.ByteBuffer scratch = java.nio.ByteBuffer.allocate(AhCache.HASH_SCRATCH);
            long start = System.nanoTime();
            long reference = 0;
            for (int i = 0; System.nanoTime() - start < 250_000_000L; i++) {
                long t0 = System.nanoTime();
                AhCache.digest(floats, 0, floats.length, scratch);
                long dt = System.nanoTime() - t0;
                if (i == 1) {
                    reference = dt; // interpreted (the first round also sets up the provider)
                } else if (i > 1 && dt * 8 < reference) {
                    break;
                }
            }
            java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(1 << 16);
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            for (int i = 0; i < 32; i++) {
                crc.update(direct.clear());
            }
        } catch (RuntimeException | Error e) {
            // as below
        }
        if (!VectorApi.ENABLED) {
            return; // the plain loops below compile quickly, and warming them would cost seconds
        }
        try {
            SplittableRandom r = new SplittableRandom(1);
            int d = 256;
            int hs = 64;
            int vocab = 4096;
            int n = 64;
            float[] x = random(r, n * d);
            float[] w = random(r, d * 3 * d);
            float[] e = random(r, vocab * d);
            float[] m = random(r, hs * d);
            float[] u = random(r, n * hs);
            FactoredTopK.Prepared prep = FactoredTopK.prepare(e, vocab, d, null);
            FactoredTopK kernel = new FactoredTopK();
            int[] ids = new int[n * 5];
            float[] vals = new float[n * 5];
            float[] lnW = random(r, d);
            float[] lnB = random(r, d);
            float[] betaOut = new float[256];
            for (int i = 0; i < 40; i++) {
                LayerNorm.rows(x, n, d, lnW, lnB, 1e-5f);
                MatMul.xw(x, n, d, w, 3 * d, 0, 3 * d, null);
                MatMul.xw(x, n, d, w, 3 * d, 2 * d, hs, null);
                kernel.run(prep, m, hs, u, n, 5, ids, vals);
                // the per-head factors (OvFactors): interpreted, the first heads cost ~10 ms each
                float[] centred = OvFactors.centredRows(m, 0, hs, d);
                OvFactors.rows(u, n, hs, d, 1e-5f, OvFactors.gram(centred, hs, d));
                OvFactors.beta(e, lnB, d, 0, 256, betaOut);
            }
        } catch (RuntimeException | Error e) {
            // a failed warm-up only means the real work compiles its own loops
        }
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }
}
