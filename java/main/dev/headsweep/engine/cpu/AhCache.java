package dev.headsweep.engine.cpu;

import dev.headsweep.engine.HeadId;
import dev.headsweep.model.Gpt2Weights;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import java.util.zip.CRC32C;

/**
 * An on-disk cache of every head's vocabulary projection {@code A_h = W̃_O·diag(ln_f.w)·wteᵀ}
 * (DESIGN.md section 2): the two thirds of the CPU backend's arithmetic that depend on the model
 * only, not on the task. With an entry present the kernels skip stage 1 and read A from the file.
 *
 * <p><b>Key.</b> The checkpoint's content: SHA-256 over the shapes and a fingerprint of what A
 * depends on — every layer's {@code c_proj} weight, {@code ln_f.weight} and {@code wte}, as the
 * fp32 values the engine computes with (little-endian; for an F32 checkpoint these are its raw
 * bytes). The tensors are cut into chunks of 16 MB and each chunk's fingerprint is its CRC32C and
 * its CRC32 (two different 32-bit polynomials: a change goes unnoticed only when both miss it,
 * about 2^-64 for a change that is not built to collide; any change of up to 32 consecutive bits
 * is always caught). Both run as CPU instructions through the JDK's intrinsics, about 10 GB/s,
 * 19 times the speed of SHA-256 over the bytes (version 1 of the key), so GPT-2 small's 183 MB
 * take about 0.02 s on two threads instead of 0.1 s. A changed checkpoint has a different key
 * and so a different file, {@code ah-<key>.bin}; old files are never read again (delete the
 * folder to reclaim them). The cache is a local store of the user's own results, not a defence
 * against someone who can write to its folder (who could write any file there anyway).
 *
 * <p><b>File.</b> A header (magic, format version, key, shapes, layout, the data's length, a
 * CRC32C of each head's data and a CRC32C of the header itself), padded to 4 KiB, then every head
 * in layer-then-head order, each token-major and fp32 little-endian: {@code A_h[j][t]} at
 * {@code t·r + j}, the layout the kernels' stage 2 reads tile by tile. GPT-2 small: 144 heads ×
 * 50257 × 64 × 4 bytes = 1.85 GB. Opening checks the header, the key, the shapes and the file's
 * length; each head's checksum is checked as the kernel reads the head ({@link HeadReader}: the
 * file is read once, in chunks, and each chunk is checksummed in cache right before its tiles are
 * handed out), and the run uses a head's result only when the whole head matched. A file that
 * fails any check is reported in one line and recomputed; nothing computed from it is returned.
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
    /** Bytes of a thread's buffer for hashing (the key does not depend on it). */
    static final int HASH_SCRATCH = 1 << 18;
    private static final long SPACE_MARGIN = 64L << 20;
    /** Bytes a {@link HeadReader} reads (and checksums) at a time. */
    static final int READ_CHUNK = 1 << 19;

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
        long[] prints = new long[chunks.size()];
        // Largest chunks first, each thread taking the next: the threads finish together.
        int[] order = IntStream.range(0, chunks.size()).boxed()
                .sorted(java.util.Comparator.comparingInt((Integer c) -> chunks.get(c).to() - chunks.get(c).from())
                        .reversed())
                .mapToInt(Integer::intValue).toArray();
        // (256 KB: an array of 1 MB or more is a humongous G1 object in fresh, never-touched memory,
        // whose first touch is slow on the development VMs)
        ThreadLocal<ByteBuffer> scratch = ThreadLocal.withInitial(() -> ByteBuffer.allocate(HASH_SCRATCH));
        parallel(threads, order, c -> {
            Chunk ch = chunks.get(c);
            prints[c] = fingerprint(tensors.get(ch.tensor()), ch.from(), ch.to(), scratch.get());
        });
        MessageDigest md = sha256();
        ByteBuffer head = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        head.put(KEY_FORMAT.getBytes(StandardCharsets.US_ASCII));
        head.putInt(s.layers()).putInt(s.heads()).putInt(s.r()).putInt(s.d()).putInt(s.vocab())
                .putInt(LAYOUT_TOKEN_MAJOR_F32LE).putInt(tensors.size());
        md.update(head.array(), 0, head.position());
        ByteBuffer at = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
        for (int c = 0; c < chunks.size(); c++) {
            at.clear().putInt(chunks.get(c).tensor()).putInt(chunks.get(c).from()).putInt(chunks.get(c).to())
                    .putLong(prints[c]);
            md.update(at.array());
        }
        return new Key(md.digest(), System.nanoTime() - t0);
    }

    /** What the key's SHA-256 starts with: the format of the key (v1 hashed every byte with SHA-256). */
    static final String KEY_FORMAT = "headsweep A_h v2";

    /**
     * The fingerprint of {@code a[from .. to)} as fp32 little-endian bytes: its CRC32C in the low 32
     * bits and its CRC32 in the high 32 bits, through {@code scratch} (a heap buffer of at least 4
     * bytes). Its own method so that {@link JitWarmUp} can have it compiled before the key is hashed.
     */
    static long fingerprint(float[] a, int from, int to, ByteBuffer scratch) {
        CRC32C c = new CRC32C();
        java.util.zip.CRC32 z = new java.util.zip.CRC32();
        ByteBuffer bb = scratch.clear().order(ByteOrder.LITTLE_ENDIAN);
        FloatBuffer fb = bb.asFloatBuffer();
        for (int off = from; off < to; ) {
            int len = Math.min(fb.capacity(), to - off);
            fb.put(0, a, off, len);
            c.update(bb.array(), 0, len * Float.BYTES);
            z.update(bb.array(), 0, len * Float.BYTES);
            off += len;
        }
        return (c.getValue() & 0xffffffffL) | (z.getValue() << 32);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    /**
     * Runs {@code body(i)} for each i of {@code order} on {@code threads} threads (the caller and
     * {@code threads - 1} helpers), each taking the next i in that order when it is free.
     */
    private static void parallel(int threads, int[] order, java.util.function.IntConsumer body) {
        AtomicInteger next = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            try {
                for (int i; failure.get() == null && (i = next.getAndIncrement()) < order.length; ) {
                    body.accept(order[i]);
                }
            } catch (RuntimeException | Error e) {
                failure.compareAndSet(null, e);
            }
        };
        Thread[] helpers = new Thread[Math.max(0, Math.min(threads, order.length) - 1)];
        for (int t = 0; t < helpers.length; t++) {
            helpers[t] = new Thread(worker, "headsweep-hash");
            helpers[t].setDaemon(true);
            helpers[t].start();
        }
        worker.run();
        boolean interrupted = false;
        for (Thread t : helpers) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // the helpers run to the end (a few tenths of a second); restored below
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Throwable f = failure.get();
        if (f instanceof RuntimeException re) {
            throw re;
        }
        if (f instanceof Error err) {
            throw err;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Reading

    /**
     * An entry whose header, key, shapes and length have been checked. Each head's data is checked
     * as it is read: {@link #head} hands out a {@link HeadReader}, whose {@link HeadReader#verified()}
     * says, after the last tile, whether the bytes it handed out match the head's checksum. A result
     * computed from a head must be used only when that head verified.
     */
    public static final class Entry implements AutoCloseable {
        private final Path file;
        private final Shape shape;
        private final int[] crcs;
        private final long openNanos;
        private final AtomicLong verifyNanos = new AtomicLong();
        private final AtomicBoolean reported = new AtomicBoolean();
        private FileChannel channel; // guarded by this; reopened when an interrupt closed it

        private Entry(Path file, Shape shape, int[] crcs, FileChannel channel, long openNanos) {
            this.file = file;
            this.shape = shape;
            this.crcs = crcs;
            this.channel = channel;
            this.openNanos = openNanos;
        }

        public Path file() {
            return file;
        }

        /** The file's size in bytes. */
        public long bytes() {
            return shape.dataOffset() + shape.dataBytes();
        }

        /**
         * How long opening (header, key, shapes, length) took, plus the checksums of the heads
         * verified so far (on all threads together).
         */
        public long verifyNanos() {
            return openNanos + verifyNanos.get();
        }

        /**
         * A reader of the head's A, as a tile source for {@link FactoredTopK#run(FactoredTopK.Prepared,
         * FactoredTopK.ATileSource, int, float[], int, int, int[], float[])}; one per run of a head,
         * used by one thread.
         */
        public HeadReader head(HeadId head) {
            head.checkIn(shape.layers(), shape.heads());
            return new HeadReader(this, head.layer() * shape.heads() + head.head());
        }

        private synchronized FileChannel channel() throws IOException {
            if (channel == null || !channel.isOpen()) {
                channel = FileChannel.open(file, StandardOpenOption.READ);
            }
            return channel;
        }

        /** Reads {@code b}'s remaining bytes from the file at {@code pos}. */
        private void readFully(ByteBuffer b, long pos) throws IOException {
            int start = b.position();
            for (int attempt = 0; ; attempt++) {
                try {
                    FileChannel ch = channel();
                    long at = pos;
                    while (b.hasRemaining()) {
                        int got = ch.read(b, at);
                        if (got < 0) {
                            throw new EOFException("the file ends at " + at + " bytes");
                        }
                        at += got;
                    }
                    return;
                } catch (ClosedByInterruptException e) {
                    throw e; // this thread was interrupted
                } catch (ClosedChannelException e) {
                    // closed by another thread's interrupt: reopen, unless this one is interrupted too
                    if (attempt >= 2 || Thread.currentThread().isInterrupted()) {
                        throw e;
                    }
                    b.position(start);
                }
            }
        }

        /** Closes the file (a later read reopens it). */
        @Override
        public synchronized void close() {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // a channel only read from
                }
                channel = null;
            }
        }
    }

    /**
     * One head's A read from the file, checked against the head's checksum. The kernels read a
     * head's tiles in increasing order, one after the other: the reader then reads ahead in chunks
     * ({@value AhCache#READ_CHUNK} bytes) into its own buffer, updates a running CRC32C with every chunk
     * and copies the tiles out of that buffer, so the bytes checked are exactly the bytes handed out
     * and the file is read once. A read out of that order makes the reader load the whole head at
     * once, check it (and that its start agrees with what was already handed out) and serve every
     * further tile from memory. {@link #verified()} completes the check after the last tile.
     * Reading fails with an {@link UncheckedIOException} when the file cannot be read.
     */
    public static final class HeadReader implements FactoredTopK.ATileSource {
        /** Each thread's spare read buffer (the largest one its readers used, at least {@value AhCache#READ_CHUNK} bytes), handed from reader to reader. */
        private static final ThreadLocal<ByteBuffer[]> SPARE = ThreadLocal.withInitial(() -> new ByteBuffer[1]);
        private final Entry entry;
        private final int index;
        private final int r;
        private final int vocab;
        private final long base;
        private final CRC32C crc = new CRC32C();
        private ByteBuffer buf;
        private FloatBuffer floats;
        private int bufT0;
        private int bufT1;
        /** Tokens {@code [0, checked)} went through {@link #crc} in order, as handed out. */
        private int checked;
        /** The whole head is in {@link #buf}; {@link #wholeOk} says whether it verified. */
        private boolean whole;
        private boolean wholeOk;
        private Boolean result;
        private long crcNanos;

        private HeadReader(Entry entry, int index) {
            this.entry = entry;
            this.index = index;
            this.r = entry.shape.r();
            this.vocab = entry.shape.vocab();
            this.base = entry.shape.dataOffset() + index * entry.shape.headBytes();
        }

        @Override
        public void read(int t0, int len, float[] dst, int ld) {
            if (result != null) {
                throw new IllegalStateException("the head was already verified");
            }
            if (t0 < 0 || len < 0 || t0 + len > vocab) {
                throw new IndexOutOfBoundsException("tokens " + t0 + " .. " + (t0 + len) + " of " + vocab);
            }
            if (len == 0) {
                return;
            }
            try {
                if (t0 < bufT0 || t0 + len > bufT1) {
                    if (!whole && t0 == checked) {
                        next(t0, len);
                    } else {
                        loadWhole();
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            int off = (t0 - bufT0) * r;
            if (ld == r) {
                floats.get(off, dst, 0, len * r);
            } else {
                for (int q = 0; q < len; q++) {
                    floats.get(off + q * r, dst, q * ld, r);
                }
            }
        }

        /** Reads the chunk that starts at {@code t0} (the next unchecked token) into the buffer and checksums it. */
        private void next(int t0, int len) throws IOException {
            int chunkTokens = Math.max(1, READ_CHUNK / (r * Float.BYTES));
            int count = Math.min(vocab - t0, Math.max(len, chunkTokens));
            ByteBuffer b = buffer(count);
            entry.readFully(b, base + (long) t0 * r * Float.BYTES);
            b.flip();
            long s = System.nanoTime();
            crc.update(b.duplicate());
            crcNanos += System.nanoTime() - s;
            checked = t0 + count;
            bufT0 = t0;
            bufT1 = t0 + count;
        }

        /** Loads and checks the whole head; what was handed out before must be its start. */
        private void loadWhole() throws IOException {
            ByteBuffer b = buffer(vocab);
            entry.readFully(b, base);
            b.flip();
            long s = System.nanoTime();
            int prefix = checked * r * Float.BYTES;
            CRC32C c = new CRC32C();
            c.update(b.duplicate().limit(prefix));
            boolean sameStart = c.getValue() == crc.getValue();
            c.update(b.duplicate().position(prefix));
            crcNanos += System.nanoTime() - s;
            wholeOk = sameStart && (int) c.getValue() == entry.crcs[index];
            whole = true;
            checked = vocab;
            bufT0 = 0;
            bufT1 = vocab;
        }

        private ByteBuffer buffer(int tokens) {
            int bytes = Math.multiplyExact(tokens, r * Float.BYTES);
            if (buf == null) {
                // the thread's scratch, unless another reader on this thread holds it
                ByteBuffer[] spare = SPARE.get();
                buf = spare[0];
                spare[0] = null;
            }
            if (buf == null || buf.capacity() < bytes) {
                buf = ByteBuffer.allocateDirect(Math.max(bytes, READ_CHUNK)).order(ByteOrder.LITTLE_ENDIAN);
            }
            buf.clear().limit(bytes);
            floats = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            return buf;
        }

        /**
         * Whether the head matches its checksum: every tile handed out, and the rest of the head
         * (read now when the kernel did not read it all). Call after the last read; further reads
         * fail. Fails with an {@link UncheckedIOException} when the file cannot be read.
         */
        public boolean verified() {
            if (result == null) {
                try {
                    if (!whole) {
                        while (checked < vocab) {
                            next(checked, 0);
                        }
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                result = whole ? wholeOk : (int) crc.getValue() == entry.crcs[index];
                entry.verifyNanos.addAndGet(crcNanos);
                ByteBuffer[] spare = SPARE.get();
                if (buf != null && (spare[0] == null || spare[0].capacity() < buf.capacity())) {
                    spare[0] = buf; // for the thread's next reader (a whole head's buffer too: fresh memory is slow)
                }
                buf = null;
                floats = null;
            }
            return result;
        }
    }

    /** Why a file is not a valid entry. */
    private static final class Damaged extends Exception {
        Damaged(String why) {
            super(why, null, false, false);
        }
    }

    /**
     * The entry for the weights, or empty when there is none; a file whose header, key, shapes or
     * length are wrong is reported in one line and treated as absent (the next write replaces it).
     * The heads' data is checked as it is read ({@link HeadReader#verified()}); a head that fails
     * is reported with {@link #damaged} by the reader's user.
     */
    public Optional<Entry> open(Gpt2Weights w, Key key) {
        Path file = file(key);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        long t0 = System.nanoTime();
        Shape s = Shape.of(w);
        FileChannel ch = null;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
            int[] crcs = readHeader(ch, s, key);
            return Optional.of(new Entry(file, s, crcs, ch, System.nanoTime() - t0));
        } catch (Damaged d) {
            closeQuietly(ch);
            damaged(file, d.getMessage());
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            closeQuietly(ch);
            unreadable(file, e);
            return Optional.empty();
        }
    }

    /**
     * Reports, once per entry, that a run read it (with the time hashing the key, opening the file
     * and checking the heads read took); only when verbose.
     */
    public void hit(Entry e, Key key) {
        if (verbose && e.reported.compareAndSet(false, true)) {
            log.accept(String.format(Locale.ROOT,
                    "headsweep: A_h cache hit: %s (%s; key hashed in %.2f s, opened and verified in %.2f s)",
                    e.file(), size(e.bytes()), key.nanos() / 1e9, e.verifyNanos() / 1e9));
        }
    }

    /** Reports in one line that the entry's file is damaged ({@code why}) and will be recomputed. */
    public void damaged(Entry e, String why) {
        damaged(e.file(), why);
    }

    /** Reports in one line that the entry's file could not be read and will be recomputed. */
    public void unreadable(Entry e, Exception why) {
        unreadable(e.file(), why);
    }

    private void damaged(Path file, String why) {
        log.accept("headsweep: A_h cache file " + file + " is damaged (" + why + "); recomputing it");
    }

    private void unreadable(Path file, Exception why) {
        Throwable t = why instanceof UncheckedIOException u ? u.getCause() : why;
        log.accept("headsweep: cannot read the A_h cache file " + file + " (" + t + "); recomputing it");
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // a channel only read from
            }
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
