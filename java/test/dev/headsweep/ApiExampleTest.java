package dev.headsweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.checkpoint.GptConfig;
import dev.headsweep.engine.HeadId;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.plant.PlantedCheckpoint;
import dev.headsweep.score.Sweep;
import dev.headsweep.score.SweepResult;
import dev.headsweep.task.Prompt;
import dev.headsweep.task.Relation;
import dev.headsweep.task.Task;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's Java API example, as written there, on a small planted checkpoint. */
class ApiExampleTest {
    @TempDir
    Path models;

    @Test
    void readmeExampleRuns() {
        PlantedCheckpoint.of(new GptConfig(10, 2, 128, 50257, 32, 1e-5),
                Map.of(new HeadId(9, 1), PlantedCheckpoint.Kind.NEXT), 5).write(models.resolve("gpt2"), Dtype.F32, "");
        Gpt2Weights gpt2 = HeadSweep.load(models.resolve("gpt2"));
        SweepResult r = Sweep.of(gpt2, HeadSweep.task("numerals"))
                .relations("copy", "next").k(5).run();
        double next = r.score(HeadId.parse("9.1"), "next");   // percent
        boolean hit = r.hit(HeadId.parse("9.1"), "next", 0);   // the first keyword
        int[] top5 = r.topIds(HeadId.parse("9.1"), 0);          // its top-5 token ids

        assertTrue(next >= 95, "planted next head 9.1 scored " + next);
        assertTrue(hit);
        assertEquals(5, top5.length);

        SweepResult scores = Sweep.of(gpt2, HeadSweep.task("numerals"))
                .relations("copy", "next").k(5).keepTopK(false).run();   // the scores alone
        for (HeadId h : r.heads()) {
            assertEquals(r.score(h, "copy"), scores.score(h, "copy"), "copy " + h);
            assertEquals(r.score(h, "next"), scores.score(h, "next"), "next " + h);
        }
        assertTrue(r.hasTopK() && !scores.hasTopK());
    }

    @Test
    void taskBuiltInCode() {
        PlantedCheckpoint.of(new GptConfig(1, 2, 128, 50257, 32, 1e-5),
                Map.of(new HeadId(0, 0), PlantedCheckpoint.Kind.COPY), 6).write(models, Dtype.F32, "");
        List<String> seq = List.of("10", "11", "12", "13", "14", "15");
        Task t = new Task("teens", List.of(new Prompt("10 11 12", List.of("10", "11", "12")),
                new Prompt("13 14 15", List.of("13", "14", "15"))),
                List.of(Relation.copy(), Relation.next(seq)));
        SweepResult r = Sweep.of(HeadSweep.load(models), t).run();
        assertEquals(List.of("copy", "next"), r.relations());
        assertEquals(6, r.keywords().size());
        assertEquals(100.0, r.score(new HeadId(0, 0), "copy"));
    }
}
