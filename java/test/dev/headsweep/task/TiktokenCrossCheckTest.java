package dev.headsweep.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks jtokkit's r50k_base against an independent GPT-2 tokenizer, npm's {@code tiktoken}
 * ({@code gpt2} encoding, run by {@code java/test-tools/tiktoken/encode.mjs}): the token ids of every
 * built-in prompt, keyword form, target form, and some 300 varied strings must be identical.
 *
 * <p>Skipped unless {@code node} is on the PATH and the module is installed with
 * {@code npm ci --prefix java/test-tools/tiktoken}.
 */
class TiktokenCrossCheckTest {
    private static final Path TOOL = Path.of(System.getProperty("basedir", "."), "java", "test-tools", "tiktoken");
    private static final String HOW_TO_ENABLE = "TiktokenCrossCheckTest would check jtokkit's token ids against npm "
            + "tiktoken (gpt2) on all built-in prompts, keywords, targets and ~300 varied strings; to enable it, "
            + "install node and run `npm ci --prefix java/test-tools/tiktoken`";

    @TempDir
    Path dir;

    @Test
    void jtokkitAgreesWithTiktoken() throws IOException, InterruptedException {
        Assumptions.assumeTrue(nodeRuns() && Files.isDirectory(TOOL.resolve("node_modules/tiktoken")), HOW_TO_ENABLE);
        List<String> texts = new ArrayList<>(taskStrings());
        texts.addAll(variedStrings());
        List<int[]> expected = tiktoken(texts);
        assertEquals(texts.size(), expected.size(), "one line of ids per string");
        Gpt2Tokenizer tokenizer = Gpt2Tokenizer.instance();
        List<String> mismatches = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            int[] actual = tokenizer.encode(texts.get(i));
            if (!Arrays.equals(expected.get(i), actual)) {
                mismatches.add(Quote.of(texts.get(i)) + ": tiktoken " + Arrays.toString(expected.get(i))
                        + ", jtokkit " + Arrays.toString(actual));
            }
        }
        assertTrue(mismatches.isEmpty(), mismatches.size() + " of " + texts.size() + " strings differ: " + mismatches);
        assertTrue(texts.size() > 600, "checked " + texts.size() + " strings");
    }

    private static boolean nodeRuns() throws InterruptedException {
        try {
            Process process = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
            process.getInputStream().readAllBytes();
            return process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0;
        } catch (IOException e) {
            return false;
        }
    }

    /** Built-in prompts, both forms of every keyword, and both forms of every target word. */
    private static Set<String> taskStrings() {
        Set<String> texts = new LinkedHashSet<>();
        for (String name : BuiltinTasks.names()) {
            Task task = BuiltinTasks.get(name).orElseThrow();
            for (Prompt prompt : task.prompts()) {
                if (prompt.byTokens()) {
                    continue; // the vocab task is given by token ids: there is no text to tokenize
                }
                texts.add(prompt.text());
                for (String word : prompt.keywords()) {
                    texts.add(word);
                    texts.add(" " + word);
                    for (Relation relation : task.relations().values()) {
                        for (String target : relation.targets(word)) {
                            texts.add(target);
                            texts.add(" " + target);
                        }
                    }
                }
            }
        }
        return texts;
    }

    /** Hand-picked hard cases plus seeded random mixes of fragments: about 300 strings. */
    private static List<String> variedStrings() {
        List<String> fragments = List.of(
                "caf\u00e9", "na\u00efve", "\u00fcber", "se\u00f1or", "\u0391\u03b8\u03ae\u03bd\u03b1",
                "\u041c\u043e\u0441\u043a\u0432\u0430", "\u4e2d\u6587", "\u65e5\u672c\u8a9e\u306e\u6587",
                "\ud55c\uad6d\uc5b4", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\u0939\u093f\u0928\u094d\u0926\u0940",
                "\u0e44\u0e17\u0e22", "\ud83d\ude00", "\ud83d\udc4d\ud83c\udffd", "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67",
                "\ud83c\uddeb\ud83c\uddf7", "\u2764\ufe0f", "\u00a0", "\u3000", "\u200b", "\u2028",
                "0", "7", "42", "123", "2024", "3.14159", "1,000,000", "007", "1e10", "-5", "\u00bd", "\u0663\u0664",
                " ", "  ", "    ", "\t", "\n", "\n\n", "\r\n", " \n ", "\t \t",
                "!", "?", "...", "?!", "---", "(", ")", "[", "]", "{", "}", "@", "#", "$", "%", "&", "*", "\"", "'",
                "`", "~", "^", "_", "|", "\\", "/", "<", ">", "=", "+", ",", ";", ":",
                "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "don't", "I'm", "we'll", "they've", "she'd", "it's",
                "you're", "DON'T", "O'Neil", "rock'n'roll",
                "the", "The", " the", "hello", "World", "GPT", "token", "izer", "ization", "Transformer", "a", "I",
                "January", "second", "twelve", "http://example.com/a?b=c", "<|endoftext|>", "snake_case", "camelCase");
        List<String> texts = new ArrayList<>(List.of(
                "", " ", "\n", "hello world", "Hello, World!", "  leading spaces", "trailing spaces   ",
                "many     spaces     between", "tabs\t\tand\ttabs", "line one\nline two\n\nline four", "\r\n\r\n",
                "   \n   \n", "a  b", "a \n b", "x\u00a0y", "I'm sure you're right, it's what they'd've said.",
                "'''", "''hello''", "don't DON'T Don'T", "12345678901234567890", "3.14 2.718 1.414", "1 2 3 4 5",
                "10 20 30 40", "99 100 101", "2024-01-01T12:00:00Z", "$1,234.56", "50% off!!!", "#hashtag @mention",
                "def f(x):\n    return x + 1\n", "if (a && b) { c(); }", "<html><body>text</body></html>",
                "\ud83d\ude00\ud83d\ude00\ud83d\ude00", "emoji \ud83c\udf89 party", "\u4f60\u597d\uff0c\u4e16\u754c\uff01",
                "\u3053\u3093\u306b\u3061\u306f", "\u00c0 la carte", "stra\u00dfe", "\u0130stanbul", "\ufb01ne",
                "e\u0301", "Z\u0351\u036b\u0343\u036a\u0302\u036b", "\ud835\udd73\ud835\udd8a\ud835\udd91\ud835\udd91\ud835\udd94",
                "ALL CAPS SENTENCE", "MiXeD cAsE", "one two three four", "January February March April",
                "first second third", "................", "!!!???", "-- -- --", "a-b-c", "a_b_c", "a.b.c", "...?"));
        Random random = new Random(20240419L);
        for (int i = 0; i < 250; i++) {
            StringBuilder text = new StringBuilder();
            int parts = 1 + random.nextInt(6);
            for (int p = 0; p < parts; p++) {
                text.append(fragments.get(random.nextInt(fragments.size())));
            }
            texts.add(text.toString());
        }
        return texts;
    }

    /** Each text's ids from {@code encode.mjs}, in order. */
    private List<int[]> tiktoken(List<String> texts) throws IOException, InterruptedException {
        Gson gson = new Gson();
        Path input = dir.resolve("input.jsonl");
        Path errors = dir.resolve("stderr.txt");
        StringBuilder lines = new StringBuilder();
        texts.forEach(text -> lines.append(gson.toJson(text)).append('\n'));
        Files.writeString(input, lines, StandardCharsets.UTF_8);
        Process process = new ProcessBuilder("node", TOOL.resolve("encode.mjs").toString())
                .redirectInput(input.toFile())
                .redirectError(errors.toFile())
                .start();
        List<int[]> ids = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                JsonArray array = JsonParser.parseString(line).getAsJsonArray();
                int[] row = new int[array.size()];
                for (int i = 0; i < row.length; i++) {
                    row[i] = array.get(i).getAsInt();
                }
                ids.add(row);
            }
        }
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "encode.mjs did not finish in 60 s");
        assertEquals(0, process.exitValue(), () -> "encode.mjs failed: " + readQuietly(errors));
        return ids;
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(stderr unreadable: " + e.getMessage() + ")";
        }
    }
}
