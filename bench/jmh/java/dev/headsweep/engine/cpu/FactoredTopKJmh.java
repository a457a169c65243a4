package dev.headsweep.engine.cpu;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * One head of the fused OV top-k on GPT-2 small's shape (r 64, d 768, V 50257, k 5), time per head:
 * <ul>
 *   <li>{@code fromM}: the cold path, stage 1 ({@code A = M·Eᵀ}) and stage 2 (logits folded into the
 *       top-k), 2·r·d·V + 2·n·r·V flops;</li>
 *   <li>{@code computeA}: stage 1 alone (what filling the A_h cache costs per head);</li>
 *   <li>{@code fromA}: stage 2 alone from a precomputed A in a heap array;</li>
 *   <li>{@code fromMappedA}: stage 2 from A in a memory-mapped file, as the A_h cache serves it.</li>
 * </ul>
 * With {@code -t 2} two threads run heads side by side (each its own kernel instance), as the
 * backend does. Parameters: {@code impl} (native-2pass, native-bf16, native, vector, plain; the native ones need
 * the library in target/classes, see native/README.md) and {@code n} (keyword rows).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx4g"})
public class FactoredTopKJmh {
    static final int V = 50257;
    static final int D = 768;
    static final int R = 64;
    static final int K = 5;

    /** The shared, read-only data: E, beta, one head's M and its A (in memory and in a mapped file). */
    @State(Scope.Benchmark)
    public static class Shared {
        @Param({"native-2pass", "native-bf16", "native", "vector", "plain"})
        public String impl;
        @Param({"388"})
        public int n;

        FactoredTopK.Prepared prepared;
        FactoredTopK.Prepared bias;
        float[] m;
        float[] u;
        float[] a;
        FloatBuffer mapped;
        Path file;

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            Random rnd = new Random(42);
            float[] e = random(V * D, rnd, 0.1f);
            float[] beta = random(V, rnd, 1f);
            prepared = FactoredTopK.prepare(e, V, D, beta);
            bias = FactoredTopK.prepareBias(V, D, beta);
            m = random(R * D, rnd, 0.05f);
            u = random(n * R, rnd, 1f);
            a = FactoredTopK.vector().computeA(prepared, m, R);
            file = Files.createTempFile("headsweep-jmh-", ".bin");
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                ByteBuffer bb = ByteBuffer.allocateDirect(a.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                bb.asFloatBuffer().put(a);
                while (bb.hasRemaining()) {
                    ch.write(bb, bb.position());
                }
                mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, (long) a.length * Float.BYTES)
                        .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            Files.deleteIfExists(file);
        }

        FactoredTopK kernel() {
            switch (impl) {
                case "native-2pass": return FactoredTopK.nativeTwoPass();
                case "native-bf16": return FactoredTopK.nativeKernel(true);
                case "native": return FactoredTopK.nativeKernel(false);
                case "vector": return FactoredTopK.vector();
                default: return FactoredTopK.plain();
            }
        }
    }

    /** Per-thread kernel instance and outputs. */
    @State(Scope.Thread)
    public static class PerThread {
        FactoredTopK kernel;
        int[] ids;
        float[] vals;
        float[] sink;

        @Setup(Level.Trial)
        public void setUp(Shared s) {
            kernel = s.kernel();
            ids = new int[s.n * K];
            vals = new float[s.n * K];
            sink = new float[V * R];
        }
    }

    static float[] random(int size, Random rnd, float scale) {
        float[] x = new float[size];
        for (int q = 0; q < size; q++) {
            x[q] = (float) rnd.nextGaussian() * scale;
        }
        return x;
    }

    @Benchmark
    public void fromM(Shared s, PerThread t, Blackhole bh) {
        t.kernel.run(s.prepared, s.m, R, s.u, s.n, K, t.ids, t.vals);
        bh.consume(t.ids);
    }

    @Benchmark
    public void computeA(Shared s, PerThread t, Blackhole bh) {
        float[] out = t.sink;
        t.kernel.computeA(s.prepared, s.m, R, (t0, len, src, ld) -> {
            for (int q = 0; q < len; q++) {
                System.arraycopy(src, q * ld, out, (t0 + q) * R, R);
            }
        });
        bh.consume(out);
    }

    @Benchmark
    public void fromA(Shared s, PerThread t, Blackhole bh) {
        t.kernel.run(s.bias, FactoredTopK.source(s.a, R), R, s.u, s.n, K, t.ids, t.vals);
        bh.consume(t.ids);
    }

    @Benchmark
    public void fromMappedA(Shared s, PerThread t, Blackhole bh) {
        FloatBuffer fb = s.mapped;
        t.kernel.run(s.bias, (t0, len, dst, ld) -> {
            if (ld == R) {
                fb.get(t0 * R, dst, 0, len * R);
            } else {
                for (int q = 0; q < len; q++) {
                    fb.get((t0 + q) * R, dst, q * ld, R);
                }
            }
        }, R, s.u, s.n, K, t.ids, t.vals);
        bh.consume(t.ids);
    }
}
