package dev.headsweep.plant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweep;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.cpu.CpuBackend;
import dev.headsweep.engine.cuda.CudaBackend;
import dev.headsweep.engine.cuda.Gpus;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.score.Sweep;
import dev.headsweep.score.SweepResult;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The planted GPT-2-small-shaped checkpoint on the GPU: the same copy, next and prev scores as
 * the CPU on every head (the numerals task), and the planted heads found. Skipped without a GPU.
 */
class CudaPlantedTest {
    @TempDir
    Path dir;

    @Test
    void gpuScoresEqualTheCpusOnEveryHead() {
        CudaBackend cuda = Gpus.realOrSkip("identical numerals scores to the CPU on the planted GPT-2-small checkpoint");
        PlantedCheckpoint.of(PlantedCheckpoint.gpt2SmallShape(), PlantedCheckpoint.demoHeads(), 1)
                .write(dir, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        SweepResult cpu = Sweep.of(w, HeadSweep.task("numerals")).relations("copy", "next", "prev")
                .backend(new CpuBackend()).run();
        SweepResult gpu = Sweep.of(w, HeadSweep.task("numerals")).relations("copy", "next", "prev")
                .backend(cuda).run();
        for (HeadId h : cpu.heads()) {
            for (String rel : cpu.relations()) {
                assertEquals(cpu.score(h, rel), gpu.score(h, rel), rel + " score of head " + h);
            }
        }
        for (var e : PlantedCheckpoint.demoHeads().entrySet()) {
            String rel = e.getValue().name().toLowerCase(java.util.Locale.ROOT);
            assertTrue(gpu.score(e.getKey(), rel) >= 95.0, "planted " + rel + " head " + e.getKey());
        }
    }
}
