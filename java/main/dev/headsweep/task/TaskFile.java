package dev.headsweep.task;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import dev.headsweep.HeadSweepException;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a custom task from a JSON file (UTF-8). The file is parsed leniently, so the comments
 * below are allowed; every value is then checked for its type. The format:
 *
 * <pre>{@code
 * {
 *   "name": "letters",
 *   "sequence": ["A", "B", "C", ...],          // optional: order used by built-in next/prev
 *   "prompts": [
 *     {"text": "A B C D", "keywords": ["A", "B", "C", "D"]},
 *     "E F G H"                                   // a string = words joined by spaces; every word is a keyword
 *   ],
 *   "relations": {                                // optional; default {"copy": "copy", "next": "next"}
 *     "copy": "copy", "next": "next", "prev": "prev",
 *     "upper": {"a": "A", "b": ["B", "Bee"]}     // custom: keyword -> target word or list of words
 *   }
 * }
 * }</pre>
 *
 * <ul>
 *   <li>{@code name}: required, non-blank.
 *   <li>{@code sequence}: optional, distinct strings. When absent, {@code next}/{@code prev} use the
 *       order in which keywords first appear across the prompts.
 *   <li>{@code prompts}: required, non-empty. An object has a non-empty {@code text} and a
 *       non-empty {@code keywords} array of strings; a string is split on whitespace and every word
 *       is a keyword.
 *   <li>{@code relations}: optional, non-empty. Each key is the relation's name; a string value
 *       names a built-in ({@code copy}, {@code next}, {@code prev}) to score under that name; an
 *       object value maps keywords to a target word or a list of target words (keywords it does not
 *       list have no target).
 * </ul>
 *
 * Any other key is an error. Every problem is reported as a one-line {@link HeadSweepException}
 * naming the file and, where relevant, the JSON path of the bad value.
 */
public final class TaskFile {
    private final String file;

    private TaskFile(Path path) {
        this.file = "task file " + path;
    }

    /**
     * Reads and checks the task in {@code path}. Tokenization is not checked here: that happens in
     * {@link ResolvedTask#resolve}.
     *
     * @throws HeadSweepException when the file is missing, unreadable, not JSON, or not a task
     */
    public static Task read(Path path) {
        TaskFile reader = new TaskFile(path);
        return reader.task(reader.parse(reader.load(path)));
    }

    private String load(Path path) {
        if (!Files.exists(path)) {
            throw new HeadSweepException(file + " does not exist");
        }
        if (!Files.isRegularFile(path)) {
            throw new HeadSweepException(file + " is not a regular file");
        }
        try {
            return Files.readString(path, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new HeadSweepException(file + " is not valid UTF-8 text", e);
        } catch (IOException e) {
            throw new HeadSweepException(file + " cannot be read (" + firstLine(e) + ")", e);
        }
    }

    private JsonObject parse(String text) {
        if (text.isBlank()) {
            throw new HeadSweepException(file + " is empty");
        }
        JsonElement root;
        try (JsonReader reader = new JsonReader(new StringReader(text))) {
            reader.setStrictness(Strictness.LENIENT);
            root = JsonParser.parseReader(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new HeadSweepException(file + " is not valid JSON: unexpected text after the top-level value");
            }
        } catch (JsonParseException | IOException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new HeadSweepException(file + " is not valid JSON: " + firstLine(cause), e);
        }
        if (!root.isJsonObject()) {
            throw new HeadSweepException(file + ": the top level must be a JSON object");
        }
        return root.getAsJsonObject();
    }

    private static String firstLine(Throwable e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return message.lines().findFirst().orElse(message);
    }

    private Task task(JsonObject root) {
        for (String key : root.keySet()) {
            if (!List.of("name", "sequence", "prompts", "relations").contains(key)) {
                throw error(key, "unknown key (expected name, sequence, prompts, relations)");
            }
        }
        String name = string(required(root, "name", "name"), "name");
        if (name.isBlank()) {
            throw error("name", "must not be blank");
        }
        List<Prompt> prompts = prompts(required(root, "prompts", "prompts"));
        List<String> sequence = root.has("sequence") ? sequence(root.get("sequence")) : keywordOrder(prompts);
        List<Relation> relations = root.has("relations")
                ? relations(root.get("relations"), sequence)
                : List.of(Relation.copy(), Relation.next(sequence));
        return new Task(name, prompts, relations);
    }

    private JsonElement required(JsonObject object, String key, String path) {
        if (!object.has(key)) {
            throw error(path, "is missing");
        }
        return object.get(key);
    }

    private List<Prompt> prompts(JsonElement element) {
        JsonArray array = array(element, "prompts");
        if (array.isEmpty()) {
            throw error("prompts", "is empty");
        }
        List<Prompt> prompts = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            prompts.add(prompt(array.get(i), "prompts[" + i + "]"));
        }
        return prompts;
    }

    private Prompt prompt(JsonElement element, String path) {
        if (element.isJsonPrimitive() && element.getAsJsonPrimitive().isString()) {
            String text = element.getAsString();
            if (text.isBlank()) {
                throw error(path, "is blank");
            }
            return new Prompt(text, List.of(text.trim().split("\\s+")));
        }
        if (!element.isJsonObject()) {
            throw error(path, "must be a string or an object with text and keywords, got " + kind(element));
        }
        JsonObject object = element.getAsJsonObject();
        for (String key : object.keySet()) {
            if (!key.equals("text") && !key.equals("keywords")) {
                throw error(path + "." + key, "unknown key (expected text, keywords)");
            }
        }
        String text = string(required(object, "text", path + ".text"), path + ".text");
        if (text.isEmpty()) {
            throw error(path + ".text", "is empty");
        }
        JsonArray array = array(required(object, "keywords", path + ".keywords"), path + ".keywords");
        if (array.isEmpty()) {
            throw error(path + ".keywords", "is empty");
        }
        List<String> keywords = new ArrayList<>();
        for (int k = 0; k < array.size(); k++) {
            String word = string(array.get(k), path + ".keywords[" + k + "]");
            if (word.isBlank()) {
                throw error(path + ".keywords[" + k + "]", "is blank");
            }
            keywords.add(word);
        }
        return new Prompt(text, keywords);
    }

    private List<String> sequence(JsonElement element) {
        JsonArray array = array(element, "sequence");
        if (array.isEmpty()) {
            throw error("sequence", "is empty");
        }
        Set<String> words = new LinkedHashSet<>();
        for (int i = 0; i < array.size(); i++) {
            String word = string(array.get(i), "sequence[" + i + "]");
            if (!words.add(word)) {
                throw error("sequence[" + i + "]", Quote.of(word) + " is listed twice");
            }
        }
        return List.copyOf(words);
    }

    /** Keywords in order of first appearance across the prompts. */
    private static List<String> keywordOrder(List<Prompt> prompts) {
        Set<String> words = new LinkedHashSet<>();
        prompts.forEach(prompt -> words.addAll(prompt.keywords()));
        return List.copyOf(words);
    }

    private List<Relation> relations(JsonElement element, List<String> sequence) {
        if (!element.isJsonObject()) {
            throw error("relations", "must be an object, got " + kind(element));
        }
        JsonObject object = element.getAsJsonObject();
        if (object.isEmpty()) {
            throw error("relations", "is empty");
        }
        List<Relation> relations = new ArrayList<>();
        for (Map.Entry<String, JsonElement> entry : object.entrySet()) {
            String name = entry.getKey();
            String path = "relations." + name;
            if (name.isBlank()) {
                throw error("relations", "has a blank relation name");
            }
            JsonElement value = entry.getValue();
            if (value.isJsonPrimitive() && value.getAsJsonPrimitive().isString()) {
                Relation builtin = builtin(value.getAsString(), sequence, path);
                relations.add(Relation.of(name, builtin::targets));
            } else if (value.isJsonObject()) {
                relations.add(Relation.fromMap(name, table(value.getAsJsonObject(), path)));
            } else {
                throw error(path, "must be a built-in relation name (" + String.join(", ", Relation.BUILTIN_NAMES)
                        + ") or an object mapping keywords to target words, got " + kind(value));
            }
        }
        return relations;
    }

    private Relation builtin(String name, List<String> sequence, String path) {
        return switch (name) {
            case "copy" -> Relation.copy();
            case "next" -> Relation.next(sequence);
            case "prev" -> Relation.prev(sequence);
            default -> throw error(path, "unknown built-in relation " + Quote.of(name) + " (known: "
                    + String.join(", ", Relation.BUILTIN_NAMES) + ")");
        };
    }

    private Map<String, List<String>> table(JsonObject object, String path) {
        if (object.isEmpty()) {
            throw error(path, "maps no keywords");
        }
        Map<String, List<String>> table = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> entry : object.entrySet()) {
            String at = path + "." + entry.getKey();
            JsonElement value = entry.getValue();
            if (value.isJsonArray()) {
                List<String> targets = new ArrayList<>();
                JsonArray array = value.getAsJsonArray();
                for (int i = 0; i < array.size(); i++) {
                    targets.add(string(array.get(i), at + "[" + i + "]"));
                }
                table.put(entry.getKey(), targets);
            } else {
                table.put(entry.getKey(), List.of(string(value, at)));
            }
        }
        return table;
    }

    private JsonArray array(JsonElement element, String path) {
        if (!element.isJsonArray()) {
            throw error(path, "must be an array, got " + kind(element));
        }
        return element.getAsJsonArray();
    }

    private String string(JsonElement element, String path) {
        if (!element.isJsonPrimitive() || !element.getAsJsonPrimitive().isString()) {
            throw error(path, "must be a string, got " + kind(element));
        }
        return element.getAsString();
    }

    /** The JSON kind of {@code element}, for messages. */
    private static String kind(JsonElement element) {
        if (element.isJsonNull()) {
            return "null";
        }
        if (element.isJsonObject()) {
            return "an object";
        }
        if (element.isJsonArray()) {
            return "an array";
        }
        if (element.getAsJsonPrimitive().isBoolean()) {
            return "a boolean";
        }
        return element.getAsJsonPrimitive().isNumber() ? "a number" : "a string";
    }

    private HeadSweepException error(String path, String problem) {
        return new HeadSweepException(file + ": " + Quote.escaped(path) + " " + problem);
    }
}
