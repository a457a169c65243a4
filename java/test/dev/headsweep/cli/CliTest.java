package dev.headsweep.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.headsweep.HeadSweep;
import dev.headsweep.engine.HeadId;
import dev.headsweep.score.Sweep;
import dev.headsweep.score.SweepResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The commands on a small planted checkpoint: what they print and write. */
class CliTest {
    @TempDir
    static Path model;
    @TempDir
    Path work;
    static SweepResult api;

    @BeforeAll
    static void plant() {
        SmallPlanted.write(model);
        api = Sweep.of(HeadSweep.load(model), HeadSweep.task("numerals")).relations("copy", "next").run();
    }

    @Test
    void sweepJsonHasEveryHeadWithTheApiScores() throws IOException {
        Path out = work.resolve("scores.json");
        CliRun run = CliRun.of("sweep", "--model", model.toString(), "--task", "numerals",
                "--format", "json", "--out", out.toString(), "-q");
        assertEquals(0, run.exit(), run::toString);
        assertEquals("", run.out());
        JsonObject o = JsonParser.parseString(Files.readString(out)).getAsJsonObject();
        assertEquals("numerals", o.get("task").getAsString());
        assertEquals(5, o.get("k").getAsInt());
        assertEquals(388, o.get("keywords").getAsInt());
        assertTrue(o.get("model").getAsString().contains(model.getFileName().toString()));
        JsonArray heads = o.getAsJsonArray("heads");
        assertEquals(4, heads.size());
        for (var e : heads) {
            JsonObject h = e.getAsJsonObject();
            HeadId id = new HeadId(h.get("layer").getAsInt(), h.get("head").getAsInt());
            assertEquals(api.score(id, "copy"), h.get("copy").getAsDouble(), 1e-4);
            assertEquals(api.score(id, "next"), h.get("next").getAsDouble(), 1e-4);
        }
        assertTrue(api.score(SmallPlanted.NEXT, "next") >= 95, "planted next head found");
        assertTrue(api.score(SmallPlanted.COPY, "copy") >= 95, "planted copy head found");
    }

    @Test
    void sweepTableHidesHeadsBelowMinButCsvListsAll() {
        CliRun table = CliRun.of("sweep", "--model", model.toString(), "--min", "50", "-q");
        assertEquals(0, table.exit(), table::toString);
        assertTrue(table.out().startsWith("| Head  | Copy Score | Next Score |"), table::toString);
        assertTrue(table.out().contains("| 1.0   |"), table::toString);
        assertTrue(table.out().contains("| 1.1   |"), table::toString);
        assertFalse(table.out().contains("| 0.0   |"), table::toString);
        assertTrue(table.out().contains("2 of 4 heads scored at least 50%"), table::toString);

        CliRun csv = CliRun.of("sweep", "--model", model.toString(), "--min", "50", "--format", "csv", "-q");
        assertEquals(0, csv.exit(), csv::toString);
        List<String> lines = csv.out().lines().toList();
        assertEquals("layer,head,copy,next", lines.get(0));
        assertEquals(5, lines.size(), csv::toString);
        assertTrue(lines.get(1).startsWith("0,0,"), csv::toString);
    }

    @Test
    void sweepByRankTestEqualsTheWholeTopK() {
        CliRun ranked = CliRun.of("sweep", "--model", model.toString(), "--format", "csv", "--relations", "copy,next,prev");
        CliRun whole = CliRun.of("sweep", "--model", model.toString(), "--format", "csv", "--relations", "copy,next,prev",
                "--whole-top-k");
        assertEquals(0, ranked.exit(), ranked::toString);
        assertEquals(0, whole.exit(), whole::toString);
        assertEquals(whole.out(), ranked.out());
        assertTrue(ranked.err().contains("OV chain + targets' rank"), ranked::toString);
        assertTrue(whole.err().contains("OV chain + top-k"), whole::toString);
        assertTrue(CliRun.of("sweep", "--help").out().contains("--whole-top-k"));
    }

    @Test
    void sweepReportsTimingsOnStderrUnlessQuiet() {
        CliRun run = CliRun.of("sweep", "--model", model.toString(), "--relations", "next");
        assertEquals(0, run.exit(), run::toString);
        assertTrue(run.err().contains("4 heads × 388 keywords on cpu"), run::toString);
        assertTrue(run.out().startsWith("| Head  | Next Score |"), run::toString);
    }

    @Test
    void cacheIsWrittenThenReadAndGivesTheSameOutput() throws IOException {
        Path cache = work.resolve("cache");
        CliRun cold = CliRun.of("sweep", "--model", model.toString(), "--format", "csv", "-q");
        CliRun first = CliRun.of("sweep", "--model", model.toString(), "--format", "csv", "--cache", cache.toString());
        assertEquals(0, first.exit(), first::toString);
        assertEquals(cold.out(), first.out());
        assertTrue(first.err().contains("headsweep: A_h cache written: " + cache), first::toString);
        assertTrue(first.err().contains("(51.5 MB, 4 heads"), first::toString);
        CliRun second = CliRun.of("sweep", "--model", model.toString(), "--format", "csv", "--cache=" + cache);
        assertEquals(0, second.exit(), second::toString);
        assertEquals(cold.out(), second.out());
        assertTrue(second.err().contains("headsweep: A_h cache hit: " + cache), second::toString);
        CliRun quiet = CliRun.of("head", "1.0", "--cache", cache.toString(), "--model", model.toString(), "-q");
        assertEquals(0, quiet.exit(), quiet::toString);
        assertEquals("", quiet.err(), "a hit says nothing under -q");
        CliRun tokens = CliRun.of("tokens", "--model", model.toString(), "--heads", "1.1", "--cache=" + cache, "-q");
        assertEquals(CliRun.of("tokens", "--model", model.toString(), "--heads", "1.1", "-q").out(), tokens.out());
        try (var files = Files.list(cache)) {
            assertEquals(1, files.count());
        }
        assertEquals(null, System.getProperty(dev.headsweep.engine.cpu.AhCache.PROPERTY),
                "the CLI hands the cache to the backend, not through a system property");
    }

    @Test
    void cacheWithoutAFolderUsesTheDefault() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getenv("XDG_CACHE_HOME") == null,
                "XDG_CACHE_HOME is set; the default folder is under it");
        String home = System.getProperty("user.home");
        System.setProperty("user.home", work.toString());
        try {
            CliRun run = CliRun.of("sweep", "--model", model.toString(), "--cache", "--format", "csv");
            assertEquals(0, run.exit(), run::toString);
            Path dir = work.resolve(".cache").resolve("headsweep");
            assertTrue(run.err().contains("A_h cache written: " + dir), run::toString);
            try (var files = Files.list(dir)) {
                assertEquals(1, files.count());
            }
        } finally {
            System.setProperty("user.home", home);
        }
    }

    @Test
    void headShowsTopTokensAndHits() {
        CliRun run = CliRun.of("head", "1.0", "--model", model.toString(), "-q");
        assertEquals(0, run.exit(), run::toString);
        assertTrue(run.out().startsWith("Head 1.0 on task numerals (388 keywords, top-5)"), run::toString);
        assertTrue(run.out().contains("prompt 0: \"1 2 3 4\""), run::toString);
        // keyword "1" of the first prompt: the planted next head writes "2" (with or without a space) into its top-5
        String line = run.out().lines().filter(l -> l.startsWith("  \"1\"")).findFirst().orElseThrow();
        assertTrue(line.contains("\" 2\"") || line.contains("\"2\""), line);
        assertTrue(line.contains("next ✓"), line);
    }

    @Test
    void tokensCsvHasOneRowPerKeywordAndHead() {
        CliRun run = CliRun.of("tokens", "--model", model.toString(), "--heads", "1.0,1.1", "--format", "csv", "-q");
        assertEquals(0, run.exit(), run::toString);
        List<String> lines = run.out().lines().toList();
        assertEquals("prompt,keyword,token,position,token_id,layer,head,copy,next", lines.get(0));
        assertEquals(1 + 388 * 2, lines.size());
        assertTrue(lines.get(1).startsWith("0,1,1,0,16,1,0,"), lines.get(1));
        long nextHits = lines.stream().skip(1).map(l -> l.split(","))
                .filter(f -> f[5].equals("1") && f[6].equals("0") && f[8].equals("1")).count();
        assertTrue(nextHits >= 0.95 * 388, "next hits of head 1.0: " + nextHits);
    }

    @Test
    void tokensTableMarksHits() {
        CliRun run = CliRun.of("tokens", "--model", model.toString(), "--heads", "1.1", "-q");
        assertEquals(0, run.exit(), run::toString);
        assertTrue(run.out().startsWith("Legend: C = copy hit; N = next hit; . = no hit"), run::toString);
        long copyRows = run.out().lines().skip(2).filter(l -> l.trim().endsWith(" C") || l.trim().endsWith(" CN")).count();
        assertTrue(copyRows >= 0.95 * 388, run::toString);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sweep", "head", "tokens", "demo"})
    void everyCommandHasHelpWithAnExample(String command) {
        CliRun run = CliRun.of(command, "--help");
        assertEquals(0, run.exit(), run::toString);
        assertTrue(run.out().contains("Usage: headsweep " + command), run::toString);
        assertTrue(run.out().contains("Example"), run::toString);
    }

    @Test
    void topLevelHelpListsCommands() {
        CliRun run = CliRun.of("--help");
        assertEquals(0, run.exit(), run::toString);
        for (String c : List.of("sweep", "head", "tokens", "demo")) {
            assertTrue(run.out().contains(c), run::toString);
        }
    }
}
