package dev.headsweep.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
    void theKeyIsTheContentOfWhatAhDependsOn() {
        AhCache.Key k1 = AhCache.key(weights, 1);
        AhCache.Key k2 = AhCache.key(weights, 2);
        assertArrayEquals(k1.sha256(), k2.sha256(), "the key does not depend on the threads");
        assertEquals(64, k1.hex().length());
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
