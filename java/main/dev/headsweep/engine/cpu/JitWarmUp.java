package dev.headsweep.engine.cpu;

import java.util.SplittableRandom;

/**
 * Compiles the hot loops before the real work reaches them. Vector API code runs orders of
 * magnitude slower until the JIT has compiled it, which on a one-shot sweep costs about a second;
 * running the same loops on small random data in a background thread while the checkpoint is being
 * read (I/O-bound, one core) hides that cost. The same holds, to a smaller degree, for the loops
 * around the CRC intrinsics (the A_h cache's key and checksums). Results are discarded; it never
 * fails the caller.
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
            // The A_h cache's key (CRC32C and CRC32 fingerprints of the weights) and its checksums
            // (CRC32C): a few rounds have the loop around the intrinsics compiled.
            float[] floats = new float[1 << 16];
            java.nio.ByteBuffer scratch = java.nio.ByteBuffer.allocate(AhCache.HASH_SCRATCH);
            for (int i = 0; i < 64; i++) {
                AhCache.fingerprint(floats, 0, floats.length, scratch);
            }
            java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(1 << 16);
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            for (int i = 0; i < 32; i++) {
                crc.update(direct.clear());
            }
            // Block 0's own loops (MatMul and LayerNorm, with the Vector API, further below): gelu_new and the
            // attention of one query, interpreted for the first prompts otherwise.
            float[] g = new float[1 << 14];
            float[] kv = new float[32 * 2 * 64];
            float[] att = new float[32];
            float[] o = new float[64];
            for (int i = 0; i < 24; i++) {
                Gelu.inPlace(g);
                for (int t = 0; t < 32; t++) {
                    Block0.attendQuery(kv, 0, kv, 0, 128, 0, 64, t, 64, 0.125f, att, o, 0);
                }
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
