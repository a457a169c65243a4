package dev.headsweep.cli;

import dev.headsweep.report.AtomicFile;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Where a report goes: stdout, or a file written atomically (never half a file). */
final class Output {
    private Output() {
    }

    static void emit(String text, Path out) {
        if (out == null) {
            PrintStream ps = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            ps.print(text);
            ps.flush();
        } else {
            AtomicFile.write(out, text);
        }
    }
}
