package dev.headsweep.cli;

import dev.headsweep.engine.cpu.AhCache;
import java.util.function.Supplier;
import picocli.CommandLine.Option;

/**
 * {@code --cache [DIR]}: the CPU backend's A_h cache ({@link AhCache}), off unless given. The
 * commands that sweep run their work inside {@link #around}, which names the folder to the backend
 * through the system property {@value AhCache#PROPERTY} for the duration of the run.
 */
final class CacheOption {
    @Option(names = "--cache", arity = "0..1", fallbackValue = "", paramLabel = "DIR",
            description = "Keep every head's vocabulary projection A_h on disk, keyed by the checkpoint's content, "
                    + "so that later runs on the same model skip two thirds of the arithmetic (GPT-2 small: 1.85 GB). "
                    + "DIR defaults to $XDG_CACHE_HOME/headsweep or ~/.cache/headsweep "
                    + "(write --cache=DIR when a head or another argument follows).")
    String dir;

    /** Runs {@code body} with the cache named to the backend (if {@code --cache} was given). */
    <T> T around(boolean quiet, Supplier<T> body) {
        if (dir == null) {
            return body.get();
        }
        String oldDir = System.getProperty(AhCache.PROPERTY);
        String oldQuiet = System.getProperty(AhCache.QUIET_PROPERTY);
        System.setProperty(AhCache.PROPERTY, dir);
        System.setProperty(AhCache.QUIET_PROPERTY, Boolean.toString(quiet));
        try {
            return body.get();
        } finally {
            restore(AhCache.PROPERTY, oldDir);
            restore(AhCache.QUIET_PROPERTY, oldQuiet);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }
}
