package dev.headsweep.engine.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Whether the CUDA backend can run here, found out cheaply and without ever crashing the JVM.
 * In order, stopping at the first thing missing:
 * <ol>
 *   <li>{@code -Dheadsweep.cuda=off} turns CUDA off;</li>
 *   <li>the jar must carry the kernels ({@code /kernels/*.fatbin}, built where nvcc was present);</li>
 *   <li>an NVIDIA driver must be visible ({@code /dev/nvidiactl} or {@code /proc/driver/nvidia});
 *       this file check keeps CPU-only machines from ever loading JCuda's native library;</li>
 *   <li>only then JCuda: its native library ({@code UnsatisfiedLinkError} and any other
 *       {@link LinkageError} are caught), {@code cuInit}, a device, and the kernel images loading
 *       on it (any {@code CudaException} is caught).</li>
 * </ol>
 * {@code -Dheadsweep.cuda=force} skips the driver file check (for drivers in unusual places).
 */
public final class CudaSupport {
    /** The kernel images the jar carries, one per kernels/*.cu. */
    static final List<String> IMAGES = List.of("block0", "gemm", "gemm_bf16", "ov", "rank", "topk", "topk_tc",
            "twopass");

    private CudaSupport() {
    }

    /** Why CUDA cannot be used here, or null when nothing is known to be missing before JCuda loads. */
    static String precheck() {
        String mode = System.getProperty("headsweep.cuda", "");
        if (mode.equals("off")) {
            return "CUDA is turned off (-Dheadsweep.cuda=off)";
        }
        for (String name : IMAGES) {
            if (CudaSupport.class.getResource("/kernels/" + name + ".fatbin") == null) {
                return "this build carries no CUDA kernels (it was built without nvcc)";
            }
        }
        if (!mode.equals("force") && !Files.exists(Path.of("/dev/nvidiactl"))
                && !Files.exists(Path.of("/proc/driver/nvidia/version"))) {
            return "no NVIDIA driver found (no /dev/nvidiactl, no /proc/driver/nvidia)";
        }
        return null;
    }

    /** The fatbins from the jar. */
    static List<byte[]> images() {
        List<byte[]> out = new ArrayList<>();
        for (String name : IMAGES) {
            try (InputStream in = CudaSupport.class.getResourceAsStream("/kernels/" + name + ".fatbin")) {
                if (in == null) {
                    throw new IllegalStateException("kernel image /kernels/" + name + ".fatbin is missing");
                }
                out.add(in.readAllBytes());
            } catch (IOException e) {
                throw new IllegalStateException("cannot read kernel image " + name + ": " + e.getMessage(), e);
            }
        }
        return out;
    }

    /** A device opened, or why not. */
    public record Opened(Device device, String whyNot) {
    }

    /**
     * Opens GPU 0 with the kernels loaded, or says in one line why it cannot. Never throws for a
     * missing driver, library, device or incompatible kernel image.
     */
    public static Opened open() {
        String why = precheck();
        if (why != null) {
            return new Opened(null, why);
        }
        try {
            List<byte[]> images = images();
            return new Opened(new JCudaDevice(0, images), null);
        } catch (LinkageError e) {
            String m = oneLine(e);
            java.util.regex.Matcher cause = java.util.regex.Pattern.compile("(lib[\\w.]+\\.so[\\w.]*): cannot open shared object file")
                    .matcher(m);
            return new Opened(null, "JCuda's native library did not load ("
                    + (cause.find() ? cause.group(1) + " not found" : shorten(m)) + ")");
        } catch (RuntimeException e) {
            // jcuda.CudaException and friends: no device, a driver too old for the kernels, ...
            return new Opened(null, "CUDA did not start (" + shorten(oneLine(e)) + ")");
        }
    }

    private static String shorten(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
    }
}
