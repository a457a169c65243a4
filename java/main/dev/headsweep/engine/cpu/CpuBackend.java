package dev.headsweep.engine.cpu;

import dev.headsweep.engine.Backend;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.HeadTopK;
import dev.headsweep.engine.Progress;
import dev.headsweep.model.Gpt2Weights;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The reference backend: runs everywhere, on all cores. The OV chain uses the rank-64
 * factorization of DESIGN.md section 2 with a fused top-k ({@link FactoredTopK}), one head per
 * task, heads spread over a fixed pool of threads.
 */
public final class CpuBackend implements Backend {
    private final int threads;
    private final Supplier<FactoredTopK> kernels;
    private Gpt2Weights preparedFor;
    private FactoredTopK.Prepared prepared;

    /** A backend on all available processors. */
    public CpuBackend() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public CpuBackend(int threads) {
        this(threads, FactoredTopK::new);
    }

    /**
     * A backend whose fused top-k runs on the kernels {@code kernels} makes (one per thread), e.g.
     * {@link FactoredTopK#plain()} to test or measure the plain-Java path beside the Vector API one.
     */
    public CpuBackend(int threads, Supplier<FactoredTopK> kernels) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        this.kernels = kernels;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String describe() {
        return "cpu (" + threads + " thread" + (threads == 1 ? "" : "s") + ", " + kernels.get().name() + ")";
    }

    @Override
    public float[] residualAfterBlock0(Gpt2Weights w, int[][] prompts, int[][] positions) {
        return Block0.residual(w, prompts, positions);
    }

    @Override
    public float[] residualAfterBlock0(Gpt2Weights w, int[][] prompts, int[][] positions, Progress progress) {
        return Block0.residual(w, prompts, positions, progress);
    }

    @Override
    public HeadTopK ovTopK(Gpt2Weights w, float[] x, int n, List<HeadId> heads, int k, Progress progress) {
        var cfg = w.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        float eps = (float) cfg.layerNormEps();
        FactoredTopK.Prepared prep = prepare(w);

        int[][] ids = new int[heads.size()][];
        float[][] vals = new float[heads.size()][];
        float[][] zByLayer = new float[cfg.nLayer()][];
        for (HeadId head : heads) {
            if (zByLayer[head.layer()] == null) {
                Gpt2Weights.LayerOv lay = w.layer(head.layer());
                zByLayer[head.layer()] = LayerNorm.rows(x, n, d, lay.ln1W(), lay.ln1B(), eps);
            }
        }

        AtomicInteger done = new AtomicInteger();
        progress.update("heads", 0, heads.size());
        ThreadLocal<FactoredTopK> perThread = ThreadLocal.withInitial(kernels);
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "headsweep-cpu");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> jobs = new ArrayList<>();
            for (int i = 0; i < heads.size(); i++) {
                final int hi = i;
                jobs.add(pool.submit(() -> {
                    HeadId head = heads.get(hi);
                    OvFactors f = OvFactors.of(w, head, zByLayer[head.layer()], n);
                    int[] hid = new int[n * k];
                    float[] hval = new float[n * k];
                    perThread.get().run(prep, f.m(), hs, f.u(), n, k, hid, hval);
                    ids[hi] = hid;
                    vals[hi] = hval;
                    progress.update("heads", done.incrementAndGet(), heads.size());
                }));
            }
            for (Future<?> job : jobs) {
                job.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
        }
        return new HeadTopK(List.copyOf(heads), n, k, ids, vals);
    }

    /** The shared, read-only preparation of the unembedding; kept for the last weights seen. */
    private synchronized FactoredTopK.Prepared prepare(Gpt2Weights w) {
        if (preparedFor != w) {
            var cfg = w.config();
            prepared = FactoredTopK.prepare(w.wte(), cfg.vocabSize(), cfg.nEmbd(), OvFactors.beta(w));
            preparedFor = w;
        }
        return prepared;
    }
}
