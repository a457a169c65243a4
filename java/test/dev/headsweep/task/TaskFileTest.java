package dev.headsweep.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweepException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TaskFileTest {
    private static final String LETTERS = """
            {
              "name": "letters",
              "sequence": ["A", "B", "C", "D", "E", "F", "G", "H"],
              "prompts": [
                {"text": "A B C D", "keywords": ["A", "B", "C", "D"]},
                "E F G H"
              ],
              "relations": {
                "copy": "copy", "next": "next", "prev": "prev", "succ": "next",
                "upper": {"a": "A", "b": ["B", "Bee"]}  // custom
              }
            }
            """;

    @TempDir
    Path dir;

    private Path write(String json) throws IOException {
        Path file = dir.resolve("task.json");
        Files.writeString(file, json, StandardCharsets.UTF_8);
        return file;
    }

    private String failure(String json) throws IOException {
        Path file = write(json);
        String message = assertThrows(HeadSweepException.class, () -> TaskFile.read(file)).getMessage();
        assertFalse(message.contains("\n"), message);
        assertTrue(message.startsWith("task file " + file), message);
        return message.substring(("task file " + file).length());
    }

    @Test
    void readsBothPromptFormsAndAllRelationKinds() throws IOException {
        Task task = TaskFile.read(write(LETTERS));
        assertEquals("letters", task.name());
        assertEquals(List.of(
                new Prompt("A B C D", List.of("A", "B", "C", "D")),
                new Prompt("E F G H", List.of("E", "F", "G", "H"))), task.prompts());
        assertEquals(List.of("copy", "next", "prev", "succ", "upper"), List.copyOf(task.relations().keySet()));
        assertEquals(List.of("copy", "next"), task.defaultRelations());
        assertEquals(List.of("E"), task.relations().get("next").targets("D"));
        assertEquals(List.of("E"), task.relations().get("succ").targets("D"));
        assertEquals("succ", task.relations().get("succ").name());
        assertEquals(List.of("C"), task.relations().get("prev").targets("D"));
        assertEquals(List.of("A"), task.relations().get("upper").targets("a"));
        assertEquals(List.of("B", "Bee"), task.relations().get("upper").targets("b"));
        assertEquals(List.of(), task.relations().get("upper").targets("A"));
    }

    @Test
    void withoutSequenceNextFollowsFirstAppearanceOfKeywords() throws IOException {
        Task task = TaskFile.read(write("""
                {"name": "t", "prompts": ["x y z", {"text": "w y q", "keywords": ["w", "q", "x"]}]}
                """));
        assertEquals(List.of("copy", "next"), List.copyOf(task.relations().keySet()));
        Relation next = task.relations().get("next");
        assertEquals(List.of("w"), next.targets("z"));
        assertEquals(List.of("q"), next.targets("w"));
        assertEquals(List.of(), next.targets("q"));
    }

    @Test
    void resolvesWithTheTokenizer() throws IOException {
        ResolvedTask resolved = ResolvedTask.resolve(TaskFile.read(write(LETTERS)), List.of("upper", "next"),
                Gpt2Tokenizer.instance());
        assertEquals(8, resolved.keywords().size());
        assertEquals(0, resolved.keywords().get(4).position());
    }

    @Test
    void missingFileIsReported() {
        Path file = dir.resolve("nope.json");
        HeadSweepException e = assertThrows(HeadSweepException.class, () -> TaskFile.read(file));
        assertEquals("task file " + file + " does not exist", e.getMessage());
        assertEquals("task file " + dir + " is not a regular file",
                assertThrows(HeadSweepException.class, () -> TaskFile.read(dir)).getMessage());
    }

    @Test
    void malformedJsonIsReportedOnOneLineWithItsLocation() throws IOException {
        assertEquals(" is not valid JSON: Unterminated object at line 1 column 15 path $.name",
                failure("{\"name\": \"t\" \"prompts\": [\"a\"]}"));
        assertEquals(" is not valid JSON: unexpected text after the top-level value",
                failure("{\"name\": \"t\", \"prompts\": [\"a\"]} {}"));
        assertEquals(" is empty", failure("  \n"));
        assertEquals(": the top level must be a JSON object", failure("[1]"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            {"prompts": ["a"]}                                       | : name is missing
            {"name": 3, "prompts": ["a"]}                            | : name must be a string, got a number
            {"name": " ", "prompts": ["a"]}                          | : name must not be blank
            {"name": "t"}                                            | : prompts is missing
            {"name": "t", "prompts": []}                             | : prompts is empty
            {"name": "t", "prompts": {"a": 1}}                       | : prompts must be an array, got an object
            {"name": "t", "prompts": ["a", 7]}                       | : prompts[1] must be a string or an object with text and keywords, got a number
            {"name": "t", "prompts": ["a", "  "]}                    | : prompts[1] is blank
            {"name": "t", "prompts": ["a",]}                         | : prompts[1] must be a string or an object with text and keywords, got null
            {"name": "t", "prompts": [{"text": "a"}]}                | : prompts[0].keywords is missing
            {"name": "t", "prompts": [{"keywords": ["a"]}]}          | : prompts[0].text is missing
            {"name": "t", "prompts": [{"text": "a", "keywords": []}]} | : prompts[0].keywords is empty
            {"name": "t", "prompts": [{"text": "a", "keywords": ["a", null]}]} | : prompts[0].keywords[1] must be a string, got null
            {"name": "t", "prompts": [{"text": "a", "keywords": ["a"], "kw": 1}]} | : prompts[0].kw unknown key (expected text, keywords)
            {"name": "t", "prompts": ["a"], "relation": {}}          | : relation unknown key (expected name, sequence, prompts, relations)
            {"name": "t", "prompts": ["a"], "sequence": "a b"}       | : sequence must be an array, got a string
            {"name": "t", "prompts": ["a"], "sequence": ["a", "a"]}  | : sequence[1] "a" is listed twice
            {"name": "t", "prompts": ["a"], "relations": []}         | : relations must be an object, got an array
            {"name": "t", "prompts": ["a"], "relations": {}}         | : relations is empty
            {"name": "t", "prompts": ["a"], "relations": {"s": "succ"}} | : relations.s unknown built-in relation "succ" (known: copy, next, prev)
            {"name": "t", "prompts": ["a"], "relations": {"s": true}} | : relations.s must be a built-in relation name (copy, next, prev) or an object mapping keywords to target words, got a boolean
            {"name": "t", "prompts": ["a"], "relations": {"u": {}}}  | : relations.u maps no keywords
            {"name": "t", "prompts": ["a"], "relations": {"u": {"a": ["A", 1]}}} | : relations.u.a[1] must be a string, got a number
            """)
    void wrongContentIsReportedWithItsJsonPath(String json, String expected) throws IOException {
        assertEquals(expected, failure(json));
    }
}
