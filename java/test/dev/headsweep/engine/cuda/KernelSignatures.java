package dev.headsweep.engine.cuda;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Every kernel's {@code extern "C"} signature, read from kernels/*.cu, and the check that a launch
 * matches it: what a GPU needs of a launch and the plain-Java simulation does not. {@link SimDevice}
 * runs {@link #check} before every launch, so the backend's launches are held to the CUDA sources
 * themselves, not to the simulation's own reading of them:
 * <ul>
 *   <li>the kernel is in one of the images {@link CudaSupport#IMAGES} loads;</li>
 *   <li>as many arguments as parameters, each of the parameter's kind: a pointer parameter takes a
 *       {@link Device.Ptr} (or null) into a buffer of its element type (float, float2 → F32;
 *       int, unsigned → I32; double → F64); {@code int}/{@code unsigned} an Integer, {@code long} a
 *       Long, {@code float} a Float (JCuda passes each argument's bytes as they are: a Long for an
 *       {@code int} would shift every later one);</li>
 *   <li>pointers the kernel reads or writes in 16-byte or 8-byte vectors are that aligned
 *       ({@link #ALIGN}; float2 parameters are 8-byte aligned by their type), and the leading
 *       dimensions that step such pointers are multiples of 4;</li>
 *   <li>grid: x in 1 .. 2³¹−1, y and z in 1 .. 65535 (an empty grid is an error on a GPU);
 *       block: a multiple of 32, at most 1024 and at most the kernel's {@code __launch_bounds__},
 *       and exactly the size its comment names ("block N") where it names one (the kernels that
 *       index threads by a fixed layout).</li>
 * </ul>
 */
final class KernelSignatures {
    /** One parameter: its C base type, whether it is a pointer, and its name. */
    record Param(String type, boolean pointer, String name) {
    }

    /** One kernel: its image (the .cu file's name), parameters, launch bound and required block. */
    record Sig(String image, String name, List<Param> params, int maxThreads, int block) {
    }

    /**
     * Pointer parameters read or written as float4/uint4 (16 bytes: an offset a multiple of 4
     * elements) and the int parameters that step them (multiples of 4), per kernel: the
     * reinterpret_casts of topk.cu and topk_tc.cu. hs_sgemm2 tests alignment at run time.
     */
    static final Map<String, List<String>> ALIGN = Map.of(
            "hs_ov_topk", List.of("A", "ldA"),
            "hs_tc_prep", List.of("Abf", "At"),
            "hs_ov_topk_tc", List.of("Abf"),
            "hs_ov_topk_tc2", List.of("Abf", "At", "U"));

    private static final Pattern KERNEL = Pattern.compile(
            "extern\\s+\"C\"\\s+__global__\\s+void\\s+(?:__launch_bounds__\\s*\\(\\s*(\\d+)[^)]*\\)\\s*)?(\\w+)\\s*\\(([^)]*)\\)");
    private static final Pattern BLOCK = Pattern.compile("\\bblock (\\d+)\\b");

    private static Map<String, Sig> all;

    private KernelSignatures() {
    }

    /** Every kernel of kernels/*.cu (the repository's, from the working directory), by name. */
    static synchronized Map<String, Sig> all() {
        if (all == null) {
            all = read(Path.of("kernels"));
        }
        return all;
    }

    static Map<String, Sig> read(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("no kernels/ folder under " + Path.of("").toAbsolutePath()
                    + ": the simulated device checks launches against kernels/*.cu (run from the repository root)");
        }
        Map<String, Sig> out = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".cu")).sorted().toList()) {
                String image = f.getFileName().toString().replaceFirst("\\.cu$", "");
                parse(image, Files.readString(f), out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** The kernels of one source: their signatures, and "block N" from the comment just above each. */
    static void parse(String image, String source, Map<String, Sig> out) {
        Matcher m = KERNEL.matcher(source);
        while (m.find()) {
            String name = m.group(2);
            int bound = m.group(1) == null ? 1024 : Integer.parseInt(m.group(1));
            List<Param> params = new ArrayList<>();
            for (String p : m.group(3).split(",")) {
                String s = p.trim().replaceAll("\\s+", " ");
                boolean pointer = s.contains("*");
                String[] words = s.replace("*", " ").replace("const ", "").trim().split(" +");
                params.add(new Param(words[0], pointer, words[words.length - 1]));
            }
            out.put(name, new Sig(image, name, List.copyOf(params), bound, commentBlock(source, m.start())));
        }
    }

    /** "block N" in the run of // lines right above the kernel (the nearest), or 0. */
    private static int commentBlock(String source, int at) {
        String[] lines = source.substring(0, at).split("\n", -1);
        for (int i = lines.length - 2; i >= 0 && lines[i].trim().startsWith("//"); i--) {
            Matcher b = BLOCK.matcher(lines[i]);
            if (b.find()) {
                return Integer.parseInt(b.group(1));
            }
        }
        return 0;
    }

    /** Throws IllegalArgumentException, naming the kernel and what is wrong, unless the launch fits. */
    static void check(String kernel, int gx, int gy, int gz, int block, Object[] args) {
        Sig sig = all().get(kernel);
        if (sig == null) {
            throw new IllegalArgumentException("launch of " + kernel + ": no such kernel in kernels/*.cu");
        }
        if (!CudaSupport.IMAGES.contains(sig.image())) {
            throw new IllegalArgumentException(kernel + " is in " + sig.image() + ".cu, which CudaSupport.IMAGES does not load");
        }
        if (gx < 1 || gy < 1 || gy > 65535 || gz < 1 || gz > 65535) {
            throw new IllegalArgumentException("launch of " + kernel + ": grid (" + gx + ", " + gy + ", " + gz + ")");
        }
        if (block < 32 || block % 32 != 0 || block > sig.maxThreads() || (sig.block() != 0 && block != sig.block())) {
            throw new IllegalArgumentException("launch of " + kernel + ": block " + block + " (the kernel allows "
                    + (sig.block() != 0 ? "only " + sig.block() : "multiples of 32 up to " + sig.maxThreads()) + ")");
        }
        List<Param> params = sig.params();
        if (args.length != params.size()) {
            throw new IllegalArgumentException("launch of " + kernel + ": " + args.length + " arguments for "
                    + params.size() + " parameters");
        }
        List<String> aligned = ALIGN.getOrDefault(kernel, List.of());
        for (int i = 0; i < args.length; i++) {
            Param p = params.get(i);
            Object a = args[i];
            String where = "argument " + i + " (" + p.name() + ") of " + kernel;
            if (p.pointer()) {
                if (a == null) {
                    continue;
                }
                if (!(a instanceof Device.Ptr ptr)) {
                    throw new IllegalArgumentException(where + ": a " + a.getClass().getSimpleName() + " for a pointer");
                }
                Device.Type want = switch (p.type()) {
                    case "float", "float2" -> Device.Type.F32;
                    case "int", "unsigned" -> Device.Type.I32;
                    case "double" -> Device.Type.F64;
                    default -> throw new IllegalArgumentException(where + ": unknown pointer type " + p.type());
                };
                if (ptr.buffer().type() != want) {
                    throw new IllegalArgumentException(where + ": a " + ptr.buffer().type() + " buffer for " + p.type() + "*");
                }
                long unit = aligned.contains(p.name()) ? 4 : p.type().equals("float2") ? 2 : 1;
                if (ptr.offset() % unit != 0) {
                    throw new IllegalArgumentException(where + ": offset " + ptr.offset() + " elements, not "
                            + unit * 4 + "-byte aligned");
                }
                if (ptr.offset() < 0 || ptr.offset() > ptr.buffer().count()) {
                    throw new IllegalArgumentException(where + ": offset " + ptr.offset() + " outside its buffer of "
                            + ptr.buffer().count());
                }
                continue;
            }
            Class<?> want = switch (p.type()) {
                case "int", "unsigned" -> Integer.class;
                case "long" -> Long.class;
                case "float" -> Float.class;
                default -> throw new IllegalArgumentException(where + ": unknown parameter type " + p.type());
            };
            if (a == null || a.getClass() != want) {
                throw new IllegalArgumentException(where + ": " + (a == null ? "null" : "a " + a.getClass().getSimpleName())
                        + " for " + p.type());
            }
            if (aligned.contains(p.name()) && (Integer) a % 4 != 0) {
                throw new IllegalArgumentException(where + ": " + a + ", not a multiple of 4");
            }
        }
    }
}
