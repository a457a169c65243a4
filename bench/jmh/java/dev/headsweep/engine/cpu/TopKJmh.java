package dev.headsweep.engine.cpu;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The running top-k alone: one row of V = 50257 random logits offered in id order through the
 * gate ({@link TopK#offerAll}), as the kernels' scans do; time per row.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector"})
@State(Scope.Thread)
public class TopKJmh {
    @Param({"5", "40"})
    public int k;

    float[] logits;
    TopK topk;

    @Setup
    public void setUp() {
        Random rnd = new Random(7);
        logits = new float[50257];
        for (int t = 0; t < logits.length; t++) {
            logits[t] = (float) rnd.nextGaussian();
        }
        topk = new TopK(1, k);
    }

    @Benchmark
    public int offerAll() {
        topk.reset(1, k, topk.ids(), topk.vals());
        topk.offerAll(0, 0, logits, 0, logits.length);
        return topk.ids()[0];
    }
}
