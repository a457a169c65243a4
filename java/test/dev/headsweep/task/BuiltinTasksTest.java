package dev.headsweep.task;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class BuiltinTasksTest {
    private static final Gpt2Tokenizer TOKENIZER = Gpt2Tokenizer.instance();

    private static Task task(String name) {
        return BuiltinTasks.get(name).orElseThrow();
    }

    @Test
    void namesTheThreeNotebookTasks() {
        assertEquals(List.of("numerals", "numwords", "months", "vocab"), BuiltinTasks.names());
        assertEquals(Optional.empty(), BuiltinTasks.get("letters"));
    }

    @ParameterizedTest
    @CsvSource({"numerals, 97, 388", "numwords, 8, 32", "months, 8, 32"})
    void everyKeywordIsASingleTokenInItsPrompt(String name, int prompts, int keywords) {
        Task task = task(name);
        assertEquals(name, task.name());
        assertEquals(prompts, task.prompts().size());
        assertEquals(List.of("copy", "next", "prev"), List.copyOf(task.relations().keySet()));
        assertEquals(List.of("copy", "next"), task.defaultRelations());
        ResolvedTask resolved = ResolvedTask.resolve(task, List.of("copy", "next", "prev"), TOKENIZER);
        assertEquals(keywords, resolved.keywords().size());
        int[][] tokens = resolved.promptTokens();
        for (Keyword keyword : resolved.keywords()) {
            assertEquals(4, tokens[keyword.prompt()].length, "each word of these prompts is one token");
            assertEquals(keyword.index(), keyword.position());
            assertEquals(keyword.tokenId(), tokens[keyword.prompt()][keyword.position()]);
        }
    }

    @Test
    void numeralsPromptsCountUpFromOneTo97() {
        List<Prompt> prompts = task("numerals").prompts();
        assertEquals(new Prompt("1 2 3 4", List.of("1", "2", "3", "4")), prompts.get(0));
        assertEquals(new Prompt("97 98 99 100", List.of("97", "98", "99", "100")), prompts.get(96));
        ResolvedTask resolved = ResolvedTask.resolve(task("numerals"), List.of("copy"), TOKENIZER);
        assertArrayEquals(new int[] {16, 362, 513, 604}, resolved.promptTokens()[0]);
        assertArrayEquals(new int[] {16, 362, 513, 604},
                resolved.keywords().subList(0, 4).stream().mapToInt(Keyword::tokenId).toArray());
    }

    @Test
    void numeralsRelationsAreArithmetic() {
        Task task = task("numerals");
        assertEquals(List.of("10"), task.relations().get("next").targets("9"));
        assertEquals(List.of("0"), task.relations().get("prev").targets("1"));
        assertEquals(List.of("101"), task.relations().get("next").targets("100"));
    }

    @Test
    void numwordsAndMonthsUseFourConsecutiveWords() {
        assertEquals("one two three four", task("numwords").prompts().get(0).text());
        assertEquals("eight nine ten eleven", task("numwords").prompts().get(7).text());
        assertEquals("January February March April", task("months").prompts().get(0).text());
        assertEquals("August September October November", task("months").prompts().get(7).text());
    }

    @Test
    void numwordsNextIsTheFollowingWord() {
        Task task = task("numwords");
        assertEquals(List.of("five"), task.relations().get("next").targets("four"));
        assertEquals(List.of(), task.relations().get("next").targets("twelve"));
        assertEquals(List.of("three"), task.relations().get("prev").targets("four"));
        assertEquals(List.of(), task.relations().get("prev").targets("one"));
    }

    @Test
    void monthsNextIsTheNotebooksOrdinalOfTheFollowingRank() {
        Task task = task("months");
        assertEquals(List.of("second"), task.relations().get("next").targets("January"));
        assertEquals(List.of("twelfth"), task.relations().get("next").targets("November"));
        assertEquals(List.of(), task.relations().get("next").targets("December"));
        assertEquals(List.of("January"), task.relations().get("prev").targets("February"));
        ResolvedTask resolved = ResolvedTask.resolve(task, List.of("next"), TOKENIZER);
        assertEquals("January", resolved.keywords().get(0).word());
        assertArrayEquals(new int[] {1218, 12227}, resolved.targets(0)[0], "\" second\" and \"second\"");
    }
}
