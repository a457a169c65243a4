package dev.headsweep.hub;

import dev.headsweep.HeadSweepException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The Hugging Face hub cache, in the layout {@code huggingface_hub} (and so {@code transformers})
 * reads and writes:
 *
 * <pre>
 * {root}/models--{org}--{name}/
 *     refs/{revision}                 the commit hash a branch or tag resolved to (no newline)
 *     blobs/{etag}                    file contents, named by the hub's ETag (sha256 for LFS files,
 *                                     the git blob sha for small ones)
 *     blobs/{etag}.incomplete         a download in progress (never read as a model file)
 *     snapshots/{commit}/{file}       relative symlinks: ../../blobs/{etag}
 *     .no_exist/{commit}/{file}       empty markers: the hub has no such file at that commit
 * {root}/.locks/models--{org}--{name}/{etag}.lock
 * </pre>
 *
 * Everything written here appears atomically: a blob is moved into place only when complete and
 * verified, and a snapshot link is made only after that.
 */
public final class HubCache {
    private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9_.-]+");

    private final Path root;

    public HubCache(Path root) {
        this.root = root;
    }

    /** The cache folder ({@code HF_HUB_CACHE}). */
    public Path root() {
        return root;
    }

    /** {@code models--org--name}. */
    public Path repoDir(ModelName name) {
        return root.resolve(name.cacheFolder());
    }

    /**
     * The commit a name points at in this cache: the revision itself if it is a commit hash, else
     * the hash stored in {@code refs/{revision}}, if any.
     */
    public Optional<String> commit(ModelName name) {
        if (name.isCommit()) {
            return Optional.of(name.revision());
        }
        Path ref = refFile(name);
        if (!Files.isRegularFile(ref)) {
            return Optional.empty();
        }
        try {
            String hash = Files.readString(ref, StandardCharsets.UTF_8).strip();
            if (!ModelName.isCommitHash(hash)) {
                throw new HeadSweepException(ref + ": not a commit hash (40 hex digits): \"" + shorten(hash) + "\"");
            }
            return Optional.of(hash);
        } catch (IOException e) {
            throw new HeadSweepException(ref + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** {@code snapshots/{commit}}. */
    public Path snapshot(ModelName name, String commit) {
        return repoDir(name).resolve("snapshots").resolve(checkCommit(commit));
    }

    /** {@code blobs/{etag}}. */
    public Path blob(ModelName name, String etag) {
        return repoDir(name).resolve("blobs").resolve(checkEtag(etag));
    }

    /** {@code blobs/{etag}.incomplete}: where a download of that blob grows. */
    public Path incomplete(ModelName name, String etag) {
        return repoDir(name).resolve("blobs").resolve(checkEtag(etag) + ".incomplete");
    }

    /** {@code .locks/models--org--name/{etag}.lock}. */
    Path lock(ModelName name, String etag) {
        return root.resolve(".locks").resolve(name.cacheFolder()).resolve(checkEtag(etag) + ".lock");
    }

    /** Records (atomically) that {@code name}'s revision is {@code commit}; nothing for a commit hash. */
    public void writeRef(ModelName name, String commit) {
        checkCommit(commit);
        if (name.isCommit()) {
            return;
        }
        Path ref = refFile(name);
        try {
            Optional<String> old = commit(name);
            if (old.isPresent() && old.get().equals(commit)) {
                return;
            }
        } catch (HeadSweepException unreadable) {
            // overwrite a damaged ref
        }
        try {
            Files.createDirectories(ref.getParent());
            Path tmp = ref.resolveSibling("." + ref.getFileName() + "." + UUID.randomUUID() + ".tmp");
            try {
                Files.writeString(tmp, commit, StandardCharsets.UTF_8);
                moveAtomically(tmp, ref);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new HeadSweepException(ref + ": cannot write: " + e.getMessage(), e);
        }
    }

    /**
     * Makes {@code snapshots/{commit}/{file}} a relative symlink to the (complete) blob, atomically:
     * the link is made under a temporary name and renamed over the target. Where the file system
     * has no symlinks, the blob is copied instead, as {@code huggingface_hub} does.
     *
     * @return the snapshot file
     */
    public Path link(ModelName name, String commit, String file, String etag) {
        Path blob = blob(name, etag);
        Path target = snapshot(name, commit).resolve(checkFile(file));
        try {
            Files.createDirectories(target.getParent());
            Path tmp = target.resolveSibling("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
            try {
                try {
                    Files.createSymbolicLink(tmp, target.getParent().relativize(blob));
                } catch (UnsupportedOperationException | FileSystemException noSymlinks) {
                    Files.deleteIfExists(tmp);
                    Files.copy(blob, tmp);
                }
                moveAtomically(tmp, target);
            } finally {
                Files.deleteIfExists(tmp);
            }
            return target;
        } catch (IOException e) {
            throw new HeadSweepException(target + ": cannot link the snapshot file to " + blob + ": " + e.getMessage(), e);
        }
    }

    /** Records that the hub has no {@code file} at {@code commit} ({@code .no_exist}, as huggingface_hub does). */
    public void markMissing(ModelName name, String commit, String file) {
        Path marker = repoDir(name).resolve(".no_exist").resolve(checkCommit(commit)).resolve(checkFile(file));
        try {
            Files.createDirectories(marker.getParent());
            if (!Files.exists(marker)) {
                Files.createFile(marker);
            }
        } catch (IOException e) {
            // only a hint for offline use by other tools; not worth failing over
        }
    }

    private Path refFile(ModelName name) {
        return repoDir(name).resolve("refs").resolve(name.revision());
    }

    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static String checkCommit(String commit) {
        if (!ModelName.isCommitHash(commit)) {
            throw new HeadSweepException("not a commit hash (40 hex digits): \"" + shorten(commit) + "\"");
        }
        return commit;
    }

    static String checkEtag(String etag) {
        if (etag == null || !SAFE_NAME.matcher(etag).matches() || etag.startsWith(".") || etag.length() > 128) {
            throw new HeadSweepException("unusable ETag for a cache file name: \"" + shorten(etag) + "\"");
        }
        return etag;
    }

    /** A file name inside a snapshot: plain names, or folders below it, never out of it. */
    static String checkFile(String file) {
        boolean ok = file != null && !file.isEmpty() && !file.startsWith("/") && !file.contains("\\");
        if (ok) {
            for (String part : file.split("/", -1)) {
                ok &= !part.isEmpty() && !part.equals(".") && !part.equals("..");
            }
        }
        if (!ok) {
            throw new HeadSweepException("not a file name inside a model repo: \"" + shorten(file) + "\"");
        }
        return file;
    }

    private static String shorten(String s) {
        return s == null ? "null" : s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }
}
