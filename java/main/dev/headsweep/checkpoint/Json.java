package dev.headsweep.checkpoint;

import com.google.gson.JsonElement;
import com.google.gson.JsonIOException;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonSyntaxException;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import dev.headsweep.HeadSweepException;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.OptionalLong;

/** Strict JSON reading for checkpoint files, with every failure reported as one line. */
final class Json {
    private Json() {}

    /** Reads {@code file} as a strict UTF-8 JSON object. */
    static JsonObject readObject(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new HeadSweepException(file + ": no such file", e);
        } catch (IOException e) {
            throw new HeadSweepException(file + ": cannot read: " + firstLine(e.getMessage()), e);
        }
        return parseObject(ByteBuffer.wrap(bytes), file + ": the file");
    }

    /**
     * Parses UTF-8 bytes as one strict JSON object (surrounding whitespace allowed).
     *
     * @param subject starts each error message, e.g. {@code "/x/model.safetensors: the header"}
     */
    static JsonObject parseObject(ByteBuffer utf8, String subject) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(utf8)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new HeadSweepException(subject + " is not valid UTF-8", e);
        }
        JsonElement root;
        try {
            JsonReader reader = new JsonReader(new StringReader(text));
            reader.setStrictness(Strictness.STRICT);
            root = JsonParser.parseReader(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new HeadSweepException(subject + " is not valid JSON: text after the top-level value");
            }
        } catch (JsonSyntaxException | JsonIOException | IOException e) {
            throw new HeadSweepException(subject + " is not valid JSON: " + syntaxError(e), e);
        }
        if (!root.isJsonObject()) {
            throw new HeadSweepException(subject + " is not a JSON object");
        }
        return root.getAsJsonObject();
    }

    /** The value of {@code e} if it is a JSON number holding an integer that fits a long. */
    static OptionalLong integer(JsonElement e) {
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(new BigDecimal(e.getAsString()).longValueExact());
        } catch (ArithmeticException | NumberFormatException notAnInteger) {
            return OptionalLong.empty();
        }
    }

    /**
     * Gson's description of a syntax error, e.g. "Unterminated object at line 1 column 9 path $.a",
     * without the exception class names it wraps it in or its advice to parse leniently.
     */
    private static String syntaxError(Exception e) {
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        String message = firstLine(root.getMessage());
        int location = message.indexOf(" at line ");
        if (message.startsWith("Use JsonReader.setStrictness") && location >= 0) {
            return "syntax error" + message.substring(location);
        }
        return message;
    }

    /** The first line of a library's message (Gson appends a troubleshooting link on a new line). */
    static String firstLine(String message) {
        if (message == null) {
            return "unknown error";
        }
        int end = message.indexOf('\n');
        return (end < 0 ? message : message.substring(0, end)).strip();
    }
}
