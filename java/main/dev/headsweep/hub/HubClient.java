package dev.headsweep.hub;

import dev.headsweep.HeadSweepException;
import dev.headsweep.engine.Progress;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The hub's file protocol, as {@code huggingface_hub} speaks it.
 *
 * <p>{@link #head}: {@code HEAD {endpoint}/{repo}/resolve/{revision}/{file}} without following
 * redirects, except relative ones (a renamed repo such as {@code gpt2}, now
 * {@code openai-community/gpt2}); the answer gives the commit ({@code X-Repo-Commit}), the ETag
 * ({@code X-Linked-Etag} for LFS files, which is their sha256, else {@code ETag}, the git blob sha),
 * the size ({@code X-Linked-Size}, else {@code Content-Length}) and, for LFS files, the CDN address
 * in {@code Location}.
 *
 * <p>{@link #download}: {@code GET} (following redirects; the token only ever goes to the
 * endpoint's host) into {@code blobs/{etag}.incomplete}, resumed with a {@code Range} request after
 * a broken connection (here, up to {@link HubSettings#attempts} tries; or on the next run), then
 * checked against the ETag and only then moved to {@code blobs/{etag}}.
 */
final class HubClient {
    /** What a HEAD request says about a file. */
    record FileMetadata(String file, String commit, String etag, long size, URI location) {
    }

    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern GIT_SHA1 = Pattern.compile("[0-9a-f]{40}");
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    private static final int MAX_REDIRECTS = 10;
    private static final int BUFFER = 1 << 20;
    private static final Map<Path, Object> IN_PROCESS_LOCKS = new ConcurrentHashMap<>();

    private final HubSettings settings;
    private final String endpoint;
    private final URI endpointUri;
    private final Optional<String> token;
    private final HttpClient http;

    HubClient(HubSettings settings) {
        this.settings = settings;
        this.endpoint = settings.endpoint();
        this.endpointUri = URI.create(endpoint);
        this.token = settings.token();
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(20))
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    String endpoint() {
        return endpoint;
    }

    /** {@code {endpoint}/{repo}/resolve/{revision}/{file}}, the revision quoted whole (a / in it too). */
    URI resolveUri(ModelName name, String revision, String file) {
        StringBuilder path = new StringBuilder();
        for (String part : file.split("/")) {
            path.append('/').append(URLEncoder.encode(part, StandardCharsets.UTF_8).replace("+", "%20"));
        }
        return URI.create(endpoint + "/" + name.repoId() + "/resolve/"
                + URLEncoder.encode(revision, StandardCharsets.UTF_8) + path);
    }

    /**
     * The metadata of {@code file} at {@code revision}, or empty when the repo has no such file.
     *
     * @throws HeadSweepException (one line) when the repo or revision does not exist, access is
     *     refused, the hub cannot be reached or answers something else
     */
    Optional<FileMetadata> head(ModelName name, String revision, String file) {
        URI uri = resolveUri(name, revision, file);
        URI current = uri;
        HttpResponse<Void> last;
        for (int hops = 0; ; hops++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(current)
                    .method("HEAD", HttpRequest.BodyPublishers.noBody())
                    .timeout(Duration.ofSeconds(30))
                    .header("Accept-Encoding", "identity");
            last = send(name, authorize(b, current).build(), HttpResponse.BodyHandlers.discarding());
            String location = last.headers().firstValue("Location").orElse(null);
            if (!isRedirect(last.statusCode()) || location == null || isAbsolute(location, name)) {
                break;
            }
            if (hops >= MAX_REDIRECTS) {
                throw new HeadSweepException(name + ": HEAD " + uri + " redirects more than " + MAX_REDIRECTS + " times");
            }
            current = current.resolve(location); // a relative redirect: a renamed repo; follow it
        }
        HttpResponse<Void> r = last;
        int status = r.statusCode();
        String code = r.headers().firstValue("X-Error-Code").orElse("");
        String hubSays = r.headers().firstValue("X-Error-Message").map(m -> " (the hub says: " + oneLine(m) + ")")
                .orElse("");
        if (status == 404 && code.equals("RepoNotFound") || (status == 401 || status == 403) && code.equals("RepoNotFound")) {
            throw new NotFound(name, "no model repo \"" + name.repoId() + "\" on " + endpoint
                    + (token.isPresent() ? "" : ", or it is private (then set HF_TOKEN to a token that can read it)")
                    + hubSays);
        }
        if (status == 404 && code.equals("RevisionNotFound")) {
            throw new HeadSweepException(name + ": the repo has no revision \"" + revision + "\" on " + endpoint
                    + " (a branch, tag or commit hash)" + hubSays);
        }
        if (status == 404) {
            return Optional.empty();
        }
        if (status == 401 || status == 403) {
            throw new HeadSweepException(name + ": " + endpoint + " refused access to " + file + " (HTTP " + status
                    + ", a gated or private repo): " + (token.isPresent()
                            ? "the token from " + settings.tokenSource() + " was sent but does not give access;"
                                    + " accept the model's terms on its page with that account, or use another token"
                            : "accept the model's terms on its page and set HF_TOKEN to an access token of that account")
                    + hubSays);
        }
        if (status >= 400 || status < 200 || (isRedirect(status) && r.headers().firstValue("Location").isEmpty())) {
            throw new HeadSweepException(name + ": HEAD " + uri + " answered HTTP " + status + hubSays);
        }
        String commit = r.headers().firstValue("X-Repo-Commit").orElse(null);
        String etag = r.headers().firstValue("X-Linked-Etag").or(() -> r.headers().firstValue("ETag"))
                .map(HubClient::normalizeEtag).orElse(null);
        if (commit == null || etag == null) {
            throw new HeadSweepException(name + ": HEAD " + uri + " answered without "
                    + (commit == null ? "X-Repo-Commit" : "an ETag")
                    + "; is " + endpoint + " (HF_ENDPOINT) a Hugging Face hub?");
        }
        if (!ModelName.isCommitHash(commit)) {
            throw new HeadSweepException(name + ": HEAD " + uri + " gave X-Repo-Commit \"" + oneLine(commit)
                    + "\", not a commit hash");
        }
        HubCache.checkEtag(etag);
        long size = r.headers().firstValue("X-Linked-Size")
                .or(() -> isRedirect(status) ? Optional.empty() : r.headers().firstValue("Content-Length"))
                .map(HubClient::parseSize).orElse(-1L);
        URI location = isRedirect(status) ? current.resolve(r.headers().firstValue("Location").get()) : current;
        return Optional.of(new FileMetadata(file, commit, etag, size, location));
    }

    /**
     * Downloads a file into {@code blobs/{etag}} of {@code name}'s cache folder, unless it is
     * already there: into {@code blobs/{etag}.incomplete} first, resuming what an earlier try left,
     * then verified and moved into place. On a checksum mismatch the download is deleted and
     * nothing is cached.
     *
     * @return the blob
     */
    Path download(ModelName name, FileMetadata meta, HubCache cache, Progress progress) {
        Path blob = cache.blob(name, meta.etag());
        Path part = cache.incomplete(name, meta.etag());
        Path lockFile = cache.lock(name, meta.etag());
        String label = name + " " + meta.file();
        try {
            Files.createDirectories(blob.getParent());
            Files.createDirectories(lockFile.getParent());
        } catch (IOException e) {
            throw new HeadSweepException(blob.getParent() + ": cannot create the cache folder: " + e.getMessage(), e);
        }
        synchronized (IN_PROCESS_LOCKS.computeIfAbsent(lockFile.toAbsolutePath().normalize(), k -> new Object())) {
            try (FileChannel lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = lockChannel.lock()) {
                if (Files.exists(blob)) {
                    return blob; // another process finished it meanwhile
                }
                for (int attempt = 1; ; attempt++) {
                    try {
                        fetch(meta, part, progress);
                        break;
                    } catch (IOException e) {
                        if (attempt >= settings.attempts()) {
                            long kept = Files.exists(part) ? Files.size(part) : 0;
                            throw new HeadSweepException(label + ": the download from " + meta.location().getHost()
                                    + " broke off (" + describe(e) + ") after " + attempt + " tries; " + mb(kept)
                                    + (meta.size() >= 0 ? " of " + mb(meta.size()) : "") + " kept in " + part
                                    + ", run again to resume", e);
                        }
                        sleep(settings.retryDelay().multipliedBy(attempt));
                    }
                }
                verify(label, meta, part, progress);
                HubCache.moveAtomically(part, blob);
                return blob;
            } catch (IOException e) {
                throw new HeadSweepException(label + ": cannot write the cache file " + part + ": " + describe(e), e);
            }
        }
    }

    /** One try: GET from where {@code part} ends (or from the start) to the end, appending. */
    private void fetch(FileMetadata meta, Path part, Progress progress) throws IOException {
        long have = Files.exists(part) ? Files.size(part) : 0;
        long size = meta.size();
        if (size >= 0 && have > size) {
            Files.delete(part);
            have = 0;
        }
        if (size >= 0 && have == size) {
            return; // complete; verified next
        }
        HttpResponse<InputStream> r = get(meta, have);
        int status = r.statusCode();
        long start;
        if (status == 206) {
            Matcher m = CONTENT_RANGE.matcher(r.headers().firstValue("Content-Range").orElse(""));
            start = m.matches() ? Long.parseLong(m.group(1)) : -1;
            if (start != have) {
                r.body().close();
                Files.deleteIfExists(part);
                throw new IOException("asked to resume at byte " + have + " but got Content-Range \""
                        + r.headers().firstValue("Content-Range").orElse("") + "\"; starting over");
            }
        } else if (status == 200) {
            start = 0;
        } else {
            r.body().close();
            if (status == 416) {
                Files.deleteIfExists(part);
                throw new IOException("the server cannot resume at byte " + have + " (HTTP 416); starting over");
            }
            if (status >= 500 || status == 408 || status == 429) {
                throw new IOException("HTTP " + status + " from " + r.uri().getHost());
            }
            throw new HeadSweepException(meta.file() + ": GET " + r.uri() + " answered HTTP " + status
                    + (status == 401 || status == 403 ? " (access refused; see HF_TOKEN)" : ""));
        }
        String stage = "download " + meta.file();
        try (InputStream in = r.body();
             FileChannel out = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            out.truncate(start);
            out.position(start);
            byte[] buffer = new byte[BUFFER];
            long done = start;
            long total = size >= 0 ? size : r.headers().firstValueAsLong("Content-Length").orElse(-1) + start;
            progress.update(stage, done, Math.max(total, done));
            for (int n; (n = in.read(buffer)) >= 0; ) {
                ByteBuffer bb = ByteBuffer.wrap(buffer, 0, n);
                while (bb.hasRemaining()) {
                    out.write(bb);
                }
                done += n;
                progress.update(stage, done, Math.max(total, done));
            }
            out.force(true);
            if (size >= 0 && done < size) {
                throw new IOException("the connection closed after " + done + " of " + size + " bytes");
            }
        }
    }

    /** GET {@code meta.location()} from byte {@code from} on, following redirects. */
    private HttpResponse<InputStream> get(FileMetadata meta, long from) throws IOException {
        URI current = meta.location();
        for (int hops = 0; hops <= MAX_REDIRECTS; hops++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(current).GET()
                    .timeout(Duration.ofSeconds(60))
                    .header("Accept-Encoding", "identity");
            if (from > 0) {
                b.header("Range", "bytes=" + from + "-");
            }
            HttpResponse<InputStream> r;
            try {
                r = http.send(authorize(b, current).build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new HeadSweepException(meta.file() + ": download interrupted", e);
            }
            Optional<String> location = r.headers().firstValue("Location");
            if (!isRedirect(r.statusCode()) || location.isEmpty()) {
                return r;
            }
            r.body().close();
            try {
                current = current.resolve(location.get());
            } catch (IllegalArgumentException e) {
                throw new HeadSweepException(meta.file() + ": GET " + current + " redirects to a malformed address: "
                        + oneLine(location.get()));
            }
        }
        throw new HeadSweepException(meta.file() + ": GET " + meta.location() + " redirects more than "
                + MAX_REDIRECTS + " times");
    }

    /**
     * Checks the finished download against the hub's size and checksum: sha256 for an LFS file
     * (64 hex digits), the git blob sha1 for a small one (40); deletes it on a mismatch.
     */
    private void verify(String label, FileMetadata meta, Path part, Progress progress) throws IOException {
        long size = Files.size(part);
        String etag = meta.etag().toLowerCase(Locale.ROOT);
        String problem = null;
        if (meta.size() >= 0 && size != meta.size()) {
            problem = size + " bytes arrived but the hub says the file has " + meta.size();
        } else if (SHA256.matcher(etag).matches()) {
            String actual = digest(part, "SHA-256", null, "verify " + meta.file(), progress);
            if (!actual.equals(etag)) {
                problem = "its sha256 is " + actual + " but the hub's is " + etag;
            }
        } else if (GIT_SHA1.matcher(etag).matches()) {
            String actual = digest(part, "SHA-1", ("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII),
                    "verify " + meta.file(), progress);
            if (!actual.equals(etag)) {
                problem = "its git blob sha1 is " + actual + " but the hub's ETag is " + etag;
            }
        }
        if (problem != null) {
            Files.deleteIfExists(part);
            throw new HeadSweepException(label + ": the download from " + meta.location().getHost() + " is corrupt: "
                    + problem + "; it was deleted and nothing was cached (run again to retry)");
        }
    }

    private static String digest(Path file, String algorithm, byte[] prefix, String stage, Progress progress)
            throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        if (prefix != null) {
            md.update(prefix);
        }
        long total = Files.size(file);
        ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long done = 0;
            for (int n; (n = ch.read(buffer.clear())) >= 0; ) {
                md.update(buffer.flip());
                done += n;
                progress.update(stage, done, total);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Adds the token, but only for the endpoint itself (never for a CDN it redirects to). */
    private HttpRequest.Builder authorize(HttpRequest.Builder b, URI target) {
        b.header("User-Agent", "headsweep/0.1; java/" + Runtime.version().feature());
        if (token.isPresent() && sameOrigin(target, endpointUri)) {
            b.header("Authorization", "Bearer " + token.get());
        }
        return b;
    }

    private <T> HttpResponse<T> send(ModelName name, HttpRequest request, HttpResponse.BodyHandler<T> handler) {
        try {
            return http.send(request, handler);
        } catch (IOException e) {
            throw new NotFound(name, "cannot reach " + endpoint + " (" + describe(e) + "); check the network,"
                    + " set HF_ENDPOINT to a mirror, or set HF_HUB_OFFLINE=1 to use only the cache at "
                    + settings.cacheDir(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HeadSweepException(name + ": interrupted while asking " + endpoint, e);
        }
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost() != null
                && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    private static boolean isRedirect(int status) {
        return status >= 300 && status < 400;
    }

    /** Whether a Location header names a host (a CDN), as opposed to a path on the same server. */
    private static boolean isAbsolute(String location, ModelName name) {
        try {
            return URI.create(location).getHost() != null;
        } catch (IllegalArgumentException e) {
            throw new HeadSweepException(name + ": the hub redirected to a malformed address: " + oneLine(location));
        }
    }

    /** {@code W/"abc"} or {@code "abc"} to {@code abc}, as huggingface_hub does. */
    static String normalizeEtag(String etag) {
        String e = etag.strip();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) {
            e = e.substring(1, e.length() - 1);
        }
        return e;
    }

    private static long parseSize(String s) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HeadSweepException("interrupted while waiting to retry a download", e);
        }
    }

    /** {@code 812 bytes}, {@code 548.1 MB}, {@code 6.43 GB}. */
    static String mb(long bytes) {
        if (bytes < 1_000_000) {
            return bytes + " bytes";
        }
        return bytes < 1_000_000_000 ? String.format(Locale.ROOT, "%.1f MB", bytes / 1e6)
                : String.format(Locale.ROOT, "%.2f GB", bytes / 1e9);
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + oneLine(m));
    }

    private static String oneLine(String s) {
        String t = s.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
        return t.length() <= 200 ? t : t.substring(0, 197) + "...";
    }
}
