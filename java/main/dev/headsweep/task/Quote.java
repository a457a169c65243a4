package dev.headsweep.task;

/**
 * Renders user text inside a one-line error message: in double quotes, with quotes, backslashes
 * and control characters escaped, so that a prompt holding a newline cannot break the message.
 */
final class Quote {
    private Quote() {
    }

    /** {@code text} in double quotes, escaped. */
    static String of(String text) {
        return '"' + escaped(text) + '"';
    }

    /** {@code text} with quotes, backslashes and control characters escaped. */
    static String escaped(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.toString();
    }
}
