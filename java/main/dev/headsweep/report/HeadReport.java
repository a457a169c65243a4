package dev.headsweep.report;

import dev.headsweep.engine.HeadId;
import dev.headsweep.score.SweepResult;
import dev.headsweep.task.Gpt2Tokenizer;
import dev.headsweep.task.Keyword;
import java.util.Locale;

/**
 * One head, keyword by keyword: the top-k decoded tokens of its OV logits and whether each
 * relation hit (the published notebook's {@code print_tokens} view).
 */
public final class HeadReport {
    private HeadReport() {
    }

    public static String text(SweepResult r, HeadId head) {
        Gpt2Tokenizer tok = Gpt2Tokenizer.instance();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "Head %s on task %s (%d keywords, top-%d)%n",
                head, r.taskName(), r.keywords().size(), r.k()));
        for (String rel : r.relations()) {
            sb.append(String.format(Locale.ROOT, "  %s score: %.2f%%%n", rel, r.score(head, rel)));
        }
        sb.append('\n');
        int prompt = -1;
        for (int i = 0; i < r.keywords().size(); i++) {
            Keyword kw = r.keywords().get(i);
            if (kw.prompt() != prompt) {
                prompt = kw.prompt();
                sb.append("prompt ").append(prompt).append(": ")
                        .append(quote(r.task().task().prompts().get(prompt).text())).append('\n');
            }
            sb.append(String.format(Locale.ROOT, "  %-12s ->", quote(tok.decode(kw.tokenId()))));
            int[] ids = r.topIds(head, i);
            for (int id : ids) {
                sb.append(' ').append(quote(tok.decode(id)));
            }
            sb.append("   ");
            for (String rel : r.relations()) {
                sb.append(' ').append(rel).append(r.hit(head, rel, i) ? " ✓" : " ·");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** A token in double quotes with its control characters escaped, so spaces stay visible. */
    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
