package dev.headsweep.checkpoint;

import static dev.headsweep.checkpoint.TestFiles.assertFails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tests {@link GptConfig}: reading Hugging Face configs, writing them, and rejecting bad ones. */
class GptConfigTest {
    /** The Hugging Face config of GPT-2 small, abridged. */
    private static final String GPT2_SMALL = """
            {
              "activation_function": "gelu_new",
              "architectures": ["GPT2LMHeadModel"],
              "layer_norm_epsilon": 1e-05,
              "model_type": "gpt2",
              "n_ctx": 1024,
              "n_embd": 768,
              "n_head": 12,
              "n_layer": 12,
              "n_positions": 1024,
              "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
              "vocab_size": 50257
            }
            """;

    @TempDir
    Path dir;

    private Path write(String json) throws IOException {
        return Files.writeString(dir.resolve("config.json"), json);
    }

    @Test
    void readsGpt2Small() throws IOException {
        GptConfig c = GptConfig.read(write(GPT2_SMALL));
        assertEquals(new GptConfig(12, 12, 768, 50257, 1024, 1e-5), c);
        assertEquals(64, c.headSize());
    }

    @Test
    void fallsBackToNCtxAndTheDefaultEpsilon() throws IOException {
        GptConfig c = GptConfig.read(write("{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 8, \"vocab_size\": 11, \"n_ctx\": 16}"));
        assertEquals(16, c.nPositions());
        assertEquals(GptConfig.DEFAULT_LAYER_NORM_EPS, c.layerNormEps());
    }

    @Test
    void toJsonReadsBack() throws IOException {
        GptConfig c = new GptConfig(3, 4, 32, 101, 64, 1e-6);
        assertEquals(c, GptConfig.read(write(c.toJson())));
    }

    @Test
    void constructorRejectsBadNumbers() {
        assertThrows(IllegalArgumentException.class, () -> new GptConfig(0, 2, 8, 11, 16));
        assertThrows(IllegalArgumentException.class, () -> new GptConfig(2, 3, 8, 11, 16));
        assertThrows(IllegalArgumentException.class, () -> new GptConfig(2, 2, 8, 11, 16, Double.NaN));
    }

    @Test
    void missingFile() {
        Path file = dir.resolve("config.json");
        assertFails(file, "no such file", () -> GptConfig.read(file));
    }

    @Test
    void malformedJson() throws IOException {
        Path file = write("{\"n_layer\": 2,, }");
        assertFails(file, "not valid JSON", () -> GptConfig.read(file));
        write("[]");
        assertFails(file, "not a JSON object", () -> GptConfig.read(file));
        write("");
        assertFails(file, "not a JSON object", () -> GptConfig.read(file));
    }

    @Test
    void missingOrBadFields() throws IOException {
        String base = "\"n_layer\": 2, \"n_head\": 2, \"vocab_size\": 11, \"n_positions\": 16";
        Path file = write("{" + base + "}");
        assertFails(file, "n_embd is missing", () -> GptConfig.read(file));
        write("{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 8, \"vocab_size\": 11}");
        assertFails(file, "n_positions (or n_ctx) is missing", () -> GptConfig.read(file));
        write("{" + base + ", \"n_embd\": \"8\"}");
        assertFails(file, "n_embd must be a positive integer, got \"8\"", () -> GptConfig.read(file));
        write("{" + base + ", \"n_embd\": 7.5}");
        assertFails(file, "n_embd must be a positive integer, got 7.5", () -> GptConfig.read(file));
        write("{" + base + ", \"n_embd\": 0}");
        assertFails(file, "n_embd must be a positive integer, got 0", () -> GptConfig.read(file));
        write("{" + base + ", \"n_embd\": 9}");
        assertFails(file, "n_embd 9 is not divisible by n_head 2", () -> GptConfig.read(file));
        write("{" + base + ", \"n_embd\": 8, \"layer_norm_epsilon\": -1}");
        assertFails(file, "layer_norm_epsilon must be a positive number", () -> GptConfig.read(file));
    }
}
