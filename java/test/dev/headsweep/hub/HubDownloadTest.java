package dev.headsweep.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweepException;
import dev.headsweep.checkpoint.Checkpoint;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.engine.Progress;
import dev.headsweep.reference.RandomCheckpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Downloads from a fake hub on 127.0.0.1 (see {@link FakeHub}) into a temporary cache: the layout
 * transformers reads, redirects, resume after a dropped connection (in the same run and in the
 * next), checksum rejection, gated repos and tokens, offline mode, sharded checkpoints, and the
 * refusals (pickle only, not GPT-2, no such repo or revision).
 */
class HubDownloadTest {
    @TempDir
    static Path models;
    @TempDir
    Path work;
    static byte[] config;
    static byte[] weights;
    static Path shardedDir;

    FakeHub hub;
    Path cache;

    @BeforeAll
    static void writeCheckpoints() throws IOException {
        Path tiny = TestModels.tiny(models.resolve("tiny"), 11);
        config = Files.readAllBytes(tiny.resolve("config.json"));
        weights = Files.readAllBytes(tiny.resolve("model.safetensors"));
        shardedDir = TestModels.sharded(models.resolve("sharded"), TestModels.TINY,
                RandomCheckpoints.tensors(TestModels.TINY, 12), Dtype.BF16, "transformer.", 3);
    }

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub();
        cache = work.resolve("hub-cache");
        hub.repo("openai-community/gpt2").put("config.json", config).put("model.safetensors", weights);
        hub.rename("gpt2", "openai-community/gpt2");
    }

    @AfterEach
    void stop() throws IOException {
        hub.close();
    }

    private HubSettings settings(String... extra) {
        Map<String, String> env = new HashMap<>();
        env.put("HF_HUB_CACHE", cache.toString());
        env.put("HF_ENDPOINT", hub.endpoint());
        for (int i = 0; i < extra.length; i += 2) {
            env.put(extra[i], extra[i + 1]);
        }
        return HubSettings.of(env, work.resolve("home")).withRetries(3, Duration.ofMillis(10));
    }

    private Path find(String model, String... env) {
        return new ModelLocator(settings(env)).find(model, Progress.NONE);
    }

    private HeadSweepException fails(String model, String... env) {
        return assertThrows(HeadSweepException.class, () -> find(model, env));
    }

    private static void oneLine(HeadSweepException e, String... mentions) {
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        for (String m : mentions) {
            assertTrue(e.getMessage().contains(m), "should mention \"" + m + "\": " + e.getMessage());
        }
    }

    private Path repoDir(String repoId) {
        return cache.resolve("models--" + repoId.replace("/", "--"));
    }

    @Test
    void gpt2IsDownloadedIntoTheLayoutTransformersReads() throws IOException {
        String commit = hub.repo("openai-community/gpt2").commit;
        AtomicLong downloaded = new AtomicLong();
        Path snapshot = new ModelLocator(settings()).find("gpt2", (stage, done, total) -> {
            if (stage.equals("download model.safetensors")) {
                downloaded.set(done);
                assertEquals(weights.length, total);
            }
        });

        Path repo = repoDir("gpt2");
        assertEquals(repo.resolve("snapshots").resolve(commit), snapshot);
        assertEquals(commit, Files.readString(repo.resolve("refs/main")), "refs/main holds the bare commit hash");
        String configEtag = FakeHub.gitBlobSha1(config);
        String weightsEtag = FakeHub.sha256(weights);
        assertEquals(List.of(configEtag, weightsEtag).stream().sorted().toList(), TestModels.list(repo.resolve("blobs")),
                "blobs are named by their ETag, and nothing else is left there");
        for (var e : Map.of("config.json", configEtag, "model.safetensors", weightsEtag).entrySet()) {
            Path link = snapshot.resolve(e.getKey());
            assertTrue(Files.isSymbolicLink(link), link + " is a symlink");
            assertEquals(Path.of("../../blobs/" + e.getValue()), Files.readSymbolicLink(link), "relative link");
        }
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertEquals(weights.length, downloaded.get(), "progress reached the whole file");
        try (Checkpoint c = Checkpoint.open(snapshot)) {
            assertEquals(TestModels.TINY, c.config());
        }
        // the renamed repo's relative redirect was followed; the LFS file came from the CDN
        assertTrue(hub.seen("hub", "HEAD").stream().anyMatch(s -> s.path().startsWith("/gpt2/resolve/main/config.json")));
        assertTrue(hub.seen("hub", "HEAD").stream().anyMatch(s -> s.path().startsWith("/openai-community/gpt2/resolve/")));
        assertEquals(1, hub.seen("cdn", "GET").size());
        assertTrue(hub.seen("hub", "GET").stream().noneMatch(s -> s.path().endsWith("model.safetensors")),
                "the weights are fetched from the CDN address of the HEAD answer");
    }

    @Test
    void aDownloadedModelIsFoundAgainWithoutTheServer() throws IOException {
        Path first = find("gpt2");
        int requests = hub.seen.size();
        hub.close();
        assertEquals(first, find("gpt2"));
        String commit = hub.repo("openai-community/gpt2").commit;
        assertEquals(first, find("gpt2@" + commit), "a commit hash needs no refs entry");
        assertEquals(requests, hub.seen.size());
    }

    @Test
    void offlineUsesTheCacheAndNeverTheNetwork() {
        HeadSweepException e = fails("gpt2", "HF_HUB_OFFLINE", "1");
        oneLine(e, "gpt2", "HF_HUB_OFFLINE", cache.toString(), "no models--gpt2/refs/main");
        String hash = "0123456789abcdef0123456789abcdef01234567";
        oneLine(fails("gpt2@" + hash, "HF_HUB_OFFLINE", "1"), "not in the Hugging Face cache",
                "no models--gpt2/snapshots/" + hash);
        assertEquals(List.of(), hub.seen, "offline: no request");

        Path snapshot = find("gpt2");
        hub.seen.clear();
        assertEquals(snapshot, find("gpt2", "HF_HUB_OFFLINE", "true"));
        assertEquals(List.of(), hub.seen);
    }

    @Test
    void offlineWithAnIncompleteSnapshotSaysWhatIsMissing() throws IOException {
        Path snapshot = find("gpt2");
        Files.delete(snapshot.resolve("model.safetensors"));
        oneLine(fails("gpt2", "HF_HUB_OFFLINE", "1"), "model.safetensors", "HF_HUB_OFFLINE");
        assertEquals(snapshot, find("gpt2"), "online, the missing file is linked again");
        assertTrue(Files.isSymbolicLink(snapshot.resolve("model.safetensors")));
    }

    @Test
    void aDroppedConnectionIsResumedWithARangeRequest() throws IOException {
        hub.drop("model.safetensors", 2, 4000);
        Path snapshot = find("gpt2");
        List<FakeHub.Seen> gets = hub.seen("cdn", "GET");
        assertEquals(3, gets.size(), gets::toString);
        assertNull(gets.get(0).range());
        assertEquals("bytes=4000-", gets.get(1).range());
        assertEquals("bytes=8000-", gets.get(2).range());
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
    }

    @Test
    void anInterruptedDownloadLeavesNothingThatLooksCompleteAndResumesNextRun() throws IOException {
        hub.drop("model.safetensors", 3, 5000);
        HeadSweepException e = fails("gpt2");
        oneLine(e, "model.safetensors", "run again to resume", "3 tries");
        String sha = FakeHub.sha256(weights);
        Path blobs = repoDir("gpt2").resolve("blobs");
        Path snapshot = repoDir("gpt2").resolve("snapshots").resolve(hub.repo("openai-community/gpt2").commit);
        assertEquals(15000, Files.size(blobs.resolve(sha + ".incomplete")), "three tries of 5000 bytes kept");
        assertFalse(Files.exists(blobs.resolve(sha)));
        assertFalse(Files.exists(snapshot.resolve("model.safetensors"), LinkOption.NOFOLLOW_LINKS),
                "no snapshot entry for an unfinished file");
        oneLine(fails("gpt2", "HF_HUB_OFFLINE", "1"), "model.safetensors");

        hub.seen.clear();
        Path again = find("gpt2");
        assertEquals(snapshot, again);
        List<FakeHub.Seen> gets = hub.seen("cdn", "GET");
        assertEquals(1, gets.size());
        assertEquals("bytes=15000-", gets.get(0).range(), "the next run continues where the last stopped");
        assertArrayEquals(weights, Files.readAllBytes(again.resolve("model.safetensors")));
        assertEquals(FakeHub.sha256(weights), TestModels.sha256(blobs.resolve(sha)));
        assertFalse(Files.exists(blobs.resolve(sha + ".incomplete")));
    }

    @Test
    void aCorruptDownloadIsRejectedAndNothingIsCached() throws IOException {
        hub.corrupt("model.safetensors", true);
        oneLine(fails("gpt2"), "model.safetensors", "sha256", "nothing was cached");
        Path repo = repoDir("gpt2");
        String sha = FakeHub.sha256(weights);
        assertEquals(List.of(FakeHub.gitBlobSha1(config)), TestModels.list(repo.resolve("blobs")),
                "neither the bad blob nor its .incomplete stays");
        Path snapshot = repo.resolve("snapshots").resolve(hub.repo("openai-community/gpt2").commit);
        assertFalse(Files.exists(snapshot.resolve("model.safetensors"), LinkOption.NOFOLLOW_LINKS));

        hub.corrupt("model.safetensors", false);
        assertArrayEquals(weights, Files.readAllBytes(find("gpt2").resolve("model.safetensors")));
        assertTrue(Files.exists(repo.resolve("blobs").resolve(sha)));
    }

    @Test
    void aResumedDownloadThatDoesNotAddUpIsRejectedToo() throws IOException {
        // a stale .incomplete whose bytes differ from the hub's file: the checksum catches it
        Path blobs = Files.createDirectories(repoDir("gpt2").resolve("blobs"));
        String sha = FakeHub.sha256(weights);
        Files.write(blobs.resolve(sha + ".incomplete"), new byte[3000]);
        oneLine(fails("gpt2"), "sha256");
        assertFalse(Files.exists(blobs.resolve(sha + ".incomplete")));
        assertFalse(Files.exists(blobs.resolve(sha)));
        assertEquals("bytes=3000-", hub.seen("cdn", "GET").get(0).range());
        assertArrayEquals(weights, Files.readAllBytes(find("gpt2").resolve("model.safetensors")), "and a clean retry works");
    }

    @Test
    void aGatedRepoNeedsHfToken() throws IOException {
        hub.repo("meta/gated").put("config.json", config).put("model.safetensors", weights).gated("hf_secret");
        oneLine(fails("meta/gated"), "meta/gated", "HTTP 401", "gated", "HF_TOKEN");
        oneLine(fails("meta/gated", "HF_TOKEN", "hf_wrong"), "HF_TOKEN", "does not give access");
        assertFalse(Files.exists(repoDir("meta/gated").resolve("snapshots")));

        hub.seen.clear();
        Path snapshot = find("meta/gated", "HF_TOKEN", "hf_secret");
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertTrue(hub.seen.stream().filter(s -> s.server().equals("hub"))
                .allMatch(s -> "Bearer hf_secret".equals(s.authorization())), "the token goes to the hub");
        assertTrue(hub.seen.stream().filter(s -> s.server().equals("cdn"))
                .allMatch(s -> s.authorization() == null), "but never to the CDN on another host");
    }

    @Test
    void theTokenFileOfHuggingfaceCliLoginIsUsed() throws IOException {
        hub.repo("meta/gated").put("config.json", config).put("model.safetensors", weights).gated("hf_from_file");
        Path home = Files.createDirectories(work.resolve("hf-home"));
        Files.writeString(home.resolve("token"), "hf_from_file\n");
        assertTrue(Files.exists(find("meta/gated", "HF_HOME", home.toString()).resolve("model.safetensors")));
    }

    @Test
    void aShardedCheckpointIsDownloadedWithItsIndex() throws IOException {
        FakeHub.Repo repo = hub.repo("org/sharded").putAll(shardedDir);
        Path snapshot = find("org/sharded");
        assertEquals(List.of("config.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                "model-00003-of-00003.safetensors", "model.safetensors.index.json"), TestModels.list(snapshot));
        for (String f : TestModels.list(snapshot)) {
            assertTrue(Files.isSymbolicLink(snapshot.resolve(f)));
            assertArrayEquals(repo.files.get(f), Files.readAllBytes(snapshot.resolve(f)));
        }
        assertTrue(Files.exists(repoDir("org/sharded").resolve(".no_exist").resolve(repo.commit).resolve("model.safetensors")),
                "the absent single file is recorded as huggingface_hub does");
        try (Checkpoint c = Checkpoint.open(snapshot)) {
            assertEquals(Dtype.BF16, c.dtype());
        }
        hub.close();
        assertEquals(snapshot, find("org/sharded"), "complete in the cache: no network needed");
    }

    @Test
    void aRevisionIsRecordedInRefs() throws IOException {
        FakeHub.Repo repo = hub.repo("org/model").put("config.json", config).put("model.safetensors", weights);
        repo.branches.add("refs/pr/1");
        Path snapshot = find("org/model@refs/pr/1");
        assertEquals(repo.commit, Files.readString(repoDir("org/model").resolve("refs/refs/pr/1")));
        assertTrue(hub.seen.get(0).path().contains("/resolve/refs%2Fpr%2F1/config.json"), hub.seen.get(0).toString());
        assertEquals(snapshot, find("org/model@refs/pr/1", "HF_HUB_OFFLINE", "1"));
        oneLine(fails("org/model@v9"), "org/model@v9", "no revision \"v9\"");
    }

    @Test
    void aMissingRepoIsNamed() {
        // org/nothing might as well be a mistyped path: the message says it is neither
        oneLine(fails("org/nothing"), "\"org/nothing\": no such file or folder, and no model repo", "HF_TOKEN");
        oneLine(fails("org/nothing", "HF_HUB_OFFLINE", "1"), "\"org/nothing\": no such file or folder, and not in the"
                + " Hugging Face cache");
        oneLine(fails("org/nothing", "HF_TOKEN", "hf_x"), "no model repo");
    }

    @Test
    void aPickleOnlyRepoIsRefusedWithoutDownloadingThePickle() {
        hub.repo("org/pickled").put("config.json", config).put("pytorch_model.bin", new byte[] {1, 2, 3});
        oneLine(fails("org/pickled"), "pytorch_model.bin", "arbitrary code", "safetensors", "refs/pr/");
        assertTrue(hub.seenFor("pytorch_model.bin").stream().allMatch(s -> s.method().equals("HEAD")));
    }

    @Test
    void aRepoWithoutWeightsIsNamed() {
        hub.repo("org/empty").put("config.json", config);
        oneLine(fails("org/empty"), "org/empty", "no model.safetensors");
    }

    @Test
    void aModelThatIsNotGpt2IsRefusedBeforeItsWeights() {
        hub.repo("meta/llama").put("config.json", "{\"model_type\": \"llama\", \"architectures\": [\"LlamaForCausalLM\"]}")
                .put("model.safetensors", weights);
        oneLine(fails("meta/llama"), "not a GPT-2 model", "llama", "LlamaForCausalLM");
        assertEquals(List.of(), hub.seenFor("model.safetensors"));
    }

    @Test
    void aGpt2ArchitectureWithoutModelTypeIsAccepted() {
        String cfg = new String(config, java.nio.charset.StandardCharsets.UTF_8)
                .replace("\"model_type\": \"gpt2\",", "\"architectures\": [\"GPT2LMHeadModel\"],");
        hub.repo("org/old").put("config.json", cfg).put("model.safetensors", weights);
        assertTrue(Files.exists(find("org/old").resolve("model.safetensors")));
    }

    @Test
    void anUnreachableHubIsNamedWithTheWayOut() throws IOException {
        hub.close();
        oneLine(fails("gpt2"), "gpt2: cannot reach " + hub.endpoint(), "HF_HUB_OFFLINE", "HF_ENDPOINT");
        oneLine(fails("models/my-gpt2"), "\"models/my-gpt2\": no such file or folder, and cannot reach");
    }

    @Test
    void anExistingPathIsNotAName() throws IOException {
        Path dir = Files.createDirectories(work.resolve("gpt2"));
        assertEquals(dir, find(dir.toString()));
        assertEquals(List.of(), hub.seen);
    }
}
