package dev.headsweep.hub;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.headsweep.checkpoint.Checkpoint;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.checkpoint.GptConfig;
import dev.headsweep.checkpoint.NamedTensor;
import dev.headsweep.checkpoint.SafetensorsWriter;
import dev.headsweep.reference.RandomCheckpoints;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/** Checkpoints for the hub tests: tiny ones, sharded ones, and placing a folder into a hub cache. */
final class TestModels {
    /** One layer, two heads of 8, vocabulary 300: a valid checkpoint of about 20 KB. */
    static final GptConfig TINY = new GptConfig(1, 2, 16, 300, 8, 1e-5);

    private TestModels() {
    }

    /** A tiny random checkpoint (config.json and model.safetensors) in {@code dir}. */
    static Path tiny(Path dir, long seed) {
        SafetensorsWriter.writeCheckpoint(dir, TINY, RandomCheckpoints.tensors(TINY, seed), Dtype.F32, "");
        return dir;
    }

    /**
     * Writes {@code config.json}, {@code shards} files {@code model-0000i-of-0000n.safetensors} (the
     * tensors dealt out in order) and {@code model.safetensors.index.json}, as {@code save_pretrained}
     * does for large models.
     */
    static Path sharded(Path dir, GptConfig config, List<NamedTensor> tensors, Dtype dtype, String prefix, int shards) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(Checkpoint.CONFIG_FILE), config.toJson());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        JsonObject weightMap = new JsonObject();
        long total = 0;
        int per = (tensors.size() + shards - 1) / shards;
        for (int s = 0; s < shards; s++) {
            String file = String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", s + 1, shards);
            List<NamedTensor> part = tensors.subList(Math.min(tensors.size(), s * per),
                    Math.min(tensors.size(), (s + 1) * per));
            SafetensorsWriter.write(dir.resolve(file), part, dtype, prefix);
            for (NamedTensor t : part) {
                weightMap.addProperty(prefix + t.name(), file);
                total += (long) t.data().length * dtype.byteSize();
            }
        }
        JsonObject index = new JsonObject();
        JsonObject metadata = new JsonObject();
        metadata.addProperty("total_size", total);
        index.add("metadata", metadata);
        index.add("weight_map", weightMap);
        try {
            Files.writeString(dir.resolve(Checkpoint.INDEX_FILE), new GsonBuilder().setPrettyPrinting().create()
                    .toJson(index) + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    /**
     * Moves every file of checkpoint folder {@code dir} into {@code cache} in the hub layout, as
     * {@code transformers} would have left it: {@code blobs/{sha256 or git sha}},
     * {@code snapshots/{commit}/{file}} as relative symlinks, and {@code refs/main}.
     *
     * @return the snapshot folder
     */
    static Path placeInCache(Path dir, Path cache, String repoId, String commit) {
        Path repo = cache.resolve("models--" + repoId.replace("/", "--"));
        Path snapshot = repo.resolve("snapshots").resolve(commit);
        try (Stream<Path> s = Files.list(dir)) {
            Files.createDirectories(repo.resolve("blobs"));
            Files.createDirectories(snapshot);
            for (Path file : s.sorted().toList()) {
                String name = file.getFileName().toString();
                String etag = FakeHub.isLfs(name) ? sha256(file) : FakeHub.gitBlobSha1(Files.readAllBytes(file));
                Path blob = repo.resolve("blobs").resolve(etag);
                Files.move(file, blob);
                Files.createSymbolicLink(snapshot.resolve(name), Path.of("..", "..", "blobs", etag));
            }
            Files.createDirectories(repo.resolve("refs"));
            Files.writeString(repo.resolve("refs").resolve("main"), commit);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return snapshot;
    }

    /** The sha256 of a file, streamed. */
    static String sha256(Path file) throws IOException {
        try (var in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 20];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                md.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The names in a folder, sorted. */
    static List<String> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return new ArrayList<>(s.map(p -> p.getFileName().toString()).sorted().toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
