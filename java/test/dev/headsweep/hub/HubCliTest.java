package dev.headsweep.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.headsweep.HeadSweep;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.checkpoint.GptConfig;
import dev.headsweep.cli.CliRun;
import dev.headsweep.engine.HeadId;
import dev.headsweep.plant.PlantedCheckpoint;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code headsweep sweep --model gpt2} end to end, in a child JVM whose environment points at a
 * temporary cache and the fake hub: it downloads a small planted checkpoint served as
 * {@code gpt2}, finds the planted heads, and then works offline from the cache.
 */
class HubCliTest {
    static final HeadId NEXT = new HeadId(1, 0);
    static final HeadId COPY = new HeadId(1, 1);

    @TempDir
    static Path work;
    static FakeHub hub;

    @BeforeAll
    static void serve() throws IOException {
        Path dir = work.resolve("planted");
        PlantedCheckpoint.of(new GptConfig(2, 2, 128, 50257, 32, 1e-5),
                Map.of(NEXT, PlantedCheckpoint.Kind.NEXT, COPY, PlantedCheckpoint.Kind.COPY), 3).write(dir, Dtype.F32, "");
        hub = new FakeHub();
        hub.repo("openai-community/gpt2").putAll(dir);
        hub.rename("gpt2", "openai-community/gpt2");
    }

    @AfterAll
    static void stop() throws IOException {
        hub.close();
    }

    /** Runs the CLI in a child JVM with only the given HF_* variables set. */
    private static CliRun headsweep(Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules=jdk.incubator.vector", "-Xmx1g", "-cp", System.getProperty("java.class.path"),
                "dev.headsweep.cli.Main"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.startsWith("HF_") || k.startsWith("HUGGING_FACE"));
        pb.environment().put("HOME", work.resolve("home").toString());
        pb.environment().putAll(env);
        Path out = Files.createTempFile(work, "out", ".txt");
        Path err = Files.createTempFile(work, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("headsweep did not finish in 180 s");
        }
        String stderr = Files.readString(err, StandardCharsets.UTF_8)
                .replaceAll("(?m)^WARNING: Using incubator modules: jdk.incubator.vector\\R", "");
        return new CliRun(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), stderr);
    }

    @Test
    void sweepDownloadsGpt2ByNameThenWorksOffline() throws Exception {
        Path cache = work.resolve("cache");
        CliRun online = headsweep(Map.of("HF_HUB_CACHE", cache.toString(), "HF_ENDPOINT", hub.endpoint()),
                "sweep", "--model", "gpt2", "--task", "numerals", "--format", "json", "-q");
        assertEquals(0, online.exit(), online::toString);
        assertEquals("", online.err(), online::toString);
        JsonObject json = JsonParser.parseString(online.out()).getAsJsonObject();
        String commit = hub.repo("openai-community/gpt2").commit;
        assertEquals(cache.resolve("models--gpt2").resolve("snapshots").resolve(commit).toString(),
                json.get("model").getAsString());
        assertPlantedHeadsFound(json);
        assertEquals(commit, Files.readString(cache.resolve("models--gpt2/refs/main")));

        int requests = hub.seen.size();
        CliRun offline = headsweep(Map.of("HF_HUB_CACHE", cache.toString(), "HF_ENDPOINT", hub.endpoint(),
                "HF_HUB_OFFLINE", "1"), "sweep", "--model", "gpt2", "--format", "json", "-q");
        assertEquals(0, offline.exit(), offline::toString);
        assertPlantedHeadsFound(JsonParser.parseString(offline.out()).getAsJsonObject());
        assertEquals(requests, hub.seen.size(), "offline: no request reached the hub");

        // the Java API takes the same names
        assertEquals(2, HeadSweep.load(cache.resolve("models--gpt2/snapshots").resolve(commit).toString())
                .config().nHead());
    }

    @Test
    void aModelNotCachedWhileOfflineIsOneLineAndExit2() throws Exception {
        CliRun run = headsweep(Map.of("HF_HUB_CACHE", work.resolve("empty-cache").toString(),
                "HF_HUB_OFFLINE", "1"), "sweep", "--model", "gpt2-xl");
        assertEquals(2, run.exit(), run::toString);
        assertEquals("", run.out());
        List<String> lines = run.err().lines().toList();
        assertEquals(1, lines.size(), run::toString);
        assertTrue(lines.get(0).startsWith("headsweep: gpt2-xl: not in the Hugging Face cache at "), run::toString);
        assertTrue(lines.get(0).contains("HF_HUB_OFFLINE=1"), run::toString);
    }

    @Test
    void garbageIsNeitherAPathNorAName() {
        CliRun run = CliRun.of("sweep", "--model", "gtp2", "-q");
        assertEquals(2, run.exit(), run::toString);
        List<String> lines = run.err().lines().toList();
        assertEquals(1, lines.size(), run::toString);
        assertTrue(lines.get(0).startsWith("headsweep: \"gtp2\": no such file or folder, and not a model name"),
                run::toString);
    }

    @Test
    void helpSaysWhatModelTakes() {
        CliRun run = CliRun.of("sweep", "--help");
        String help = run.out().replaceAll("\\s+", " ");
        assertTrue(help.contains("a Hugging Face name such as gpt2 or org/name@revision"), help);
    }

    private static void assertPlantedHeadsFound(JsonObject json) {
        for (JsonElement e : json.getAsJsonArray("heads")) {
            JsonObject h = e.getAsJsonObject();
            HeadId id = new HeadId(h.get("layer").getAsInt(), h.get("head").getAsInt());
            if (id.equals(NEXT)) {
                assertTrue(h.get("next").getAsDouble() >= 95, h.toString());
            }
            if (id.equals(COPY)) {
                assertTrue(h.get("copy").getAsDouble() >= 95, h.toString());
            }
        }
        assertEquals(4, json.getAsJsonArray("heads").size());
    }
}
