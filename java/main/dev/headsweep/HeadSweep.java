package dev.headsweep;

import dev.headsweep.checkpoint.Checkpoint;
import dev.headsweep.engine.Progress;
import dev.headsweep.hub.ModelLocator;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.task.BuiltinTasks;
import dev.headsweep.task.Task;
import dev.headsweep.task.TaskFile;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The shortest way in, for tools that embed HeadSweep:
 *
 * <pre>{@code
 * Gpt2Weights gpt2 = HeadSweep.load("gpt2");            // or a folder: HeadSweep.load(Path.of("models/gpt2"))
 * SweepResult r = Sweep.of(gpt2, HeadSweep.task("numerals")).relations("copy", "next").run();
 * double next = r.score(HeadId.parse("9.1"), "next");   // percent of keywords whose successor is in the top 5
 * boolean hit = r.hit(HeadId.parse("9.1"), "next", 0);   // the first keyword
 * }</pre>
 */
public final class HeadSweep {
    private HeadSweep() {
    }

    /** Opens a checkpoint (a folder, or a .safetensors file beside its config.json) and reads its weights. */
    public static Gpt2Weights load(Path model) {
        return load(model, Progress.NONE);
    }

    /** As {@link #load(Path)}, reporting progress (stage "load"). */
    public static Gpt2Weights load(Path model, Progress progress) {
        try (Checkpoint ckpt = Checkpoint.open(model)) {
            return Gpt2Weights.load(ckpt, progress);
        }
    }

    /**
     * Loads a model by name or path, as {@code --model} does: an existing checkpoint folder or
     * .safetensors file, or a Hugging Face name ({@code gpt2}, {@code gpt2-medium},
     * {@code gpt2-large}, {@code gpt2-xl}, {@code org/name@revision}) found in the hub cache or
     * downloaded into it (see {@link ModelLocator}).
     */
    public static Gpt2Weights load(String modelOrName) {
        return load(modelOrName, Progress.NONE);
    }

    /** As {@link #load(String)}, reporting progress (stages "download FILE", "verify FILE", "load"). */
    public static Gpt2Weights load(String modelOrName, Progress progress) {
        return load(ModelLocator.locate(modelOrName, progress), progress);
    }

    /** A built-in task ({@code numerals}, {@code numwords}, {@code months}, {@code vocab}) or a task JSON file. */
    public static Task task(String nameOrFile) {
        var builtin = BuiltinTasks.get(nameOrFile);
        if (builtin.isPresent()) {
            return builtin.get();
        }
        Path p = Path.of(nameOrFile);
        if (Files.exists(p) || nameOrFile.endsWith(".json")) {
            return TaskFile.read(p);
        }
        throw new HeadSweepException("unknown task \"" + nameOrFile + "\": use one of "
                + String.join(", ", BuiltinTasks.names()) + ", or the path of a task JSON file");
    }
}
