package dev.headsweep.checkpoint;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweepException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.function.Executable;

/** Shared fixtures: a tiny GPT-2, hand-made safetensors bytes, and the one-line error check. */
final class TestFiles {
    /** 2 layers, 2 heads, d = 8, V = 11, P = 16. */
    static final GptConfig TINY = new GptConfig(2, 2, 8, 11, 16);

    private TestFiles() {}

    /**
     * Every tensor {@code config} requires, filled with multiples of 1/64 in [-2, 2): exactly
     * representable in F32, F16 and BF16, so they round-trip through all three.
     */
    static List<NamedTensor> tinyTensors(GptConfig config) {
        Random random = new Random(42);
        List<NamedTensor> tensors = new ArrayList<>();
        for (Map.Entry<String, long[]> e : Checkpoint.requiredShapes(config).entrySet()) {
            long n = 1;
            for (long dim : e.getValue()) {
                n *= dim;
            }
            float[] data = new float[(int) n];
            for (int i = 0; i < data.length; i++) {
                data[i] = (random.nextInt(256) - 128) / 64f;
            }
            tensors.add(new NamedTensor(e.getKey(), e.getValue(), data));
        }
        return tensors;
    }

    /** {@code tensors} without the one named {@code name}. */
    static List<NamedTensor> without(List<NamedTensor> tensors, String name) {
        List<NamedTensor> kept = new ArrayList<>(tensors);
        kept.removeIf(t -> t.name().equals(name));
        return kept;
    }

    /** A safetensors file from a header (its length is written as the 8-byte prefix) and raw data. */
    static Path writeRaw(Path file, String headerJson, byte[] data) throws IOException {
        byte[] header = headerJson.getBytes(StandardCharsets.UTF_8);
        return writeRaw(file, header.length, header, data);
    }

    /** A file of an 8-byte little-endian header length (any value), header bytes and data bytes. */
    static Path writeRaw(Path file, long headerLength, byte[] header, byte[] data) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putLong(headerLength).put(header).put(data);
        Files.write(file, bytes.array());
        return file;
    }

    /**
     * Runs {@code action}, which must throw a {@link HeadSweepException} whose message is one line
     * naming {@code file} and containing {@code phrase}.
     */
    static HeadSweepException assertFails(Path file, String phrase, Executable action) {
        HeadSweepException e = assertThrows(HeadSweepException.class, action);
        String message = e.getMessage();
        assertTrue(message.contains(file.toString()), () -> "no file name in: " + message);
        assertTrue(message.contains(phrase), () -> "no \"" + phrase + "\" in: " + message);
        assertTrue(message.lines().count() == 1 && !message.contains("\r"), () -> "not one line: " + message);
        return e;
    }
}
