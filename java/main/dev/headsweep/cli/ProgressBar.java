package dev.headsweep.cli;

import dev.headsweep.engine.Progress;
import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress bar on stderr, redrawn in place. It stays silent for the first second, so
 * quick work prints nothing, and it is only used when a person is watching (see {@link #forTerminal}).
 */
final class ProgressBar implements Progress {
    private static final long QUIET_NANOS = 1_000_000_000L;
    private final PrintStream out;
    private final long start = System.nanoTime();
    private long lastDraw;
    private boolean drawn;

    ProgressBar(PrintStream out) {
        this.out = out;
    }

    /**
     * A bar when stderr is a terminal, else nothing. The launcher says which in the system property
     * {@code headsweep.stderr.tty}; without it, an interactive console stands in.
     */
    static Progress forTerminal(boolean quiet) {
        String tty = System.getProperty("headsweep.stderr.tty");
        boolean terminal = tty != null ? Boolean.parseBoolean(tty) : System.console() != null;
        return !quiet && terminal ? new ProgressBar(System.err) : Progress.NONE;
    }

    @Override
    public synchronized void update(String stage, long done, long total) {
        long now = System.nanoTime();
        if (now - start < QUIET_NANOS || (now - lastDraw < 100_000_000L && done < total)) {
            return;
        }
        lastDraw = now;
        int width = 30;
        int filled = total == 0 ? width : (int) (width * done / total);
        double secs = (now - start) / 1e9;
        String amount = isBytes(stage)
                ? String.format(Locale.ROOT, "%.1f/%.1f MB", done / 1e6, total / 1e6)
                : done + "/" + total;
        out.printf(Locale.ROOT, "\r%-8s [%s%s] %s  %.1fs", stage, "#".repeat(filled),
                " ".repeat(width - filled), amount, secs);
        drawn = true;
        if (done >= total) {
            finish();
        }
    }

    /** Downloads and checksums count bytes. */
    private static boolean isBytes(String stage) {
        return stage.startsWith("download ") || stage.startsWith("verify ");
    }

    /** Ends the bar's line, if one was drawn. */
    synchronized void finish() {
        if (drawn) {
            out.println();
            out.flush();
            drawn = false;
        }
    }
}
