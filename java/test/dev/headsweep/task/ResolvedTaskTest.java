package dev.headsweep.task;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweepException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ResolvedTaskTest {
    private static final Gpt2Tokenizer TOKENIZER = Gpt2Tokenizer.instance();

    private static Task task(List<Prompt> prompts, Relation... relations) {
        return new Task("t", prompts, List.of(relations));
    }

    private static String failure(Task task, List<String> relations) {
        String message = assertThrows(HeadSweepException.class,
                () -> ResolvedTask.resolve(task, relations, TOKENIZER)).getMessage();
        assertFalse(message.contains("\n"), message);
        return message;
    }

    @Test
    void keywordIsSpacedUnlessThePromptStartsWithIt() {
        Task task = task(List.of(new Prompt("9 10 9", List.of("9", "10"))), Relation.copy());
        ResolvedTask resolved = ResolvedTask.resolve(task, List.of("copy"), TOKENIZER);
        assertEquals(List.of(new Keyword(0, 0, "9", 0, 24), new Keyword(0, 1, "10", 1, 838)), resolved.keywords());
    }

    @Test
    void positionIsTheFirstOccurrence() {
        Task task = task(List.of(new Prompt("a 7 b 7", List.of("7"))), Relation.copy());
        ResolvedTask resolved = ResolvedTask.resolve(task, List.of("copy"), TOKENIZER);
        assertEquals(1, resolved.keywords().get(0).position());
    }

    @Test
    void targetsAreSortedDistinctSingleTokenIdsOfBothForms() {
        Relation upper = Relation.fromMap("upper", Map.of(
                "a", List.of("B", "Bee", "B"), "b", List.of("twelfth"), "c", List.of()));
        Task task = task(List.of(new Prompt("a b c", List.of("a", "b", "c"))), upper, Relation.copy());
        ResolvedTask resolved = ResolvedTask.resolve(task, List.of("upper", "copy"), TOKENIZER);
        assertEquals(List.of("upper", "copy"), resolved.relationNames());
        int[][] targets = resolved.targets(0);
        assertArrayEquals(new int[] {33, 347, 24719, 49512}, targets[0], "B, \" B\", \" Bee\", Bee");
        assertArrayEquals(new int[0], targets[1], "\" twelfth\" and \"twelfth\" are two tokens each");
        assertArrayEquals(new int[0], targets[2]);
    }

    @Test
    void nextOfNineIsSpacedTen() {
        ResolvedTask resolved = ResolvedTask.resolve(BuiltinTasks.get("numerals").orElseThrow(), List.of("next"),
                TOKENIZER);
        Keyword nine = resolved.keywords().stream().filter(k -> k.word().equals("9") && k.index() == 0).findFirst().orElseThrow();
        assertEquals(24, nine.tokenId(), "\"9\" unspaced where it starts prompt 8");
        assertArrayEquals(new int[] {838, 940}, resolved.targets(0)[resolved.keywords().indexOf(nine)],
                "\" 10\" and \"10\"");
    }

    @Test
    void hitWhenATargetIdIsInTheTopK() {
        Task task = task(List.of(new Prompt("1 2", List.of("1", "2"))), Relation.copy(),
                BuiltinTasks.get("numerals").orElseThrow().relations().get("next"));
        ResolvedTask resolved = ResolvedTask.resolve(task, List.of("copy", "next"), TOKENIZER);
        assertTrue(resolved.hit(0, 0, new int[] {5, 16}), "\"1\" itself");
        assertTrue(resolved.hit(0, 0, new int[] {352}), "\" 1\"");
        assertTrue(resolved.hit(1, 1, new int[] {513}), "\" 3\" follows 2");
        assertFalse(resolved.hit(1, 1, new int[] {362, 16}));
        assertFalse(resolved.hit(0, 0, new int[0]));
    }

    @Test
    void accessorsReturnCopies() {
        Task task = task(List.of(new Prompt("1 2", List.of("1"))), Relation.copy());
        ResolvedTask resolved = ResolvedTask.resolve(task, List.of("copy"), TOKENIZER);
        resolved.promptTokens()[0][0] = -1;
        resolved.targets(0)[0][0] = -1;
        assertEquals(16, resolved.promptTokens()[0][0]);
        assertTrue(resolved.hit(0, 0, new int[] {16}));
        assertEquals(task, resolved.task());
    }

    @Test
    void keywordThatIsNotASingleTokenNamesPromptKeywordAndTokens() {
        Task task = task(List.of(new Prompt("a b", List.of("a")), new Prompt("the twelfth\nday", List.of("twelfth"))),
                Relation.copy());
        String message = failure(task, List.of("copy"));
        assertEquals("task t, prompt 1 \"the twelfth\\nday\": keyword \"twelfth\" is not a single token "
                + "(\" twelfth\" -> 2 tokens: [\" tw\", \"elfth\"])", message);
    }

    @Test
    void keywordMissingFromThePromptTokensIsReported() {
        Task task = task(List.of(new Prompt("10 11", List.of("1"))), Relation.copy());
        String message = failure(task, List.of("copy"));
        assertTrue(message.startsWith("task t, prompt 0 \"10 11\": keyword \"1\" (token \"1\", id 16)"), message);
        assertTrue(message.endsWith("does not occur in the prompt's tokens [\"10\", \" 11\"]"), message);
    }

    @Test
    void unknownRelationListsTheKnownOnes() {
        String message = failure(BuiltinTasks.get("months").orElseThrow(), List.of("copy", "succ"));
        assertEquals("task months has no relation \"succ\" (known: copy, next, prev)", message);
    }

    @Test
    void repeatedOrMissingRelationsAreErrors() {
        Task months = BuiltinTasks.get("months").orElseThrow();
        assertEquals("relation \"next\" is selected twice for task months",
                failure(months, List.of("next", "next")));
        assertEquals("no relation selected for task months (known: copy, next, prev)", failure(months, List.of()));
    }
}
