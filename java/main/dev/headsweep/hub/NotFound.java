package dev.headsweep.hub;

import dev.headsweep.HeadSweepException;

/**
 * A name that could not be looked up: no such repo on the hub, the hub out of reach, or (offline)
 * not in the cache. Kept apart so that a {@code --model} value that may as well have been a
 * mistyped path can say that it is not a path either.
 */
final class NotFound extends HeadSweepException {
    private final String detail;

    /** @param detail what is missing, without the name in front */
    NotFound(ModelName name, String detail) {
        super(name + ": " + detail);
        this.detail = detail;
    }

    NotFound(ModelName name, String detail, Throwable cause) {
        super(name + ": " + detail, cause);
        this.detail = detail;
    }

    String detail() {
        return detail;
    }
}
