package dev.headsweep.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweep;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.HeadTopK;
import dev.headsweep.engine.Progress;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.reference.RandomCheckpoints;
import dev.headsweep.score.Sweep;
import dev.headsweep.score.SweepResult;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The A_h cache on a small checkpoint (2 layers × 2 heads, d 128, GPT-2's vocabulary; an entry is
 * 51 MB): cached and cold runs give identical top-k and scores, a changed checkpoint gets a new
 * entry, and damaged files are detected, reported in one line and recomputed.
 */
class AhCacheTest {
    @TempDir
    static Path tmp;
    static Gpt2Weights weights;
    static List<HeadId> allHeads;
    static float[] x;
    static final int N = 40;
    static final int K = 7;

    @BeforeAll
    static void checkpoint() {
        Path dir = tmp.resolve("model");
        RandomCheckpoints.write(dir, 2, 2, 128, 11, Dtype.F32, "");
        weights = HeadSweep.load(dir);
        allHeads = List.of(new HeadId(0, 0), new HeadId(0, 1), new HeadId(1, 0), new HeadId(1, 1));
        Random rnd = new Random(5);
        x = new float[N * 128];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
    }

    /** A cache whose messages are collected. */
    static final class Logged {
        final List<String> lines = Collections.synchronizedList(new ArrayList<>());
        final AhCache cache;

        Logged(Path dir) {
            cache = new AhCache(dir, lines::add, true);
        }

        String all() {
            return String.join("\n", lines);
        }
    }

    static HeadTopK run(AhCache cache, List<HeadId> heads) {
        return run(cache, heads, weights);
    }

    static HeadTopK run(AhCache cache, List<HeadId> heads, Gpt2Weights w) {
        return new CpuBackend(2, FactoredTopK::new, cache).ovTopK(w, x, N, heads, K, Progress.NONE);
    }

    static void assertSame(HeadTopK a, HeadTopK b) {
        assertEquals(a.heads(), b.heads());
        for (int h = 0; h < a.heads().size(); h++) {
            assertArrayEquals(a.ids()[h], b.ids()[h], "ids of " + a.heads().get(h));
            assertArrayEquals(a.logits()[h], b.logits()[h], "logits of " + a.heads().get(h));
        }
    }

    static List<Path> entries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    @Test
    void cachedAndColdRunsAgreeAndTheEntryIsWrittenOnce(@TempDir Path dir) throws IOException {
        HeadTopK cold = run(null, allHeads);
        Logged log = new Logged(dir);
        HeadTopK building = run(log.cache, allHeads);
        assertSame(cold, building);
        assertEquals(1, log.lines.size(), log.all());
        assertTrue(log.lines.get(0).startsWith("headsweep: A_h cache written: "), log.all());
        List<Path> files = entries(dir);
        assertEquals(1, files.size(), "only the entry, no temporary file: " + files);
        long expected = 4096 + 4L * 50257 * 64 * 4;
        assertEquals(expected, Files.size(files.get(0)));
        assertTrue(log.lines.get(0).contains("51.5 MB"), log.all());

        HeadTopK cached = run(log.cache, allHeads);
        assertSame(cold, cached);
        assertEquals(2, log.lines.size(), log.all());
        assertTrue(log.lines.get(1).startsWith("headsweep: A_h cache hit: "), log.all());
        // the form bench/compare.py reads
        assertTrue(java.util.regex.Pattern.compile("key hashed in [\\d.]+ s, opened and verified in [\\d.]+ s\\)$")
                .matcher(log.lines.get(1)).find(), log.lines.get(1));

        // The whole sweep: same scores and top-k from a fresh backend reading the entry.
        Sweep a = Sweep.of(weights, HeadSweep.task("numerals")).k(5)
                .backend(new CpuBackend(2, FactoredTopK::new, null));
        Sweep b = Sweep.of(weights, HeadSweep.task("numerals")).k(5)
                .backend(new CpuBackend(2, FactoredTopK::new, log.cache));
        SweepResult ra = a.run();
        SweepResult rb = b.run();
        for (HeadId h : allHeads) {
            for (String rel : List.of("copy", "next")) {
                assertEquals(ra.score(h, rel), rb.score(h, rel), h + " " + rel);
            }
            for (int kw = 0; kw < ra.keywords().size(); kw++) {
                assertArrayEquals(ra.topIds(h, kw), rb.topIds(h, kw));
            }
        }
        assertEquals(1, entries(dir).size());
    }

    @Test
    void aRunOfSomeHeadsFillsTheEntryForAll(@TempDir Path dir) {
        Logged log = new Logged(dir);
        HeadTopK one = run(log.cache, List.of(new HeadId(1, 0)));
        assertEquals(1, log.lines.size(), log.all());
        assertSame(run(null, List.of(new HeadId(1, 0))), one);
        assertSame(run(null, allHeads), run(log.cache, allHeads));
        assertTrue(log.lines.get(1).startsWith("headsweep: A_h cache hit: "), log.all());
    }

    @Test
    void theKeyIsTheContentOfWhatAhDependsOn() throws Exception {
        AhCache.Key k1 = AhCache.key(weights, 1);
        AhCache.Key k2 = AhCache.key(weights, 2);
        assertArrayEquals(k1.sha256(), k2.sha256(), "the key does not depend on the threads");
        assertArrayEquals(k1.sha256(), AhCache.key(weights, 5).sha256());
        assertEquals(64, k1.hex().length());
        assertArrayEquals(referenceKey(weights), k1.sha256(), "the format of the key (existing entries stay valid)");
    }

    /**
     * The key as the class comment defines it, one chunk of 4M floats after the other, with the
     * CRCs of each chunk's bytes taken in one call each (the class reads through a 256 KB buffer).
     */
    static byte[] referenceKey(Gpt2Weights w) throws Exception {
        var cfg = w.config();
        List<float[]> tensors = new ArrayList<>();
        for (int l = 0; l < cfg.nLayer(); l++) {
            tensors.add(w.layer(l).wo());
        }
        tensors.add(w.lnfW());
        tensors.add(w.wte());
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
        java.nio.ByteBuffer head = java.nio.ByteBuffer.allocate(64).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        head.put("headsweep A_h v2".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        head.putInt(cfg.nLayer()).putInt(cfg.nHead()).putInt(cfg.headSize()).putInt(cfg.nEmbd())
                .putInt(cfg.vocabSize()).putInt(1).putInt(tensors.size());
        md.update(head.array(), 0, head.position());
        int chunk = 1 << 22;
        for (int i = 0; i < tensors.size(); i++) {
            float[] a = tensors.get(i);
            int from = 0;
            do {
                int to = Math.min(a.length, from + chunk);
                java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate((to - from) * 4)
                        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
                for (int j = from; j < to; j++) {
                    bytes.putFloat(a[j]);
                }
                java.util.zip.CRC32C c = new java.util.zip.CRC32C();
                c.update(bytes.array());
                java.util.zip.CRC32 z = new java.util.zip.CRC32();
                z.update(bytes.array());
                java.nio.ByteBuffer at = java.nio.ByteBuffer.allocate(20).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                md.update(at.putInt(i).putInt(from).putInt(to).putInt((int) c.getValue()).putInt((int) z.getValue())
                        .array());
                from += chunk;
            } while (from < a.length);
        }
        return md.digest();
    }

    @Test
    void theFingerprintSeesEveryBitAndEveryPosition() {
        // Each single-bit change and each swap of two floats changes a chunk's fingerprint.
        float[] a = new float[300_000];
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        java.nio.ByteBuffer scratch = java.nio.ByteBuffer.allocate(AhCache.HASH_SCRATCH);
        long base = AhCache.fingerprint(a, 0, a.length, scratch);
        for (int trial = 0; trial < 200; trial++) {
            int i = r.nextInt(a.length);
            float old = a[i];
            a[i] = Float.intBitsToFloat(Float.floatToRawIntBits(old) ^ (1 << r.nextInt(32)));
            assertNotEquals(base, AhCache.fingerprint(a, 0, a.length, scratch), "bit flip at " + i);
            a[i] = old;
            int j = r.nextInt(a.length);
            if (a[j] != a[i]) {
                a[i] = a[j];
                a[j] = old;
                assertNotEquals(base, AhCache.fingerprint(a, 0, a.length, scratch), "swap " + i + ", " + j);
                a[j] = a[i];
                a[i] = old;
            }
        }
        assertEquals(base, AhCache.fingerprint(a, 0, a.length, scratch), "restored");
        assertNotEquals(base, AhCache.fingerprint(a, 1, a.length, scratch), "a different range");
    }

    @Test
    void aChangedCheckpointGetsANewEntry(@TempDir Path dir) throws IOException {
        Logged log = new Logged(dir);
        run(log.cache, allHeads);
        // One float of one layer's c_proj changed: a new key, a new entry, new answers.
        Path other = tmp.resolve("model-changed");
        var cfg = RandomCheckpoints.config(2, 2, 128);
        var tensors = new ArrayList<>(RandomCheckpoints.tensors(cfg, 11));
        for (int i = 0; i < tensors.size(); i++) {
            var t = tensors.get(i);
            if (t.name().equals("h.1.attn.c_proj.weight")) {
                float[] data = t.data().clone();
                data[77] += 0.5f;
                tensors.set(i, new dev.headsweep.checkpoint.NamedTensor(t.name(), t.shape(), data));
            }
        }
        dev.headsweep.checkpoint.SafetensorsWriter.writeCheckpoint(other, cfg, tensors, Dtype.F32, "");
        Gpt2Weights changed = HeadSweep.load(other);
        assertNotEquals(AhCache.key(weights, 2).hex(), AhCache.key(changed, 2).hex());
        HeadTopK fromCache = run(log.cache, allHeads, changed);
        assertSame(run(null, allHeads, changed), fromCache);
        assertEquals(2, entries(dir).size(), "a second entry: " + entries(dir));
        assertTrue(log.lines.get(1).startsWith("headsweep: A_h cache written: "), log.all());
        assertSame(run(null, allHeads, changed), run(log.cache, allHeads, changed));
        assertTrue(log.lines.get(2).startsWith("headsweep: A_h cache hit: "), log.all());
    }

    @Test
    void damagedFilesAreDetectedReportedAndRecomputed(@TempDir Path dir) throws IOException {
        HeadTopK cold = run(null, allHeads);
        Logged log = new Logged(dir);
        run(log.cache, allHeads);
        Path file = entries(dir).get(0);
        long size = Files.size(file);
        byte[] pristine = Files.readAllBytes(file);

        // (what to do to the file, what the one line must say)
        List<Object[]> damages = List.of(
                new Object[] {(Damage) f -> flip(f, size - 1000), "head 1.1 does not match its checksum"},
                new Object[] {(Damage) f -> flip(f, 4096 + 3), "head 0.0 does not match its checksum"},
                new Object[] {(Damage) f -> truncate(f, size - 4), "truncated"},
                new Object[] {(Damage) f -> truncate(f, 100), "truncated"},
                new Object[] {(Damage) f -> flip(f, 20), "header"},
                new Object[] {(Damage) f -> flip(f, 85), "header does not match its checksum"},
                new Object[] {(Damage) f -> Files.write(f, new byte[0]), "truncated"},
                new Object[] {(Damage) f -> append(f), "too long"});
        for (Object[] d : damages) {
            Files.write(file, pristine);
            ((Damage) d[0]).apply(file);
            int before = log.lines.size();
            HeadTopK again = run(log.cache, allHeads);
            assertSame(cold, again);
            List<String> lines = log.lines.subList(before, log.lines.size());
            assertEquals(2, lines.size(), log.all());
            assertTrue(lines.get(0).startsWith("headsweep: A_h cache file " + file + " is damaged ("), lines.get(0));
            assertTrue(lines.get(0).contains((String) d[1]), lines.get(0) + " should say " + d[1]);
            assertTrue(lines.get(0).endsWith("); recomputing it"), lines.get(0));
            assertFalse(lines.get(0).contains("\n"));
            assertTrue(lines.get(1).startsWith("headsweep: A_h cache written: "), lines.get(1));
            assertArrayEquals(pristine, Files.readAllBytes(file), "rewritten as before");
        }
        assertSame(cold, run(log.cache, allHeads));
        assertTrue(log.lines.get(log.lines.size() - 1).startsWith("headsweep: A_h cache hit: "));
    }

    @Test
    void aDamagedHeadIsFoundByTheFirstRunThatReadsIt(@TempDir Path dir) throws IOException {
        Logged log = new Logged(dir);
        run(log.cache, allHeads);
        Path file = entries(dir).get(0);
        flip(file, 4096 + 2L * 50257 * 64 * 4 + 5000); // head 1.0
        // A run that does not read head 1.0 uses the entry: every head it reads matches.
        List<HeadId> some = List.of(new HeadId(0, 1), new HeadId(1, 1));
        assertSame(run(null, some), run(log.cache, some));
        assertEquals(2, log.lines.size(), log.all());
        assertTrue(log.lines.get(1).startsWith("headsweep: A_h cache hit: "), log.all());
        // The first run that reads it reports it, returns nothing computed from the file and rewrites it.
        List<HeadId> others = List.of(new HeadId(1, 1), new HeadId(1, 0), new HeadId(0, 0));
        assertSame(run(null, others), run(log.cache, others));
        assertEquals(4, log.lines.size(), log.all());
        assertEquals("headsweep: A_h cache file " + file + " is damaged (head 1.0 does not match its checksum); "
                + "recomputing it", log.lines.get(2));
        assertTrue(log.lines.get(3).startsWith("headsweep: A_h cache written: "), log.all());
        assertSame(run(null, allHeads), run(log.cache, allHeads));
        assertTrue(log.lines.get(4).startsWith("headsweep: A_h cache hit: "), log.all());
    }

    /** The entry of {@link #weights} in a fresh folder, and each head's A as the kernel computes it. */
    static final class Fixture {
        final Logged log;
        final AhCache.Key key = AhCache.key(weights, 2);
        final float[][] a = new float[allHeads.size()][];
        final Path file;

        Fixture(Path dir) throws IOException {
            log = new Logged(dir);
            run(log.cache, allHeads);
            file = entries(dir).get(0);
            FactoredTopK kernel = new FactoredTopK();
            var cfg = weights.config();
            FactoredTopK.Prepared p = FactoredTopK.prepare(weights.wte(), cfg.vocabSize(), cfg.nEmbd(),
                    OvFactors.beta(weights));
            for (int i = 0; i < allHeads.size(); i++) {
                a[i] = kernel.computeA(p, OvFactors.m(weights, allHeads.get(i)), cfg.headSize());
            }
        }

        AhCache.Entry open() {
            return log.cache.open(weights, key).orElseThrow();
        }
    }

    /** Reads tiles {@code [t0, t0+len)} into a {@code len × ld} array and checks them against {@code a}. */
    static void readAndCompare(AhCache.HeadReader reader, float[] a, int t0, int len, int ld) {
        int r = 64;
        float[] dst = new float[len * ld];
        java.util.Arrays.fill(dst, Float.NaN);
        reader.read(t0, len, dst, ld);
        for (int q = 0; q < len; q++) {
            for (int j = 0; j < r; j++) {
                if (Float.floatToRawIntBits(a[(t0 + q) * r + j]) != Float.floatToRawIntBits(dst[q * ld + j])) {
                    throw new AssertionError("token " + (t0 + q) + ", row " + j);
                }
            }
            for (int j = r; j < ld; j++) {
                assertTrue(Float.isNaN(dst[q * ld + j]), "left as it was beyond r");
            }
        }
    }

    @Test
    void aHeadReadInOrderInTilesOfAnySizeIsTheKernelsAAndVerifies(@TempDir Path dir) throws IOException {
        Fixture f = new Fixture(dir);
        int vocab = weights.config().vocabSize();
        try (AhCache.Entry e = f.open()) {
            int[][] tilings = {{512, 64}, {256, 72}, {1, 64}, {3000, 64}, {50257, 64}, {4099, 65}};
            for (int[] tiling : tilings) {
                for (int h = 0; h < allHeads.size(); h++) {
                    AhCache.HeadReader reader = e.head(allHeads.get(h));
                    for (int t0 = 0; t0 < vocab; t0 += tiling[0]) {
                        readAndCompare(reader, f.a[h], t0, Math.min(tiling[0], vocab - t0), tiling[1]);
                    }
                    assertTrue(reader.verified(), "tiles of " + tiling[0]);
                    assertTrue(reader.verified(), "the answer stays");
                    assertThrows(IllegalStateException.class, () -> reader.read(0, 1, new float[64], 64));
                }
            }
            // Re-reading a tile, reading part of the head (the rest is read to verify it), reading nothing.
            AhCache.HeadReader again = e.head(allHeads.get(1));
            readAndCompare(again, f.a[1], 0, 512, 64);
            readAndCompare(again, f.a[1], 0, 512, 64);
            readAndCompare(again, f.a[1], 512, 100, 64);
            assertTrue(again.verified());
            assertTrue(e.head(allHeads.get(2)).verified());
            assertThrows(IndexOutOfBoundsException.class, () -> e.head(allHeads.get(0)).read(vocab - 1, 2,
                    new float[128], 64));
        }
    }

    @Test
    void aHeadReadOutOfOrderIsLoadedWholeAndVerified(@TempDir Path dir) throws IOException {
        Fixture f = new Fixture(dir);
        int vocab = weights.config().vocabSize();
        Random rnd = new Random(3);
        try (AhCache.Entry e = f.open()) {
            for (int h = 0; h < allHeads.size(); h++) {
                AhCache.HeadReader reader = e.head(allHeads.get(h));
                readAndCompare(reader, f.a[h], 0, 700, 64); // in order first
                for (int i = 0; i < 50; i++) {
                    int t0 = rnd.nextInt(vocab);
                    readAndCompare(reader, f.a[h], t0, Math.min(vocab - t0, 1 + rnd.nextInt(600)), 64 + rnd.nextInt(3));
                }
                assertTrue(reader.verified());
            }
        }
        // A damaged byte is found whatever the order of the reads.
        flip(f.file, 4096 + 50257L * 64 * 4 + 12345); // head 0.1
        try (AhCache.Entry e = f.open()) {
            AhCache.HeadReader reader = e.head(allHeads.get(1));
            reader.read(30000, 10, new float[640], 64);
            reader.read(0, 10, new float[640], 64);
            assertFalse(reader.verified());
            AhCache.HeadReader inOrder = e.head(allHeads.get(1));
            for (int t0 = 0; t0 < vocab; t0 += 512) {
                inOrder.read(t0, Math.min(512, vocab - t0), new float[512 * 64], 64);
            }
            assertFalse(inOrder.verified());
            assertTrue(e.head(allHeads.get(0)).verified(), "the other heads are intact");
        }
    }

    @Test
    void bytesHandedOutBeforeTheFileChangedDoNotVerify(@TempDir Path dir) throws IOException {
        Fixture f = new Fixture(dir);
        byte[] pristine = Files.readAllBytes(f.file);
        flip(f.file, 4096 + 100); // head 0.0, token 0
        try (AhCache.Entry e = f.open()) {
            // Tokens 0 .. 511 handed out from the damaged file; then the file is repaired and a
            // read out of order loads the whole head: it matches the head's checksum, but its start
            // is not what was handed out.
            AhCache.HeadReader reader = e.head(allHeads.get(0));
            reader.read(0, 512, new float[512 * 64], 64);
            Files.write(f.file, pristine);
            reader.read(40000, 512, new float[512 * 64], 64);
            assertFalse(reader.verified());
            AhCache.HeadReader after = e.head(allHeads.get(0));
            readAndCompare(after, f.a[0], 0, 512, 64);
            readAndCompare(after, f.a[0], 40000, 512, 64);
            assertTrue(after.verified(), "unchanged since: the start agrees");
        }
    }

    @Test
    void anInterruptedReadClosesNothingForLaterReaders(@TempDir Path dir) throws IOException {
        Fixture f = new Fixture(dir);
        try (AhCache.Entry e = f.open()) {
            AhCache.HeadReader reader = e.head(allHeads.get(3));
            Thread.currentThread().interrupt();
            try {
                assertThrows(java.io.UncheckedIOException.class, () -> reader.read(0, 512, new float[512 * 64], 64));
            } finally {
                Thread.interrupted();
            }
            AhCache.HeadReader later = e.head(allHeads.get(3));
            for (int t0 = 0; t0 < 50257; t0 += 512) {
                readAndCompare(later, f.a[3], t0, Math.min(512, 50257 - t0), 64);
            }
            assertTrue(later.verified());
        }
    }

    @Test
    void aFileThatCannotBeReadIsReportedAndRecomputed(@TempDir Path dir) throws IOException {
        Logged log = new Logged(dir);
        HeadTopK cold = run(null, allHeads);
        CpuBackend be = new CpuBackend(2, FactoredTopK::new, log.cache);
        assertSame(cold, be.ovTopK(weights, x, N, allHeads, K, Progress.NONE));
        Path file = entries(dir).get(0);
        assertSame(cold, be.ovTopK(weights, x, N, allHeads, K, Progress.NONE));
        assertEquals(2, log.lines.size(), log.all());
        // The backend keeps the entry open; the file shrinks under it.
        truncate(file, 4096 + 1000);
        assertSame(cold, be.ovTopK(weights, x, N, allHeads, K, Progress.NONE));
        assertEquals(4, log.lines.size(), log.all());
        assertTrue(log.lines.get(2).startsWith("headsweep: cannot read the A_h cache file " + file + " ("),
                log.all());
        assertTrue(log.lines.get(2).endsWith("); recomputing it"), log.all());
        assertTrue(log.lines.get(3).startsWith("headsweep: A_h cache written: "), log.all());
        assertSame(cold, be.ovTopK(weights, x, N, allHeads, K, Progress.NONE));
        assertEquals(5, log.lines.size(), log.all());
        assertTrue(log.lines.get(4).startsWith("headsweep: A_h cache hit: "), log.all());
        be.close();
    }

    @Test
    void anUnwritableFolderIsReportedAndTheRunGoesOn(@TempDir Path dir) throws IOException {
        Path notADir = dir.resolve("file");
        Files.writeString(notADir, "x");
        Logged log = new Logged(notADir.resolve("cache"));
        assertSame(run(null, allHeads), run(log.cache, allHeads));
        assertEquals(1, log.lines.size(), log.all());
        assertTrue(log.lines.get(0).startsWith("headsweep: cannot write the A_h cache in "), log.all());
        assertTrue(log.lines.get(0).endsWith("continuing without it"), log.all());
    }

    @Test
    void defaultFolderFollowsXdg() {
        Path d = AhCache.defaultDir();
        assertTrue(d.endsWith("headsweep"), d.toString());
    }

    interface Damage {
        void apply(Path f) throws IOException;
    }

    static void flip(Path f, long at) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.seek(at);
            int b = raf.read();
            raf.seek(at);
            raf.write(b ^ 0x10);
        }
    }

    static void truncate(Path f, long size) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
        }
    }

    static void append(Path f) throws IOException {
        Files.write(f, new byte[] {1, 2, 3}, java.nio.file.StandardOpenOption.APPEND);
    }
}
