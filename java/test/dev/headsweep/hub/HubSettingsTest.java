package dev.headsweep.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweepException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The environment read as huggingface_hub reads it. */
class HubSettingsTest {
    @TempDir
    Path home;

    private HubSettings env(String... kv) {
        java.util.HashMap<String, String> m = new java.util.HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return HubSettings.of(m, home);
    }

    @Test
    void theCacheFolder() {
        assertEquals(home.resolve(".cache/huggingface/hub"), env().cacheDir());
        assertEquals(Path.of("/x/cache/huggingface/hub"), env("XDG_CACHE_HOME", "/x/cache").cacheDir());
        assertEquals(Path.of("/hf/hub"), env("XDG_CACHE_HOME", "/x/cache", "HF_HOME", "/hf").cacheDir());
        assertEquals(Path.of("/cache"), env("HF_HOME", "/hf", "HF_HUB_CACHE", "/cache").cacheDir());
        assertEquals(home.resolve("hf/hub"), env("HF_HOME", "~/hf").cacheDir());
        assertEquals(home.resolve(".cache/huggingface/hub"), env("HF_HUB_CACHE", " ").cacheDir(), "blank is unset");
    }

    @Test
    void theEndpoint() {
        assertEquals("https://huggingface.co", env().endpoint());
        assertEquals("https://hf-mirror.com", env("HF_ENDPOINT", "https://hf-mirror.com/").endpoint());
        assertEquals("http://127.0.0.1:8080/hub", env("HF_ENDPOINT", "http://127.0.0.1:8080/hub").endpoint());
        HeadSweepException e = assertThrows(HeadSweepException.class, () -> env("HF_ENDPOINT", "hf-mirror.com").endpoint());
        assertTrue(e.getMessage().startsWith("HF_ENDPOINT=hf-mirror.com: not an http(s) URL"), e.getMessage());
    }

    @Test
    void offline() {
        assertFalse(env().offline());
        for (String yes : new String[] {"1", "true", "ON", "yes"}) {
            assertTrue(env("HF_HUB_OFFLINE", yes).offline(), yes);
        }
        for (String no : new String[] {"0", "false", "off", ""}) {
            assertFalse(env("HF_HUB_OFFLINE", no).offline(), no);
        }
    }

    @Test
    void theToken() throws IOException {
        assertEquals(Optional.empty(), env().token());
        Files.createDirectories(home.resolve(".cache/huggingface"));
        Files.writeString(home.resolve(".cache/huggingface/token"), "hf_file\n");
        assertEquals(Optional.of("hf_file"), env().token(), "huggingface-cli login's file");
        assertEquals(Optional.of("hf_old"), env("HUGGING_FACE_HUB_TOKEN", "hf_old").token());
        assertEquals(Optional.of("hf_env"), env("HUGGING_FACE_HUB_TOKEN", "hf_old", "HF_TOKEN", "hf_env").token());
        Path other = home.resolve("elsewhere");
        Files.writeString(other, "hf_path");
        assertEquals(Optional.of("hf_path"), env("HF_TOKEN_PATH", other.toString()).token());
    }

    @Test
    void fromTheProcessEnvironment() {
        HubSettings s = HubSettings.fromEnvironment();
        assertEquals(System.getenv("HF_HUB_CACHE") == null && System.getenv("HF_HOME") == null
                && System.getenv("XDG_CACHE_HOME") == null,
                s.cacheDir().equals(Path.of(System.getProperty("user.home"), ".cache", "huggingface", "hub")));
    }
}
