package dev.headsweep.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The class-load-time choice, checked in child JVMs (the module set is fixed per JVM). */
class ImplementationSelectionTest {

    private static String location(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    private static String probe(String... jvmArgs) throws Exception {
        return probeEnv(null, jvmArgs);
    }

    private static String probeEnv(String isaCap, String... jvmArgs) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-verbose:class");
        cmd.addAll(List.of(jvmArgs));
        cmd.add("-cp");
        cmd.add(location(FactoredTopK.class) + File.pathSeparator + location(ImplementationProbe.class));
        cmd.add(ImplementationProbe.class.getName());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (isaCap != null) {
            pb.environment().put("HEADSWEEP_NATIVE_ISA", isaCap);
        }
        Process proc = pb.start();
        String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(proc.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, proc.exitValue(), out);
        return out;
    }

    @Test
    void plainWithoutTheModuleAndVectorClassNeverLoaded() throws Exception {
        String out = probe("-Dheadsweep.native=false");
        assertTrue(out.contains("implementation=plain instance=plain top=5,4"), out);
        assertFalse(out.contains("dev.headsweep.engine.cpu.VectorKernel"), "VectorKernel was loaded");
        assertFalse(out.contains("jdk.incubator.vector"), "the Vector API was loaded");
    }

    @Test
    void propertyFalseSelectsPlainEvenWithTheModule() throws Exception {
        String out = probe("--add-modules=jdk.incubator.vector", "-Dheadsweep.vector=false", "-Dheadsweep.native=false");
        assertTrue(out.contains("implementation=plain instance=plain top=5,4"), out);
        assertFalse(out.contains("dev.headsweep.engine.cpu.VectorKernel"), "VectorKernel was loaded");
    }

    @Test
    void vectorWithTheModule() throws Exception {
        String out = probe("--add-modules=jdk.incubator.vector", "-Dheadsweep.native=false");
        assertTrue(out.contains("implementation=vector instance=vector top=5,4"), out);
    }

    /**
     * The native kernel is the default where it runs; two-pass where the CPU has AVX512_BF16, unless
     * turned off (then the one-pass bf16 variant, or fp32).
     */
    @Test
    void nativeByDefaultWhereAvailable() throws Exception {
        assumeTrue(FactoredTopK.nativeAvailable(), "SKIPPED: the native library is not available here ("
                + FactoredTopK.nativeStatus() + ")");
        String want = FactoredTopK.nativeBf16Available() ? "native-2pass" : "native";
        String out = probe("--add-modules=jdk.incubator.vector");
        assertTrue(out.contains("implementation=" + want + " instance=" + want + " top=5,4"), out);
        if (FactoredTopK.nativeBf16Available()) {
            out = probe("--add-modules=jdk.incubator.vector", "-Dheadsweep.native.twopass=false");
            assertTrue(out.contains("implementation=native-bf16 instance=native-bf16 top=5,4"), out);
        }
        out = probe("--add-modules=jdk.incubator.vector", "-Dheadsweep.native.bf16=false");
        assertTrue(out.contains("implementation=native instance=native top=5,4"), out);
        out = probe("-Dheadsweep.vector=false"); // no Vector API needed
        assertTrue(out.contains("implementation=" + want + " instance=" + want), out);
        assertFalse(out.contains("dev.headsweep.engine.cpu.VectorKernel"), "VectorKernel was loaded");
    }

    /** A CPU without AVX-512 (simulated) or a library that does not load: the Java kernels, no crash. */
    @Test
    void fallsBackToTheJavaKernelsQuietly() throws Exception {
        assumeTrue(FactoredTopK.nativeAvailable(), "SKIPPED: the native library is not available here ("
                + FactoredTopK.nativeStatus() + ")");
        String out = probeEnv("none", "--add-modules=jdk.incubator.vector");
        assertTrue(out.contains("implementation=vector instance=vector top=5,4"), out);
        assertFalse(out.contains("headsweep: native"), "a CPU without the features is not an error: " + out);
        out = probeEnv("avx512", "--add-modules=jdk.incubator.vector");
        assertTrue(out.contains("implementation=native instance=native top=5,4"), out);

        Path broken = java.nio.file.Files.createTempFile("libheadsweep_native-broken", ".so");
        try {
            java.nio.file.Files.writeString(broken, "not a library");
            out = probe("--add-modules=jdk.incubator.vector", "-Dheadsweep.native.lib=" + broken);
            assertTrue(out.contains("implementation=vector instance=vector top=5,4"), out);
            long lines = out.lines().filter(l -> l.startsWith("headsweep: native")).count();
            assertEquals(1, lines, "one line on stderr: " + out);
        } finally {
            java.nio.file.Files.deleteIfExists(broken);
        }
    }
}
