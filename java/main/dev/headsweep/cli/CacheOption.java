package dev.headsweep.cli;

import dev.headsweep.engine.cpu.AhCache;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * {@code --cache [DIR]}: the CPU backend's A_h cache ({@link AhCache}), off unless given. The
 * commands that sweep hand {@link #cache} to {@link SweepOptions#run(java.util.List, AhCache)}.
 */
final class CacheOption {
    @Option(names = "--cache", arity = "0..1", fallbackValue = "", paramLabel = "DIR",
            description = "Keep every head's vocabulary projection A_h on disk, keyed by the checkpoint's content, "
                    + "so that later runs on the same model skip two thirds of the arithmetic (GPT-2 small: 1.85 GB). "
                    + "DIR defaults to $XDG_CACHE_HOME/headsweep or ~/.cache/headsweep "
                    + "(write --cache=DIR when a head or another argument follows).")
    String dir;

    /** The cache {@code --cache} names, or null when it was not given; {@code quiet} drops the hit lines. */
    AhCache cache(boolean quiet) {
        if (dir == null) {
            return null;
        }
        return new AhCache(dir.isBlank() ? AhCache.defaultDir() : Path.of(dir), System.err::println, !quiet);
    }
}
