package dev.headsweep.task;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The tasks of the published notebook, reproduced exactly (prompts, keywords, relations):
 *
 * <ul>
 *   <li>{@code numerals}: 97 prompts {@code "i i+1 i+2 i+3"} for i in 1..97, keywords the four
 *       numbers; {@code next(w) = w + 1}, {@code prev(w) = w - 1} as decimal numbers (so
 *       {@code prev("1") = "0"}).
 *   <li>{@code numwords}: the words one..twelve; 8 prompts of four consecutive words (starting at
 *       one..eight); {@code next}/{@code prev} are the following/preceding word of the list.
 *   <li>{@code months}: January..December; 8 prompts of four consecutive months (starting at
 *       January..August). {@code next(w)} is the ORDINAL word of the following month's rank
 *       ({@code next("January") = "second"}, December has none): this is how the published notebook
 *       defines it, kept so that results stay comparable. {@code prev(w)} is the previous month name.
 * </ul>
 *
 * <ul>
 *   <li>{@code vocab} (isolated-token mode): every token of the vocabulary, ids 0..50256, is a
 *       one-token prompt (position 0) and its own keyword, given by token id ({@link Prompt#ofTokens}),
 *       so tokens like {@code "\n"} count too. {@code copy} hits on the token itself (or on the
 *       other spacing of its word, as in the other tasks); {@code next}/{@code prev} exist for
 *       tokens whose word (the token's text without one leading space) is in a known sequence:
 *       the numerals 0..999, the number words zero..twenty (also capitalized), the months and the
 *       weekdays (also lower case; December and Sunday have no next), the letters A..Z and a..z.
 *       Other tokens have no next/prev target and count in the denominator, as in any task.
 *       {@link #vocab(int, int)} takes a range of ids (for tests).
 * </ul>
 *
 * Each task offers {@code copy}, {@code next} and {@code prev}.
 */
public final class BuiltinTasks {
    private static final List<String> NUMBER_WORDS = List.of(
            "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve");
    private static final List<String> MONTHS = List.of(
            "January", "February", "March", "April", "May", "June",
            "July", "August", "September", "October", "November", "December");
    private static final List<String> RANKS = List.of(
            "first", "second", "third", "fourth", "fifth", "sixth",
            "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth");
    private static final int WINDOW = 4;

    private static final Map<String, Supplier<Task>> TASKS = new LinkedHashMap<>();

    static {
        TASKS.put("numerals", BuiltinTasks::numerals);
        TASKS.put("numwords", BuiltinTasks::numwords);
        TASKS.put("months", BuiltinTasks::months);
        TASKS.put("vocab", BuiltinTasks::vocab);
    }

    private BuiltinTasks() {
    }

    /** The built-in task called {@code name}, or empty when there is none. */
    public static Optional<Task> get(String name) {
        Supplier<Task> task = TASKS.get(name);
        return task == null ? Optional.empty() : Optional.of(task.get());
    }

    /** The built-in task names: numerals, numwords, months, vocab. */
    public static List<String> names() {
        return List.copyOf(TASKS.keySet());
    }

    private static final List<String> WEEKDAYS = List.of(
            "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday");
    private static final List<String> NUMBERS_TO_TWENTY = List.of(
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
            "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty");

    /** The known sequences of the vocab task, each in order. */
    static List<List<String>> vocabSequences() {
        List<List<String>> seqs = new ArrayList<>();
        List<String> numerals = new ArrayList<>();
        for (int i = 0; i <= 999; i++) {
            numerals.add(String.valueOf(i));
        }
        seqs.add(numerals);
        for (List<String> words : List.of(NUMBERS_TO_TWENTY, MONTHS, WEEKDAYS)) {
            seqs.add(words.stream().map(w -> w.toLowerCase(java.util.Locale.ROOT)).toList());
            seqs.add(words.stream().map(w -> Character.toUpperCase(w.charAt(0)) + w.substring(1)).toList());
        }
        List<String> upper = new ArrayList<>();
        List<String> lower = new ArrayList<>();
        for (char c = 'A'; c <= 'Z'; c++) {
            upper.add(String.valueOf(c));
            lower.add(String.valueOf(Character.toLowerCase(c)));
        }
        seqs.add(upper);
        seqs.add(lower);
        return seqs;
    }

    private static Task vocab() {
        return vocab(0, Gpt2Tokenizer.instance().vocabSize());
    }

    /**
     * The vocab task over token ids {@code from .. to-1} only.
     *
     * @throws IllegalArgumentException when the range is empty or outside the vocabulary
     */
    public static Task vocab(int from, int to) {
        Gpt2Tokenizer tok = Gpt2Tokenizer.instance();
        if (from < 0 || to > tok.vocabSize() || from >= to) {
            throw new IllegalArgumentException("token range " + from + ".." + to + " is empty or outside 0.."
                    + tok.vocabSize());
        }
        Map<String, List<String>> next = new java.util.HashMap<>();
        Map<String, List<String>> prev = new java.util.HashMap<>();
        for (List<String> seq : vocabSequences()) {
            for (int i = 0; i + 1 < seq.size(); i++) {
                next.putIfAbsent(seq.get(i), List.of(seq.get(i + 1)));
                prev.putIfAbsent(seq.get(i + 1), List.of(seq.get(i)));
            }
        }
        List<Prompt> prompts = new ArrayList<>(to - from);
        for (int id = from; id < to; id++) {
            String text = tok.decode(id);
            String word = text.startsWith(" ") ? text.substring(1) : text;
            prompts.add(Prompt.ofTokens(text, List.of(id), List.of(id), List.of(word)));
        }
        String name = from == 0 && to == tok.vocabSize() ? "vocab" : "vocab[" + from + ".." + to + ")";
        return new Task(name, prompts, List.of(
                Relation.copy(), Relation.fromMap("next", next), Relation.fromMap("prev", prev)));
    }

    private static Task numerals() {
        List<Prompt> prompts = new ArrayList<>();
        for (int i = 1; i <= 97; i++) {
            List<String> words = List.of(
                    String.valueOf(i), String.valueOf(i + 1), String.valueOf(i + 2), String.valueOf(i + 3));
            prompts.add(new Prompt(String.join(" ", words), words));
        }
        return new Task("numerals", prompts, List.of(
                Relation.copy(),
                Relation.of("next", word -> plus(word, 1)),
                Relation.of("prev", word -> plus(word, -1))));
    }

    /** {@code word + delta} as a decimal number; no target when {@code word} is not one. */
    private static List<String> plus(String word, int delta) {
        if (!word.matches("-?[0-9]{1,9}")) {
            return List.of();
        }
        return List.of(String.valueOf(Integer.parseInt(word) + delta));
    }

    private static Task numwords() {
        return new Task("numwords", windows(NUMBER_WORDS), List.of(
                Relation.copy(), Relation.next(NUMBER_WORDS), Relation.prev(NUMBER_WORDS)));
    }

    private static Task months() {
        Map<String, List<String>> nextRank = new LinkedHashMap<>();
        for (int i = 0; i + 1 < MONTHS.size(); i++) {
            nextRank.put(MONTHS.get(i), List.of(RANKS.get(i + 1)));
        }
        return new Task("months", windows(MONTHS), List.of(
                Relation.copy(), Relation.fromMap("next", nextRank), Relation.prev(MONTHS)));
    }

    /**
     * Prompts of {@value #WINDOW} consecutive words starting at indices {@code 0 .. size - WINDOW - 1}:
     * the notebook's {@code range(len(words) - 4)}, which leaves out the final window (8 prompts for
     * 12 words).
     */
    private static List<Prompt> windows(List<String> words) {
        List<Prompt> prompts = new ArrayList<>();
        for (int i = 0; i < words.size() - WINDOW; i++) {
            List<String> window = words.subList(i, i + WINDOW);
            prompts.add(new Prompt(String.join(" ", window), window));
        }
        return prompts;
    }
}
