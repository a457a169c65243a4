// Writes a task as token ids for the peers in bench/peers (which have no GPT-2 tokenizer), using
// HeadSweep's own resolution (DESIGN.md section 1, step 1 and 4): every prompt's token ids, every
// keyword's prompt, position and token id, and per relation the target ids of every keyword.
// Also makes the synthetic tasks of the scaling runs: N one-token prompts.
//
//   java -cp target/headsweep.jar bench/tools/ExportTask.java --task numerals --out ids.json
//   java -cp target/headsweep.jar bench/tools/ExportTask.java --synthetic 10000 --task-out task.json \
//       --out ids.json [--model DIR]
//
// A synthetic task cycles through the vocabulary's "clean" tokens (those that decode to a word,
// with or without one leading space, that encodes back to that single token), one per prompt, in
// id order; past their number the words repeat (every prompt is still its own keyword). With
// --model, words whose token has the same embedding row as another token are left out (exact
// ties, see withoutTwins).
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import dev.headsweep.HeadSweep;
import dev.headsweep.task.Gpt2Tokenizer;
import dev.headsweep.task.Keyword;
import dev.headsweep.task.ResolvedTask;
import dev.headsweep.task.Task;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class ExportTask {
    public static void main(String[] args) throws IOException {
        String task = null;
        Integer synthetic = null;
        Path taskOut = null;
        Path out = null;
        List<String> relations = List.of("copy", "next");
        Path model = null;
        for (int a = 0; a < args.length; a++) {
            switch (args[a]) {
                case "--task" -> task = args[++a];
                case "--synthetic" -> synthetic = Integer.parseInt(args[++a]);
                case "--task-out" -> taskOut = Path.of(args[++a]);
                case "--out" -> out = Path.of(args[++a]);
                case "--relations" -> relations = List.of(args[++a].split(","));
                case "--model" -> model = Path.of(args[++a]);
                default -> throw new IllegalArgumentException("unknown option " + args[a]);
            }
        }
        if (out == null || (task == null) == (synthetic == null) || (synthetic != null && taskOut == null)) {
            System.err.println("usage: ExportTask (--task NAME|FILE | --synthetic N --task-out TASK.json) --out IDS.json");
            System.exit(2);
        }
        Gpt2Tokenizer tok = Gpt2Tokenizer.instance();
        if (synthetic != null) {
            List<String[]> clean = cleanTokens(tok);
            if (model != null) {
                clean = withoutTwins(clean, HeadSweep.load(model).wte(), tok);
            }
            List<Object> prompts = new ArrayList<>();
            for (int i = 0; i < synthetic; i++) {
                String[] tw = clean.get(i % clean.size());
                prompts.add(Map.of("text", tw[0], "keywords", List.of(tw[1])));
            }
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("name", "synthetic-" + synthetic);
            t.put("prompts", prompts);
            Files.writeString(taskOut, new Gson().toJson(t));
            task = taskOut.toString();
        }
        Task t = HeadSweep.task(task);
        ResolvedTask rt = ResolvedTask.resolve(t, relations, tok);
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("task", t.name());
        o.put("relations", relations);
        o.put("prompts", rt.promptTokens());
        List<int[]> kws = new ArrayList<>();
        for (Keyword kw : rt.keywords()) {
            kws.add(new int[] {kw.prompt(), kw.position(), kw.tokenId()});
        }
        o.put("keywords", kws);
        Map<String, Object> targets = new LinkedHashMap<>();
        for (int r = 0; r < relations.size(); r++) {
            targets.put(relations.get(r), rt.targets(r));
        }
        o.put("targets", targets);
        Files.writeString(out, new GsonBuilder().disableHtmlEscaping().create().toJson(o));
        System.err.println("exported " + t.name() + ": " + rt.promptTokens().length + " prompts, "
                + rt.keywords().size() + " keywords -> " + out);
    }

    /**
     * Drops the words whose token (with or without the leading space) has exactly the same
     * embedding row as another token: their logits tie exactly with that twin's in every head, so
     * whether they hit depends on a tie rule (and on each system's rounding), not on the model.
     * The planted checkpoint has many such rows.
     */
    static List<String[]> withoutTwins(List<String[]> words, float[] wte, Gpt2Tokenizer tok) {
        int vocab = tok.vocabSize();
        int d = wte.length / vocab;
        // rows by a hash of their bits (FloatBuffer.hashCode truncates each value to an int, so rows of
        // small values all collide), then exact comparison within a bucket
        Map<Integer, List<Integer>> buckets = new java.util.HashMap<>();
        boolean[] hasTwin = new boolean[vocab];
        for (int t = 0; t < vocab; t++) {
            int h = 1;
            for (int c = 0; c < d; c++) {
                h = 31 * h + Float.floatToIntBits(wte[t * d + c]);
            }
            List<Integer> same = buckets.computeIfAbsent(h, x -> new ArrayList<>());
            for (int o : same) {
                if (java.util.Arrays.equals(wte, t * d, t * d + d, wte, o * d, o * d + d)) {
                    hasTwin[t] = true;
                    hasTwin[o] = true;
                }
            }
            same.add(t);
        }
        List<String[]> out = new ArrayList<>();
        int dropped = 0;
        for (String[] w : words) {
            boolean twin = false;
            for (String form : new String[] {w[1], " " + w[1]}) {
                var id = tok.singleToken(form);
                if (id.isPresent() && hasTwin[id.getAsInt()]) {
                    twin = true;
                }
            }
            if (twin) {
                dropped++;
            } else {
                out.add(w);
            }
        }
        System.err.println("synthetic task: " + dropped + " of " + words.size()
                + " words left out (a token's embedding equals another token's)");
        return out;
    }

    /** [prompt text, keyword] of every token that round-trips as a one-token prompt, in id order. */
    static List<String[]> cleanTokens(Gpt2Tokenizer tok) {
        List<String[]> out = new ArrayList<>();
        for (int id = 0; id < tok.vocabSize() - 1; id++) {
            String s = tok.decode(id);
            if (s.isEmpty() || s.indexOf('\uFFFD') >= 0) {
                continue;
            }
            String word = s.startsWith(" ") ? s.substring(1) : s;
            if (word.isEmpty() || !word.equals(word.strip()) || word.chars().anyMatch(Character::isWhitespace)) {
                continue;
            }
            int[] ids = tok.encode(s);
            if (ids.length == 1 && ids[0] == id) {
                out.add(new String[] {s, word});
            }
        }
        return out;
    }
}
