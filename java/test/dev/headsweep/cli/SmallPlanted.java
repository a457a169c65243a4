package dev.headsweep.cli;

import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.checkpoint.GptConfig;
import dev.headsweep.engine.HeadId;
import dev.headsweep.plant.PlantedCheckpoint;
import java.nio.file.Path;
import java.util.Map;

/** A two-layer, two-head checkpoint (d 128, GPT-2's vocabulary) with a next head 1.0 and a copy head 1.1. */
final class SmallPlanted {
    static final HeadId NEXT = new HeadId(1, 0);
    static final HeadId COPY = new HeadId(1, 1);

    private SmallPlanted() {
    }

    static PlantedCheckpoint checkpoint() {
        return PlantedCheckpoint.of(new GptConfig(2, 2, 128, 50257, 32, 1e-5),
                Map.of(NEXT, PlantedCheckpoint.Kind.NEXT, COPY, PlantedCheckpoint.Kind.COPY), 3);
    }

    static Path write(Path dir) {
        checkpoint().write(dir, Dtype.F32, "");
        return dir;
    }
}
