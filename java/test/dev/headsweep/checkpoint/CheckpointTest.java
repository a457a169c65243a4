package dev.headsweep.checkpoint;

import static dev.headsweep.checkpoint.TestFiles.TINY;
import static dev.headsweep.checkpoint.TestFiles.assertFails;
import static dev.headsweep.checkpoint.TestFiles.tinyTensors;
import static dev.headsweep.checkpoint.TestFiles.without;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Tests {@link Checkpoint}: layouts, name prefixes, and the checks made on open. */
class CheckpointTest {
    @TempDir
    Path dir;

    private static void assertHolds(Checkpoint c, List<NamedTensor> tensors) {
        for (NamedTensor t : tensors) {
            assertTrue(c.has(t.name()), t.name());
            assertArrayEquals(t.shape(), c.shape(t.name()), t.name());
            assertArrayEquals(t.data(), c.floats(t.name()), t.name());
        }
    }

    private void assertOpenFails(Path path, Path named, String phrase) {
        assertFails(named, phrase, () -> Checkpoint.open(path).close());
    }

    @ParameterizedTest
    @CsvSource({"F32, ''", "F16, ''", "BF16, ''", "F32, transformer.", "F16, transformer.", "BF16, transformer."})
    void roundTripsEveryDtypeWithOrWithoutThePrefix(Dtype dtype, String prefix) {
        List<NamedTensor> tensors = tinyTensors(TINY);
        SafetensorsWriter.writeCheckpoint(dir, TINY, tensors, dtype, prefix);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(TINY, c.config());
            assertEquals(dir, c.path());
            assertEquals(dtype, c.dtype());
            assertHolds(c, tensors);
            assertFalse(c.has("transformer.wte.weight"));
        }
    }

    @Test
    void opensASafetensorsFileNextToConfigJson() {
        List<NamedTensor> tensors = tinyTensors(TINY);
        SafetensorsWriter.writeCheckpoint(dir, TINY, tensors, Dtype.F16, "");
        try (Checkpoint c = Checkpoint.open(dir.resolve("model.safetensors"))) {
            assertHolds(c, tensors);
            float[] row = new float[TINY.nEmbd()];
            c.floats("wte.weight", 3L * TINY.nEmbd(), row, 0, row.length);
            assertArrayEquals(Arrays.copyOfRange(c.floats("wte.weight"), 24, 32), row);
        }
    }

    @Test
    void ignoresTensorsItDoesNotNeed() {
        List<NamedTensor> tensors = new ArrayList<>(tinyTensors(TINY));
        tensors.add(new NamedTensor("h.1.mlp.c_fc.bias", new long[] {32}, new float[32]));
        tensors.add(new NamedTensor("h.0.attn.bias", new long[] {1, 1, 16, 16}, new float[256]));
        SafetensorsWriter.writeCheckpoint(dir, TINY, tensors, Dtype.BF16, "transformer.");
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertHolds(c, tensors);
        }
    }

    /** Splits the tiny tensors over two prefixed shards, ln_f.* and wte/wpe in the second. */
    private List<NamedTensor> writeShards() throws IOException {
        List<NamedTensor> tensors = tinyTensors(TINY);
        List<NamedTensor> first = tensors.stream().filter(t -> t.name().startsWith("h.")).toList();
        List<NamedTensor> second = tensors.stream().filter(t -> !t.name().startsWith("h.")).toList();
        Files.writeString(dir.resolve("config.json"), TINY.toJson());
        SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), first, Dtype.F16, "transformer.");
        SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), second, Dtype.F32, "transformer.");
        String map = tensors.stream()
                .map(t -> "\"transformer." + t.name() + "\": \"model-0000" + (first.contains(t) ? 1 : 2) + "-of-00002.safetensors\"")
                .collect(Collectors.joining(",\n"));
        Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {\n" + map + "\n}}");
        return tensors;
    }

    @Test
    void opensShardedCheckpoints() throws IOException {
        List<NamedTensor> tensors = writeShards();
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(Dtype.F32, c.dtype());
            assertHolds(c, tensors);
        }
        try (Checkpoint c = Checkpoint.open(dir.resolve("model.safetensors.index.json"))) {
            assertHolds(c, tensors);
        }
    }

    @Test
    void shardProblems() throws IOException {
        writeShards();
        Path index = dir.resolve("model.safetensors.index.json");
        String text = Files.readString(index);
        Path second = dir.resolve("model-00002-of-00002.safetensors");

        Files.writeString(index, text.replace("\"transformer.wpe.weight\": \"model-00002", "\"transformer.wpe.weight\": \"model-00001"));
        assertOpenFails(dir, dir.resolve("model-00001-of-00002.safetensors"), "has no tensor transformer.wpe.weight");

        Files.writeString(index, text.replace("model-00002-of", "model-00003-of"));
        assertOpenFails(dir, dir.resolve("model-00003-of-00002.safetensors"), "no such file");

        Files.writeString(index, text.replace("\"model-00002-of", "\"../model-00002-of"));
        assertOpenFails(dir, index, "is not a file in the checkpoint directory");

        Files.writeString(index, "{\"weight_map\": [1]}");
        assertOpenFails(dir, index, "\"weight_map\" is missing or not a JSON object");

        // A needed tensor stored with a dtype HeadSweep does not read.
        Files.writeString(index, text);
        List<NamedTensor> rest = without(tinyTensors(TINY).stream().filter(t -> !t.name().startsWith("h.")).toList(), "ln_f.bias");
        SafetensorsWriter.write(second, rest, Dtype.F32, "transformer.");
        Path odd = TestFiles.writeRaw(dir.resolve("odd.safetensors"),
                "{\"transformer.ln_f.bias\":{\"dtype\":\"I32\",\"shape\":[8],\"data_offsets\":[0,32]}}", new byte[32]);
        Files.writeString(index, text.replace("\"transformer.ln_f.bias\": \"model-00002-of-00002", "\"transformer.ln_f.bias\": \"odd"));
        assertOpenFails(dir, odd, "tensor transformer.ln_f.bias has dtype I32, which HeadSweep does not read");
    }

    @Test
    void missingTensor() {
        SafetensorsWriter.writeCheckpoint(dir, TINY, without(tinyTensors(TINY), "h.1.attn.c_proj.weight"), Dtype.F32, "");
        assertOpenFails(dir, dir.resolve("model.safetensors"), "tensor h.1.attn.c_proj.weight is missing");
    }

    @Test
    void shapeDisagreeingWithConfig() {
        GptConfig wider = new GptConfig(2, 2, 8, 12, 16);
        SafetensorsWriter.writeCheckpoint(dir, wider, tinyTensors(TINY), Dtype.F32, "");
        assertOpenFails(dir, dir.resolve("model.safetensors"),
                "tensor wte.weight has shape [11, 8] but config.json implies [12, 8]");
    }

    @Test
    void nameRepeatedWithAndWithoutPrefix() {
        List<NamedTensor> tensors = new ArrayList<>(tinyTensors(TINY));
        tensors.add(new NamedTensor("transformer.wte.weight", new long[] {11, 8}, new float[88]));
        SafetensorsWriter.writeCheckpoint(dir, TINY, tensors, Dtype.F32, "");
        assertOpenFails(dir, dir.resolve("model.safetensors"),
                "tensor wte.weight appears twice (as wte.weight and transformer.wte.weight)");
    }

    @Test
    void corruptWeightsFile() throws IOException {
        SafetensorsWriter.writeCheckpoint(dir, TINY, tinyTensors(TINY), Dtype.F32, "");
        Path weights = dir.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(weights);
        Files.write(weights, Arrays.copyOf(bytes, bytes.length - 4));
        assertOpenFails(dir, weights, "out of range");
    }

    @Test
    void pytorchModelBinOnly() throws IOException {
        Files.writeString(dir.resolve("config.json"), TINY.toJson());
        Path bin = Files.write(dir.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2});
        assertOpenFails(dir, dir, "found pytorch_model.bin but no model.safetensors; pickle checkpoints can run arbitrary code");
        assertOpenFails(bin, bin, "convert to safetensors");
    }

    @Test
    void noWeightsOrNoConfig() throws IOException {
        assertOpenFails(dir, dir, "no model.safetensors or model.safetensors.index.json");
        SafetensorsWriter.write(dir.resolve("model.safetensors"), tinyTensors(TINY), Dtype.F32, "");
        assertOpenFails(dir, dir.resolve("config.json"), "no such file");
        Path other = Files.writeString(dir.resolve("notes.txt"), "hi");
        assertOpenFails(other, other, "not a checkpoint directory");
    }

    @Test
    void malformedConfigJson() throws IOException {
        SafetensorsWriter.writeCheckpoint(dir, TINY, tinyTensors(TINY), Dtype.F32, "");
        Path config = Files.writeString(dir.resolve("config.json"), "{\"n_layer\": 2");
        assertOpenFails(dir, config, "not valid JSON");
    }

    @Test
    void missingDirectory() {
        Path missing = dir.resolve("nope");
        assertOpenFails(missing, missing, "no such file or directory");
    }
}
