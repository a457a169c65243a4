package dev.headsweep.hub;

import dev.headsweep.HeadSweepException;

/**
 * A name that names nothing: no such repo on the hub, or (offline) not in the cache. Kept apart so
 * that a {@code --model} value that may as well have been a mistyped path can say both.
 */
final class NotFound extends HeadSweepException {
    private final String detail;

    /** @param detail what is missing, without the name in front */
    NotFound(ModelName name, String detail) {
        super(name + ": " + detail);
        this.detail = detail;
    }

    String detail() {
        return detail;
    }
}
