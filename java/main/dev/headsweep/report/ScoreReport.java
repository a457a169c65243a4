package dev.headsweep.report;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.headsweep.engine.HeadId;
import dev.headsweep.score.SweepResult;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.List;
import java.util.Locale;

/** The per-head scores of a sweep as a table, CSV or JSON. */
public final class ScoreReport {
    private ScoreReport() {
    }

    /**
     * A Markdown table ({@code | Head | Copy Score | Next Score |}), heads ordered by layer then
     * head; a head whose every score is below {@code min} percent is left out.
     */
    public static String table(SweepResult r, double min) {
        List<String> rels = r.relations();
        StringBuilder sb = new StringBuilder();
        sb.append("| Head  |");
        for (String rel : rels) {
            sb.append(' ').append(header(rel)).append(" |");
        }
        sb.append('\n').append("|-------|");
        for (String rel : rels) {
            sb.append("-".repeat(header(rel).length() + 1)).append(":|");
        }
        sb.append('\n');
        int shown = 0;
        for (HeadId h : r.heads()) {
            if (!anyAtLeast(r, h, min)) {
                continue;
            }
            shown++;
            sb.append(String.format(Locale.ROOT, "| %-5s |", h));
            for (String rel : rels) {
                int w = header(rel).length();
                sb.append(String.format(Locale.ROOT, " %" + w + ".2f |", r.score(h, rel)));
            }
            sb.append('\n');
        }
        sb.append(String.format(Locale.ROOT, "%d of %d heads scored at least %s%% in some relation; "
                        + "%s, task %s, %d keywords, top-%d.%n",
                shown, r.heads().size(), trim(min), r.model(), r.taskName(), r.keywords().size(), r.k()));
        return sb.toString();
    }

    /** One row per head (all heads, whatever their score): {@code layer,head,copy,next,...}. */
    public static String csv(SweepResult r) {
        StringBuilder sb = new StringBuilder("layer,head");
        for (String rel : r.relations()) {
            sb.append(',').append(rel);
        }
        sb.append('\n');
        for (HeadId h : r.heads()) {
            sb.append(h.layer()).append(',').append(h.head());
            for (String rel : r.relations()) {
                sb.append(',').append(round(r.score(h, rel)));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /**
     * {@code {"model", "task", "k", "keywords", "relations", "heads": [{"layer", "head", "copy", ...}]}},
     * scores in percent rounded to 4 decimals.
     */
    public static String json(SweepResult r) {
        JsonObject o = new JsonObject();
        o.addProperty("model", r.model());
        o.addProperty("task", r.taskName());
        o.addProperty("k", r.k());
        o.addProperty("keywords", r.keywords().size());
        JsonArray rels = new JsonArray();
        r.relations().forEach(rels::add);
        o.add("relations", rels);
        JsonArray heads = new JsonArray();
        for (HeadId h : r.heads()) {
            JsonObject ho = new JsonObject();
            ho.addProperty("layer", h.layer());
            ho.addProperty("head", h.head());
            for (String rel : r.relations()) {
                ho.addProperty(rel, new BigDecimal(round(r.score(h, rel))));
            }
            heads.add(ho);
        }
        o.add("heads", heads);
        return new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n";
    }

    private static boolean anyAtLeast(SweepResult r, HeadId h, double min) {
        for (String rel : r.relations()) {
            if (r.score(h, rel) >= min) {
                return true;
            }
        }
        return false;
    }

    private static String header(String relation) {
        return title(relation) + " Score";
    }

    static String title(String relation) {
        return relation.isEmpty() ? relation : Character.toUpperCase(relation.charAt(0)) + relation.substring(1);
    }

    private static String round(double v) {
        return BigDecimal.valueOf(v).setScale(4, RoundingMode.HALF_EVEN).stripTrailingZeros().toPlainString();
    }

    private static String trim(double v) {
        return BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }
}
