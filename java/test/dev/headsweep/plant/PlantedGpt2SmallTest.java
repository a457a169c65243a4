package dev.headsweep.plant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweep;
import dev.headsweep.cli.CliRun;
import dev.headsweep.engine.HeadId;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.score.Sweep;
import dev.headsweep.score.SweepResult;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint of GPT-2 small's shape (12 layers, 12 heads, d 768, vocabulary 50257) with planted
 * copy, next and previous heads, written once by the {@code demo} command itself: the planted heads
 * must score at least 95% in their relation on the numerals task, every other head below 5% in each.
 */
class PlantedGpt2SmallTest {
    @TempDir
    static Path dir;
    static CliRun demo;
    static SweepResult result;

    @BeforeAll
    static void plantWithTheDemoAndSweep() {
        demo = CliRun.of("demo", "--dir", dir.toString(), "--keep", "--quiet");
        Gpt2Weights w = HeadSweep.load(dir);
        assertEquals(12, w.config().nLayer());
        assertEquals(768, w.config().nEmbd());
        result = Sweep.of(w, HeadSweep.task("numerals")).relations("copy", "next", "prev").run();
    }

    @Test
    void demoFindsThePlantedHeadsAndSaysSo() {
        assertEquals(0, demo.exit(), demo::toString);
        assertTrue(demo.out().contains("demo: the planted heads are the ones found."), demo::toString);
        assertTrue(demo.out().contains("| 9.1   |"), demo::toString);
    }

    @Test
    void plantedHeadsScoreAtLeast95InTheirRelation() {
        for (Map.Entry<HeadId, PlantedCheckpoint.Kind> e : PlantedCheckpoint.demoHeads().entrySet()) {
            String rel = e.getValue().name().toLowerCase(java.util.Locale.ROOT);
            double s = result.score(e.getKey(), rel);
            assertTrue(s >= 95.0, "planted " + rel + " head " + e.getKey() + " scored " + s);
        }
    }

    @Test
    void everyOtherHeadScoresBelow5InEachRelation() {
        assertEquals(144, result.heads().size());
        assertEquals(388, result.keywords().size());
        for (HeadId h : result.heads()) {
            if (PlantedCheckpoint.demoHeads().containsKey(h)) {
                continue;
            }
            for (String rel : result.relations()) {
                double s = result.score(h, rel);
                assertTrue(s < 5.0, "random head " + h + " scored " + s + " in " + rel);
            }
        }
    }
}
