package dev.headsweep.engine.cpu;

import dev.headsweep.engine.Backend;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.HeadTopK;
import dev.headsweep.engine.Progress;
import dev.headsweep.engine.TargetsInTopK;
import dev.headsweep.model.Gpt2Weights;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The reference backend: runs everywhere, on all cores. The OV chain uses the rank-64
 * factorization of DESIGN.md section 2 with a fused top-k ({@link FactoredTopK}), one head per
 * task, heads spread over a fixed pool of threads.
 *
 * <p>With an {@link AhCache}, the heads' vocabulary projections {@code A_h} are read from the
 * cache when it holds the model (stage 1 skipped), and written to it by a run that computes them
 * (all heads, also those the run does not score). The constructors without a cache argument use
 * the cache that the system property {@value AhCache#PROPERTY} names, if set.
 */
public final class CpuBackend implements Backend {
    private final int threads;
    private final Supplier<FactoredTopK> kernels;
    private final AhCache cache;
    private Gpt2Weights preparedFor;
    private FactoredTopK.Prepared prepared;
    private Gpt2Weights biasFor;
    private FactoredTopK.Prepared bias;
    private Gpt2Weights keyFor;
    private AhCache.Key key;
    private Gpt2Weights entryFor;
    private AhCache.Entry entry;
    /** The targets' rank test: tokens per screening tile, tiles per phase (tests change them), its row counts. */
    private int screenTile = TargetRankCheck.TILE;
    private int[] screenPhases = TargetRankCheck.PHASE_TILES;
    private long[] rankStats;

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
        this(threads, kernels, AhCache.fromSystemProperties().orElse(null));
    }

    /**
     * As {@link #CpuBackend(int, Supplier)}, with the {@code A_h} cache {@code cache} ({@code null}:
     * none, whatever the system property says).
     */
    public CpuBackend(int threads, Supplier<FactoredTopK> kernels, AhCache cache) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        this.kernels = kernels;
        this.cache = cache;
    }

    /** The {@code A_h} cache this backend uses, or null. */
    public AhCache cache() {
        return cache;
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
        // With a cache: read A_h from it when it holds the model, else compute and write it.
        int[][] ids = new int[heads.size()][];
        float[][] vals = new float[heads.size()][];
        if (fromCache(w, x, n, heads, progress, () -> topKJob(n, k, ids, vals))) {
            return new HeadTopK(List.copyOf(heads), n, k, ids, vals);
        }
        return computeTopK(w, x, n, heads, k, progress);
    }

    /**
     * Runs the job made by {@code job} on every head with A read from the cache, when there is one
     * and it holds the model; false when there is none, or a head's data was damaged or unreadable
     * (reported; the entry is dropped, to be recomputed and rewritten).
     */
    private boolean fromCache(Gpt2Weights w, float[] x, int n, List<HeadId> heads, Progress progress,
            java.util.function.Supplier<HeadJob> job) {
        AhCache.Entry cached = cache == null ? null : cachedEntry(w);
        if (cached == null) {
            return false;
        }
        if (run(w, x, n, heads, progress, cached, null, job.get())) {
            cache.hit(cached, key(w));
            return true;
        }
        dropEntry(cached);
        return false;
    }

    /** The heads' top-k with A computed (stage 1), and written to the cache when there is one. */
    private HeadTopK computeTopK(Gpt2Weights w, float[] x, int n, List<HeadId> heads, int k, Progress progress) {
        int[][] ids = new int[heads.size()][];
        float[][] vals = new float[heads.size()][];
        AhCache.Writer writer = cache == null ? null : cache.create(w, key(w)).orElse(null);
        run(w, x, n, heads, progress, null, writer, topKJob(n, k, ids, vals));
        return new HeadTopK(List.copyOf(heads), n, k, ids, vals);
    }

    /** The whole top-k of each head, into {@code ids[head]} and {@code vals[head]}. */
    private static HeadJob topKJob(int n, int k, int[][] ids, float[][] vals) {
        return (hi, kernel, p, M, src, r, U, sink) -> {
            int[] hid = new int[n * k];
            float[] hval = new float[n * k];
            if (src != null) {
                kernel.run(p, src, r, U, n, k, hid, hval);
            } else if (sink != null) {
                kernel.run(p, M, r, U, n, k, hid, hval, sink);
            } else {
                kernel.run(p, M, r, U, n, k, hid, hval);
            }
            ids[hi] = hid;
            vals[hi] = hval;
        };
    }

    /**
     * Without the whole top-k ({@link TargetRankCheck}): a row is done as soon as k tokens are known
     * to beat all its targets. With a cache that holds the model, A is read from it; a run that
     * fills the cache (no entry yet, or a damaged one) computes the whole top-k (it needs every tile
     * of A anyway) and looks the targets up in it.
     */
    @Override
    public boolean[][][] ovTargetsInTopK(Gpt2Weights w, float[] x, int n, List<HeadId> heads, int k,
            int[][] targets, Progress progress) {
        if (targets.length != n) {
            throw new IllegalArgumentException(targets.length + " rows of targets for " + n + " rows");
        }
        boolean[][][] hits = new boolean[heads.size()][][];
        if (fromCache(w, x, n, heads, progress, () -> rankJob(rankTest(prepareBias(w), k, targets, false), n, hits))) {
            return hits;
        }
        if (cache != null) {
            return TargetsInTopK.lookUp(computeTopK(w, x, n, heads, k, progress), targets);
        }
        TargetRankCheck test = rankTest(prepare(w), k, targets, true);
        run(w, x, n, heads, progress, null, null, rankJob(test, n, hits));
        return hits;
    }

    private TargetRankCheck rankTest(FactoredTopK.Prepared p, int k, int[][] targets, boolean withE) {
        return new TargetRankCheck(p, k, targets, withE, screenTile, screenPhases);
    }

    private HeadJob rankJob(TargetRankCheck test, int n, boolean[][][] hits) {
        // beside the two-pass kernel, a one-pass one for the runs it would make slower (TargetRankCheck.pick)
        ThreadLocal<FactoredTopK> onePass = ThreadLocal.withInitial(() -> FactoredTopK.nativeBf16Available()
                ? FactoredTopK.nativeKernel(true) : null);
        return (hi, kernel, p, M, src, r, U, sink) -> hits[hi] = test.head(kernel,
                kernel.name().equals("native-2pass") ? onePass.get() : null, M, src, r, U, n, rankStats);
    }

    /**
     * This backend with the targets' rank test screening on {@code phaseTiles} tiles of {@code tile}
     * tokens each; {@code stats} (when not null) receives its row counts (see
     * {@link TargetRankCheck#head}; not thread-safe: give the backend one thread). For tests and
     * benchmarks.
     */
    CpuBackend screening(int tile, int[] phaseTiles, long[] stats) {
        this.screenTile = tile;
        this.screenPhases = phaseTiles.clone();
        this.rankStats = stats;
        return this;
    }

    /** What the pool does with one head once its U and its A (a source, or M for stage 1) are at hand. */
    @FunctionalInterface
    private interface HeadJob {
        /**
         * @param src  A, when it is read from the cache (M is then null)
         * @param sink where the tiles of A go as stage 1 computes them, or null
         */
        void run(int headIndex, FactoredTopK kernel, FactoredTopK.Prepared p, float[] M,
                FactoredTopK.ATileSource src, int r, float[] U, FactoredTopK.ATileSink sink);
    }

    /**
     * Runs {@code job} on every head: A from {@code fromCache} (when not null), else computed, and
     * then written to {@code toCache} (when not null; all heads, also those not asked). False when a
     * head read from {@code fromCache} failed its checksum or could not be read (reported in one
     * line): then nothing the job computed from the file may be used.
     */
    private boolean run(Gpt2Weights w, float[] x, int n, List<HeadId> heads, Progress progress,
            AhCache.Entry fromCache, AhCache.Writer toCache, HeadJob job) {
        var cfg = w.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        float eps = (float) cfg.layerNormEps();
        FactoredTopK.Prepared prep = fromCache != null ? prepareBias(w) : prepare(w);
        List<HeadId> others = new ArrayList<>();
        if (toCache != null) {
            var asked = new java.util.HashSet<>(heads);
            for (int l = 0; l < cfg.nLayer(); l++) {
                for (int h = 0; h < cfg.nHead(); h++) {
                    if (!asked.contains(new HeadId(l, h))) {
                        others.add(new HeadId(l, h));
                    }
                }
            }
        }

        // ln_1 of the keyword rows for the layer of the thread's current head, in one buffer per
        // thread, recomputed when the layer changes (0.5 ms; the heads come layer by layer). Twelve
        // fresh 1.2 MB arrays would cost more: the first touch of fresh memory is slow (~5 ms per
        // MB on the development VMs).
        ThreadLocal<float[]> zBuffer = ThreadLocal.withInitial(() -> new float[n * d]);
        ThreadLocal<int[]> zLayer = ThreadLocal.withInitial(() -> new int[] {-1});
        // The first head (in the order asked) that failed its checksum, and the first read error.
        AtomicInteger damagedHead = new AtomicInteger(Integer.MAX_VALUE);
        AtomicReference<RuntimeException> readError = new AtomicReference<>();

        AtomicInteger done = new AtomicInteger();
        progress.update("heads", 0, heads.size());
        ThreadLocal<FactoredTopK> perThread = ThreadLocal.withInitial(kernels);
        ThreadLocal<AhCache.HeadBuffer> buffers = ThreadLocal.withInitial(
                () -> toCache == null ? null : toCache.buffer());
        AtomicInteger othersDone = new AtomicInteger();
        boolean committed = false;
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
                    if (damagedHead.get() != Integer.MAX_VALUE || readError.get() != null) {
                        return; // the cached entry failed: this run's results will not be used
                    }
                    HeadId head = heads.get(hi);
                    int l = head.layer();
                    float[] z = zBuffer.get();
                    int[] zl = zLayer.get();
                    if (zl[0] != l) {
                        Gpt2Weights.LayerOv lay = w.layer(l);
                        LayerNorm.rows(x, n, d, lay.ln1W(), lay.ln1B(), eps, z);
                        zl[0] = l;
                    }
                    FactoredTopK kernel = perThread.get();
                    if (fromCache != null) {
                        float[] u = OvFactors.u(w, head, z, n);
                        AhCache.HeadReader src = fromCache.head(head);
                        try {
                            job.run(hi, kernel, prep, null, src, hs, u, null);
                            if (!src.verified()) {
                                damagedHead.accumulateAndGet(hi, Math::min);
                                return;
                            }
                        } catch (UncheckedIOException e) {
                            readError.compareAndSet(null, e);
                            return;
                        }
                    } else {
                        OvFactors f = OvFactors.of(w, head, z, n);
                        if (toCache != null && !toCache.failed()) {
                            AhCache.HeadBuffer b = buffers.get();
                            b.reset();
                            job.run(hi, kernel, prep, f.m(), null, hs, f.u(), b);
                            toCache.put(head, b);
                        } else {
                            job.run(hi, kernel, prep, f.m(), null, hs, f.u(), null);
                        }
                    }
                    progress.update("heads", done.incrementAndGet(), heads.size());
                }));
            }
            for (HeadId head : others) {
                // Heads this run does not score: stage 1 alone, to complete the cache entry.
                jobs.add(pool.submit(() -> {
                    if (toCache.failed()) {
                        return;
                    }
                    AhCache.HeadBuffer b = buffers.get();
                    b.reset();
                    perThread.get().computeA(prep, OvFactors.m(w, head), hs, b);
                    toCache.put(head, b);
                    progress.update("A_h cache", othersDone.incrementAndGet(), others.size());
                }));
            }
            for (Future<?> f : jobs) {
                f.get();
            }
            if (toCache != null) {
                toCache.commit();
                committed = true;
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
            if (toCache != null && !committed) {
                toCache.abort();
            }
        }
        if (readError.get() != null) {
            cache.unreadable(fromCache, readError.get());
            return false;
        }
        if (damagedHead.get() != Integer.MAX_VALUE) {
            cache.damaged(fromCache, "head " + heads.get(damagedHead.get()) + " does not match its checksum");
            return false;
        }
        return true;
    }

    /** The content key of the weights; computed once per weights. */
    private synchronized AhCache.Key key(Gpt2Weights w) {
        if (keyFor != w) {
            key = AhCache.key(w, threads);
            keyFor = w;
        }
        return key;
    }

    /** The cache entry of the weights (header checked), or null; kept once found. */
    private synchronized AhCache.Entry cachedEntry(Gpt2Weights w) {
        if (entryFor != w) {
            if (entry != null) {
                entry.close();
            }
            entry = cache.open(w, key(w)).orElse(null);
            entryFor = entry == null ? null : w;
        }
        return entry;
    }

    /** Forgets an entry that failed (the next run opens the file afresh). */
    private synchronized void dropEntry(AhCache.Entry e) {
        e.close();
        if (entry == e) {
            entry = null;
            entryFor = null;
        }
    }

    /** Closes the cache file this backend holds open, if any. */
    @Override
    public synchronized void close() {
        if (entry != null) {
            entry.close();
            entry = null;
            entryFor = null;
        }
    }

    /** The bias-only preparation for runs from the cache; kept for the last weights seen. */
    private synchronized FactoredTopK.Prepared prepareBias(Gpt2Weights w) {
        if (biasFor != w) {
            var cfg = w.config();
            bias = FactoredTopK.prepareBias(cfg.vocabSize(), cfg.nEmbd(), OvFactors.beta(w));
            biasFor = w;
        }
        return bias;
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
