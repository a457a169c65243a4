package dev.headsweep.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.headsweep.HeadSweep;
import dev.headsweep.engine.HeadId;
import dev.headsweep.model.Gpt2Weights;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The published per-head scores of real GPT-2 small (anchors/gpt2-small-seqcont-ov-scores.json):
 * every head within one keyword in every published column. Needs the real weights, which cannot
 * be downloaded here: they are looked for at {@code HEADSWEEP_GPT2_SMALL} (a checkpoint folder)
 * and in the Hugging Face cache ({@code HF_HUB_CACHE}, {@code HF_HOME/hub},
 * {@code ~/.cache/huggingface/hub}, {@code models--gpt2/snapshots/*}); without them the test is
 * skipped and says so.
 */
class AnchorTest {
    private static Gpt2Weights gpt2;

    static Optional<Path> findGpt2Small() {
        String env = System.getenv("HEADSWEEP_GPT2_SMALL");
        if (env != null && !env.isBlank()) {
            return Optional.of(Path.of(env));
        }
        List<Path> hubs = new ArrayList<>();
        if (System.getenv("HF_HUB_CACHE") != null) {
            hubs.add(Path.of(System.getenv("HF_HUB_CACHE")));
        }
        if (System.getenv("HF_HOME") != null) {
            hubs.add(Path.of(System.getenv("HF_HOME"), "hub"));
        }
        hubs.add(Path.of(System.getProperty("user.home"), ".cache", "huggingface", "hub"));
        for (Path hub : hubs) {
            Path snapshots = hub.resolve("models--gpt2").resolve("snapshots");
            if (!Files.isDirectory(snapshots)) {
                continue;
            }
            try (Stream<Path> s = Files.list(snapshots)) {
                Optional<Path> found = s.filter(p -> Files.exists(p.resolve("model.safetensors"))
                        && Files.exists(p.resolve("config.json"))).findFirst();
                if (found.isPresent()) {
                    return found;
                }
            } catch (IOException e) {
                // an unreadable cache is the same as no cache
            }
        }
        return Optional.empty();
    }

    private static synchronized Gpt2Weights weights() {
        if (gpt2 == null) {
            Optional<Path> dir = findGpt2Small();
            String why = "skipped: real GPT-2 small weights not found (set HEADSWEEP_GPT2_SMALL to a checkpoint "
                    + "folder, or have models--gpt2 in the Hugging Face cache); this test would check all five "
                    + "published score columns, every head within one keyword";
            if (dir.isEmpty()) {
                System.err.println("AnchorTest: " + why);
            }
            Assumptions.assumeTrue(dir.isPresent(), why);
            gpt2 = HeadSweep.load(dir.get());
        }
        return gpt2;
    }

    static JsonObject anchors() throws IOException {
        try (InputStream in = AnchorTest.class.getResourceAsStream("/anchors/gpt2-small-seqcont-ov-scores.json")) {
            return JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
        }
    }

    /** How the anchors are read (absent heads scored 0) agrees with the means published beside them. */
    @ParameterizedTest(name = "anchors file: {0} {1}")
    @CsvSource({"numerals, copy", "numerals, next", "numwords, next", "months, copy", "months, next"})
    void anchorsAreReadAsPublished(String task, String relation) throws IOException {
        JsonObject a = anchors();
        JsonObject published = a.getAsJsonObject("scores").getAsJsonObject(task).getAsJsonObject(relation);
        double sum = 0;
        for (int l = 0; l < 12; l++) {
            for (int h = 0; h < 12; h++) {
                String key = l + "." + h;
                sum += published.has(key) ? published.get(key).getAsDouble() : 0.0;
            }
        }
        double mean = a.getAsJsonObject("mean_over_144_heads").getAsJsonObject(task).get(relation).getAsDouble();
        assertEquals(mean, sum / 144, 1e-9);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"numerals, copy", "numerals, next", "numwords, next", "months, copy", "months, next"})
    void publishedColumnWithinOneKeyword(String task, String relation) throws IOException {
        JsonObject published = anchors().getAsJsonObject("scores").getAsJsonObject(task).getAsJsonObject(relation);
        SweepResult r = Sweep.of(weights(), HeadSweep.task(task)).relations(relation).k(5).run();
        double oneKeyword = 100.0 / r.keywords().size();
        List<String> off = new ArrayList<>();
        for (HeadId h : r.heads()) {
            double want = published.has(h.toString()) ? published.get(h.toString()).getAsDouble() : 0.0;
            double got = r.score(h, relation);
            if (Math.abs(got - want) > oneKeyword + 1e-9) {
                off.add(h + ": " + got + " vs published " + want);
            }
        }
        if (!off.isEmpty()) {
            fail(off.size() + " heads off by more than one keyword: " + off);
        }
        assertEquals(144, r.heads().size());
    }
}
