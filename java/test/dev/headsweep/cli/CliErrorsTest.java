package dev.headsweep.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.checkpoint.NamedTensor;
import dev.headsweep.checkpoint.SafetensorsWriter;
import dev.headsweep.plant.PlantedCheckpoint;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input: each case prints one line on stderr, exits with 2, prints no stack trace, and leaves
 * no output file (nor a temporary one) behind.
 */
class CliErrorsTest {
    @TempDir
    static Path good;
    @TempDir
    Path work;
    static List<NamedTensor> tensors;
    static PlantedCheckpoint planted;

    @BeforeAll
    static void plant() {
        planted = SmallPlanted.checkpoint();
        tensors = planted.tensors();
        SafetensorsWriter.writeCheckpoint(good, planted.config(), tensors, Dtype.F32, "");
    }

    /** Runs sweep with {@code --out} into an empty folder and checks the error contract. */
    private CliRun expectError(String mustContain, String... args) throws IOException {
        Path outDir = Files.createDirectories(work.resolve("out"));
        List<String> all = new ArrayList<>(List.of(args));
        all.add("--out");
        all.add(outDir.resolve("report.txt").toString());
        CliRun run = CliRun.of(all.toArray(String[]::new));
        assertEquals(2, run.exit(), run::toString);
        assertEquals("", run.out(), run::toString);
        List<String> lines = run.err().lines().toList();
        assertEquals(1, lines.size(), "exactly one line on stderr: " + run);
        assertTrue(lines.get(0).startsWith("headsweep: "), run::toString);
        assertTrue(lines.get(0).contains(mustContain), "stderr should mention '" + mustContain + "': " + run);
        assertFalse(run.err().contains("Exception") || run.err().contains("\tat "), run::toString);
        try (Stream<Path> left = Files.list(outDir)) {
            assertEquals(List.of(), left.toList(), "no output file is left");
        }
        return run;
    }

    /** A copy of the good checkpoint whose safetensors file is changed by {@code edit}. */
    private Path copyWith(Consumer<Path> edit) throws IOException {
        Path dir = Files.createDirectories(work.resolve("model"));
        Files.copy(good.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(good.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        edit.accept(dir.resolve("model.safetensors"));
        return dir;
    }

    /** Rewrites the safetensors header (keeping the data) after {@code edit} changes its JSON. */
    private static void editHeader(Path file, Consumer<JsonObject> edit) {
        try {
            byte[] all = Files.readAllBytes(file);
            long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            JsonObject header = JsonParser.parseString(new String(all, 8, (int) n, StandardCharsets.UTF_8))
                    .getAsJsonObject();
            edit.accept(header);
            byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
            int pad = (8 - h.length % 8) % 8;
            ByteBuffer out = ByteBuffer.allocate(8 + h.length + pad + all.length - 8 - (int) n)
                    .order(ByteOrder.LITTLE_ENDIAN);
            out.putLong(h.length + pad).put(h);
            for (int i = 0; i < pad; i++) {
                out.put((byte) ' ');
            }
            out.put(all, 8 + (int) n, all.length - 8 - (int) n);
            Files.write(file, out.array());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static JsonArray offsets(JsonObject header, String name) {
        return header.getAsJsonObject(name).getAsJsonArray("data_offsets");
    }

    @Test
    void truncatedSafetensors() throws IOException {
        Path m = copyWith(f -> {
            try {
                byte[] b = Files.readAllBytes(f);
                Files.write(f, java.util.Arrays.copyOf(b, b.length / 2));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        expectError("model.safetensors", "sweep", "--model", m.toString());
    }

    @Test
    void headerLengthLargerThanTheFile() throws IOException {
        Path m = copyWith(f -> {
            try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40), 0);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        expectError("header length", "sweep", "--model", m.toString());
    }

    @Test
    void overlappingOffsets() throws IOException {
        Path m = copyWith(f -> editHeader(f, h -> h.getAsJsonObject("h.0.ln_1.bias")
                .add("data_offsets", offsets(h, "h.0.ln_1.weight").deepCopy())));
        expectError("overlap", "sweep", "--model", m.toString());
    }

    @Test
    void offsetsOutOfRange() throws IOException {
        Path m = copyWith(f -> editHeader(f, h -> {
            JsonArray o = offsets(h, "ln_f.bias");
            long shift = 1L << 30;
            JsonArray moved = new JsonArray();
            moved.add(o.get(0).getAsLong() + shift);
            moved.add(o.get(1).getAsLong() + shift);
            h.getAsJsonObject("ln_f.bias").add("data_offsets", moved);
        }));
        expectError("ln_f.bias", "sweep", "--model", m.toString());
    }

    @Test
    void unknownDtype() throws IOException {
        Path m = copyWith(f -> editHeader(f, h -> h.getAsJsonObject("ln_f.bias").addProperty("dtype", "F33")));
        expectError("F33", "sweep", "--model", m.toString());
    }

    @Test
    void tensorShapeDisagreesWithConfig() throws IOException {
        List<NamedTensor> changed = new ArrayList<>();
        for (NamedTensor t : tensors) {
            changed.add(t.name().equals("wpe.weight")
                    ? new NamedTensor(t.name(), new long[] {16, 128}, java.util.Arrays.copyOf(t.data(), 16 * 128))
                    : t);
        }
        Path m = Files.createDirectories(work.resolve("m"));
        SafetensorsWriter.writeCheckpoint(m, planted.config(), changed, Dtype.F32, "");
        expectError("wpe.weight", "sweep", "--model", m.toString());
    }

    @Test
    void missingTensor() throws IOException {
        List<NamedTensor> fewer = tensors.stream().filter(t -> !t.name().equals("h.1.attn.c_proj.weight")).toList();
        Path m = Files.createDirectories(work.resolve("m"));
        SafetensorsWriter.writeCheckpoint(m, planted.config(), fewer, Dtype.F32, "");
        expectError("h.1.attn.c_proj.weight", "sweep", "--model", m.toString());
    }

    @Test
    void missingModelFolder() throws IOException {
        expectError("nowhere", "sweep", "--model", work.resolve("nowhere").toString());
    }

    @Test
    void malformedTaskJson() throws IOException {
        Path task = work.resolve("task.json");
        Files.writeString(task, "{\"prompts\": [\"1 2 3\",");
        expectError("task.json", "sweep", "--model", good.toString(), "--task", task.toString());
    }

    @Test
    void keywordOfTwoTokens() throws IOException {
        Path task = work.resolve("task.json");
        Files.writeString(task, "{\"name\": \"long\", \"prompts\": [{\"text\": \"one Antidisestablishmentarianism\", "
                + "\"keywords\": [\"Antidisestablishmentarianism\"]}]}");
        expectError("Antidisestablishmentarianism", "sweep", "--model", good.toString(), "--task", task.toString());
    }

    @Test
    void unknownTask() throws IOException {
        expectError("unknown task", "sweep", "--model", good.toString(), "--task", "letters");
    }

    @Test
    void kZero() throws IOException {
        expectError("--k", "sweep", "--model", good.toString(), "--k", "0");
    }

    @Test
    void unknownRelation() throws IOException {
        expectError("upper", "sweep", "--model", good.toString(), "--relations", "copy,upper");
    }

    @Test
    void unknownHead() throws IOException {
        expectError("12.0", "head", "12.0", "--model", good.toString());
    }

    @Test
    void malformedHead() throws IOException {
        expectError("9-1", "head", "9-1", "--model", good.toString());
    }

    @Test
    void unknownOption() throws IOException {
        expectError("--frobnicate", "sweep", "--model", good.toString(), "--frobnicate");
    }

    @Test
    void missingModelOption() throws IOException {
        expectError("--model", "sweep");
    }

    @Test
    void pickleOnlyCheckpointIsRefusedWithAReason() throws IOException {
        Path m = Files.createDirectories(work.resolve("pickle"));
        Files.copy(good.resolve("config.json"), m.resolve("config.json"));
        Files.write(m.resolve("pytorch_model.bin"), new byte[] {1, 2, 3});
        expectError("pickle", "sweep", "--model", m.toString());
    }

    /** The real process: System.exit's code and nothing but one line on stderr. */
    @Test
    void realProcessExitsWith2AndOneLine() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                "dev.headsweep.cli.Main", "sweep", "--model", work.resolve("absent").toString())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(2, p.waitFor(), err);
        assertEquals("", out);
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.startsWith("headsweep: "), err);
    }
}
