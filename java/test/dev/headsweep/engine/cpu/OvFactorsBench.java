package dev.headsweep.engine.cpu;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Timing of {@link OvFactors#gram} and {@link OvFactors#quadForms} on the GPT-2-small shape
 * (hs = 64, d = 768, n = 388 keyword rows), a plain main, not a JUnit test:
 *
 * <pre>
 * mvn -q test-compile
 * java -cp target/classes:target/test-classes dev.headsweep.engine.cpu.OvFactorsBench [--cold 10] [--warm 2000]
 * </pre>
 *
 * Prints the first {@code --cold} calls of a fresh JVM one by one (no {@link JitWarmUp}: the calls
 * follow each other faster than in a sweep, where other work gives C2 time to compile), then the
 * median and minimum per call over the last half of {@code --warm} calls. On a VM where first
 * touches of fresh heap pages are slow, {@code -XX:+AlwaysPreTouch} takes them out of the warm times.
 */
public final class OvFactorsBench {
    private OvFactorsBench() {
    }

    public static void main(String[] args) {
        int cold = 10;
        int warm = 2000;
        for (int a = 0; a < args.length; a++) {
            switch (args[a]) {
                case "--cold": cold = Integer.parseInt(args[++a]); break;
                case "--warm": warm = Integer.parseInt(args[++a]); break;
                default: throw new IllegalArgumentException("unknown option " + args[a]);
            }
        }
        int hs = 64, d = 768, n = 388;
        SplittableRandom r = new SplittableRandom(1);
        float[] wo = new float[hs * d];
        float[] v = new float[n * hs];
        for (int i = 0; i < wo.length; i++) {
            wo[i] = (float) (r.nextGaussian() * 0.1);
        }
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        double sink = 0;
        StringBuilder line = new StringBuilder("first calls (gram + quadForms, ms):");
        for (int c = 0; c < cold; c++) {
            long t0 = System.nanoTime();
            double[] g = OvFactors.gram(wo, hs, d);
            double[] q = OvFactors.quadForms(v, n, hs, g);
            long t1 = System.nanoTime();
            sink += q[c % n];
            line.append(String.format(" %.2f", (t1 - t0) / 1e6));
        }
        System.out.println(line);
        long[] tg = new long[warm];
        long[] tq = new long[warm];
        double[] g = null;
        for (int c = 0; c < warm; c++) {
            long t0 = System.nanoTime();
            g = OvFactors.gram(wo, hs, d);
            long t1 = System.nanoTime();
            double[] q = OvFactors.quadForms(v, n, hs, g);
            long t2 = System.nanoTime();
            tg[c] = t1 - t0;
            tq[c] = t2 - t1;
            sink += q[c % n];
        }
        // the last half only: after warm-up
        long[] g2 = Arrays.copyOfRange(tg, warm / 2, warm);
        long[] q2 = Arrays.copyOfRange(tq, warm / 2, warm);
        long[] s2 = new long[g2.length];
        for (int i = 0; i < s2.length; i++) {
            s2[i] = g2[i] + q2[i];
        }
        Arrays.sort(g2);
        Arrays.sort(q2);
        Arrays.sort(s2);
        System.out.printf("warm, per call (median / min, ms): gram %.3f / %.3f, quadForms %.3f / %.3f, both %.3f / %.3f%n",
                g2[g2.length / 2] / 1e6, g2[0] / 1e6, q2[q2.length / 2] / 1e6, q2[0] / 1e6,
                s2[s2.length / 2] / 1e6, s2[0] / 1e6);
        if (sink == 42) {
            System.out.println();
        }
    }
}
