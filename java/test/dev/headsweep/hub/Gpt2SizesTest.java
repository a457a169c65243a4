package dev.headsweep.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.headsweep.checkpoint.Checkpoint;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.checkpoint.GptConfig;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.Progress;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.plant.PlantedCheckpoint;
import dev.headsweep.score.Sweep;
import dev.headsweep.score.SweepResult;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * All four GPT-2 sizes, by name, from a hub cache laid out as transformers leaves it: each
 * {@code config.json} in the hub's form, and a checkpoint of that size's width and heads (V 50257,
 * head size 64) with planted heads, cut to one layer so that the test stays small (the xl shape
 * still writes its full 50257 × 1600 embedding). The planted heads, the first and the last of the
 * layer, are found; a head between them is not. Nothing touches the network.
 */
class Gpt2SizesTest {
    @TempDir
    Path work;

    /** A config.json as the hub has it for each size (the fields HeadSweep reads, and the usual others). */
    static String hubConfig(int nLayer, int nHead, int nEmbd) {
        JsonObject c = new JsonObject();
        c.addProperty("activation_function", "gelu_new");
        c.add("architectures", new Gson().toJsonTree(List.of("GPT2LMHeadModel")));
        c.addProperty("attn_pdrop", 0.1);
        c.addProperty("bos_token_id", 50256);
        c.addProperty("embd_pdrop", 0.1);
        c.addProperty("eos_token_id", 50256);
        c.addProperty("initializer_range", 0.02);
        c.addProperty("layer_norm_epsilon", 1e-05);
        c.addProperty("model_type", "gpt2");
        c.addProperty("n_ctx", 1024);
        c.addProperty("n_embd", nEmbd);
        c.addProperty("n_head", nHead);
        c.addProperty("n_layer", nLayer);
        c.addProperty("n_positions", 1024);
        c.addProperty("resid_pdrop", 0.1);
        c.addProperty("summary_type", "cls_index");
        c.addProperty("summary_use_proj", true);
        c.addProperty("vocab_size", 50257);
        return new GsonBuilder().setPrettyPrinting().create().toJson(c) + "\n";
    }

    @ParameterizedTest(name = "{0}: d {1}, {2} heads, {3} layers")
    @CsvSource({
        "gpt2,        768, 12, 12, F32",
        "gpt2-medium, 1024, 16, 24, F32",
        "gpt2-large,  1280, 20, 36, F16",
        "gpt2-xl,     1600, 25, 48, BF16"})
    void plantedHeadsAreFoundInEverySize(String name, int d, int heads, int layers, Dtype dtype) throws IOException {
        // the full-size config parses to the published shape
        Path full = Files.writeString(work.resolve("full-config.json"), hubConfig(layers, heads, d));
        GptConfig published = GptConfig.read(full);
        assertEquals(new GptConfig(layers, heads, d, 50257, 1024, 1e-5), published);
        assertEquals(64, published.headSize());

        HeadId copy = new HeadId(0, 0);
        HeadId next = new HeadId(0, heads - 1);
        HeadId random = new HeadId(0, heads / 2);
        GptConfig oneLayer = new GptConfig(1, heads, d, 50257, 1024, 1e-5);
        Path dir = work.resolve("checkpoint");
        PlantedCheckpoint.of(oneLayer, Map.of(copy, PlantedCheckpoint.Kind.COPY, next, PlantedCheckpoint.Kind.NEXT), 7)
                .write(dir, dtype, name.equals("gpt2-medium") ? "transformer." : "");
        Files.writeString(dir.resolve("config.json"), hubConfig(1, heads, d));
        Path cache = work.resolve("hub");
        String commit = FakeHub.gitBlobSha1(name.getBytes());
        Path snapshot = TestModels.placeInCache(dir, cache, name, commit);

        Path found = new ModelLocator(HubSettings.of(Map.of("HF_HUB_CACHE", cache.toString(),
                "HF_ENDPOINT", "http://127.0.0.1:" + deadPort()), work)).find(name, Progress.NONE);
        assertEquals(snapshot, found);
        Gpt2Weights w;
        try (Checkpoint c = Checkpoint.open(found)) {
            assertEquals(dtype, c.dtype());
            w = Gpt2Weights.load(c);
        }
        assertEquals(oneLayer, w.config());
        SweepResult r = Sweep.of(w, dev.headsweep.HeadSweep.task("numerals")).relations("copy", "next")
                .heads(List.of(copy, random, next)).run();
        assertTrue(r.score(copy, "copy") >= 95, name + ": planted copy head " + copy + " scored " + r.score(copy, "copy"));
        assertTrue(r.score(next, "next") >= 95, name + ": planted next head " + next + " scored " + r.score(next, "next"));
        assertTrue(r.score(random, "copy") < 5 && r.score(random, "next") < 5, name + ": random head " + random
                + " scored " + r.score(random, "copy") + " / " + r.score(random, "next"));
    }

    /** A port nothing listens on. */
    private static int deadPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
