package dev.headsweep.hub;

import dev.headsweep.HeadSweepException;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The environment the hub code reads, as {@code huggingface_hub} reads it: where the cache is
 * ({@code HF_HUB_CACHE}, else {@code HF_HOME/hub}, else {@code ~/.cache/huggingface/hub}, with
 * {@code XDG_CACHE_HOME} standing in for {@code ~/.cache}), which hub to ask ({@code HF_ENDPOINT}),
 * the token ({@code HF_TOKEN}, else the file {@code huggingface-cli login} writes), and whether to
 * stay offline ({@code HF_HUB_OFFLINE}).
 *
 * <p>It is built from a map, so tests can point it at a temporary cache and a local server
 * without real environment variables; {@link #fromEnvironment()} uses the process's.
 */
public final class HubSettings {
    /** The public hub. */
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    private static final Set<String> TRUE = Set.of("1", "ON", "YES", "TRUE");

    private final Map<String, String> env;
    private final Path home;
    private final int attempts;
    private final Duration retryDelay;

    private HubSettings(Map<String, String> env, Path home, int attempts, Duration retryDelay) {
        this.env = Map.copyOf(env);
        this.home = home;
        this.attempts = attempts;
        this.retryDelay = retryDelay;
    }

    /** The process's environment and the user's home folder. */
    public static HubSettings fromEnvironment() {
        return of(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    /**
     * Settings from {@code env} (variable name to value), with {@code home} as {@code ~}. A download
     * that breaks off is retried (resuming) up to 4 times in all, 1 s apart, then more.
     */
    public static HubSettings of(Map<String, String> env, Path home) {
        return new HubSettings(env, home, 4, Duration.ofSeconds(1));
    }

    /** These settings with a download tried {@code attempts} times in all, waiting {@code delay × try} between. */
    public HubSettings withRetries(int attempts, Duration delay) {
        if (attempts < 1) {
            throw new IllegalArgumentException("attempts must be at least 1, got " + attempts);
        }
        return new HubSettings(env, home, attempts, delay);
    }

    /** The hub cache folder (it need not exist yet). */
    public Path cacheDir() {
        String cache = get("HF_HUB_CACHE");
        return cache != null ? expand(cache) : hfHome().resolve("hub");
    }

    /** {@code HF_HOME}, else {@code $XDG_CACHE_HOME/huggingface}, else {@code ~/.cache/huggingface}. */
    Path hfHome() {
        String hfHome = get("HF_HOME");
        if (hfHome != null) {
            return expand(hfHome);
        }
        String xdg = get("XDG_CACHE_HOME");
        return (xdg != null ? expand(xdg) : home.resolve(".cache")).resolve("huggingface");
    }

    /**
     * The hub's base URL without a trailing slash: {@code HF_ENDPOINT} or {@value #DEFAULT_ENDPOINT}.
     *
     * @throws HeadSweepException if HF_ENDPOINT is not an http(s) URL
     */
    public String endpoint() {
        String e = get("HF_ENDPOINT");
        if (e == null) {
            return DEFAULT_ENDPOINT;
        }
        e = e.strip();
        while (e.endsWith("/")) {
            e = e.substring(0, e.length() - 1);
        }
        try {
            URI uri = new URI(e);
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            if ((scheme.equals("http") || scheme.equals("https")) && uri.getHost() != null
                    && uri.getQuery() == null && uri.getFragment() == null) {
                return e;
            }
        } catch (URISyntaxException ignored) {
            // reported below
        }
        throw new HeadSweepException("HF_ENDPOINT=" + get("HF_ENDPOINT") + ": not an http(s) URL such as "
                + DEFAULT_ENDPOINT);
    }

    /**
     * The access token: {@code HF_TOKEN}, else (older name) {@code HUGGING_FACE_HUB_TOKEN}, else the
     * file at {@code HF_TOKEN_PATH} or {@code HF_HOME/token} (where {@code huggingface-cli login}
     * keeps it).
     */
    public Optional<String> token() {
        for (String key : new String[] {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
            String t = get(key);
            if (t != null) {
                return Optional.of(t.strip());
            }
        }
        String path = get("HF_TOKEN_PATH");
        Path file = path != null ? expand(path) : hfHome().resolve("token");
        try {
            if (Files.isRegularFile(file)) {
                String t = Files.readString(file, StandardCharsets.UTF_8).strip();
                return t.isEmpty() ? Optional.empty() : Optional.of(t);
            }
        } catch (IOException e) {
            // an unreadable token file is no token
        }
        return Optional.empty();
    }

    /** Where the token came from, for messages. */
    String tokenSource() {
        if (get("HF_TOKEN") != null) {
            return "HF_TOKEN";
        }
        if (get("HUGGING_FACE_HUB_TOKEN") != null) {
            return "HUGGING_FACE_HUB_TOKEN";
        }
        String path = get("HF_TOKEN_PATH");
        return "the token file " + (path != null ? expand(path) : hfHome().resolve("token"));
    }

    /** Whether {@code HF_HUB_OFFLINE} is set to 1 (or ON, YES, TRUE): use the cache only. */
    public boolean offline() {
        String v = get("HF_HUB_OFFLINE");
        return v != null && TRUE.contains(v.strip().toUpperCase(Locale.ROOT));
    }

    int attempts() {
        return attempts;
    }

    Duration retryDelay() {
        return retryDelay;
    }

    /** A variable's value, or null when unset or blank. */
    private String get(String key) {
        String v = env.get(key);
        return v == null || v.isBlank() ? null : v;
    }

    /** A path from a variable, with a leading {@code ~} meaning the home folder. */
    private Path expand(String value) {
        if (value.equals("~")) {
            return home;
        }
        if (value.startsWith("~/")) {
            return home.resolve(value.substring(2));
        }
        return Path.of(value);
    }
}
