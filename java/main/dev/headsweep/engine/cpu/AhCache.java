package dev.headsweep.engine.cpu;

import dev.headsweep.engine.HeadId;
import dev.headsweep.model.Gpt2Weights;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import java.util.zip.CRC32C;

/**
 * An on-disk cache of every head's vocabulary projection {@code A_h = W̃_O·diag(ln_f.w)·wteᵀ}
 * (DESIGN.md section 2): the two thirds of the CPU backend's arithmetic that depend on the model
 * only, not on the task. With an entry present the kernels skip stage 1 and read A from the file.
 *
 * <p><b>Key.</b> The checkpoint's content: SHA-256 over what A depends on — the shapes, every
 * layer's {@code c_proj} weight, {@code ln_f.weight} and {@code wte}, as the fp32 values the
 * engine computes with (little-endian; for an F32 checkpoint these are its raw bytes). The tensors
 * are hashed in 16 MB chunks on all the backend's threads and the chunk digests hashed again, so
 * GPT-2 small's 183 MB take about 0.1 s. A changed checkpoint has a different key and so a
 * different file, {@code ah-<key>.bin}; old files are never read again (delete the folder to
 * reclaim them).
 *
 * <p><b>File.</b> A header (magic, format version, key, shapes, layout, the data's length, a
 * CRC32C of each head's data and a CRC32C of the header itself), padded to 4 KiB, then every head
 * in layer-then-head order, each token-major and fp32 little-endian: {@code A_h[j][t]} at
 * {@code t·r + j}, the layout the kernels' stage 2 reads tile by tile. GPT-2 small: 144 heads ×
 * 50257 × 64 × 4 bytes = 1.85 GB. Reading memory-maps each head; before use, the header, the
 * file's length and every head's checksum are verified (CRC32C runs at several GB/s, in parallel).
 * A file that fails any check is reported in one line and recomputed, never used.
 *
 * <p><b>Writing.</b> A cold sweep fills the cache as its kernels compute A (no extra arithmetic
 * for the heads it scores; the others get stage 1 alone): each head is written by position into a
 * hidden temporary file in the same folder, the header last, then the file is moved over the
 * target atomically. Readers never see a partial file; a file torn by a crash or a full disk fails
 * its checksums. Without room for the file (checked before writing) or on any write error the
 * sweep goes on without the cache, saying so in one line. The size is reported in one line when
 * an entry is written.
 *
 * <p>Messages go to the {@code log} given (by default stderr), one line each. Thread-safe.
 */
public final class AhCache {
    /** System property naming the folder for the default backends ({@code ""}: {@link #defaultDir()}). */
    public static final String PROPERTY = "headsweep.cache";
    /** System property: {@code true} drops the informational lines (a hit); problems and writes still show. */
    public static final String QUIET_PROPERTY = "headsweep.cache.quiet";

    static final byte[] MAGIC = "HSWAHC\r\n".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    /** Layout code: per head, token-major {@code [V][r]}, fp32 little-endian. */
    static final int LAYOUT_TOKEN_MAJOR_F32LE = 1;
    static final int ALIGN = 4096;
    /** Fixed part of the header before the per-head checksums. */
    static final int FIXED = 80;
    private static final int HASH_CHUNK = 1 << 22; // floats (16 MB)
    private static final long SPACE_MARGIN = 64L << 20;

    private final Path dir;
    private final Consumer<String> log;
    private final boolean verbose;

    /**
     * @param dir     the folder (created when an entry is first written)
     * @param log     where the one-line messages go
     * @param verbose whether a hit is reported too (with the time hashing and verifying took)
     */
    public AhCache(Path dir, Consumer<String> log, boolean verbose) {
        this.dir = Objects.requireNonNull(dir, "dir");
        this.log = Objects.requireNonNull(log, "log");
        this.verbose = verbose;
    }

    /** A cache in {@code dir} that reports to stderr, hits included. */
    public static AhCache at(Path dir) {
        return new AhCache(dir, System.err::println, true);
    }

    /** {@code $XDG_CACHE_HOME/headsweep}, else {@code ~/.cache/headsweep}. */
    public static Path defaultDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute()) {
            return Path.of(xdg, "headsweep");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "headsweep");
    }

    /**
     * The cache that the system property {@value #PROPERTY} names (empty value: the default
     * folder), reporting to stderr; empty when the property is not set.
     */
    public static Optional<AhCache> fromSystemProperties() {
        String p = System.getProperty(PROPERTY);
        if (p == null) {
            return Optional.empty();
        }
        Path d = p.isBlank() ? defaultDir() : Path.of(p);
        return Optional.of(new AhCache(d, System.err::println, !Boolean.getBoolean(QUIET_PROPERTY)));
    }

    public Path dir() {
        return dir;
    }

    /** The file of a key's entry (whether or not it exists). */
    public Path file(Key key) {
        return dir.resolve("ah-" + key.hex() + ".bin");
    }

    /** A content key and the time it took to compute. */
    public record Key(byte[] sha256, long nanos) {
        public String hex() {
            StringBuilder sb = new StringBuilder(64);
            for (byte b : sha256) {
                sb.append(String.format(Locale.ROOT, "%02x", b & 0xff));
            }
            return sb.toString();
        }
    }

    /** The shapes an entry has for the weights. */
    record Shape(int layers, int heads, int r, int d, int vocab) {
        static Shape of(Gpt2Weights w) {
            var c = w.config();
            return new Shape(c.nLayer(), c.nHead(), c.headSize(), c.nEmbd(), c.vocabSize());
        }

        int headCount() {
            return layers * heads;
        }

        long headBytes() {
            return (long) vocab * r * Float.BYTES;
        }

        long dataBytes() {
            return headBytes() * headCount();
        }

        int dataOffset() {
            int h = FIXED + 4 * headCount() + 4;
            return (h + ALIGN - 1) / ALIGN * ALIGN;
        }
    }

    /**
     * The content key of the weights (see the class comment), hashed on {@code threads} threads.
     */
    public static Key key(Gpt2Weights w, int threads) {
        long t0 = System.nanoTime();
        Shape s = Shape.of(w);
        List<float[]> tensors = new ArrayList<>();
        for (int l = 0; l < s.layers(); l++) {
            tensors.add(w.layer(l).wo());
        }
        tensors.add(w.lnfW());
        tensors.add(w.wte());
        record Chunk(int tensor, int from, int to) {
        }
        List<Chunk> chunks = new ArrayList<>();
        for (int i = 0; i < tensors.size(); i++) {
            int len = tensors.get(i).length;
            int from = 0;
            do {
                chunks.add(new Chunk(i, from, Math.min(len, from + HASH_CHUNK)));
                from += HASH_CHUNK;
            } while (from < len);
        }
        byte[][] digests = new byte[chunks.size()][];
        parallel(threads, chunks.size(), c -> {
            Chunk ch = chunks.get(c);
            MessageDigest md = sha256();
            ByteBuffer bb = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            FloatBuffer fb = bb.asFloatBuffer();
            float[] a = tensors.get(ch.tensor());
            for (int off = ch.from(); off < ch.to(); ) {
                int len = Math.min(fb.capacity(), ch.to() - off);
                fb.put(0, a, off, len);
                md.update(bb.array(), 0, len * Float.BYTES);
                off += len;
            }
            digests[c] = md.digest();
        });
        MessageDigest md = sha256();
        ByteBuffer head = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        head.put("headsweep A_h v1".getBytes(StandardCharsets.US_ASCII));
        head.putInt(s.layers()).putInt(s.heads()).putInt(s.r()).putInt(s.d()).putInt(s.vocab())
                .putInt(LAYOUT_TOKEN_MAJOR_F32LE).putInt(tensors.size());
        md.update(head.array(), 0, head.position());
        for (int c = 0; c < chunks.size(); c++) {
            ByteBuffer at = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
            at.putInt(chunks.get(c).tensor()).putInt(chunks.get(c).from()).putInt(chunks.get(c).to());
            md.update(at.array());
            md.update(digests[c]);
        }
        return new Key(md.digest(), System.nanoTime() - t0);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    /** Runs {@code body(i)} for i in [0, count) on {@code threads} threads (no pool when 1). */
    private static void parallel(int threads, int count, java.util.function.IntConsumer body) {
        if (threads <= 1 || count <= 1) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        ForkJoinPool pool = new ForkJoinPool(threads);
        try {
            pool.submit(() -> IntStream.range(0, count).parallel().forEach(body)).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdown();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Reading

    /** A verified entry: each head's A, memory-mapped. */
    public static final class Entry {
        private final Path file;
        private final Shape shape;
        private final FloatBuffer[] heads;
        private final long verifyNanos;

        private Entry(Path file, Shape shape, FloatBuffer[] heads, long verifyNanos) {
            this.file = file;
            this.shape = shape;
            this.heads = heads;
            this.verifyNanos = verifyNanos;
        }

        public Path file() {
            return file;
        }

        /** The file's size in bytes. */
        public long bytes() {
            return shape.dataOffset() + shape.dataBytes();
        }

        /** How long opening and verifying took. */
        public long verifyNanos() {
            return verifyNanos;
        }

        /** The head's A as a tile source for {@link FactoredTopK#run(FactoredTopK.Prepared, FactoredTopK.ATileSource, int, float[], int, int, int[], float[])}. */
        public FactoredTopK.ATileSource head(HeadId head) {
            head.checkIn(shape.layers(), shape.heads());
            FloatBuffer fb = heads[head.layer() * shape.heads() + head.head()];
            int r = shape.r();
            return (t0, len, dst, ld) -> {
                if (ld == r) {
                    fb.get(t0 * r, dst, 0, len * r);
                } else {
                    for (int q = 0; q < len; q++) {
                        fb.get((t0 + q) * r, dst, q * ld, r);
                    }
                }
            };
        }
    }

    /** Why a file is not a valid entry. */
    private static final class Damaged extends Exception {
        Damaged(String why) {
            super(why, null, false, false);
        }
    }

    /**
     * The verified entry for the weights, or empty when there is none; a damaged file is reported
     * in one line and treated as absent (the next write replaces it).
     */
    public Optional<Entry> open(Gpt2Weights w, Key key, int threads) {
        Path file = file(key);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        long t0 = System.nanoTime();
        Shape s = Shape.of(w);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            int[] crcs = readHeader(ch, s, key);
            long headBytes = s.headBytes();
            if (headBytes > Integer.MAX_VALUE - 8) {
                throw new Damaged("a head of " + headBytes + " bytes is too large to map");
            }
            FloatBuffer[] heads = new FloatBuffer[s.headCount()];
            ByteBuffer[] raw = new ByteBuffer[s.headCount()];
            for (int i = 0; i < heads.length; i++) {
                ByteBuffer mb = ch.map(FileChannel.MapMode.READ_ONLY, s.dataOffset() + i * headBytes, headBytes);
                raw[i] = mb;
                heads[i] = mb.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            }
            int[] bad = {-1};
            parallel(threads, heads.length, i -> {
                CRC32C crc = new CRC32C();
                crc.update(raw[i].duplicate());
                if ((int) crc.getValue() != crcs[i]) {
                    synchronized (bad) {
                        if (bad[0] < 0 || i < bad[0]) {
                            bad[0] = i;
                        }
                    }
                }
            });
            if (bad[0] >= 0) {
                throw new Damaged("head " + bad[0] / s.heads() + "." + bad[0] % s.heads()
                        + " does not match its checksum");
            }
            Entry e = new Entry(file, s, heads, System.nanoTime() - t0);
            if (verbose) {
                log.accept(String.format(Locale.ROOT,
                        "headsweep: A_h cache hit: %s (%s; key hashed in %.2f s, opened and verified in %.2f s)",
                        file, size(e.bytes()), key.nanos() / 1e9, e.verifyNanos() / 1e9));
            }
            return Optional.of(e);
        } catch (Damaged d) {
            log.accept("headsweep: A_h cache file " + file + " is damaged (" + d.getMessage()
                    + "); recomputing it");
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            log.accept("headsweep: cannot read the A_h cache file " + file + " (" + e
                    + "); recomputing it");
            return Optional.empty();
        }
    }

    /** Reads and checks the header; returns the per-head checksums. */
    private static int[] readHeader(FileChannel ch, Shape s, Key key) throws IOException, Damaged {
        long size = ch.size();
        int off = s.dataOffset();
        long expected = off + s.dataBytes();
        if (size < off) {
            throw new Damaged("truncated: " + size + " bytes, shorter than its header");
        }
        ByteBuffer hb = ByteBuffer.allocate(off).order(ByteOrder.LITTLE_ENDIAN);
        while (hb.hasRemaining()) {
            if (ch.read(hb, hb.position()) < 0) {
                throw new Damaged("truncated header");
            }
        }
        hb.flip();
        byte[] magic = new byte[MAGIC.length];
        hb.get(magic);
        if (!java.util.Arrays.equals(magic, MAGIC)) {
            throw new Damaged("not an A_h cache file");
        }
        int version = hb.getInt();
        if (version != VERSION) {
            throw new Damaged("format version " + version + ", expected " + VERSION);
        }
        int headerLen = hb.getInt();
        byte[] k = new byte[32];
        hb.get(k);
        int layers = hb.getInt();
        int heads = hb.getInt();
        int r = hb.getInt();
        int d = hb.getInt();
        int vocab = hb.getInt();
        int layout = hb.getInt();
        long dataBytes = hb.getLong();
        int n = s.headCount();
        int[] crcs = new int[n];
        if (headerLen != off || layers != s.layers() || heads != s.heads() || r != s.r() || d != s.d()
                || vocab != s.vocab() || layout != LAYOUT_TOKEN_MAJOR_F32LE || dataBytes != s.dataBytes()) {
            throw new Damaged("its header does not describe this model's shapes");
        }
        for (int i = 0; i < n; i++) {
            crcs[i] = hb.getInt();
        }
        int stored = hb.getInt();
        CRC32C crc = new CRC32C();
        crc.update(hb.array(), 0, FIXED + 4 * n);
        if ((int) crc.getValue() != stored) {
            throw new Damaged("its header does not match its checksum");
        }
        if (!java.util.Arrays.equals(k, key.sha256())) {
            throw new Damaged("its key is not the model's");
        }
        if (size != expected) {
            throw new Damaged((size < expected ? "truncated: " : "too long: ") + size + " bytes, expected "
                    + expected);
        }
        return crcs;
    }

    // ---------------------------------------------------------------------------------------------
    // Writing

    /**
     * Starts writing the entry for the weights: empty (after one line saying why) when the folder
     * cannot be created or lacks room.
     */
    public Optional<Writer> create(Gpt2Weights w, Key key) {
        Shape s = Shape.of(w);
        long bytes = s.dataOffset() + s.dataBytes();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            long free = Files.getFileStore(dir).getUsableSpace();
            if (free < bytes + SPACE_MARGIN) {
                log.accept("headsweep: no room for the A_h cache in " + dir + " (" + size(bytes) + " needed, "
                        + size(free) + " free); continuing without it");
                return Optional.empty();
            }
            tmp = Files.createTempFile(dir, ".ah-" + key.hex().substring(0, 16) + "-", ".tmp");
            FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.READ);
            return Optional.of(new Writer(s, key, tmp, ch));
        } catch (IOException | RuntimeException e) {
            deleteQuietly(tmp);
            log.accept("headsweep: cannot write the A_h cache in " + dir + " (" + e + "); continuing without it");
            return Optional.empty();
        }
    }

    /** A per-thread buffer for one head's A while a kernel computes it; reuse it across heads. */
    public static final class HeadBuffer implements FactoredTopK.ATileSink {
        private final int r;
        private final int vocab;
        private final ByteBuffer bytes;
        private final FloatBuffer floats;
        private long covered;

        HeadBuffer(int r, int vocab) {
            this.r = r;
            this.vocab = vocab;
            this.bytes = ByteBuffer.allocateDirect(Math.multiplyExact(Math.multiplyExact(vocab, r), Float.BYTES))
                    .order(ByteOrder.LITTLE_ENDIAN);
            this.floats = bytes.asFloatBuffer();
        }

        /** Empties the buffer for the next head. */
        public void reset() {
            covered = 0;
        }

        @Override
        public void write(int t0, int len, float[] src, int ld) {
            if (ld == r) {
                floats.put(t0 * r, src, 0, len * r);
            } else {
                for (int q = 0; q < len; q++) {
                    floats.put((t0 + q) * r, src, q * ld, r);
                }
            }
            covered += len;
        }
    }

    /** Writes one entry: heads by position into a temporary file, then the header, then the move. */
    public final class Writer {
        private final Shape shape;
        private final Key key;
        private final Path tmp;
        private final FileChannel ch;
        private final int[] crcs;
        private final boolean[] written;
        private final long start = System.nanoTime();
        private volatile boolean failed;

        private Writer(Shape shape, Key key, Path tmp, FileChannel ch) {
            this.shape = shape;
            this.key = key;
            this.tmp = tmp;
            this.ch = ch;
            this.crcs = new int[shape.headCount()];
            this.written = new boolean[shape.headCount()];
        }

        /** A buffer of this entry's head size (one per thread). */
        public HeadBuffer buffer() {
            return new HeadBuffer(shape.r(), shape.vocab());
        }

        /** Whether a write failed (the entry will not be committed). */
        public boolean failed() {
            return failed;
        }

        /** Writes a head's A, filled through {@code b} since its last {@link HeadBuffer#reset()}. */
        public void put(HeadId head, HeadBuffer b) {
            head.checkIn(shape.layers(), shape.heads());
            if (failed) {
                return;
            }
            if (b.covered != shape.vocab() || b.r != shape.r() || b.vocab != shape.vocab()) {
                throw new IllegalStateException("head " + head + ": the buffer holds " + b.covered + " of "
                        + shape.vocab() + " tokens");
            }
            int i = head.layer() * shape.heads() + head.head();
            ByteBuffer bb = b.bytes.duplicate();
            bb.clear();
            CRC32C crc = new CRC32C();
            crc.update(bb.duplicate());
            long pos = shape.dataOffset() + i * shape.headBytes();
            try {
                while (bb.hasRemaining()) {
                    pos += ch.write(bb, pos);
                }
            } catch (IOException | RuntimeException e) {
                fail(e);
                return;
            }
            synchronized (this) {
                crcs[i] = (int) crc.getValue();
                written[i] = true;
            }
        }

        private synchronized void fail(Exception e) {
            if (!failed) {
                failed = true;
                log.accept("headsweep: cannot write the A_h cache in " + dir + " (" + e + "); continuing without it");
            }
        }

        /** Writes the header and moves the file into place; on any failure, removes it (and says so once). */
        public synchronized Optional<Path> commit() {
            try {
                if (!failed) {
                    for (int i = 0; i < written.length; i++) {
                        if (!written[i]) {
                            throw new IllegalStateException("head " + i / shape.heads() + "." + i % shape.heads()
                                    + " was not written");
                        }
                    }
                    ByteBuffer hb = ByteBuffer.allocate(shape.dataOffset()).order(ByteOrder.LITTLE_ENDIAN);
                    hb.put(MAGIC).putInt(VERSION).putInt(shape.dataOffset()).put(key.sha256())
                            .putInt(shape.layers()).putInt(shape.heads()).putInt(shape.r()).putInt(shape.d())
                            .putInt(shape.vocab()).putInt(LAYOUT_TOKEN_MAJOR_F32LE).putLong(shape.dataBytes());
                    hb.position(FIXED);
                    for (int c : crcs) {
                        hb.putInt(c);
                    }
                    CRC32C crc = new CRC32C();
                    crc.update(hb.array(), 0, hb.position());
                    hb.putInt((int) crc.getValue());
                    hb.clear();
                    long pos = 0;
                    while (hb.hasRemaining()) {
                        pos += ch.write(hb, pos);
                    }
                    ch.close();
                    Path target = file(key);
                    try {
                        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    } catch (AtomicMoveNotSupportedException e) {
                        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
                    }
                    long bytes = shape.dataOffset() + shape.dataBytes();
                    log.accept(String.format(Locale.ROOT, "headsweep: A_h cache written: %s (%s, %d heads, in %.2f s)",
                            target, size(bytes), shape.headCount(), (System.nanoTime() - start) / 1e9));
                    return Optional.of(target);
                }
            } catch (IOException | RuntimeException e) {
                fail(e);
            }
            abort();
            return Optional.empty();
        }

        /** Drops the temporary file. */
        public synchronized void abort() {
            failed = true; // writes still in flight fail quietly
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing a channel we only wrote to; the file is removed next
            }
            deleteQuietly(tmp);
        }
    }

    private static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // a hidden temporary file; nothing more to do
            }
        }
    }

    /** Bytes as "1.85 GB" / "12.3 MB". */
    static String size(long bytes) {
        if (bytes >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.2f GB", bytes / 1e9);
        }
        return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }
}
