package dev.headsweep.checkpoint;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.headsweep.HeadSweepException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A GPT-2 checkpoint, opened and checked: {@code config.json} plus its weights, either one
 * {@code model.safetensors} or shards listed by {@code model.safetensors.index.json}.
 *
 * <p>Tensors are addressed by their GPT-2 names without the {@code transformer.} prefix that
 * Hugging Face files may carry ({@code h.0.ln_1.weight}, {@code wte.weight}, ...). On open, every
 * tensor in {@link #requiredShapes} must be present, of dtype F32, F16 or BF16, with the shape the
 * config implies; other tensors are allowed and ignored. Data is read on demand (memory-mapped) and
 * converted to fp32. Reads may run concurrently.
 */
public final class Checkpoint implements AutoCloseable {
    /** The config file in a checkpoint directory. */
    public static final String CONFIG_FILE = "config.json";
    /** The weights file of an unsharded checkpoint. */
    public static final String WEIGHTS_FILE = "model.safetensors";
    /** The index of a sharded checkpoint. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private static final String PREFIX = "transformer.";
    private static final String INDEX_SUFFIX = ".safetensors.index.json";

    /** Where a tensor lives: a file and the name it is stored under there. */
    private record Source(SafetensorsFile file, String storedName) {}

    private final Path path;
    private final Path weights;
    private final GptConfig config;
    private final List<SafetensorsFile> files;
    private final Map<String, Source> tensors;

    private Checkpoint(Path path, Path weights, GptConfig config, List<SafetensorsFile> files, Map<String, Source> tensors) {
        this.path = path;
        this.weights = weights;
        this.config = config;
        this.files = files;
        this.tensors = tensors;
    }

    /**
     * Opens a checkpoint from a directory holding {@code config.json} and {@code model.safetensors}
     * (or {@code model.safetensors.index.json}), or from a {@code .safetensors} file (or index) whose
     * sibling {@code config.json} describes it. Validates all weight files and the needed tensors.
     *
     * @throws HeadSweepException (one line, starting with the offending path) on any problem
     */
    public static Checkpoint open(Path path) {
        if (!Files.exists(path)) {
            throw new HeadSweepException(path + ": no such file or directory");
        }
        Path weights;
        if (Files.isDirectory(path)) {
            weights = weightsIn(path);
        } else if (path.getFileName().toString().endsWith(".safetensors")
                || path.getFileName().toString().endsWith(INDEX_SUFFIX)) {
            weights = path;
        } else if (isPickle(path)) {
            throw pickle(path, path);
        } else {
            throw new HeadSweepException(path + ": not a checkpoint directory, a .safetensors file or a "
                    + INDEX_FILE);
        }
        Path configFile = weights.toAbsolutePath().getParent().resolve(CONFIG_FILE);
        if (!Files.exists(configFile)) {
            throw new HeadSweepException(configFile + ": no such file (a GPT-2 checkpoint needs config.json next to "
                    + weights.getFileName() + ")");
        }
        GptConfig config = GptConfig.read(configFile);

        List<SafetensorsFile> files = new ArrayList<>();
        try {
            Map<String, Source> tensors = new LinkedHashMap<>();
            if (weights.getFileName().toString().endsWith(INDEX_SUFFIX)) {
                readIndex(weights, files, tensors);
            } else {
                SafetensorsFile file = SafetensorsFile.open(weights);
                files.add(file);
                for (String name : file.names()) {
                    add(tensors, file, name);
                }
            }
            checkRequired(weights, config, tensors);
            return new Checkpoint(path, weights, config, List.copyOf(files), Collections.unmodifiableMap(tensors));
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    /**
     * The tensors HeadSweep needs, with the shapes {@code config} implies (d = n_embd, V =
     * vocab_size, P = n_positions; Conv1D weights are [in, out]): every layer's ln_1 and attention
     * weights, layer 0's attention output bias, ln_2 and MLP, the final layer norm, and the token and
     * position embeddings.
     */
    public static Map<String, long[]> requiredShapes(GptConfig config) {
        long d = config.nEmbd();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (int l = 0; l < config.nLayer(); l++) {
            String h = "h." + l + ".";
            shapes.put(h + "ln_1.weight", new long[] {d});
            shapes.put(h + "ln_1.bias", new long[] {d});
            shapes.put(h + "attn.c_attn.weight", new long[] {d, 3 * d});
            shapes.put(h + "attn.c_attn.bias", new long[] {3 * d});
            shapes.put(h + "attn.c_proj.weight", new long[] {d, d});
        }
        shapes.put("h.0.attn.c_proj.bias", new long[] {d});
        shapes.put("h.0.ln_2.weight", new long[] {d});
        shapes.put("h.0.ln_2.bias", new long[] {d});
        shapes.put("h.0.mlp.c_fc.weight", new long[] {d, 4 * d});
        shapes.put("h.0.mlp.c_fc.bias", new long[] {4 * d});
        shapes.put("h.0.mlp.c_proj.weight", new long[] {4 * d, d});
        shapes.put("h.0.mlp.c_proj.bias", new long[] {d});
        shapes.put("ln_f.weight", new long[] {d});
        shapes.put("ln_f.bias", new long[] {d});
        shapes.put("wte.weight", new long[] {config.vocabSize(), d});
        shapes.put("wpe.weight", new long[] {config.nPositions(), d});
        return shapes;
    }

    /** The hyperparameters from {@code config.json}. */
    public GptConfig config() {
        return config;
    }

    /** The path this checkpoint was opened from (a directory or a weights file). */
    public Path path() {
        return path;
    }

    /** The storage dtype of the token embedding, taken as the checkpoint's dtype. */
    public Dtype dtype() {
        Source wte = source("wte.weight");
        return wte.file().dtype(wte.storedName());
    }

    /** Whether the checkpoint holds a tensor with this (unprefixed) name. */
    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /** The dimensions of tensor {@code name}. */
    public long[] shape(String name) {
        Source s = source(name);
        return s.file().info(s.storedName()).shape();
    }

    /** A fresh fp32 copy of tensor {@code name}, row-major. */
    public float[] floats(String name) {
        Source s = source(name);
        return s.file().readFloats(s.storedName());
    }

    /**
     * Reads elements {@code [firstElement, firstElement + count)} of tensor {@code name} (row-major)
     * as fp32 into {@code dst[dstOffset...]}, e.g. some rows of {@code wte.weight}.
     */
    public void floats(String name, long firstElement, float[] dst, int dstOffset, int count) {
        Source s = source(name);
        s.file().readFloats(s.storedName(), firstElement, dst, dstOffset, count);
    }

    /**
     * Reads {@code rows} runs of {@code len} elements of tensor {@code name} (row-major), run
     * {@code q} from element {@code first + q·stride}, as fp32 into {@code dst[q·len ...]}: e.g. the
     * value columns of {@code c_attn.weight} alone.
     */
    public void floats(String name, long first, int len, long stride, int rows, float[] dst) {
        Source s = source(name);
        s.file().readFloats(s.storedName(), first, len, stride, rows, dst);
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }

    private Source source(String name) {
        Source s = tensors.get(name);
        if (s == null) {
            throw new HeadSweepException(weights + ": tensor " + name + " is missing");
        }
        return s;
    }

    /** The weights file of a checkpoint directory. */
    private static Path weightsIn(Path dir) {
        Path single = dir.resolve(WEIGHTS_FILE);
        if (Files.isRegularFile(single)) {
            return single;
        }
        Path index = dir.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return index;
        }
        try (Stream<Path> entries = Files.list(dir)) {
            Path pickle = entries.filter(Checkpoint::isPickle).sorted().findFirst().orElse(null);
            if (pickle != null) {
                throw pickle(dir, pickle);
            }
        } catch (IOException e) {
            throw new HeadSweepException(dir + ": cannot list the directory: " + Json.firstLine(e.getMessage()), e);
        }
        throw new HeadSweepException(dir + ": no " + WEIGHTS_FILE + " or " + INDEX_FILE + " in this directory");
    }

    private static boolean isPickle(Path file) {
        String name = file.getFileName().toString();
        return name.endsWith(".bin") || name.endsWith(".bin.index.json") || name.endsWith(".pt")
                || name.endsWith(".pth") || name.endsWith(".ckpt");
    }

    private static HeadSweepException pickle(Path where, Path pickle) {
        return new HeadSweepException(where + ": found " + pickle.getFileName() + " but no " + WEIGHTS_FILE
                + "; pickle checkpoints can run arbitrary code when loaded, so HeadSweep does not read them:"
                + " convert to safetensors first (e.g. save_pretrained(dir, safe_serialization=True))");
    }

    /** Opens every shard named by the index and maps each listed tensor to its shard. */
    private static void readIndex(Path index, List<SafetensorsFile> files, Map<String, Source> tensors) {
        JsonObject json = Json.readObject(index);
        JsonElement weightMap = json.get("weight_map");
        if (weightMap == null || !weightMap.isJsonObject()) {
            throw new HeadSweepException(index + ": \"weight_map\" is missing or not a JSON object");
        }
        Path dir = index.toAbsolutePath().getParent().normalize();
        Map<Path, SafetensorsFile> shards = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> entry : weightMap.getAsJsonObject().entrySet()) {
            String name = entry.getKey();
            JsonElement value = entry.getValue();
            if (!value.isJsonPrimitive() || !value.getAsJsonPrimitive().isString()) {
                throw new HeadSweepException(index + ": weight_map entry for " + name + " is not a file name: " + value);
            }
            Path shardPath = dir.resolve(value.getAsString()).normalize();
            if (!shardPath.getParent().equals(dir)) {
                throw new HeadSweepException(index + ": shard \"" + value.getAsString() + "\" of tensor " + name
                        + " is not a file in the checkpoint directory");
            }
            SafetensorsFile shard = shards.get(shardPath);
            if (shard == null) {
                shard = SafetensorsFile.open(shardPath);
                files.add(shard);
                shards.put(shardPath, shard);
            }
            if (!shard.names().contains(name)) {
                throw new HeadSweepException(shardPath + ": has no tensor " + name + ", but " + index.getFileName()
                        + " says it is here");
            }
            add(tensors, shard, name);
        }
    }

    /** Registers {@code storedName} from {@code file} under its unprefixed name. */
    private static void add(Map<String, Source> tensors, SafetensorsFile file, String storedName) {
        String name = storedName.startsWith(PREFIX) ? storedName.substring(PREFIX.length()) : storedName;
        Source earlier = tensors.put(name, new Source(file, storedName));
        if (earlier != null) {
            throw new HeadSweepException(file.path() + ": tensor " + name + " appears twice (as "
                    + earlier.storedName() + " and " + storedName + ")");
        }
    }

    /** Every needed tensor is present, readable and shaped as the config implies. */
    private static void checkRequired(Path weights, GptConfig config, Map<String, Source> tensors) {
        for (Map.Entry<String, long[]> required : requiredShapes(config).entrySet()) {
            String name = required.getKey();
            Source s = tensors.get(name);
            if (s == null) {
                throw new HeadSweepException(weights + ": tensor " + name + " is missing");
            }
            long[] shape = s.file().info(s.storedName()).shape();
            if (!Arrays.equals(shape, required.getValue())) {
                throw new HeadSweepException(s.file().path() + ": tensor " + name + " has shape "
                        + Arrays.toString(shape) + " but " + CONFIG_FILE + " implies "
                        + Arrays.toString(required.getValue()));
            }
            s.file().dtype(s.storedName());
        }
    }
}
