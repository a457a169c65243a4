package dev.headsweep.task;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * A named function from a keyword word to the target words that a head's output should contain
 * for the keyword to count as a hit: {@code copy} maps a word to itself, {@code next} to its
 * successor. An empty list means the word has no target (it can never hit but still counts in the
 * denominator of the score).
 */
public final class Relation {
    /** The relation names a task file may refer to as built-ins. */
    public static final List<String> BUILTIN_NAMES = List.of("copy", "next", "prev");

    private static final int[] NONE = new int[0];

    private final String name;
    private final Function<String, List<String>> function;
    private final IntFunction<int[]> tokenTargets;

    private Relation(String name, Function<String, List<String>> function) {
        this(name, function, id -> NONE);
    }

    private Relation(String name, Function<String, List<String>> function, IntFunction<int[]> tokenTargets) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("relation name is blank");
        }
        this.name = name;
        this.function = Objects.requireNonNull(function, "function");
        this.tokenTargets = Objects.requireNonNull(tokenTargets, "tokenTargets");
    }

    /**
     * A relation computed by {@code function}, which must return a (possibly empty) list of
     * target words for every word, never null.
     */
    public static Relation of(String name, Function<String, List<String>> function) {
        return new Relation(name, function);
    }

    /**
     * {@code copy}: every word is its own target; a keyword given by token id (see
     * {@link Prompt#ofTokens}) also has its own token id as a target, whatever its text.
     */
    public static Relation copy() {
        return new Relation("copy", List::of, id -> new int[] {id});
    }

    /**
     * {@code next}: the element after the word's first occurrence in {@code sequence}; the last
     * element and words not in the sequence have no target.
     */
    public static Relation next(List<String> sequence) {
        return shifted("next", sequence, 1);
    }

    /**
     * {@code prev}: the element before the word's first occurrence in {@code sequence}; the first
     * element and words not in the sequence have no target.
     */
    public static Relation prev(List<String> sequence) {
        return shifted("prev", sequence, -1);
    }

    /** A relation given by a table; words missing from {@code targets} have no target. */
    public static Relation fromMap(String name, Map<String, List<String>> targets) {
        Map<String, List<String>> table = new HashMap<>();
        targets.forEach((word, words) -> table.put(word, List.copyOf(words)));
        return new Relation(name, word -> table.getOrDefault(word, List.of()));
    }

    private static Relation shifted(String name, List<String> sequence, int offset) {
        List<String> order = List.copyOf(sequence);
        return new Relation(name, word -> {
            int at = order.indexOf(word);
            int target = at + offset;
            return at < 0 || target < 0 || target >= order.size() ? List.of() : List.of(order.get(target));
        });
    }

    /**
     * Target token ids of a keyword given by token id, besides those of its word's targets
     * (only {@code copy} has any: the token itself).
     */
    public int[] tokenTargets(int tokenId) {
        return tokenTargets.apply(tokenId).clone();
    }

    /** The relation's name, as the user selects it and as results label it. */
    public String name() {
        return name;
    }

    /** The target words of {@code word}; empty when it has none. */
    public List<String> targets(String word) {
        return List.copyOf(function.apply(word));
    }

    @Override
    public String toString() {
        return "Relation[" + name + "]";
    }
}
