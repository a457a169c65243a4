package dev.headsweep;

/**
 * A problem with the user's input (a checkpoint, a task, an option) that the CLI reports as one
 * line on stderr with exit code 2. The message says what is wrong and where, and stands alone.
 */
public class HeadSweepException extends RuntimeException {
    public HeadSweepException(String message) {
        super(message);
    }

    public HeadSweepException(String message, Throwable cause) {
        super(message, cause);
    }
}
