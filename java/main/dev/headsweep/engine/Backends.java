package dev.headsweep.engine;

import dev.headsweep.HeadSweepException;
import dev.headsweep.engine.cpu.AhCache;
import dev.headsweep.engine.cpu.CpuBackend;
import dev.headsweep.engine.cpu.FactoredTopK;
import dev.headsweep.engine.cuda.CudaBackend;
import dev.headsweep.engine.cuda.CudaSupport;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Picks the backend for a {@code --device} choice:
 * <ul>
 *   <li>{@code cpu}: the CPU backend on {@code threads} threads (all cores when null);</li>
 *   <li>{@code cuda}: the CUDA backend on GPU 0, or a one-line {@link HeadSweepException} saying
 *       why there is none (no driver, no kernels in this build, JCuda's library, no device, ...);</li>
 *   <li>{@code auto}: CUDA when a GPU is usable and passes a quick self-check of the fused top-k
 *       against the CPU (a few milliseconds), else the CPU. On a machine without an NVIDIA driver
 *       this costs two file checks: JCuda is not even loaded.</li>
 * </ul>
 * The returned {@link Choice#description()} is one line for the user (the CLI prints it).
 */
public final class Backends {
    private Backends() {
    }

    /** The backend chosen and one line that says which and, for {@code auto}, why. */
    public record Choice(Backend backend, String description) {
    }

    public static Choice select(String device, Integer threads) {
        return select(device, threads, AhCache.fromSystemProperties().orElse(null));
    }

    /**
     * As {@link #select(String, Integer)}, with the CPU backend's {@code A_h} cache given
     * ({@code null}: none); the GPU backend keeps its own on the device.
     */
    public static Choice select(String device, Integer threads, AhCache cache) {
        String d = device == null ? "auto" : device.trim().toLowerCase(Locale.ROOT);
        if (threads != null && threads < 1) {
            throw new HeadSweepException("--threads must be at least 1, got " + threads);
        }
        switch (d) {
            case "cpu" -> {
                Backend cpu = cpu(threads, cache);
                return new Choice(cpu, "device: " + cpu.describe());
            }
            case "cuda", "gpu" -> {
                CudaBackend cuda = CudaBackend.open();
                return new Choice(cuda, "device: " + cuda.describe());
            }
            case "auto" -> {
                CudaSupport.Opened o = CudaSupport.open();
                if (o.device() == null) {
                    Backend cpu = cpu(threads, cache);
                    return new Choice(cpu, "device: " + cpu.describe() + " (auto; no GPU: " + o.whyNot() + ")");
                }
                CudaBackend cuda = new CudaBackend(o.device());
                String failed;
                try {
                    failed = selfCheck(cuda);
                } catch (RuntimeException e) {
                    failed = String.valueOf(e.getMessage()).replaceAll("\\s+", " ");
                }
                if (failed == null) {
                    return new Choice(cuda, "device: " + cuda.describe() + " (auto)");
                }
                cuda.close();
                Backend cpu = cpu(threads, cache);
                return new Choice(cpu, "device: " + cpu.describe() + " (auto; the GPU failed its self-check: "
                        + failed + ")");
            }
            default -> throw new HeadSweepException("--device must be auto, cpu or cuda, got \"" + device + "\"");
        }
    }

    private static Backend cpu(Integer threads, AhCache cache) {
        int n = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
        return new CpuBackend(n, FactoredTopK::new, cache);
    }

    /**
     * The fused top-k of the GPU against the CPU's on a small problem with integer values (so
     * every logit is exact and ties abound), vocabulary split and not: null when identical, else
     * what differed.
     */
    public static String selfCheck(CudaBackend cuda) {
        int V = 1000, d = 24, r = 16, n = 40, k = 7;
        SplittableRandom rnd = new SplittableRandom(17);
        float[] E = ints(rnd, V * d);
        float[] beta = ints(rnd, V);
        float[] M = ints(rnd, r * d);
        float[] U = ints(rnd, n * r);
        int[] want = new int[n * k];
        float[] wantV = new float[n * k];
        FactoredTopK.plain().run(FactoredTopK.prepare(E, V, d, beta), M, r, U, n, k, want, wantV);
        for (int splitLen : new int[] {0, 128}) {
            int[] got = new int[n * k];
            float[] gotV = new float[n * k];
            cuda.factoredTopK(E, V, d, beta, M, r, U, n, k, splitLen, got, gotV);
            if (!Arrays.equals(want, got) || !Arrays.equals(wantV, gotV)) {
                return "fused top-k differs from the CPU's" + (splitLen > 0 ? " with vocabulary splits" : "");
            }
        }
        return null;
    }

    private static float[] ints(SplittableRandom rnd, int size) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = rnd.nextInt(5) - 2;
        }
        return a;
    }
}
