package dev.headsweep.report;

import dev.headsweep.engine.HeadId;
import dev.headsweep.score.SweepResult;
import dev.headsweep.task.Gpt2Tokenizer;
import dev.headsweep.task.Keyword;
import java.util.List;

/** For each keyword token and each head, which relations hit. */
public final class TokenReport {
    private TokenReport() {
    }

    /**
     * Long form, one row per keyword and head:
     * {@code prompt,keyword,token,position,token_id,layer,head,copy,next} with 1 for a hit, 0 for a miss.
     */
    public static String csv(SweepResult r, List<HeadId> heads) {
        Gpt2Tokenizer tok = Gpt2Tokenizer.instance();
        StringBuilder sb = new StringBuilder("prompt,keyword,token,position,token_id,layer,head");
        for (String rel : r.relations()) {
            sb.append(',').append(rel);
        }
        sb.append('\n');
        for (int i = 0; i < r.keywords().size(); i++) {
            Keyword kw = r.keywords().get(i);
            String prefix = kw.prompt() + "," + csvField(kw.word()) + "," + csvField(tok.decode(kw.tokenId()))
                    + "," + kw.position() + "," + kw.tokenId() + ",";
            for (HeadId h : heads) {
                sb.append(prefix).append(h.layer()).append(',').append(h.head());
                for (String rel : r.relations()) {
                    sb.append(',').append(r.hit(h, rel, i) ? 1 : 0);
                }
                sb.append('\n');
            }
        }
        return sb.toString();
    }

    /**
     * One row per keyword, one column per head; a cell holds the first letter of each relation
     * that hit (upper case), or {@code .} when none did.
     */
    public static String table(SweepResult r, List<HeadId> heads) {
        Gpt2Tokenizer tok = Gpt2Tokenizer.instance();
        int cell = Math.max(r.relations().size(), 5);
        StringBuilder sb = new StringBuilder("Legend:");
        for (String rel : r.relations()) {
            sb.append(' ').append(Character.toUpperCase(rel.charAt(0))).append(" = ").append(rel).append(" hit;");
        }
        sb.append(" . = no hit\n");
        sb.append(String.format("%-6s %-12s", "prompt", "token"));
        for (HeadId h : heads) {
            sb.append(' ').append(pad(h.toString(), cell));
        }
        sb.append('\n');
        for (int i = 0; i < r.keywords().size(); i++) {
            Keyword kw = r.keywords().get(i);
            sb.append(String.format("%-6d %-12s", kw.prompt(), HeadReport.quote(tok.decode(kw.tokenId()))));
            for (HeadId h : heads) {
                StringBuilder c = new StringBuilder();
                for (String rel : r.relations()) {
                    if (r.hit(h, rel, i)) {
                        c.append(Character.toUpperCase(rel.charAt(0)));
                    }
                }
                sb.append(' ').append(pad(c.length() == 0 ? "." : c.toString(), cell));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static String pad(String s, int w) {
        return s.length() >= w ? s : s + " ".repeat(w - s.length());
    }

    static String csvField(String s) {
        if (s.contains(",") || s.contains("\"") || s.contains("\n") || s.startsWith(" ") || s.endsWith(" ")) {
            return "\"" + s.replace("\"", "\"\"") + "\"";
        }
        return s;
    }
}
