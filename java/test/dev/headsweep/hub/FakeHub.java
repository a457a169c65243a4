package dev.headsweep.hub;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * The Hugging Face hub's resolve endpoint, faked on 127.0.0.1 as the hub answers it: {@code HEAD}
 * and {@code GET /{repo}/resolve/{revision}/{file}} with {@code X-Repo-Commit}, an ETag (the git
 * blob sha of small files, {@code X-Linked-Etag} = sha256 for LFS files) and sizes; LFS files
 * ({@code .safetensors}, {@code .bin}) redirect (302) to a second server, the "CDN", which honours
 * {@code Range}; renamed repos redirect relatively (307); errors carry {@code X-Error-Code}.
 *
 * <p>Faults on demand: the CDN can drop the connection part-way through a file, or serve a file
 * with one byte changed. Every request is recorded.
 */
final class FakeHub implements AutoCloseable {
    /** A recorded request: which server, the method, path and the headers that matter. */
    record Seen(String server, String method, String path, String authorization, String range) {
    }

    /** A model repo with one commit, reachable by its hash and by branch names. */
    static final class Repo {
        final String id;
        final String commit;
        final Map<String, byte[]> files = new LinkedHashMap<>();
        final List<String> branches = new CopyOnWriteArrayList<>(List.of("main"));
        volatile String token;

        Repo(String id) {
            this.id = id;
            this.commit = sha1(("commit of " + id).getBytes(StandardCharsets.UTF_8));
        }

        Repo put(String file, byte[] data) {
            files.put(file, data);
            return this;
        }

        Repo put(String file, String text) {
            return put(file, text.getBytes(StandardCharsets.UTF_8));
        }

        /** Every file of a checkpoint folder. */
        Repo putAll(Path dir) {
            try (Stream<Path> s = Files.list(dir)) {
                for (Path p : s.sorted().toList()) {
                    put(p.getFileName().toString(), Files.readAllBytes(p));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        /** Only requests with {@code Authorization: Bearer token} get in (a gated repo). */
        Repo gated(String token) {
            this.token = token;
            return this;
        }
    }

    final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final Map<String, Repo> repos = new ConcurrentHashMap<>();
    private final Map<String, String> renamed = new ConcurrentHashMap<>();
    private final Map<String, Integer> drops = new ConcurrentHashMap<>();
    private final Map<String, Long> dropAfter = new ConcurrentHashMap<>();
    private final Map<String, Boolean> corrupt = new ConcurrentHashMap<>();
    private final MiniHttp hub;
    private final MiniHttp cdn;

    FakeHub() throws IOException {
        hub = new MiniHttp(this::hub);
        cdn = new MiniHttp(this::cdn);
    }

    /** What HF_ENDPOINT should be. */
    String endpoint() {
        return hub.base();
    }

    Repo repo(String id) {
        return repos.computeIfAbsent(id, Repo::new);
    }

    /** {@code alias} answers with a relative redirect to {@code target}, as {@code gpt2} does to {@code openai-community/gpt2}. */
    void rename(String alias, String target) {
        renamed.put(alias, target);
    }

    /** The next {@code times} CDN downloads of {@code file} stop after {@code bytes} bytes. */
    void drop(String file, int times, long bytes) {
        drops.put(file, times);
        dropAfter.put(file, bytes);
    }

    /** The CDN serves {@code file} with one byte changed (same length). */
    void corrupt(String file, boolean on) {
        corrupt.put(file, on);
    }

    List<Seen> seen(String server, String method) {
        return seen.stream().filter(s -> s.server().equals(server) && s.method().equals(method)).toList();
    }

    /** Requests for {@code file} (by path suffix) on either server. */
    List<Seen> seenFor(String file) {
        return seen.stream().filter(s -> s.path().endsWith("/" + file)).toList();
    }

    @Override
    public void close() throws IOException {
        hub.close();
        cdn.close();
    }

    static String sha256(byte[] data) {
        return hex("SHA-256", data);
    }

    static String gitBlobSha1(byte[] data) {
        byte[] head = ("blob " + data.length + "\0").getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[head.length + data.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(data, 0, all, head.length, data.length);
        return hex("SHA-1", all);
    }

    static boolean isLfs(String file) {
        return file.endsWith(".safetensors") || file.endsWith(".bin");
    }

    private static String sha1(byte[] data) {
        return hex("SHA-1", data);
    }

    private static String hex(String algorithm, byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void hub(MiniHttp.Request req, MiniHttp.Response resp) {
        seen.add(new Seen("hub", req.method(), req.path(), req.header("Authorization"), req.header("Range")));
        String path = req.path();
        int resolve = path.indexOf("/resolve/");
        if (resolve < 0) {
            resp.status = 404;
            return;
        }
        String repoId = path.substring(1, resolve);
        String rest = path.substring(resolve + "/resolve/".length());
        int slash = rest.indexOf('/');
        String revision = URLDecoder.decode(rest.substring(0, slash), StandardCharsets.UTF_8);
        String file = URLDecoder.decode(rest.substring(slash + 1), StandardCharsets.UTF_8);
        if (renamed.containsKey(repoId)) {
            resp.status = 307;
            resp.header("Location", "/" + renamed.get(repoId) + "/resolve/" + rest);
            return;
        }
        Repo repo = repos.get(repoId);
        String auth = req.header("Authorization");
        if (repo == null) {
            // The real hub answers 401 without a token (not to reveal private repos), 404 with one.
            resp.status = auth == null ? 401 : 404;
            resp.header("X-Error-Code", "RepoNotFound").header("X-Error-Message", "Repository not found");
            return;
        }
        if (repo.token != null && !("Bearer " + repo.token).equals(auth)) {
            resp.status = 401;
            resp.header("X-Error-Code", "GatedRepo")
                    .header("X-Error-Message", "Access to model " + repoId + " is restricted. You must have access to it"
                            + " and be authenticated to access it. Please log in.");
            return;
        }
        if (!revision.equals(repo.commit) && !repo.branches.contains(revision)) {
            resp.status = 404;
            resp.header("X-Error-Code", "RevisionNotFound").header("X-Error-Message", "Invalid rev id: " + revision);
            return;
        }
        resp.header("X-Repo-Commit", repo.commit);
        byte[] data = repo.files.get(file);
        if (data == null) {
            resp.status = 404;
            resp.header("X-Error-Code", "EntryNotFound").header("X-Error-Message", "Entry not found");
            return;
        }
        if (isLfs(file)) {
            String sha = sha256(data);
            resp.status = 302;
            resp.header("ETag", "\"" + sha1(data) + "-redirect\"");
            resp.header("X-Linked-Etag", "\"" + sha + "\"");
            resp.header("X-Linked-Size", Long.toString(data.length));
            resp.header("Location", cdn.base() + "/repos/" + repoId.replace('/', '-') + "/" + sha + "/" + file);
            return;
        }
        resp.header("ETag", "\"" + gitBlobSha1(data) + "\"");
        resp.body = data;
    }

    private void cdn(MiniHttp.Request req, MiniHttp.Response resp) {
        String range = req.header("Range");
        seen.add(new Seen("cdn", req.method(), req.path(), req.header("Authorization"), range));
        String[] parts = req.path().split("/");
        String sha = parts[parts.length - 2];
        String file = parts[parts.length - 1];
        byte[] data = null;
        for (Repo r : repos.values()) {
            for (byte[] d : r.files.values()) {
                if (isLfs(file) && sha256(d).equals(sha)) {
                    data = d;
                }
            }
        }
        if (data == null) {
            resp.status = 404;
            return;
        }
        if (Boolean.TRUE.equals(corrupt.get(file))) {
            data = data.clone();
            data[data.length / 2] ^= 0x5a;
        }
        int from = 0;
        if (range != null) {
            from = Integer.parseInt(range.replaceAll("bytes=(\\d+)-", "$1"));
            if (from >= data.length) {
                resp.status = 416;
                resp.header("Content-Range", "bytes */" + data.length);
                return;
            }
            resp.status = 206;
            resp.header("Content-Range", "bytes " + from + "-" + (data.length - 1) + "/" + data.length);
        }
        resp.body = java.util.Arrays.copyOfRange(data, from, data.length);
        Integer left = drops.get(file);
        if (left != null && left > 0) {
            drops.put(file, left - 1);
            resp.dropAfter = dropAfter.get(file);
        }
    }
}
