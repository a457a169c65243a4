package dev.headsweep.engine.cuda;

import dev.headsweep.HeadSweepException;
import dev.headsweep.engine.Backend;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.HeadTopK;
import dev.headsweep.engine.Progress;
import dev.headsweep.engine.TargetsInTopK;
import dev.headsweep.engine.cpu.CpuBackend;
import dev.headsweep.model.Gpt2Weights;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The GPU backend: block 0 and every head's OV chain with its fused top-k in the project's own
 * CUDA kernels (kernels/*.cu), launched through a {@link Device} (JCuda's driver API on a real
 * GPU). Same contract and, kernel by kernel, the same arithmetic order as the CPU backend where
 * it matters for the top-k (DESIGN.md sections 1–2): A_h, β, σ and the logits are formed as the
 * CPU forms them; block 0, ln_1 and the value projections sum in another order (fp32 throughout),
 * so scores agree with the CPU's up to near-ties at the k-th place.
 *
 * <p>Per layer, a group of its heads at a time: W̃_O and M = W̃_O·diag(ln_f.w) and the Gram
 * matrices ({@code hs_ov_center}, {@code hs_gram}), all A_h of the group in one GEMM, then for a
 * chunk of keyword rows: ln_1, v = z·W_V + b_V (one GEMM for the layer), u = v/σ
 * ({@code hs_head_scale}) and the fused top-k ({@code hs_ov_topk}, plus {@code hs_topk_merge}
 * when the vocabulary is split to fill the GPU). Only k ids and values per row come back.
 * When the device runs out of memory the group is retried with half the heads, then with half
 * the rows, and the smaller sizes are kept for later calls.
 *
 * <p>The top-k runs on tensor cores where it can (head size 64, compute capability 8.0 or more;
 * {@link #useTopKKernel}): bf16 products with fp32 accumulation choose the candidates behind a
 * rigorous margin and the candidates are re-scored exactly in fp32 (topk_tc.cu), so the answers are
 * those of the fp32 kernel (topk.cu), which runs otherwise.
 *
 * <p>Scores alone ({@link #ovTargetsInTopK}, what {@code sweep} asks) take the targets' rank test
 * (kernels/rank.cu): each row's floor just below its lowest target's exact logit, then the same
 * top-k kernels keep only tokens above it and start their gates there; a target is among that list
 * exactly when it is among the whole top k. The vocabulary is split more finely then (a split no
 * longer starts by letting every token through). Where a group's A_h is not on the device yet, a
 * screen comes first ({@link #screenPays}): A at 8,192 spread tokens and at the targets only, and
 * heads whose every row has k of those tokens above all its targets need no A_h at all.
 *
 * <p>Limits: head size at most 64 and prompts of at most 1024 tokens in the kernels; beyond that
 * this backend hands the call to the CPU backend.
 *
 * <p>Status: the host logic here is tested against the CPU on a plain-Java simulation of the
 * kernels; the kernels themselves under a host emulator (kernels/emu); the whole on an NVIDIA H200
 * by {@code bench/gpu-check.sh} (bench/results/gpu-bench-h200.txt: every top-k kernel bit for bit
 * the fp32 one on all 55,872 numerals rows and all 7,237,008 vocab rows, scores identical to the CPU's).
 * The rank test is checked under the emulator and on the simulation; it has not run on a GPU yet.
 */
public final class CudaBackend implements Backend {
    static final int MAX_HEAD_SIZE = 64;
    static final int MAX_PROMPT = 1024;
    /** Rows of the fused top-k per block, tokens per tile (topk.cu's TK_BR, TK_BT). */
    static final int TOPK_ROWS = 32;
    static final int TOPK_TILE = 64;
    /** Rows per block and tokens per step of the tensor-core top-k (topk_tc.cu's TC_WARPS·TC_WROWS, TC_TILE). */
    static final int TC_ROWS = 256;
    /** Rows per block of the second tensor-core version (TC2_WARPS·TC_WROWS). */
    static final int TC2_ROWS = 128;
    /** gemm_bf16.cu's block tile (rows of M, tokens) and threads a block. */
    static final int GEMM_BF16_BM = 128;
    static final int GEMM_BF16_BN = 128;
    static final int GEMM_BF16_THREADS = 256;
    static final int TC_TILE = 32;
    /** The head size the tensor-core top-k is written for. */
    static final int TC_HEAD_SIZE = 64;

    private final Device dev;
    private CpuBackend cpu;
    private DeviceWeights weights;
    private float[] lastResidual;
    private Device.Buffer lastResidualDev;
    /** The rank test's targets on the device, kept between sweeps (grown when too small). */
    private Device.Buffer targetsDev;
    private TopKKernel topKKernel = TopKKernel.parse(System.getProperty("headsweep.cuda.topk", "auto"));
    private int block0Rows = 16384;
    private final Map<String, Device.Buffer> scratch = new HashMap<>();
    private boolean keepFactors = !"false".equals(System.getProperty("headsweep.cuda.resident"));
    private int headsPerGroup = Integer.MAX_VALUE;
    private int rowsPerChunk = Integer.MAX_VALUE;

    /** A backend on {@code device}, which it owns and closes. */
    public CudaBackend(Device device) {
        this.dev = device;
    }

    /**
     * The backend on GPU 0.
     *
     * @throws HeadSweepException in one line when no usable GPU (or no kernel image) is present
     */
    public static CudaBackend open() {
        CudaSupport.Opened o = CudaSupport.open();
        if (o.device() == null) {
            throw new HeadSweepException("no usable CUDA GPU: " + o.whyNot());
        }
        return new CudaBackend(o.device());
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String describe() {
        String topk = !tensorCoresUsable() ? "fp32 kernels"
                : topKKernel == TopKKernel.AUTO ? "top-k on bf16 tensor cores with exact fp32 re-scoring"
                : "top-k kernel " + topKKernel.name().toLowerCase(java.util.Locale.ROOT);
        return "cuda (" + dev.describe() + ", " + topk + ")";
    }

    /** The top-k kernels (all give the fp32 formula's answers, bit for bit). */
    public enum TopKKernel {
        /** topk.cu: fp32 CUDA cores, any head size up to 64. */
        FP32,
        /** topk_tc.cu's first version: bf16 tensor cores, candidates re-scored one lane per row. */
        TENSOR_CORES_V1,
        /** topk_tc.cu's second version: bf16 tensor cores, candidates re-scored across the warp. */
        TENSOR_CORES,
        /**
         * {@link #TENSOR_CORES} where it can run (head size 64, compute capability 8.0), else FP32. On an
         * H200 (bench/results/gpu-bench-h200.txt) v2 is the fastest of the three from 388 rows a head
         * (numerals: 14.1 ms of top-k against 21.0 fp32, 40.4 v1) to 50,257 (vocab: 457 ms against
         * about 2,000 fp32 and 560 v1).
         */
        AUTO;

        static TopKKernel parse(String s) {
            return switch (s) {
                case "fp32" -> FP32;
                case "tc1" -> TENSOR_CORES_V1;
                case "tc" -> TENSOR_CORES;
                default -> AUTO;
            };
        }
    }

    /**
     * Picks the top-k kernel ({@link TopKKernel#AUTO} by default; {@code -Dheadsweep.cuda.topk=fp32|tc1|tc|auto}).
     * The tensor-core kernels need head size 64 and compute capability 8.0; elsewhere FP32 runs.
     */
    public synchronized void useTopKKernel(TopKKernel kernel) {
        topKKernel = kernel;
    }

    private boolean tensorCoresUsable() {
        return topKKernel != TopKKernel.FP32 && dev.computeCapability() >= 80;
    }

    private TopKKernel kernelFor(int headSize) {
        if (!tensorCoresUsable() || headSize != TC_HEAD_SIZE) {
            return TopKKernel.FP32;
        }
        return topKKernel == TopKKernel.AUTO ? TopKKernel.TENSOR_CORES : topKKernel;
    }

    /**
     * Sets the keyword rows per chunk (what out-of-memory retries lower, unbounded until then), so
     * that tests can run the chunked path without filling a device.
     */
    synchronized void rowsPerChunk(int rows) {
        rowsPerChunk = Math.max(1, rows);
    }

    /** The device, for tests and benchmarks. */
    public Device device() {
        return dev;
    }

    private CpuBackend cpu() {
        if (cpu == null) {
            cpu = new CpuBackend();
        }
        return cpu;
    }

    // ----------------------------------------------------------------- weights on the device

    /** Every tensor the kernels read, uploaded once per {@link Gpt2Weights} (layers when first used). */
    private final class DeviceWeights {
        final Gpt2Weights w;
        final List<Device.Buffer> owned = new ArrayList<>();
        final Map<Integer, Device.Buffer[]> layers = new HashMap<>();
        final Map<String, GroupFactors> factors = new HashMap<>();
        /** Groups screened once (see {@link #screenPays}). */
        final java.util.Set<String> screened = new java.util.HashSet<>();
        long factorBytes;
        Device.Buffer wte;
        Device.Buffer beta;
        Device.Buffer lnfW;
        Device.Buffer[] block0;

        DeviceWeights(Gpt2Weights w) {
            this.w = w;
        }

        Device.Buffer up(float[] a) {
            Device.Buffer b = dev.upload(a);
            owned.add(b);
            return b;
        }

        Device.Buffer wte() {
            if (wte == null) {
                wte = up(w.wte());
            }
            return wte;
        }

        Device.Buffer lnfW() {
            if (lnfW == null) {
                lnfW = up(w.lnfW());
            }
            return lnfW;
        }

        /** β = ln_f.b·wteᵀ, on the device. */
        Device.Buffer beta() {
            if (beta == null) {
                var cfg = w.config();
                Device.Buffer b = up(w.lnfB());
                beta = dev.alloc(cfg.vocabSize(), Device.Type.F32);
                owned.add(beta);
                dev.launch("hs_beta", blocks(cfg.vocabSize(), 128), 1, 1, 128,
                        wte().ptr(), b.ptr(), beta.ptr(), cfg.vocabSize(), cfg.nEmbd());
            }
            return beta;
        }

        Device.Buffer packedE;
        /** maxE, maxEl, max|β| (rounded up) for the two-pass; empty when the embedding does not allow it. */
        float[] twoPassScalars;

        /** The token embedding in bf16, two a word ([V][d/2]; gemm_bf16.cu's B), made on first use. */
        Device.Buffer packedE() {
            if (packedE == null) {
                var cfg = w.config();
                long pairs = (long) cfg.vocabSize() * cfg.nEmbd() / 2;
                Device.Buffer b = dev.alloc(pairs, Device.Type.I32);
                owned.add(b);
                dev.launch("hs_pack_bf16", blocks(pairs, 256), 1, 1, 256, wte().ptr(), pairs, b.ptr());
                packedE = b;
            }
            return packedE;
        }

        /**
         * The embedding's largest ‖E_t‖₂, ‖E_t − bf16(E_t)‖₂ and |β_t|, each rounded up to a float
         * (twopass.cu's hs_row_bound), or an empty array where an entry of E is above 2¹⁶ or anything
         * is not finite (then every group takes the exact path).
         */
        float[] twoPassScalars() {
            if (twoPassScalars == null) {
                var cfg = w.config();
                int V = cfg.vocabSize();
                int d = cfg.nEmbd();
                float[] e = w.wte();
                double maxE = 0;
                double maxEl = 0;
                boolean ok = true;
                for (int t = 0; t < V && ok; t++) {
                    double s = 0;
                    double sl = 0;
                    for (int i = 0; i < d; i++) {
                        float x = e[t * d + i];
                        ok &= Math.abs(x) <= 0x1p16f;  // also false for NaN
                        double l = (double) x - Float.intBitsToFloat(bf16Bits(x) << 16);
                        s += (double) x * x;
                        sl += l * l;
                    }
                    maxE = Math.max(maxE, Math.sqrt(s));
                    maxEl = Math.max(maxEl, Math.sqrt(sl));
                }
                float[] b = new float[V];
                dev.download(beta(), 0, b, 0, V);
                double maxB = 0;
                for (float x : b) {
                    ok &= Math.abs(x) <= 3e38f;
                    maxB = Math.max(maxB, Math.abs(x));
                }
                twoPassScalars = ok ? new float[] {roundUp(maxE * (1 + 1e-12)), roundUp(maxEl * (1 + 1e-12)), roundUp(maxB)}
                        : new float[0];
            }
            return twoPassScalars;
        }

        /** ln_1 weight and bias, W_V, b_V, W_O (c_proj) of layer l. */
        Device.Buffer[] layer(int l) {
            return layers.computeIfAbsent(l, ll -> {
                Gpt2Weights.LayerOv lay = w.layer(ll);
                return new Device.Buffer[] {up(lay.ln1W()), up(lay.ln1B()), up(lay.wv()), up(lay.bv()), up(lay.wo())};
            });
        }

        /** wpe, then block 0's twelve tensors in {@link Gpt2Weights.Block0Weights}' order. */
        Device.Buffer[] block0() {
            if (block0 == null) {
                Gpt2Weights.Block0Weights b = w.block0();
                block0 = new Device.Buffer[] {up(w.wpe()), up(b.ln1W()), up(b.ln1B()), up(b.attnW()), up(b.attnB()),
                    up(b.projW()), up(b.projB()), up(b.ln2W()), up(b.ln2B()), up(b.fcW()), up(b.fcB()),
                    up(b.fcProjW()), up(b.fcProjB())};
            }
            return block0;
        }

        void free() {
            for (Device.Buffer b : owned) {
                dev.free(b);
            }
            owned.clear();
            factors.clear();
            screened.clear();
            factorBytes = 0;
            packedE = null;
            twoPassScalars = null;
        }

        void dropFactors() {
            for (GroupFactors f : factors.values()) {
                List<Device.Buffer> bs = new ArrayList<>(List.of(f.gram(), f.a()));
                if (f.tc() != null) {
                    bs.addAll(List.of(f.tc().abf(), f.tc().tok(), f.tc().tmax(), f.tc().at()));
                }
                for (Device.Buffer b : bs) {
                    owned.remove(b);
                    dev.free(b);
                }
            }
            factors.clear();
            screened.clear();
            factorBytes = 0;
        }
    }

    private DeviceWeights weights(Gpt2Weights w) {
        if (weights == null || weights.w != w) {
            if (weights != null) {
                weights.free();
            }
            forgetResidual();
            weights = new DeviceWeights(w);
        }
        return weights;
    }

    private void forgetResidual() {
        if (lastResidualDev != null) {
            dev.free(lastResidualDev);
        }
        lastResidualDev = null;
        lastResidual = null;
    }

    /** fp32 → bf16 bits, to nearest even, a NaN kept a NaN (bf16.cuh's hs_bf16_bits). */
    static int bf16Bits(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) {
            return (u >>> 16) | 0x40;
        }
        u += 0x7fff + ((u >>> 16) & 1);
        return u >>> 16;
    }

    /** The float nearest x from above (x itself when it is one). */
    private static float roundUp(double x) {
        float f = (float) x;
        return f < x ? Math.nextUp(f) : f;
    }

    static int blocks(long items, int perBlock) {
        return (int) Math.max(1, Math.min((items + perBlock - 1) / perBlock, 1L << 20));
    }

    private void sgemm(Device.Ptr a, Device.Ptr b, Device.Ptr bias, Device.Ptr c, int m, int n, int k,
            int lda, int ldb, int ldc, boolean transB) {
        dev.launch("hs_sgemm2", (n + 127) / 128, (m + 127) / 128, 1, 256,
                a, b, bias, c, m, n, k, lda, ldb, ldc, transB ? 1 : 0);
    }

    private void layernorm(Device.Ptr x, Device.Ptr y, Device.Buffer w, Device.Buffer b, int n, int d, float eps) {
        dev.launch("hs_layernorm", (n + 7) / 8, 1, 1, 256, x, y, w.ptr(), b.ptr(), n, d, eps);
    }

    // ----------------------------------------------------------------- block 0

    @Override
    public float[] residualAfterBlock0(Gpt2Weights w, int[][] prompts, int[][] positions) {
        return residualAfterBlock0(w, prompts, positions, Progress.NONE);
    }

    @Override
    public synchronized float[] residualAfterBlock0(Gpt2Weights w, int[][] prompts, int[][] positions,
            Progress progress) {
        var cfg = w.config();
        int d = cfg.nEmbd();
        long total = 0;
        for (int p = 0; p < prompts.length; p++) {
            if (prompts[p].length > cfg.nPositions()) {
                throw new HeadSweepException("prompt " + p + " has " + prompts[p].length
                        + " tokens, more than the model's " + cfg.nPositions() + " positions");
            }
            if (prompts[p].length > MAX_PROMPT) {
                return cpu().residualAfterBlock0(w, prompts, positions, progress);
            }
            total += positions[p].length;
        }
        if (total * d > Integer.MAX_VALUE - 8) {
            throw new HeadSweepException("too many keyword rows for one sweep: " + total);
        }
        DeviceWeights W = weights(w);
        Device.Buffer[] b0 = W.block0();
        // the last sweep's residual buffer when it is large enough (an allocation and a free cost
        // synchronizations), else a new one
        Device.Buffer out = lastResidualDev;
        lastResidual = null;
        if (out == null || out.count() < total * d) {
            forgetResidual();
            out = dev.alloc(total * d, Device.Type.F32);
        }
        lastResidualDev = null;
        float[] host = new float[(int) (total * d)];
        try {
            progress.update("block 0", 0, prompts.length);
            int p = 0;
            long outRow = 0;
            while (p < prompts.length) {
                int end = p;
                long rows = 0;
                while (end < prompts.length && (end == p || rows + prompts[end].length <= block0Rows)) {
                    rows += prompts[end].length;
                    end++;
                }
                try {
                    block0Chunk(W, b0, prompts, positions, p, end, (int) rows, out, outRow, cfg.nHead(),
                            (float) cfg.layerNormEps());
                } catch (Device.OutOfMemory e) {
                    freeScratch(); // working buffers kept from earlier sweeps too
                    if (end - p == 1) {
                        throw new HeadSweepException("GPU out of memory for block 0 of a single prompt of "
                                + prompts[p].length + " tokens", e);
                    }
                    block0Rows = Math.max(1, (int) (rows / 2));
                    continue;
                }
                for (int q = p; q < end; q++) {
                    outRow += positions[q].length;
                }
                p = end;
                progress.update("block 0", p, prompts.length);
            }
            dev.download(out, 0, host, 0, host.length);
        } catch (RuntimeException e) {
            dev.free(out);
            throw e;
        }
        lastResidual = host;
        lastResidualDev = out;
        return host;
    }

    private void block0Chunk(DeviceWeights W, Device.Buffer[] b0, int[][] prompts, int[][] positions, int from,
            int to, int rows, Device.Buffer out, long outRow, int nHead, float eps) {
        int d = W.w.config().nEmbd();
        int[] tokens = new int[rows];
        int[] pos = new int[rows];
        int[] first = new int[rows];
        int wanted = 0;
        for (int q = from; q < to; q++) {
            wanted += positions[q].length;
        }
        int[] gather = new int[wanted];
        int r = 0;
        int g = 0;
        for (int q = from; q < to; q++) {
            int start = r;
            for (int t = 0; t < prompts[q].length; t++, r++) {
                tokens[r] = prompts[q][t];
                pos[r] = t;
                first[r] = start;
            }
            for (int at : positions[q]) {
                gather[g++] = start + at;
            }
        }
        {
            // working buffers kept between chunks and sweeps (see scratch)
            Device.Buffer tokB = upload(scratch("b0.tokens", rows, Device.Type.I32), tokens);
            Device.Buffer posB = upload(scratch("b0.positions", rows, Device.Type.I32), pos);
            Device.Buffer firstB = upload(scratch("b0.first", rows, Device.Type.I32), first);
            Device.Buffer gatherB = upload(scratch("b0.gather", wanted, Device.Type.I32), gather);
            Device.Buffer h = scratch("b0.h", (long) rows * d, Device.Type.F32);
            Device.Buffer a = scratch("b0.a", (long) rows * d, Device.Type.F32);
            Device.Buffer big = scratch("b0.big", (long) rows * 4 * d, Device.Type.F32); // qkv, then the MLP's hidden
            Device.Buffer c = scratch("b0.c", (long) rows * d, Device.Type.F32);
            dev.launch("hs_embed", blocks((long) rows * d, 256), 1, 1, 256,
                    tokB.ptr(), posB.ptr(), W.wte().ptr(), b0[0].ptr(), h.ptr(), rows, d);
            layernorm(h.ptr(), a.ptr(), b0[1], b0[2], rows, d, eps);
            sgemm(a.ptr(), b0[3].ptr(), b0[4].ptr(), big.ptr(), rows, 3 * d, d, d, 3 * d, 3 * d, false);
            dev.launch("hs_attention", rows, nHead, 1, 128, big.ptr(), c.ptr(), firstB.ptr(), rows, nHead, d / nHead, d);
            sgemm(c.ptr(), b0[5].ptr(), b0[6].ptr(), a.ptr(), rows, d, d, d, d, d, false);
            dev.launch("hs_add", blocks((long) rows * d, 256), 1, 1, 256, h.ptr(), a.ptr(), (long) rows * d);
            layernorm(h.ptr(), a.ptr(), b0[7], b0[8], rows, d, eps);
            sgemm(a.ptr(), b0[9].ptr(), b0[10].ptr(), big.ptr(), rows, 4 * d, d, d, 4 * d, 4 * d, false);
            dev.launch("hs_gelu", blocks((long) rows * 4 * d, 256), 1, 1, 256, big.ptr(), (long) rows * 4 * d);
            sgemm(big.ptr(), b0[11].ptr(), b0[12].ptr(), c.ptr(), rows, d, 4 * d, 4 * d, d, d, false);
            dev.launch("hs_add", blocks((long) rows * d, 256), 1, 1, 256, h.ptr(), c.ptr(), (long) rows * d);
            dev.launch("hs_gather", blocks((long) wanted * d, 256), 1, 1, 256,
                    h.ptr(), gatherB.ptr(), out.at(outRow * d), wanted, d);
        }
    }

    private Device.Buffer upload(Device.Buffer dst, int[] data) {
        dev.upload(dst, 0, data, 0, data.length);
        return dst;
    }

    private Device.Buffer upload(Device.Buffer dst, float[] data) {
        dev.upload(dst, 0, data, 0, data.length);
        return dst;
    }

    /**
     * A working buffer kept between groups and sweeps (allocating and freeing per group costs
     * synchronizations): the one named {@code name} when it is large enough, else a new one.
     */
    private Device.Buffer scratch(String name, long count, Device.Type type) {
        Device.Buffer b = scratch.get(name);
        if (b != null && b.count() >= count && b.type() == type) {
            return b;
        }
        if (b != null) {
            scratch.remove(name);
            dev.free(b);
        }
        b = dev.alloc(count, type);
        scratch.put(name, b);
        return b;
    }

    private void freeScratch() {
        for (Device.Buffer b : scratch.values()) {
            dev.free(b);
        }
        scratch.clear();
    }

    private static Device.Buffer keep(List<Device.Buffer> list, Device.Buffer b) {
        list.add(b);
        return b;
    }

    // ----------------------------------------------------------------- the OV chain with top-k

    @Override
    public synchronized HeadTopK ovTopK(Gpt2Weights w, float[] x, int n, List<HeadId> heads, int k,
            Progress progress) {
        if (w.config().headSize() > MAX_HEAD_SIZE) {
            return cpu().ovTopK(w, x, n, heads, k, progress);
        }
        return topK(w, x, n, heads, k, null, progress);
    }

    /**
     * The targets' rank test on the GPU (kernels/rank.cu): per head and row a floor just below the
     * lowest target's exact logit ({@code hs_target_gate}), then the same top-k kernels keep the top
     * k of the tokens above it only; a target is among that list exactly when it is among the whole
     * vocabulary's top k. The gates start at the floor, so far fewer tokens reach exact re-scoring.
     */
    @Override
    public synchronized boolean[][][] ovTargetsInTopK(Gpt2Weights w, float[] x, int n, List<HeadId> heads, int k,
            int[][] targets, Progress progress) {
        if (targets.length != n) {
            throw new IllegalArgumentException(targets.length + " rows of targets for " + n + " rows");
        }
        if (w.config().headSize() > MAX_HEAD_SIZE) {
            return cpu().ovTargetsInTopK(w, x, n, heads, k, targets, progress);
        }
        return TargetsInTopK.lookUp(topK(w, x, n, heads, k, targets, progress), targets);
    }

    /**
     * Every head's top k at every row ({@code targets} null), or the top k above each row's floor
     * (lists may be shorter, padded with id -1).
     */
    private HeadTopK topK(Gpt2Weights w, float[] x, int n, List<HeadId> heads, int k, int[][] targets,
            Progress progress) {
        var cfg = w.config();
        int d = cfg.nEmbd();
        Targets tg = targets == null ? null : Targets.pack(targets, cfg.vocabSize());
        int[][] ids = new int[heads.size()][n * k];
        float[][] vals = new float[heads.size()][n * k];
        progress.update("heads", 0, heads.size());
        if (n == 0 || heads.isEmpty()) {
            progress.update("heads", heads.size(), heads.size());
            return new HeadTopK(List.copyOf(heads), n, k, ids, vals);
        }
        DeviceWeights W = weights(w);
        Device.Buffer xd;
        boolean ownX = !(x == lastResidual && lastResidualDev != null);
        if (ownX) {
            try {
                xd = dev.alloc((long) n * d, Device.Type.F32);
            } catch (Device.OutOfMemory e) {
                throw new HeadSweepException("GPU out of memory for the " + n + " keyword rows themselves", e);
            }
            try {
                dev.upload(xd, 0, x, 0, n * d);
            } catch (RuntimeException e) {
                dev.free(xd);
                throw e;
            }
        } else {
            xd = lastResidualDev;
        }
        Device.Buffer tgB = null;
        try {
            if (tg != null) { // once for all groups, in a buffer kept between sweeps
                if (targetsDev == null || targetsDev.count() < tg.ids().length) {
                    if (targetsDev != null) {
                        dev.free(targetsDev);
                        targetsDev = null;
                    }
                    try {
                        targetsDev = dev.alloc(tg.ids().length, Device.Type.I32);
                    } catch (Device.OutOfMemory e) {
                        throw new HeadSweepException("GPU out of memory for the targets of " + n + " keyword rows", e);
                    }
                }
                tgB = upload(targetsDev, tg.ids());
            }
            Screen sc = null;
            if (tg != null && screens) {
                try {
                    sc = screen(W, targets);
                } catch (Device.OutOfMemory oom) {
                    sc = null; // no room for a screen: every head takes the ordinary path
                }
            }
            Map<Integer, List<Integer>> byLayer = new java.util.TreeMap<>();
            for (int i = 0; i < heads.size(); i++) {
                byLayer.computeIfAbsent(heads.get(i).layer(), l -> new ArrayList<>()).add(i);
            }
            int done = 0;
            for (var e : byLayer.entrySet()) {
                List<Integer> idx = e.getValue();
                int at = 0;
                while (at < idx.size()) {
                    int nb = Math.min(headsPerGroup, idx.size() - at);
                    try {
                        List<Integer> sub = idx.subList(at, at + nb);
                        List<Integer> run = sub;
                        if (sc != null && n <= rowsPerChunk && sc.count() > 4 * k && screenPays(W, e.getKey(), sub, heads)) {
                            ScreenResult sr = screenGroup(W, e.getKey(), xd, n, sub, heads, k, sc);
                            run = sr.left();
                            for (int hi : sub) {
                                if (!run.contains(hi)) { // no row can hit: its list stays empty
                                    java.util.Arrays.fill(ids[hi], -1);
                                    java.util.Arrays.fill(vals[hi], Float.NaN);
                                }
                            }
                            if (!run.isEmpty() && twoPassFits(W)) {
                                run = twoPass(W, e.getKey(), xd, n, sub, run, heads, k, sr.gates(), ids, vals);
                            }
                        }
                        if (!run.isEmpty()) {
                            group(W, e.getKey(), xd, n, run, heads, k, tg, tgB, ids, vals);
                        }
                    } catch (Device.OutOfMemory oom) {
                        freeScratch();
                        W.dropFactors();
                        if (nb > 1) {
                            headsPerGroup = Math.max(1, nb / 2);
                        } else if (Math.min(rowsPerChunk, n) > 1) {
                            rowsPerChunk = Math.max(1, Math.min(rowsPerChunk, n) / 2);
                        } else {
                            throw new HeadSweepException("GPU out of memory even for one head and one keyword row", oom);
                        }
                        continue;
                    }
                    at += nb;
                    done += nb;
                    progress.update("heads", done, heads.size());
                }
            }
        } finally {
            if (ownX) {
                dev.free(xd);
            }
        }
        return new HeadTopK(List.copyOf(heads), n, k, ids, vals);
    }

    // ----------------------------------------------------------------- the rank test's screens

    /**
     * Tiles of 64 tokens spread over the vocabulary that a screen computes, besides the targets.
     * With A_h not on the device, a screen tells which heads can have a hit at all before their
     * A_h (the sweep's largest product) is computed: per head, A at those tokens and at every
     * row's targets only (sgemm on the gathered embeddings, whose columns equal A_h's bit for bit),
     * each row's top k of them above its floor, and a row whose k-th value there is above all its
     * targets' logits has k tokens beating every target: no hit. A head with no row left needs
     * nothing more; the others take the ordinary path. (The CPU's rank test screens the same way:
     * on the planted GPT-2-small-shaped checkpoint 93 of 144 heads have no row left after 8,192
     * tokens; a head survives when any of its rows does, so a screen must be wide: 128 tiles, 8,192
     * tokens, by default.)
     */
    private int screenTiles = Integer.getInteger("headsweep.cuda.screenTiles", 128);
    private boolean screens = !"false".equals(System.getProperty("headsweep.cuda.screen"));
    /** Heads screened and heads the screens found without a possible hit, since construction (for benchmarks). */
    long screenedHeads;
    long retiredHeads;
    /** A screen's columns (token ids), their embeddings, their β and the targets as columns, kept between sweeps. */
    private final Device.Buffer[] screenBuffers = new Device.Buffer[4];

    /** Turns the rank test's screens on or off (on by default; {@code -Dheadsweep.cuda.screen=false}). */
    public synchronized void useScreens(boolean on) {
        screens = on;
    }

    /** Sets the tiles of 64 tokens a screen computes besides the targets (for benchmarks; at least 2). */
    synchronized void screenTiles(int tiles) {
        screenTiles = Math.max(2, tiles);
    }

    /**
     * A screen's columns: {@code tokens}, sorted and distinct (the spread tiles and every target),
     * their embedding rows and β on the device, the targets as column indices ({@code width} a
     * row), and which rows have no target in the vocabulary.
     */
    private record Screen(int[] tokens, int width, boolean[] noTargets, Device.Buffer e, Device.Buffer beta,
            Device.Buffer targets) {
        int count() {
            return tokens.length;
        }
    }

    /** The screen of this sweep's targets, or null where it would not pay (its columns above a quarter of V). */
    private Screen screen(DeviceWeights W, int[][] targets) {
        var cfg = W.w.config();
        int V = cfg.vocabSize();
        int d = cfg.nEmbd();
        int tiles = screenTiles;
        if (4L * tiles * 64 > V) {
            return null;
        }
        boolean[] mark = new boolean[V];
        for (int i = 0; i < tiles; i++) {
            int start = (int) ((long) i * (V - 64) / (tiles - 1));
            java.util.Arrays.fill(mark, start, start + 64, true);
        }
        int width = 1;
        for (int[] row : targets) {
            width = Math.max(width, row.length);
            for (int t : row) {
                if (t >= 0 && t < V) {
                    mark[t] = true;
                }
            }
        }
        int count = 0;
        int[] column = new int[V];
        for (int t = 0; t < V; t++) {
            column[t] = mark[t] ? count++ : -1;
        }
        if (count > V / 4) {
            return null;
        }
        int[] tokens = new int[count];
        for (int t = 0; t < V; t++) {
            if (mark[t]) {
                tokens[column[t]] = t;
            }
        }
        int[] tg = new int[targets.length * width];
        java.util.Arrays.fill(tg, -1);
        boolean[] none = new boolean[targets.length];
        for (int i = 0; i < targets.length; i++) {
            none[i] = true;
            for (int j = 0; j < targets[i].length; j++) {
                int t = targets[i][j];
                if (t >= 0 && t < V) {
                    tg[i * width + j] = column[t];
                    none[i] = false;
                }
            }
        }
        Device.Buffer cols = upload(screenBuffer(0, count, Device.Type.I32), tokens);
        Device.Buffer e = screenBuffer(1, (long) count * d, Device.Type.F32);
        Device.Buffer beta = screenBuffer(2, count, Device.Type.F32);
        Device.Buffer tgB = upload(screenBuffer(3, tg.length, Device.Type.I32), tg);
        dev.launch("hs_gather", blocks((long) count * d, 256), 1, 1, 256, W.wte().ptr(), cols.ptr(), e.ptr(), count, d);
        dev.launch("hs_gather", blocks(count, 256), 1, 1, 256, W.beta().ptr(), cols.ptr(), beta.ptr(), count, 1);
        return new Screen(tokens, width, none, e, beta, tgB);
    }

    /**
     * Whether to screen a group: not when its A_h is on the device already, and not a second time
     * when it may stay there: then this sweep computes A_h of the whole group once (screened-out
     * heads included) and later sweeps need no screen. So a single sweep saves the products of
     * the heads the screen rules out, and repeated sweeps end with every A_h resident.
     */
    private boolean screenPays(DeviceWeights W, int layer, List<Integer> group, List<HeadId> heads) {
        var cfg = W.w.config();
        int hs = cfg.headSize();
        boolean tc = kernelFor(hs) != TopKKernel.FP32;
        String key = factorKey(layer, firstColumns(group, heads, hs), tc);
        if (W.factors.containsKey(key)) {
            return false;
        }
        boolean fits = keepFactors && W.factorBytes + factorBytes(cfg, group.size(), tc)
                <= (long) (RESIDENT_SHARE * dev.totalBytes());
        if (fits && W.screened.contains(key)) {
            return false;
        }
        W.screened.add(key);
        return true;
    }

    /** Screen buffer {@code slot}, replaced by a new one when it holds fewer than {@code count} elements. */
    private Device.Buffer screenBuffer(int slot, long count, Device.Type type) {
        Device.Buffer b = screenBuffers[slot];
        if (b != null && b.count() >= count) {
            return b;
        }
        if (b != null) {
            screenBuffers[slot] = null;
            dev.free(b);
        }
        screenBuffers[slot] = dev.alloc(count, type);
        return screenBuffers[slot];
    }

    /**
     * What a screen leaves of a group: the heads that may have a hit, in order, and per head of the
     * group and row ({@code [g·n + i]}) the exact gate a top-k after it may start from: +inf where
     * the row cannot hit (or has no target), else its floor raised by the screen's k-th value as
     * rank.cu's hs_gate_seed raises it (NaN where the floor is NaN and the screen gives no seed).
     */
    private record ScreenResult(List<Integer> left, float[] gates) {
    }

    /** The screen of one group of heads (all n rows in one chunk). */
    private ScreenResult screenGroup(DeviceWeights W, int layer, Device.Buffer xd, int n, List<Integer> group,
            List<HeadId> heads, int k, Screen sc) {
        var cfg = W.w.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        int nb = group.size();
        int rowsA = nb * hs;
        int c = sc.count();
        int ldC = (c + 3) / 4 * 4;
        Device.Buffer[] L = W.layer(layer);
        int[] cols = firstColumns(group, heads, hs);
        Device.Buffer m = scratch("m", (long) rowsA * d, Device.Type.F32);
        Device.Buffer gram = scratch("gram", (long) nb * hs * hs, Device.Type.F64);
        centerAndGram(W, layer, headRows(cols, hs), nb, m, gram);
        Device.Buffer a = scratch("screen.a", (long) rowsA * ldC, Device.Type.F32);
        sgemm(m.ptr(), sc.e().ptr(), null, a.ptr(), rowsA, c, d, d, d, ldC, true);
        Device.Buffer colsB = upload(scratch("cols", nb, Device.Type.I32), cols);
        Device.Buffer u = scratch("u", (long) nb * n * hs, Device.Type.F32);
        headScale(W, L, xd.ptr(), n, nb, colsB, gram, u);
        Device.Buffer gate0 = scratch("gate0", (long) nb * n, Device.Type.F32);
        Device.Buffer top = scratch("screen.top", (long) nb * n, Device.Type.F32);
        dev.launch("hs_target_gate", blocks(n, 128), nb, 1, 128, a.ptr(), ldC, sc.beta().ptr(), u.ptr(), n, hs, c,
                sc.targets().ptr(), sc.width(), gate0.ptr(), top.ptr());
        int[] sp = splits(n, nb, c, TOPK_ROWS, rankBlocksPerSm);
        int splits = sp[0];
        Device.Buffer pv = scratch("pv", (long) nb * n * splits * k, Device.Type.F32);
        Device.Buffer pi = scratch("pi", (long) nb * n * splits * k, Device.Type.I32);
        Device.Buffer ov = splits > 1 ? scratch("ov", (long) nb * n * k, Device.Type.F32) : pv;
        Device.Buffer oi = splits > 1 ? scratch("oi", (long) nb * n * k, Device.Type.I32) : pi;
        fusedTopK(TopKKernel.FP32, null, a.ptr(), ldC, sc.beta().ptr(), u.ptr(), n, hs, c, k, sp, nb, gate0.ptr(), pv,
                pi, ov, oi);
        // each row's floor raised by the screen's k-th (a lower bound of the row's k-th), in place
        dev.launch("hs_gate_seed", blocks((long) nb * n, 128), 1, 1, 128, gate0.ptr(), ov.ptr(), oi.ptr(), k,
                (long) nb * n, gate0.ptr());
        int len = Math.toIntExact((long) nb * n * k);
        int[] listI = new int[len];
        float[] listV = new float[len];
        float[] best = new float[nb * n];
        float[] gates = new float[nb * n];
        dev.download(oi, 0, listI, 0, len);
        dev.download(ov, 0, listV, 0, len);
        dev.download(top, 0, best, 0, nb * n);
        dev.download(gate0, 0, gates, 0, nb * n);
        List<Integer> left = new ArrayList<>();
        for (int g = 0; g < nb; g++) {
            boolean any = false;
            for (int i = 0; i < n; i++) {
                int kth = (g * n + i) * k + k - 1;
                // k tokens strictly above every target's logit (a NaN target never passes)
                boolean out = sc.noTargets()[i] || (listI[kth] >= 0 && listV[kth] > best[g * n + i]);
                any |= !out;
                if (out) {
                    gates[g * n + i] = Float.POSITIVE_INFINITY;
                }
            }
            if (any) {
                left.add(group.get(g));
            }
        }
        screenedHeads += nb;
        retiredHeads += nb - left.size();
        return new ScreenResult(left, gates);
    }

    private int seedTokens = Integer.getInteger("headsweep.cuda.seedTokens", 2048);

    /**
     * Sets how many tokens (the first ones of the vocabulary) seed the top-k's gates (0: none; for
     * benchmarks and tests; {@code -Dheadsweep.cuda.seedTokens}).
     */
    synchronized void seedTokens(int tokens) {
        seedTokens = Math.max(0, tokens);
    }

    /** The tokens that seed the gates for a vocabulary of V, or 0 where seeding is off or would not pay. */
    private int seedLength(int V, int k) {
        return seedTokens >= k && 2L * seedTokens <= V ? seedTokens : 0;
    }

    /**
     * Seeds the gates of the top-k that follows (rank.cu's hs_gate_seed): the exact top k of the first
     * {@code len} tokens at each row (topk.cu, the tokens {@code floors} admits), whose k-th value is a
     * lower bound of the row's k-th over the whole vocabulary, so the top-k kernels start each split
     * just below it instead of letting every token through its first tiles; same lists, bit for bit.
     * Writes {@code gate0} ([nb][n]; {@code floors}, null or gate0 itself, is read first) and returns it.
     */
    private Device.Ptr seedGates(Device.Ptr a, int ldA, Device.Ptr beta, Device.Ptr u, int n, int hs, int k, int nb,
            int len, Device.Ptr floors, Device.Buffer gate0) {
        int[] sp = splits(n, nb, len, TOPK_ROWS, rankBlocksPerSm);
        Device.Buffer pv = scratch("seed.pv", (long) nb * n * sp[0] * k, Device.Type.F32);
        Device.Buffer pi = scratch("seed.pi", (long) nb * n * sp[0] * k, Device.Type.I32);
        Device.Buffer ov = sp[0] > 1 ? scratch("seed.ov", (long) nb * n * k, Device.Type.F32) : pv;
        Device.Buffer oi = sp[0] > 1 ? scratch("seed.oi", (long) nb * n * k, Device.Type.I32) : pi;
        fusedTopK(TopKKernel.FP32, null, a, ldA, beta, u, n, hs, len, k, sp, nb, floors, pv, pi, ov, oi);
        dev.launch("hs_gate_seed", blocks((long) nb * n, 128), 1, 1, 128, floors, ov.ptr(), oi.ptr(), k, (long) nb * n,
                gate0.ptr());
        return gate0.ptr();
    }

    // ------------------------------------------------- the cold rank test on tensor cores (twopass.cu)

    /**
     * Whether a screened group's survivors take the two-pass path (twopass.cu) instead of their
     * fp32 A_h: on by default where the tensor-core top-k runs ({@code -Dheadsweep.cuda.twoPass=false}
     * turns it off), the model width a multiple of 16 and the embedding within twopass.cu's bounds.
     */
    private boolean twoPass = !"false".equals(System.getProperty("headsweep.cuda.twoPass"));
    /** Tokens a row may collect in the first pass before it takes the exact path instead. */
    private int twoPassCap = Integer.getInteger("headsweep.cuda.twoPassCap", 256);
    /** Heads the two-pass answered and heads it sent to the exact path, since construction (for benchmarks). */
    long twoPassHeads;
    long twoPassFallbacks;
    /** Exact columns the two-pass computed (the union of its groups' candidates), since construction. */
    long twoPassColumns;
    /** Keyword rows of the two-pass's first pass, the tokens they collected, and the most one row collected. */
    long twoPassRows;
    long twoPassCollected;
    int twoPassMostCollected;

    /** Turns the two-pass on or off (for benchmarks and tests). */
    public synchronized void useTwoPass(boolean on) {
        twoPass = on;
    }

    /** Sets how many tokens a row may collect in the two-pass's first pass (for tests). */
    synchronized void twoPassCap(int cap) {
        twoPassCap = Math.max(1, cap);
    }

    private boolean twoPassFits(DeviceWeights W) {
        var cfg = W.w.config();
        return twoPass && kernelFor(cfg.headSize()) == TopKKernel.TENSOR_CORES && cfg.nEmbd() % 16 == 0
                && W.twoPassScalars().length == 3;
    }

    /**
     * The rank test of the screened heads {@code run} of {@code group} without their fp32 A_h
     * (twopass.cu): Â = bf16(M)·bf16(E)ᵀ on tensor cores, each row's exact gate ({@code gates},
     * {@code [g·n + i]} over the group, from the screen) lowered by the bound B1 on |X − X̂|, the
     * tokens whose X̂ is above it collected by hs_ov_topk_tc2, and the exact top k over the union of
     * the group's collected tokens (their exact A columns: hs_sgemm2 on the gathered embedding rows,
     * A_h's bits). Writes the lists of the heads it answers; returns the heads that need the exact
     * path (a row with no finite gate, no finite B1, or more than {@link #twoPassCap} tokens).
     */
    private List<Integer> twoPass(DeviceWeights W, int layer, Device.Buffer xd, int n, List<Integer> group,
            List<Integer> run, List<HeadId> heads, int k, float[] gates, int[][] ids, float[][] vals) {
        var cfg = W.w.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        int nb = run.size();
        int[] cols = firstColumns(run, heads, hs);
        // the survivors' M (centred), Gram matrix and u, as the exact path has them
        Device.Buffer m = scratch("tp.m", (long) nb * hs * d, Device.Type.F32);
        Device.Buffer gram = scratch("tp.gram", (long) nb * hs * hs, Device.Type.F64);
        centerAndGram(W, layer, headRows(cols, hs), nb, m, gram);
        Device.Buffer colsB = upload(scratch("tp.cols", nb, Device.Type.I32), cols);
        Device.Buffer u = scratch("tp.u", (long) nb * n * hs, Device.Type.F32);
        headScale(W, W.layer(layer), xd.ptr(), n, nb, colsB, gram, u);
        Device.Buffer mh = scratch("tp.mh", (long) nb * hs * d, Device.Type.F32);
        float[] bound = rowBounds(W, m, mh, u, nb, n);
        // each row's exact gate (the survivors' rows of the screen's), and the first pass's below it
        float[] exact = new float[nb * n];
        float[] first = new float[nb * n];
        boolean[] needsExact = new boolean[nb];
        for (int g = 0; g < nb; g++) {
            int gi = group.indexOf(run.get(g));
            for (int i = 0; i < n; i++) {
                exact[g * n + i] = gates[gi * n + i];
                first[g * n + i] = firstGate(gates[gi * n + i], bound[g * n + i]);
                needsExact[g] |= Float.isNaN(first[g * n + i]);
            }
        }
        int[] counts = new int[nb * n];
        int[] tokens = collect(W, mh, u, nb, n, first, counts);
        for (int g = 0; g < nb; g++) {
            for (int i = 0; i < n; i++) {
                needsExact[g] |= counts[g * n + i] > twoPassCap;
            }
            if (needsExact[g]) { // its rows need no list here
                java.util.Arrays.fill(exact, g * n, g * n + n, Float.POSITIVE_INFINITY);
            }
        }
        int[] listI = new int[nb * n * k];
        float[] listV = new float[nb * n * k];
        exactTopK(W, m, u, nb, n, k, tokens, exact, listI, listV);
        List<Integer> rest = new ArrayList<>();
        for (int g = 0; g < nb; g++) {
            int hi = run.get(g);
            if (needsExact[g]) {
                rest.add(hi);
                continue;
            }
            for (int q = 0; q < n * k; q++) {
                int pos = listI[g * n * k + q];
                ids[hi][q] = pos < 0 ? -1 : tokens[pos];
                vals[hi][q] = listV[g * n * k + q];
            }
        }
        twoPassHeads += nb - rest.size();
        twoPassFallbacks += rest.size();
        return rest;
    }

    /**
     * B1 of every row (twopass.cu's hs_row_bound), from the Gram matrices of M's bf16 part, the
     * rest and |M| (hs_bf16_split, which also leaves the bf16 part in {@code mh} for Â).
     */
    private float[] rowBounds(DeviceWeights W, Device.Buffer m, Device.Buffer mh, Device.Buffer u, int nb, int n) {
        var cfg = W.w.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        long cm = (long) nb * hs * d;
        float[] sc = W.twoPassScalars();
        Device.Buffer ml = scratch("tp.ml", cm, Device.Type.F32);
        Device.Buffer ma = scratch("tp.ma", cm, Device.Type.F32);
        dev.launch("hs_bf16_split", blocks(cm, 256), 1, 1, 256, m.ptr(), cm, mh.ptr(), ml.ptr(), ma.ptr());
        Device.Buffer[] grams = new Device.Buffer[3];
        Device.Buffer[] parts = {ml, mh, ma};
        for (int q = 0; q < 3; q++) {
            grams[q] = scratch("tp.gram" + q, (long) nb * hs * hs, Device.Type.F64);
            dev.launch("hs_gram2", nb, (hs * hs + 255) / 256, 1, 256, parts[q].ptr(), grams[q].ptr(), hs, d);
        }
        Device.Buffer b1 = scratch("tp.b1", (long) nb * n, Device.Type.F32);
        dev.launch("hs_row_bound", blocks(n, 128), nb, 1, 128, u.ptr(), n, hs, grams[0].ptr(), grams[1].ptr(),
                grams[2].ptr(), sc[0], sc[1], sc[2], b1.ptr());
        float[] bound = new float[nb * n];
        dev.download(b1, 0, bound, 0, nb * n);
        return bound;
    }

    /**
     * The first pass's gate of a row from its exact gate and B1: the float at or below their
     * difference; +inf (collect nothing) where the row cannot hit; NaN where the row needs the exact
     * path (its gate NaN or -inf, or B1 not finite).
     */
    static float firstGate(float exact, float b1) {
        if (exact == Float.POSITIVE_INFINITY) {
            return exact;
        }
        if (Float.isNaN(exact) || exact == Float.NEGATIVE_INFINITY || !(b1 < Float.POSITIVE_INFINITY)) {
            return Float.NaN;
        }
        double lo = (double) exact - b1;  // exact in double
        float f = (float) lo;
        return f > lo ? Math.nextDown(f) : f;
    }

    /**
     * The first pass: Â = bf16(M)·bf16(E)ᵀ on tensor cores, hs_tc_prep's inputs from it, and
     * hs_ov_topk_tc2 collecting each row's tokens above {@code first} (NaN rows collect nothing);
     * {@code counts} gets every row's count; returns the union of the rows within the cap, in
     * increasing id (also left on the device, after its length, in the scratch buffer "tp.union").
     */
    private int[] collect(DeviceWeights W, Device.Buffer mh, Device.Buffer u, int nb, int n, float[] first,
            int[] counts) {
        var cfg = W.w.config();
        int d = cfg.nEmbd();
        int V = cfg.vocabSize();
        int rowsA = nb * cfg.headSize();
        int cap = twoPassCap;
        float[] gate = first.clone();
        for (int r = 0; r < gate.length; r++) {
            gate[r] = Float.isNaN(gate[r]) ? Float.POSITIVE_INFINITY : gate[r];
        }
        Device.Buffer g1 = upload(scratch("tp.g1", (long) nb * n, Device.Type.F32), gate);
        int ldA = (V + 3) / 4 * 4;
        Device.Buffer a = scratch("a", (long) rowsA * ldA, Device.Type.F32);
        dev.launch("hs_gemm_bf16", (V + GEMM_BF16_BN - 1) / GEMM_BF16_BN, (rowsA + GEMM_BF16_BM - 1) / GEMM_BF16_BM, 1,
                GEMM_BF16_THREADS, mh.ptr(), d, W.packedE().ptr(), d / 2, a.ptr(), ldA, rowsA, V, d);
        TcInputs tci = tcPrep(null, a.ptr(), ldA, W.beta(), V, nb);
        Device.Buffer count = scratch("tp.count", (long) nb * n, Device.Type.I32);
        Device.Buffer got = scratch("tp.ids", (long) nb * n * cap, Device.Type.I32);
        dev.launch("hs_zero", blocks((long) nb * n, 256), 1, 1, 256, count.ptr(), (long) nb * n);
        int[] sp = splits(n, nb, V, TC2_ROWS, rankBlocksPerSm);
        dev.launch("hs_ov_topk_tc2", (n + TC2_ROWS - 1) / TC2_ROWS, sp[0], nb, 64, tci.abf().ptr(), tci.vpad(),
                tci.tok().ptr(), tci.tmax().ptr(), tci.at().ptr(), W.beta().ptr(), u.ptr(), n, V, 0, sp[1], sp[0],
                g1.ptr(), null, null, count.ptr(), got.ptr(), cap);
        dev.download(count, 0, counts, 0, nb * n);
        for (int x : counts) {
            twoPassCollected += x;
            twoPassMostCollected = Math.max(twoPassMostCollected, x);
        }
        twoPassRows += (long) nb * n;
        // the union of the collected tokens, in increasing id
        Device.Buffer mask = scratch("tp.mask", V, Device.Type.I32);
        Device.Buffer union = scratch("tp.union", V + 1L, Device.Type.I32);
        dev.launch("hs_zero", blocks(V, 256), 1, 1, 256, mask.ptr(), (long) V);
        dev.launch("hs_tp_mark", blocks((long) nb * n, 128), 1, 1, 128, count.ptr(), got.ptr(), cap, (long) nb * n,
                mask.ptr());
        dev.launch("hs_tp_compact", 1, 1, 1, 1024, mask.ptr(), V, union.at(1), union.ptr());
        int[] total = new int[1];
        dev.download(union, 0, total, 0, 1);
        int[] tokens = new int[total[0]];
        dev.download(union, 1, tokens, 0, tokens.length);
        twoPassColumns += tokens.length;
        return tokens;
    }

    /**
     * The exact top k of every row over {@code tokens} (the union {@link #collect} left on the device):
     * their exact A columns (hs_sgemm2 on the gathered embedding rows: A_h's bits) and topk.cu's
     * fp32 kernel with the rows' exact gates. Lists hold positions in {@code tokens} (-1 / NaN past
     * their end).
     */
    private void exactTopK(DeviceWeights W, Device.Buffer m, Device.Buffer u, int nb, int n, int k, int[] tokens,
            float[] gates, int[] listI, float[] listV) {
        java.util.Arrays.fill(listI, -1);
        java.util.Arrays.fill(listV, Float.NaN);
        int c = tokens.length;
        if (c == 0) {
            return;
        }
        var cfg = W.w.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        int rowsA = nb * hs;
        int ldC = (c + 3) / 4 * 4;
        Device.Buffer e1 = scratch("tp.e", (long) c * d, Device.Type.F32);
        Device.Buffer beta1 = scratch("tp.beta", c, Device.Type.F32);
        Device.Ptr cPtr = scratch("tp.union", c + 1L, Device.Type.I32).at(1);
        dev.launch("hs_gather", blocks((long) c * d, 256), 1, 1, 256, W.wte().ptr(), cPtr, e1.ptr(), c, d);
        dev.launch("hs_gather", blocks(c, 256), 1, 1, 256, W.beta().ptr(), cPtr, beta1.ptr(), c, 1);
        Device.Buffer a1 = scratch("tp.a", (long) rowsA * ldC, Device.Type.F32);
        sgemm(m.ptr(), e1.ptr(), null, a1.ptr(), rowsA, c, d, d, d, ldC, true);
        Device.Buffer gate = upload(scratch("tp.gate", (long) nb * n, Device.Type.F32), gates);
        int[] sp = splits(n, nb, c, TOPK_ROWS, rankBlocksPerSm);
        Device.Buffer pv = scratch("tp.pv", (long) nb * n * sp[0] * k, Device.Type.F32);
        Device.Buffer pi = scratch("tp.pi", (long) nb * n * sp[0] * k, Device.Type.I32);
        Device.Buffer ov = sp[0] > 1 ? scratch("tp.ov", (long) nb * n * k, Device.Type.F32) : pv;
        Device.Buffer oi = sp[0] > 1 ? scratch("tp.oi", (long) nb * n * k, Device.Type.I32) : pi;
        fusedTopK(TopKKernel.FP32, null, a1.ptr(), ldC, beta1.ptr(), u.ptr(), n, hs, c, k, sp, nb, gate.ptr(), pv, pi, ov,
                oi);
        dev.download(oi, 0, listI, 0, nb * n * k);
        dev.download(ov, 0, listV, 0, nb * n * k);
    }

    /** Vocabulary splits so that a launch has at least a few blocks per SM. */
    int[] splits(int rows, int nb, int vocab) {
        return splits(rows, nb, vocab, TOPK_ROWS, WHOLE_BLOCKS_PER_SM);
    }

    /**
     * Blocks per SM that the vocabulary splits aim at: for a whole top-k few (a split's first tiles
     * let every token through while its lists fill), for the rank test more (its gates start at
     * the targets' floor, so a split costs little and more blocks fill the waves; to be tuned on a
     * GPU: GpuBench times 4, 8 and 32).
     */
    static final int WHOLE_BLOCKS_PER_SM = 4;
    private int rankBlocksPerSm = Integer.getInteger("headsweep.cuda.rankBlocksPerSm", 32);

    /** Sets the blocks per SM the rank test's vocabulary splits aim at (for benchmarks). */
    synchronized void rankBlocksPerSm(int blocks) {
        rankBlocksPerSm = Math.max(1, blocks);
    }

    int[] splits(int rows, int nb, int vocab, int rowsPerBlock, int blocksPerSm) {
        long blocksPerSplit = (long) ((rows + rowsPerBlock - 1) / rowsPerBlock) * nb;
        long want = (long) blocksPerSm * Math.max(1, dev.multiprocessors());
        int maxSplits = (vocab + TOPK_TILE - 1) / TOPK_TILE;
        int s = (int) Math.max(1, Math.min(maxSplits, (want + blocksPerSplit - 1) / blocksPerSplit));
        int perSplit = (vocab + s - 1) / s;
        int splitLen = (perSplit + TOPK_TILE - 1) / TOPK_TILE * TOPK_TILE;
        return new int[] {(vocab + splitLen - 1) / splitLen, splitLen};
    }

    /** The first column of each head of a group in the layer's W_V and W_O (head · head size). */
    private static int[] firstColumns(List<Integer> group, List<HeadId> heads, int hs) {
        int[] cols = new int[group.size()];
        for (int g = 0; g < cols.length; g++) {
            cols[g] = heads.get(group.get(g)).head() * hs;
        }
        return cols;
    }

    /** The W_O rows of the heads starting at {@code cols}, head by head. */
    private static int[] headRows(int[] cols, int hs) {
        int[] src = new int[cols.length * hs];
        for (int g = 0; g < cols.length; g++) {
            for (int j = 0; j < hs; j++) {
                src[g * hs + j] = cols[g] + j;
            }
        }
        return src;
    }

    /** The rank test's targets, row-major {@code [n][width]}, -1 where a row has fewer or an id is outside the vocabulary. */
    private record Targets(int[] ids, int width) {
        static Targets pack(int[][] targets, int vocab) {
            int width = 0;
            for (int[] row : targets) {
                width = Math.max(width, row.length);
            }
            width = Math.max(1, width);
            int[] ids = new int[Math.toIntExact((long) targets.length * width)];
            java.util.Arrays.fill(ids, -1);
            for (int i = 0; i < targets.length; i++) {
                for (int j = 0; j < targets[i].length; j++) {
                    int t = targets[i][j];
                    ids[i * width + j] = t >= 0 && t < vocab ? t : -1;
                }
            }
            return new Targets(ids, width);
        }
    }

    /**
     * One group of heads of one layer, all keyword rows (in chunks of {@link #rowsPerChunk}); with
     * targets, each row's floor first and the top k above it.
     */
    private void group(DeviceWeights W, int layer, Device.Buffer xd, int n, List<Integer> group, List<HeadId> heads,
            int k, Targets tg, Device.Buffer tgB, int[][] ids, float[][] vals) {
        var cfg = W.w.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        int V = cfg.vocabSize();
        int nb = group.size();
        Device.Buffer[] L = W.layer(layer);
        Device.Buffer beta = W.beta();
        int[] cols = firstColumns(group, heads, hs);
        int[] src = headRows(cols, hs);
        int rows = Math.min(n, rowsPerChunk);
        TopKKernel kernel = kernelFor(hs);
        boolean tc = kernel != TopKKernel.FP32;
        int ldA = (V + 3) / 4 * 4;
        GroupFactors f = W.factors.get(factorKey(layer, cols, tc));
        if (f == null) {
            f = factors(W, layer, src, cols, tc);
        }
        Device.Buffer colsB = scratch("cols", nb, Device.Type.I32);
        dev.upload(colsB, 0, cols, 0, nb);
        Device.Buffer gram = f.gram();
        Device.Buffer a = f.a();
        TcInputs tci = f.tc();

        int seedLen = seedLength(V, k);
        // a split costs little when its gates start at a floor or a seed, so more of them fill the waves
        int[] sp = splits(rows, nb, V, rowsPerBlock(kernel), tg == null && seedLen == 0 ? WHOLE_BLOCKS_PER_SM
                : rankBlocksPerSm);
        int splits = sp[0];
        Device.Buffer u = scratch("u", (long) nb * rows * hs, Device.Type.F32);
        Device.Buffer pv = scratch("pv", (long) nb * rows * splits * k, Device.Type.F32);
        Device.Buffer pi = scratch("pi", (long) nb * rows * splits * k, Device.Type.I32);
        Device.Buffer ov = pv;
        Device.Buffer oi = pi;
        if (splits > 1) {
            ov = scratch("ov", (long) nb * rows * k, Device.Type.F32);
            oi = scratch("oi", (long) nb * rows * k, Device.Type.I32);
        }
        Device.Buffer gate0 = tg == null && seedLen == 0 ? null : scratch("gate0", (long) nb * rows, Device.Type.F32);
        float[] hostV = new float[Math.toIntExact((long) nb * rows * k)];
        int[] hostI = new int[hostV.length];
        for (int r0 = 0; r0 < n; r0 += rows) {
            int nr = Math.min(rows, n - r0);
            headScale(W, L, xd.at((long) r0 * d), nr, nb, colsB, gram, u);
            Device.Ptr floors = null;
            if (tg != null) {
                dev.launch("hs_target_gate", blocks(nr, 128), nb, 1, 128, a.ptr(), ldA, beta.ptr(), u.ptr(), nr, hs, V,
                        tgB.at((long) r0 * tg.width()), tg.width(), gate0.ptr(), null);
                floors = gate0.ptr();
            }
            if (seedLen > 0) {
                floors = seedGates(a.ptr(), ldA, beta.ptr(), u.ptr(), nr, hs, k, nb, seedLen, floors, gate0);
            }
            fusedTopK(kernel, tci, a.ptr(), ldA, beta.ptr(), u.ptr(), nr, hs, V, k, sp, nb, floors, pv, pi, ov, oi);
            int len = nb * nr * k;
            dev.download(oi, 0, hostI, 0, len);
            dev.download(ov, 0, hostV, 0, len);
            for (int g = 0; g < nb; g++) {
                int hi = group.get(g);
                System.arraycopy(hostI, g * nr * k, ids[hi], r0 * k, nr * k);
                System.arraycopy(hostV, g * nr * k, vals[hi], r0 * k, nr * k);
            }
        }
    }

    /**
     * What the top-k of a group of heads needs that depends on the weights alone (the Gram matrices,
     * A in fp32 and, for the tensor cores, its bf16 copy with norms). Kept on the device while the
     * weights stay loaded and the kept ones take at most {@link #RESIDENT_SHARE} of the device's
     * memory, so a second sweep of the same heads skips the A_h products; else in working buffers.
     */
    private record GroupFactors(Device.Buffer gram, Device.Buffer a, TcInputs tc) {
    }

    private static String factorKey(int layer, int[] cols, boolean tc) {
        return layer + ":" + java.util.Arrays.toString(cols) + (tc ? ":tc" : "");
    }

    /** Share of the device's memory that kept {@link GroupFactors} may take. */
    static final double RESIDENT_SHARE = 0.4;

    private GroupFactors factors(DeviceWeights W, int layer, int[] src, int[] cols, boolean tc) {
        var cfg = W.w.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        int V = cfg.vocabSize();
        int nb = cols.length;
        int rowsA = nb * hs;
        int ldA = (V + 3) / 4 * 4;
        long bytes = factorBytes(cfg, nb, tc);
        boolean keepIt = keepFactors && W.factorBytes + bytes <= (long) (RESIDENT_SHARE * dev.totalBytes());
        List<Device.Buffer> kept = keepIt ? new ArrayList<>() : null;
        try {
            Device.Buffer m = scratch("m", (long) rowsA * d, Device.Type.F32);
            Device.Buffer gram = keepIt ? keep(kept, dev.alloc((long) nb * hs * hs, Device.Type.F64))
                    : scratch("gram", (long) nb * hs * hs, Device.Type.F64);
            centerAndGram(W, layer, src, nb, m, gram);
            Device.Buffer a = keepIt ? keep(kept, dev.alloc((long) rowsA * ldA, Device.Type.F32))
                    : scratch("a", (long) rowsA * ldA, Device.Type.F32);
            sgemm(m.ptr(), W.wte().ptr(), null, a.ptr(), rowsA, V, d, d, d, ldA, true);
            TcInputs tci = tc ? tcPrep(kept, a.ptr(), ldA, W.beta(), V, nb) : null;
            GroupFactors f = new GroupFactors(gram, a, tci);
            if (keepIt) {
                W.owned.addAll(kept);
                W.factorBytes += bytes;
                W.factors.put(factorKey(layer, cols, tc), f);
            }
            return f;
        } catch (RuntimeException e) {
            if (kept != null) {
                for (Device.Buffer b : kept) {
                    dev.free(b);
                }
            }
            throw e;
        }
    }

    /** Device bytes of the factors of {@code nb} heads (Gram matrices, A_h, the tensor cores' inputs). */
    private static long factorBytes(dev.headsweep.checkpoint.GptConfig cfg, int nb, boolean tc) {
        int hs = cfg.headSize();
        int V = cfg.vocabSize();
        long ldA = (V + 3) / 4 * 4;
        long vpad = (V + TC_TILE - 1) / TC_TILE * TC_TILE;
        return 8L * nb * hs * hs + 4L * nb * hs * ldA
                + (tc ? 128L * nb * vpad + 256L * nb * vpad + 8L * nb * vpad + 8L * nb * vpad / TC_TILE : 0);
    }

    /** M = W̃_O·diag(ln_f.w) of the heads whose W_O rows are {@code src}, and their Gram matrices. */
    private void centerAndGram(DeviceWeights W, int layer, int[] src, int nb, Device.Buffer m, Device.Buffer gram) {
        var cfg = W.w.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        int rowsA = src.length;
        Device.Buffer srcB = scratch("src", rowsA, Device.Type.I32);
        dev.upload(srcB, 0, src, 0, rowsA);
        Device.Buffer wc = scratch("wc", (long) rowsA * d, Device.Type.F32);
        Device.Buffer lnfW = W.lnfW();
        Device.Buffer wo = W.layer(layer)[4];
        if (d <= 2048) {
            dev.launch("hs_ov_center2", rowsA, 1, 1, 32, wo.ptr(), srcB.ptr(), lnfW.ptr(), wc.ptr(), m.ptr(), rowsA, d);
        } else {
            dev.launch("hs_ov_center", blocks(rowsA, 128), 1, 1, 128,
                    wo.ptr(), srcB.ptr(), lnfW.ptr(), wc.ptr(), m.ptr(), rowsA, d);
        }
        dev.launch("hs_gram2", nb, (hs * hs + 255) / 256, 1, 256, wc.ptr(), gram.ptr(), hs, d);
    }

    /**
     * Whether weight-derived factors (A_h of every head, its bf16 copy) stay on the device between
     * sweeps of the same weights (on by default, within {@link #RESIDENT_SHARE} of its memory).
     * Turning it off also drops those kept so far; benchmarks use that for cold timings.
     */
    public synchronized void keepFactors(boolean on) {
        keepFactors = on;
        if (!on && weights != null) {
            weights.dropFactors();
        }
    }

    /** Whether weight-derived factors stay on the device between sweeps ({@link #keepFactors(boolean)}). */
    public synchronized boolean keepsFactors() {
        return keepFactors;
    }

    /** The tensor-core top-k's inputs made from A (topk_tc.cu's hs_tc_prep). */
    private record TcInputs(Device.Buffer abf, Device.Buffer tok, Device.Buffer tmax, Device.Buffer at, int vpad) {
    }

    private static int rowsPerBlock(TopKKernel kernel) {
        return switch (kernel) {
            case TENSOR_CORES_V1 -> TC_ROWS;
            case TENSOR_CORES -> TC2_ROWS;
            default -> TOPK_ROWS;
        };
    }

    private TcInputs tcPrep(List<Device.Buffer> tmp, Device.Ptr a, int ldA, Device.Buffer beta, int V, int nb) {
        int vpad = (V + TC_TILE - 1) / TC_TILE * TC_TILE;
        long words = (long) nb * vpad * 32;
        long toks = (long) nb * vpad * 2;
        long tiles = (long) nb * (vpad / TC_TILE) * 2;
        long floats = (long) nb * vpad * TC_HEAD_SIZE;
        // tmp == null: the sweep's working buffers; else buffers the caller frees or keeps
        Device.Buffer abf = tmp == null ? scratch("abf", words, Device.Type.I32) : keep(tmp, dev.alloc(words, Device.Type.I32));
        Device.Buffer tok = tmp == null ? scratch("tok", toks, Device.Type.F32) : keep(tmp, dev.alloc(toks, Device.Type.F32));
        Device.Buffer tmax = tmp == null ? scratch("tmax", tiles, Device.Type.F32)
                : keep(tmp, dev.alloc(tiles, Device.Type.F32));
        Device.Buffer at = tmp == null ? scratch("at", floats, Device.Type.F32) : keep(tmp, dev.alloc(floats, Device.Type.F32));
        dev.launch("hs_tc_prep", (vpad / TC_TILE + 3) / 4, nb, 1, 128, a, ldA, beta.ptr(), V, vpad, abf.ptr(), tok.ptr(),
                tmax.ptr(), at.ptr());
        return new TcInputs(abf, tok, tmax, at, vpad);
    }

    /**
     * The fused top-k of {@code nb} heads at {@code n} rows on {@code kernel} (FP32: topk.cu; else
     * topk_tc.cu from its inputs {@code in}) into pv/pi ({@code [nb][n][splits][k]}), merged into
     * ov/oi ({@code [nb][n][k]}) when the vocabulary is split ({@code sp}: splits, tokens a split);
     * {@code floors} null for the whole top k, else rank.cu's floors ({@code [nb][n]}).
     */
    private void fusedTopK(TopKKernel kernel, TcInputs in, Device.Ptr a, int ldA, Device.Ptr beta, Device.Ptr u, int n,
            int hs, int V, int k, int[] sp, int nb, Device.Ptr floors, Device.Buffer pv, Device.Buffer pi,
            Device.Buffer ov, Device.Buffer oi) {
        int splits = sp[0];
        int splitLen = sp[1];
        if (kernel == TopKKernel.TENSOR_CORES_V1) {
            dev.launch("hs_ov_topk_tc", (n + TC_ROWS - 1) / TC_ROWS, splits, nb, 128, in.abf().ptr(), in.vpad(),
                    in.tok().ptr(), in.tmax().ptr(), a, ldA, beta, u, n, V, k, splitLen, splits, floors, pv.ptr(),
                    pi.ptr());
        } else if (kernel == TopKKernel.TENSOR_CORES) {
            dev.launch("hs_ov_topk_tc2", (n + TC2_ROWS - 1) / TC2_ROWS, splits, nb, 64, in.abf().ptr(), in.vpad(),
                    in.tok().ptr(), in.tmax().ptr(), in.at().ptr(), beta, u, n, V, k, splitLen, splits, floors,
                    pv.ptr(), pi.ptr(), null, null, 0);
        } else {
            dev.launch("hs_ov_topk", (n + TOPK_ROWS - 1) / TOPK_ROWS, splits, nb, 256, a, ldA, beta, u, n, hs, V, k,
                    splitLen, splits, floors, pv.ptr(), pi.ptr());
        }
        if (splits > 1) {
            dev.launch("hs_topk_merge", blocks((long) nb * n, 128), 1, 1, 128, pv.ptr(), pi.ptr(), (long) nb * n, splits,
                    k, ov.ptr(), oi.ptr());
        }
    }

    /** u = v/σ of a group's heads at {@code nr} keyword rows from {@code x}: ln_1, v = z·W_V + b_V, then σ. */
    private void headScale(DeviceWeights W, Device.Buffer[] L, Device.Ptr x, int nr, int nb, Device.Buffer colsB,
            Device.Buffer gram, Device.Buffer u) {
        var cfg = W.w.config();
        int d = cfg.nEmbd();
        float eps = (float) cfg.layerNormEps();
        Device.Buffer z = scratch("z", (long) nr * d, Device.Type.F32);
        Device.Buffer v = scratch("v", (long) nr * d, Device.Type.F32);
        layernorm(x, z.ptr(), L[0], L[1], nr, d, eps);
        sgemm(z.ptr(), L[2].ptr(), L[3].ptr(), v.ptr(), nr, d, d, d, d, d, false);
        dev.launch("hs_head_scale", blocks(nr, 128), nb, 1, 128, v.ptr(), d, colsB.ptr(), gram.ptr(), u.ptr(), nr,
                cfg.headSize(), d, eps);
    }

    // ----------------------------------------------------------------- the kernels alone

    /**
     * The fused top-k alone, with {@link dev.headsweep.engine.cpu.FactoredTopK#run}'s arguments:
     * {@code logit[i][t] = Σ_j U[i][j]·(M·Eᵀ)[j][t] + beta[t]}, top k of each row into ids/vals.
     * {@code splitLen} > 0 forces vocabulary splits of that many tokens (a multiple of 64), to test
     * the merge; 0 picks them as a sweep does. For tests and the auto-selection self-check.
     */
    public synchronized void factoredTopK(float[] E, int V, int d, float[] beta, float[] M, int r, float[] U, int n,
            int k, int splitLen, int[] ids, float[] vals) {
        factoredTopK(E, V, d, beta, M, r, U, n, k, splitLen, TopKKernel.FP32, ids, vals);
    }

    /**
     * As {@link #factoredTopK(float[], int, int, float[], float[], int, float[], int, int, int, int[], float[])},
     * on the given kernel (the tensor-core ones need r = 64 and compute capability 8.0; AUTO means FP32 here).
     */
    public synchronized void factoredTopK(float[] E, int V, int d, float[] beta, float[] M, int r, float[] U, int n,
            int k, int splitLen, TopKKernel kernel, int[] ids, float[] vals) {
        factoredTopK(E, V, d, beta, M, r, U, n, k, splitLen, kernel, null, ids, vals);
    }

    /**
     * As {@link #factoredTopK(float[], int, int, float[], float[], int, float[], int, int, int, TopKKernel, int[], float[])};
     * with {@code targets} ({@code [n][any]}), the rank test's lists: each row's floor from its
     * targets (rank.cu), then the top k of the tokens above it, padded with id -1 and NaN.
     */
    public synchronized void factoredTopK(float[] E, int V, int d, float[] beta, float[] M, int r, float[] U, int n,
            int k, int splitLen, TopKKernel kernel, int[][] targets, int[] ids, float[] vals) {
        boolean tensorCores = kernel == TopKKernel.TENSOR_CORES || kernel == TopKKernel.TENSOR_CORES_V1;
        if (tensorCores && (r != TC_HEAD_SIZE || dev.computeCapability() < 80)) {
            throw new IllegalArgumentException("the tensor-core top-k needs r = 64 and compute capability 8.0: r=" + r
                    + ", sm_" + dev.computeCapability());
        }
        if (r > MAX_HEAD_SIZE || k < 1 || k > V || n < 1) {
            throw new IllegalArgumentException("r=" + r + " k=" + k + " V=" + V + " n=" + n);
        }
        if (splitLen % TOPK_TILE != 0) {
            throw new IllegalArgumentException("splitLen must be a multiple of " + TOPK_TILE);
        }
        List<Device.Buffer> tmp = new ArrayList<>();
        try {
            Device.Buffer e = keep(tmp, dev.upload(E));
            Device.Buffer b = keep(tmp, dev.upload(beta == null ? new float[V] : beta));
            Device.Buffer mb = keep(tmp, dev.upload(M));
            Device.Buffer ub = keep(tmp, dev.upload(U));
            int ldA = (V + 3) / 4 * 4;
            Device.Buffer a = keep(tmp, dev.alloc((long) r * ldA, Device.Type.F32));
            sgemm(mb.ptr(), e.ptr(), null, a.ptr(), r, V, d, d, d, ldA, true);
            int[] sp = splitLen > 0 ? new int[] {(V + splitLen - 1) / splitLen, splitLen}
                    : splits(n, 1, V, rowsPerBlock(tensorCores ? kernel : TopKKernel.FP32),
                            targets == null ? WHOLE_BLOCKS_PER_SM : rankBlocksPerSm);
            int splits = sp[0];
            Device.Buffer pv = keep(tmp, dev.alloc((long) n * splits * k, Device.Type.F32));
            Device.Buffer pi = keep(tmp, dev.alloc((long) n * splits * k, Device.Type.I32));
            Device.Ptr floors = null;
            if (targets != null) {
                Targets tg = Targets.pack(targets, V);
                Device.Buffer tgB = keep(tmp, dev.upload(tg.ids()));
                Device.Buffer gate0 = keep(tmp, dev.alloc(n, Device.Type.F32));
                dev.launch("hs_target_gate", blocks(n, 128), 1, 1, 128, a.ptr(), ldA, b.ptr(), ub.ptr(), n, r, V,
                        tgB.ptr(), tg.width(), gate0.ptr(), null);
                floors = gate0.ptr();
            }
            TcInputs in = tensorCores ? tcPrep(tmp, a.ptr(), ldA, b, V, 1) : null;
            Device.Buffer ov = splits > 1 ? keep(tmp, dev.alloc((long) n * k, Device.Type.F32)) : pv;
            Device.Buffer oi = splits > 1 ? keep(tmp, dev.alloc((long) n * k, Device.Type.I32)) : pi;
            fusedTopK(tensorCores ? kernel : TopKKernel.FP32, in, a.ptr(), ldA, b.ptr(), ub.ptr(), n, r, V, k, sp, 1,
                    floors, pv, pi, ov, oi);
            dev.download(oi, 0, ids, 0, n * k);
            dev.download(ov, 0, vals, 0, n * k);
        } finally {
            for (Device.Buffer buf : tmp) {
                dev.free(buf);
            }
        }
    }

    @Override
    public synchronized void close() {
        try {
            freeScratch();
            if (targetsDev != null) {
                dev.free(targetsDev);
                targetsDev = null;
            }
            for (int slot = 0; slot < screenBuffers.length; slot++) {
                if (screenBuffers[slot] != null) {
                    dev.free(screenBuffers[slot]);
                    screenBuffers[slot] = null;
                }
            }
            if (weights != null) {
                weights.free();
                weights = null;
            }
            forgetResidual();
        } finally {
            dev.close();
        }
    }
}
