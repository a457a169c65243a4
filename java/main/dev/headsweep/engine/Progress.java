package dev.headsweep.engine;

/** Receives progress of long work. Implementations must be thread-safe. */
public interface Progress {
    Progress NONE = (stage, done, total) -> { };

    /** {@code done} of {@code total} units of {@code stage} are finished. */
    void update(String stage, long done, long total);
}
