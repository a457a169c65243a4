package dev.headsweep.task;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Prompts given by token ids and the built-in vocab task (isolated-token mode). */
class VocabTaskTest {
    private static final Gpt2Tokenizer TOK = Gpt2Tokenizer.instance();

    private static int id(String text) {
        return TOK.singleToken(text).orElseThrow();
    }

    @Test
    void aPromptByTokenIdsKeepsItsIdsAndAnyTokenCanBeAKeyword() {
        int newline = id("\n");
        Prompt p = Prompt.ofTokens("\n", List.of(newline), List.of(newline), List.of("\n"));
        Task task = new Task("t", List.of(p), List.of(Relation.copy(), Relation.next(List.of("\n", "x"))));
        ResolvedTask rt = ResolvedTask.resolve(task, List.of("copy", "next"), TOK);
        assertArrayEquals(new int[] {newline}, rt.promptTokens()[0]);
        Keyword kw = rt.keywords().get(0);
        assertEquals(0, kw.position());
        assertEquals(newline, kw.tokenId());
        assertTrue(java.util.Arrays.binarySearch(rt.targets(0)[0], newline) >= 0, "copy targets the token itself");
        assertTrue(java.util.Arrays.binarySearch(rt.targets(1)[0], id("x")) >= 0, "next follows the word");
    }

    @Test
    void keywordPositionIsTheFirstOccurrenceAndMustOccur() {
        int a = id(" a");
        int b = id(" b");
        Prompt p = Prompt.ofTokens(" b a a", List.of(b, a, a), List.of(a), List.of("a"));
        ResolvedTask rt = ResolvedTask.resolve(new Task("t", List.of(p), List.of(Relation.copy())), List.of("copy"), TOK);
        assertEquals(1, rt.keywords().get(0).position());
        assertThrows(IllegalArgumentException.class,
                () -> Prompt.ofTokens("x", List.of(a), List.of(b), List.of("b")));
        assertThrows(IllegalArgumentException.class,
                () -> Prompt.ofTokens("x", List.of(a), List.of(a), List.of()));
        assertEquals(new Prompt("a b", List.of("a", "b")), new Prompt("a b", List.of("a", "b")));
    }

    @Test
    void vocabIsEveryTokenAsItsOwnPrompt() {
        Task all = BuiltinTasks.get("vocab").orElseThrow();
        assertEquals(50257, all.prompts().size());
        Task part = BuiltinTasks.vocab(0, 50257);
        assertEquals("vocab", part.name());
        Prompt last = all.prompts().get(50256);
        assertEquals(List.of(50256), last.tokens());
        assertEquals(List.of(50256), last.keywordTokens());
    }

    @Test
    void nextAndPrevFollowTheKnownSequences() {
        int[] ids = {id(" 5"), id("5"), id(" May"), id(" Sunday"), id(" q"), id("\n"), id(" nine")};
        int lo = java.util.Arrays.stream(ids).min().orElseThrow();
        int hi = java.util.Arrays.stream(ids).max().orElseThrow() + 1;
        Task t = BuiltinTasks.vocab(lo, hi);
        ResolvedTask rt = ResolvedTask.resolve(t, List.of("copy", "next", "prev"), TOK);
        check(rt, id(" 5"), List.of(" 6", "6"), List.of(" 4", "4"));
        check(rt, id("5"), List.of(" 6", "6"), List.of(" 4", "4"));
        check(rt, id(" May"), List.of(" June", "June"), List.of(" April", "April"));
        check(rt, id(" Sunday"), List.of(), List.of(" Saturday", "Saturday"));
        check(rt, id(" q"), List.of(" r", "r"), List.of(" p", "p"));
        check(rt, id(" nine"), List.of(" ten", "ten"), List.of(" eight", "eight"));
        check(rt, id("\n"), List.of(), List.of());
        Keyword k = rt.keywords().get(id("\n") - lo);
        assertTrue(java.util.Arrays.binarySearch(rt.targets(0)[id("\n") - lo], id("\n")) >= 0);
        assertEquals(0, k.position());
    }

    private static void check(ResolvedTask rt, int token, List<String> next, List<String> prev) {
        int lo = rt.keywords().get(0).tokenId();
        int kw = token - lo;
        assertEquals(token, rt.keywords().get(kw).tokenId());
        assertTrue(java.util.Arrays.binarySearch(rt.targets(0)[kw], token) >= 0, "copy of " + token);
        assertArrayEquals(ids(next), rt.targets(1)[kw], "next of " + TOK.decode(token));
        assertArrayEquals(ids(prev), rt.targets(2)[kw], "prev of " + TOK.decode(token));
    }

    private static int[] ids(List<String> words) {
        return words.stream().mapToInt(VocabTaskTest::id).sorted().distinct().toArray();
    }

    @Test
    void badRangesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> BuiltinTasks.vocab(5, 5));
        assertThrows(IllegalArgumentException.class, () -> BuiltinTasks.vocab(0, 50258));
    }
}
