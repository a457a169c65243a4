package dev.headsweep.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The CUDA sources themselves, without a GPU: {@code bash kernels/emu/run.sh} compiles
 * kernels/*.cu as C++20 for the host emulator (a thread per GPU thread, an emulated {@code mma})
 * and checks every kernel against plain loops (the top-k kernels and the rank test's floors bit
 * for bit). Skipped, saying so, where there is no g++.
 */
class KernelEmulatorTest {
    @Test
    void everyKernelMatchesItsPlainLoopsUnderTheHostEmulator() throws IOException, InterruptedException {
        Path script = Path.of("kernels", "emu", "run.sh");
        assumeTrue(Files.isRegularFile(script), "skipped: no kernels/emu/run.sh here (run from the repository root)");
        assumeTrue(available("g++", "--version"), "skipped: no g++ here; this test would compile kernels/*.cu for the "
                + "host emulator and check every kernel against plain loops");
        Path log = Files.createTempFile("headsweep-kernel-emu", ".txt");
        try {
            Process p = new ProcessBuilder("bash", script.toString()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            boolean done = p.waitFor(20, TimeUnit.MINUTES);
            if (!done) {
                p.destroyForcibly();
            }
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            String failures = String.join("\n", lines.stream().filter(l -> l.startsWith("FAIL") || l.contains("error"))
                    .limit(20).toList());
            assertTrue(done, "kernels/emu/run.sh ran past 20 minutes");
            assertEquals(0, p.exitValue(), "kernels/emu/run.sh failed:\n" + failures + "\n(last line: "
                    + (lines.isEmpty() ? "" : lines.get(lines.size() - 1)) + ")");
            long summaries = lines.stream().filter(l -> l.matches(".*\\d+ passed, 0 failed")).count();
            assertEquals(4, summaries, "all four emulator programs report their checks:\n" + String.join("\n", lines.subList(
                    Math.max(0, lines.size() - 5), lines.size())));
        } finally {
            Files.deleteIfExists(log);
        }
    }

    private static boolean available(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
