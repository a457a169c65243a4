package dev.headsweep.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-verbose:class");
        cmd.addAll(List.of(jvmArgs));
        cmd.add("-cp");
        cmd.add(location(FactoredTopK.class) + File.pathSeparator + location(ImplementationProbe.class));
        cmd.add(ImplementationProbe.class.getName());
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(proc.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, proc.exitValue(), out);
        return out;
    }

    @Test
    void plainWithoutTheModuleAndVectorClassNeverLoaded() throws Exception {
        String out = probe();
        assertTrue(out.contains("implementation=plain instance=plain top=5,4"), out);
        assertFalse(out.contains("dev.headsweep.engine.cpu.VectorKernel"), "VectorKernel was loaded");
        assertFalse(out.contains("jdk.incubator.vector"), "the Vector API was loaded");
    }

    @Test
    void propertyFalseSelectsPlainEvenWithTheModule() throws Exception {
        String out = probe("--add-modules=jdk.incubator.vector", "-Dheadsweep.vector=false");
        assertTrue(out.contains("implementation=plain instance=plain top=5,4"), out);
        assertFalse(out.contains("dev.headsweep.engine.cpu.VectorKernel"), "VectorKernel was loaded");
    }

    @Test
    void vectorWithTheModule() throws Exception {
        String out = probe("--add-modules=jdk.incubator.vector");
        assertTrue(out.contains("implementation=vector instance=vector top=5,4"), out);
    }
}
