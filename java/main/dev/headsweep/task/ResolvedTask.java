package dev.headsweep.task;

import dev.headsweep.HeadSweepException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * A task turned into token ids, ready to score heads against.
 *
 * <p>Each prompt is tokenized with GPT-2's BPE, without BOS. Keyword {@code j} of a prompt is the
 * token of {@code " " + word}, or of {@code word} when the prompt text starts with that word; it
 * must be a single token, and its position is its FIRST occurrence in the prompt's token ids. For
 * each selected relation and keyword, the target ids are the ids of {@code " " + target} and of
 * {@code target} (each only when it is a single token) over the relation's target words; a keyword
 * is a hit when one of them is among the head's top-k token ids. A target that is not a single
 * token can never hit, but its keyword still counts.
 *
 * <p>Immutable: accessors return copies.
 */
public final class ResolvedTask {
    private final Task task;
    private final List<String> relationNames;
    private final int[][] promptTokens;
    private final List<Keyword> keywords;
    private final int[][][] targets;

    private ResolvedTask(Task task, List<String> relationNames, int[][] promptTokens, List<Keyword> keywords,
            int[][][] targets) {
        this.task = task;
        this.relationNames = relationNames;
        this.promptTokens = promptTokens;
        this.keywords = keywords;
        this.targets = targets;
    }

    /**
     * Tokenizes {@code task} and computes the target ids of the relations named in
     * {@code relationNames} (in that order; relation index {@code r} below is an index into it).
     *
     * @throws HeadSweepException when a keyword is not a single token or does not occur in its
     *     prompt's tokens, or when a relation name is unknown to the task, repeated, or none is given
     */
    public static ResolvedTask resolve(Task task, List<String> relationNames, Gpt2Tokenizer tokenizer) {
        List<String> names = List.copyOf(relationNames);
        checkRelationNames(task, names);
        List<Prompt> prompts = task.prompts();
        int[][] promptTokens = new int[prompts.size()][];
        List<Keyword> keywords = new ArrayList<>();
        for (int p = 0; p < prompts.size(); p++) {
            Prompt prompt = prompts.get(p);
            if (prompt.byTokens()) {
                promptTokens[p] = prompt.tokens().stream().mapToInt(Integer::intValue).toArray();
                for (int k = 0; k < prompt.keywordTokens().size(); k++) {
                    int id = prompt.keywordTokens().get(k);
                    keywords.add(new Keyword(p, k, prompt.keywords().get(k), firstIndex(promptTokens[p], id), id));
                }
                continue;
            }
            promptTokens[p] = tokenizer.encode(prompt.text());
            for (int k = 0; k < prompt.keywords().size(); k++) {
                keywords.add(keyword(task, p, k, promptTokens[p], tokenizer));
            }
        }
        int[][][] targets = new int[names.size()][keywords.size()][];
        for (int r = 0; r < names.size(); r++) {
            Relation relation = task.relations().get(names.get(r));
            for (int k = 0; k < keywords.size(); k++) {
                Keyword kw = keywords.get(k);
                int[] ids = targetIds(relation.targets(kw.word()), tokenizer);
                if (prompts.get(kw.prompt()).byTokens()) {
                    ids = union(ids, relation.tokenTargets(kw.tokenId()));
                }
                targets[r][k] = ids;
            }
        }
        return new ResolvedTask(task, names, promptTokens, List.copyOf(keywords), targets);
    }

    private static void checkRelationNames(Task task, List<String> names) {
        String known = String.join(", ", task.relations().keySet());
        if (names.isEmpty()) {
            throw new HeadSweepException("no relation selected for task " + task.name() + " (known: " + known + ")");
        }
        Set<String> seen = new HashSet<>();
        for (String name : names) {
            if (!task.relations().containsKey(name)) {
                throw new HeadSweepException("task " + task.name() + " has no relation " + Quote.of(name)
                        + " (known: " + known + ")");
            }
            if (!seen.add(name)) {
                throw new HeadSweepException("relation " + Quote.of(name) + " is selected twice for task "
                        + task.name());
            }
        }
    }

    private static Keyword keyword(Task task, int p, int k, int[] tokens, Gpt2Tokenizer tokenizer) {
        Prompt prompt = task.prompts().get(p);
        String word = prompt.keywords().get(k);
        String form = prompt.text().startsWith(word) ? word : " " + word;
        String where = "task " + task.name() + ", prompt " + p + " " + Quote.of(prompt.text());
        OptionalInt id = tokenizer.singleToken(form);
        if (id.isEmpty()) {
            int[] pieces = tokenizer.encode(form);
            throw new HeadSweepException(where + ": keyword " + Quote.of(word) + " is not a single token ("
                    + Quote.of(form) + " -> " + pieces.length + " tokens: " + decoded(pieces, tokenizer) + ")");
        }
        int tokenId = id.getAsInt();
        for (int position = 0; position < tokens.length; position++) {
            if (tokens[position] == tokenId) {
                return new Keyword(p, k, word, position, tokenId);
            }
        }
        throw new HeadSweepException(where + ": keyword " + Quote.of(word) + " (token " + Quote.of(form) + ", id "
                + tokenId + ") does not occur in the prompt's tokens " + decoded(tokens, tokenizer));
    }

    private static int firstIndex(int[] tokens, int id) {
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] == id) {
                return i;
            }
        }
        throw new IllegalStateException("keyword token " + id + " is not in its prompt"); // Prompt checks this
    }

    /** The sorted distinct ids of both arrays. */
    private static int[] union(int[] a, int[] b) {
        if (b.length == 0) {
            return a;
        }
        TreeSet<Integer> ids = new TreeSet<>();
        Arrays.stream(a).forEach(ids::add);
        Arrays.stream(b).forEach(ids::add);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The tokens' texts, quoted, in brackets: {@code [" b", "ar"]}. */
    private static String decoded(int[] ids, Gpt2Tokenizer tokenizer) {
        return Arrays.stream(ids)
                .mapToObj(id -> Quote.of(tokenizer.decode(id)))
                .collect(Collectors.joining(", ", "[", "]"));
    }

    /** The sorted distinct single-token ids of {@code " " + target} and {@code target}. */
    private static int[] targetIds(List<String> words, Gpt2Tokenizer tokenizer) {
        TreeSet<Integer> ids = new TreeSet<>();
        for (String word : words) {
            tokenizer.singleToken(" " + word).ifPresent(ids::add);
            tokenizer.singleToken(word).ifPresent(ids::add);
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The task this was resolved from. */
    public Task task() {
        return task;
    }

    /** The selected relation names; relation index {@code r} refers to this list. */
    public List<String> relationNames() {
        return relationNames;
    }

    /** Each prompt's token ids (no BOS), in prompt order. */
    public int[][] promptTokens() {
        int[][] copy = new int[promptTokens.length][];
        for (int p = 0; p < promptTokens.length; p++) {
            copy[p] = promptTokens[p].clone();
        }
        return copy;
    }

    /** All keywords, prompt by prompt; keyword index {@code k} refers to this list. */
    public List<Keyword> keywords() {
        return keywords;
    }

    /**
     * For relation {@code r}, per keyword the sorted distinct token ids that count as a hit (empty
     * when the keyword has no single-token target).
     */
    public int[][] targets(int r) {
        int[][] copy = new int[keywords.size()][];
        for (int k = 0; k < keywords.size(); k++) {
            copy[k] = targets[r][k].clone();
        }
        return copy;
    }

    /** Whether keyword {@code k} is a hit for relation {@code r}: a target id is in {@code topkIds}. */
    public boolean hit(int r, int k, int[] topkIds) {
        int[] hits = targets[r][k];
        for (int id : topkIds) {
            if (Arrays.binarySearch(hits, id) >= 0) {
                return true;
            }
        }
        return false;
    }
}
