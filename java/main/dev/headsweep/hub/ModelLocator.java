package dev.headsweep.hub;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.headsweep.HeadSweepException;
import dev.headsweep.checkpoint.Checkpoint;
import dev.headsweep.engine.Progress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Turns what a user passes as {@code --model} into a checkpoint on disk: an existing path is used
 * as it is; anything else is a {@link ModelName} ({@code gpt2}, {@code org/name@revision}), found
 * in the Hugging Face hub cache or downloaded into it.
 *
 * <p>A name whose snapshot in the cache is complete ({@code config.json} and
 * {@code model.safetensors}, or the index and all its shards) is used without any network access,
 * whoever downloaded it; a branch name then means the commit its {@code refs/} entry names. Only
 * when something is missing is the hub asked, and then only for what is missing:
 * {@code config.json} first (which must describe a GPT-2 model), then {@code model.safetensors},
 * else {@code model.safetensors.index.json} and its shards. A repo with only
 * {@code pytorch_model.bin} is refused (pickle files can run code). With
 * {@code HF_HUB_OFFLINE=1} the cache is all there is.
 */
public final class ModelLocator {
    static final String PICKLE_FILE = "pytorch_model.bin";
    private static final String PICKLE_ADVICE = "pickle checkpoints can run arbitrary code when loaded, so HeadSweep"
            + " does not read them: convert to safetensors first (e.g. save_pretrained(dir, safe_serialization=True))"
            + " and pass that folder to --model";

    private final HubSettings settings;

    public ModelLocator(HubSettings settings) {
        this.settings = settings;
    }

    /** {@link #find} with the process's environment. */
    public static Path locate(String model, Progress progress) {
        return new ModelLocator(HubSettings.fromEnvironment()).find(model, progress);
    }

    /**
     * An existing file or folder named {@code model} is returned as it is (a checkpoint folder or a
     * .safetensors file; {@link Checkpoint#open} checks it); anything else must be a model name,
     * and the answer is its snapshot folder in the hub cache.
     *
     * @throws HeadSweepException (one line) for a malformed name, a model that is not GPT-2, not
     *     cached while offline, refused by the hub, or a failed download
     */
    public Path find(String model, Progress progress) {
        if (model == null || model.isBlank()) {
            throw new HeadSweepException("no model given: pass a checkpoint folder, a .safetensors file or a name such"
                    + " as gpt2");
        }
        try {
            Path p = Path.of(model);
            if (Files.exists(p)) {
                return p;
            }
        } catch (InvalidPathException notAPath) {
            // then it can only be a name
        }
        ModelName name = ModelName.parse(model);
        try {
            return resolve(name, progress);
        } catch (NotFound e) {
            if (model.contains("/")) { // perhaps a mistyped path: say that it is not one either
                throw new HeadSweepException("\"" + model + "\": no such file or folder, and " + e.detail(), e);
            }
            throw e;
        }
    }

    /** The snapshot folder of {@code name}: from the cache if complete there, else downloaded. */
    public Path resolve(ModelName name, Progress progress) {
        HubCache cache = new HubCache(settings.cacheDir());
        Path snapshot = cache.commit(name).map(c -> cache.snapshot(name, c)).filter(Files::isDirectory).orElse(null);
        if (snapshot != null) {
            List<String> missing = missing(snapshot);
            if (missing.isEmpty()) {
                checkGpt2(name, snapshot.resolve(Checkpoint.CONFIG_FILE));
                return snapshot;
            }
            if (settings.offline()) {
                if (Files.exists(snapshot.resolve(Checkpoint.CONFIG_FILE))) {
                    checkGpt2(name, snapshot.resolve(Checkpoint.CONFIG_FILE));
                }
                if (missing.contains(Checkpoint.WEIGHTS_FILE) && Files.exists(snapshot.resolve(PICKLE_FILE))) {
                    throw new HeadSweepException(name + ": the cached snapshot " + snapshot + " has " + PICKLE_FILE
                            + " but no " + Checkpoint.WEIGHTS_FILE + "; " + PICKLE_ADVICE);
                }
                throw new HeadSweepException(name + ": the cached snapshot " + snapshot + " lacks "
                        + String.join(", ", missing) + ", and HF_HUB_OFFLINE=1 forbids downloading; unset it to"
                        + " download the rest");
            }
        } else if (settings.offline()) {
            String lookedFor = cache.repoDir(name).getFileName() + "/"
                    + (name.isCommit() ? "snapshots/" : "refs/") + name.revision();
            throw new NotFound(name, "not in the Hugging Face cache at " + settings.cacheDir() + " (no " + lookedFor
                    + "), and HF_HUB_OFFLINE=1 forbids downloading it; unset HF_HUB_OFFLINE, or set HF_HUB_CACHE to"
                    + " the cache that has it");
        }
        return download(cache, name, progress);
    }

    /** Fetches whatever the snapshot lacks. */
    private Path download(HubCache cache, ModelName name, Progress progress) {
        HubClient client = new HubClient(settings);
        HubClient.FileMetadata config = client.head(name, name.revision(), Checkpoint.CONFIG_FILE)
                .orElseThrow(() -> new HeadSweepException(name + ": the repo has no " + Checkpoint.CONFIG_FILE
                        + " at revision " + name.revision() + " on " + client.endpoint()
                        + ", so it is not a transformers model"));
        String commit = config.commit();
        cache.writeRef(name, commit);
        Path snapshot = cache.snapshot(name, commit);
        fetch(client, cache, name, commit, config, progress);
        checkGpt2(name, snapshot.resolve(Checkpoint.CONFIG_FILE));

        if (Files.exists(snapshot.resolve(Checkpoint.WEIGHTS_FILE))) {
            return snapshot;
        }
        if (!Files.exists(snapshot.resolve(Checkpoint.INDEX_FILE))) {
            Optional<HubClient.FileMetadata> weights = client.head(name, commit, Checkpoint.WEIGHTS_FILE);
            if (weights.isPresent()) {
                fetch(client, cache, name, commit, weights.get(), progress);
                return snapshot;
            }
            cache.markMissing(name, commit, Checkpoint.WEIGHTS_FILE);
            Optional<HubClient.FileMetadata> index = client.head(name, commit, Checkpoint.INDEX_FILE);
            if (index.isEmpty()) {
                cache.markMissing(name, commit, Checkpoint.INDEX_FILE);
                boolean pickle = client.head(name, commit, PICKLE_FILE).isPresent();
                throw new HeadSweepException(name + ": the repo (commit " + commit + " on " + client.endpoint()
                        + ") has no " + Checkpoint.WEIGHTS_FILE + " and no " + Checkpoint.INDEX_FILE
                        + (pickle ? ", only " + PICKLE_FILE + "; " + PICKLE_ADVICE
                                + " (or name a revision that has safetensors, e.g. the hub's conversion pull request:"
                                + " " + name.repoId() + "@refs/pr/N)" : ""));
            }
            fetch(client, cache, name, commit, index.get(), progress);
        }
        for (String shard : shards(name, snapshot.resolve(Checkpoint.INDEX_FILE))) {
            if (!Files.exists(snapshot.resolve(shard))) {
                HubClient.FileMetadata meta = client.head(name, commit, shard)
                        .orElseThrow(() -> new HeadSweepException(name + ": " + Checkpoint.INDEX_FILE + " lists the shard "
                                + shard + ", but the repo (commit " + commit + ") has no such file"));
                fetch(client, cache, name, commit, meta, progress);
            }
        }
        return snapshot;
    }

    /** Puts one file into the snapshot: downloads its blob unless cached, then links it. */
    private static void fetch(HubClient client, HubCache cache, ModelName name, String commit,
                              HubClient.FileMetadata meta, Progress progress) {
        if (!meta.commit().equals(commit)) {
            throw new HeadSweepException(name + ": the hub answered for commit " + meta.commit() + " while asked for "
                    + commit + " (" + meta.file() + ")");
        }
        if (!Files.exists(cache.blob(name, meta.etag()))) {
            client.download(name, meta, cache, progress);
        }
        cache.link(name, commit, meta.file(), meta.etag());
    }

    /** What a snapshot lacks to be a checkpoint: config, weights or index, shards. Empty when complete. */
    static List<String> missing(Path snapshot) {
        List<String> missing = new ArrayList<>();
        if (!Files.exists(snapshot.resolve(Checkpoint.CONFIG_FILE))) {
            missing.add(Checkpoint.CONFIG_FILE);
        }
        if (Files.exists(snapshot.resolve(Checkpoint.WEIGHTS_FILE))) {
            return missing;
        }
        Path index = snapshot.resolve(Checkpoint.INDEX_FILE);
        if (!Files.exists(index)) {
            missing.add(Checkpoint.WEIGHTS_FILE);
            return missing;
        }
        try {
            for (String shard : shards(null, index)) {
                if (!Files.exists(snapshot.resolve(shard))) {
                    missing.add(shard);
                }
            }
        } catch (HeadSweepException damaged) {
            missing.add(Checkpoint.INDEX_FILE);
        }
        return missing;
    }

    /** The shard files an index names, each once, in order. */
    private static Set<String> shards(ModelName name, Path index) {
        JsonObject json = readJson(name, index);
        JsonElement map = json.get("weight_map");
        if (map == null || !map.isJsonObject()) {
            throw new HeadSweepException(index + ": \"weight_map\" is missing or not a JSON object");
        }
        Set<String> shards = new LinkedHashSet<>();
        for (var e : map.getAsJsonObject().entrySet()) {
            JsonElement v = e.getValue();
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()
                    || v.getAsString().contains("/") || v.getAsString().contains("\\") || v.getAsString().startsWith(".")) {
                throw new HeadSweepException(index + ": weight_map entry for " + e.getKey()
                        + " is not a file name in the checkpoint folder: " + v);
            }
            shards.add(v.getAsString());
        }
        return shards;
    }

    /**
     * Refuses a model that is not GPT-2: its config.json must say {@code "model_type": "gpt2"} or
     * list a GPT2* class in {@code architectures}.
     */
    static void checkGpt2(ModelName name, Path configFile) {
        JsonObject json = readJson(name, configFile);
        JsonElement type = json.get("model_type");
        String modelType = type != null && type.isJsonPrimitive() ? type.getAsString() : null;
        List<String> architectures = new ArrayList<>();
        JsonElement archs = json.get("architectures");
        if (archs != null && archs.isJsonArray()) {
            for (JsonElement a : archs.getAsJsonArray()) {
                if (a.isJsonPrimitive()) {
                    architectures.add(a.getAsString());
                }
            }
        }
        if ("gpt2".equals(modelType) || architectures.stream().anyMatch(a -> a.startsWith("GPT2"))) {
            return;
        }
        throw new HeadSweepException((name == null ? "" : name + ": ") + "not a GPT-2 model: its config.json ("
                + configFile + ") says model_type " + (modelType == null ? "(none)" : "\"" + modelType + "\"")
                + " and architectures " + architectures + "; HeadSweep scores GPT-2 heads only");
    }

    private static JsonObject readJson(ModelName name, Path file) {
        try {
            JsonElement e = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
            if (!e.isJsonObject()) {
                throw new HeadSweepException(file + ": not a JSON object");
            }
            return e.getAsJsonObject();
        } catch (IOException e) {
            throw new HeadSweepException(file + ": cannot read" + (name == null ? "" : " (" + name + ")") + ": "
                    + e.getMessage(), e);
        } catch (JsonParseException e) {
            throw new HeadSweepException(file + ": not valid JSON: " + firstLine(e.getMessage()), e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "syntax error";
        }
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }
}
