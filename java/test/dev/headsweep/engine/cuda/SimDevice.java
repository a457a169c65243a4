package dev.headsweep.engine.cuda;

import dev.headsweep.engine.cpu.TopK;

/**
 * A plain-Java stand-in for a GPU: buffers are Java arrays and each kernel of kernels/*.cu is
 * computed by straight loops with the semantics (and, where the kernel promises the CPU's order,
 * the arithmetic order) its .cu file documents. It runs {@link CudaBackend}'s host logic (buffer
 * sizes, offsets, argument order, chunking, out-of-memory splitting) on machines without a GPU;
 * it says nothing about the CUDA code itself (kernels/emu tests that). Every launch is first held
 * to the kernel's signature in kernels/*.cu ({@link KernelSignatures}: argument kinds and types,
 * alignment, grid and block), which the loops below would not notice.
 *
 * <p>An optional memory limit makes {@link #alloc} throw {@link Device.OutOfMemory} beyond it.
 */
final class SimDevice implements Device {
    private final long limitBytes;
    private final int sms;
    private long used;
    long peak;
    int launches;
    /** Tokens each row collected in hs_ov_topk_tc2's collecting mode, in launch order (for TwoPassCounts). */
    final java.util.List<Integer> collected = new java.util.ArrayList<>();
    /** Rows whose gate hs_gate_seed raised above their floor. */
    long seedsRaised;
    /** Launches by kernel name. */
    private final java.util.Map<String, Integer> byKernel = new java.util.HashMap<>();
    int allocs;
    int outOfMemory;

    SimDevice() {
        this(Long.MAX_VALUE, 4);
    }

    SimDevice(long limitBytes, int sms) {
        this.limitBytes = limitBytes;
        this.sms = sms;
    }

    private static final class Buf implements Buffer {
        final Type type;
        final long count;
        final float[] f;
        final int[] i;
        final double[] d;
        boolean freed;

        Buf(long count, Type type) {
            this.type = type;
            this.count = count;
            int n = Math.toIntExact(Math.max(1, count));
            f = type == Type.F32 ? new float[n] : null;
            i = type == Type.I32 ? new int[n] : null;
            d = type == Type.F64 ? new double[n] : null;
            // device memory is not zeroed: fill with garbage so that nothing relies on zeros
            if (f != null) {
                java.util.Arrays.fill(f, Float.NaN);
            }
            if (i != null) {
                java.util.Arrays.fill(i, 0x5a5a5a5a);
            }
            if (d != null) {
                java.util.Arrays.fill(d, Double.NaN);
            }
        }

        @Override
        public long count() {
            return count;
        }

        @Override
        public Type type() {
            return type;
        }
    }

    @Override
    public String describe() {
        return "simulated device (plain Java)";
    }

    @Override
    public int multiprocessors() {
        return sms;
    }

    @Override
    public long totalBytes() {
        return limitBytes == Long.MAX_VALUE ? 1L << 36 : limitBytes;
    }

    /** Compute capability the backend sees (90 unless a test sets another). */
    int capability = 90;

    @Override
    public int computeCapability() {
        return capability;
    }

    /** A[j][t] of head g, wherever a kernel reads it from. */
    private interface AEntry {
        float at(int g, int j, int t);
    }

    /** The fp32 top-k of topk.cu and topk_tc.cu, A j-major with leading dimension ldA. */
    private static void exactTopK(P A, int ldA, P beta, P U, int n, int hs, int V, int k, int splitLen, int splits,
            int heads, P gate0, P ov, P oi) {
        exactTopK((g, j, t) -> A.f(((long) g * hs + j) * ldA + t), beta, U, n, hs, V, k, splitLen, splits, heads,
                gate0, ov, oi);
    }

    /** The logit of token t at row {@code row} of head g: beta first, fma over j in order. */
    private static float logit(AEntry A, P beta, P U, int n, int hs, int g, int row, int t) {
        float acc = beta.f(t);
        for (int j = 0; j < hs; j++) {
            acc = Math.fma(U.f(((long) g * n + row) * hs + j), A.at(g, j, t), acc);
        }
        return acc;
    }

    /**
     * The fp32 top-k of topk.cu and topk_tc.cu, per split; with {@code gate0} (rank.cu's floors,
     * [heads][n]) the top k of the tokens headsweep.cuh's hs_admit lets in.
     */
    private static void exactTopK(AEntry A, P beta, P U, int n, int hs, int V, int k, int splitLen, int splits,
            int heads, P gate0, P ov, P oi) {
        float[] b = new float[V];
        for (int t = 0; t < V; t++) {
            b[t] = beta.f(t);
        }
        float[] at = new float[V * hs]; // head g's A, token-major: plain loops below (same sums as logit())
        float[] u = new float[hs];
        for (int g = 0; g < heads; g++) {
            for (int t = 0; t < V; t++) {
                for (int j = 0; j < hs; j++) {
                    at[t * hs + j] = A.at(g, j, t);
                }
            }
            for (int row = 0; row < n; row++) {
                float floor = gate0 == null ? Float.NaN : gate0.f((long) g * n + row);
                for (int j = 0; j < hs; j++) {
                    u[j] = U.f(((long) g * n + row) * hs + j);
                }
                for (int s = 0; s < splits; s++) {
                    int[] ids = new int[k];
                    float[] vals = new float[k];
                    TopK top = new TopK(1, k, ids, vals);
                    for (int t = s * splitLen; t < Math.min(V, (s + 1) * splitLen); t++) {
                        float acc = b[t];
                        for (int j = 0, base = t * hs; j < hs; j++) {
                            acc = Math.fma(u[j], at[base + j], acc);
                        }
                        if (Float.isNaN(floor) || acc > floor) {
                            top.offer(0, t, acc);
                        }
                    }
                    long base = (((long) g * n + row) * splits + s) * k;
                    for (int q = 0; q < k; q++) {
                        oi.i(base + q, ids[q]);
                        ov.f(base + q, vals[q]);
                    }
                }
            }
        }
    }

    @Override
    public Buffer alloc(long count, Type type) {
        long bytes = Math.max(1, count) * type.bytes;
        if (used + bytes > limitBytes) {
            outOfMemory++;
            throw new OutOfMemory("simulated: " + bytes + " bytes with " + used + " of " + limitBytes + " in use");
        }
        used += bytes;
        allocs++;
        peak = Math.max(peak, used);
        return new Buf(count, type);
    }

    @Override
    public void free(Buffer b) {
        Buf buf = (Buf) b;
        if (buf.freed) {
            throw new IllegalStateException("double free");
        }
        buf.freed = true;
        used -= Math.max(1, buf.count) * buf.type.bytes;
    }

    long used() {
        return used;
    }

    private static Buf live(Buffer b) {
        Buf buf = (Buf) b;
        if (buf.freed) {
            throw new IllegalStateException("use after free");
        }
        return buf;
    }

    @Override
    public void upload(Buffer dst, long off, float[] src, int srcOff, int len) {
        check(dst, off, len);
        System.arraycopy(src, srcOff, live(dst).f, (int) off, len);
    }

    @Override
    public void upload(Buffer dst, long off, int[] src, int srcOff, int len) {
        check(dst, off, len);
        System.arraycopy(src, srcOff, live(dst).i, (int) off, len);
    }

    @Override
    public void download(Buffer src, long off, float[] dst, int dstOff, int len) {
        check(src, off, len);
        System.arraycopy(live(src).f, (int) off, dst, dstOff, len);
    }

    @Override
    public void download(Buffer src, long off, int[] dst, int dstOff, int len) {
        check(src, off, len);
        System.arraycopy(live(src).i, (int) off, dst, dstOff, len);
    }

    private static void check(Buffer b, long off, int len) {
        if (off < 0 || len < 0 || off + len > b.count()) {
            throw new IndexOutOfBoundsException("copy " + off + "+" + len + " of a buffer of " + b.count());
        }
    }

    @Override
    public void synchronize() {
    }

    @Override
    public void close() {
    }

    // ------------------------------------------------------------------ kernels

    /** A float/int/double view of a pointer argument. */
    private record P(Buf b, int o) {
        float f(long i) {
            return b.f[(int) (o + i)];
        }

        void f(long i, float v) {
            b.f[(int) (o + i)] = v;
        }

        int i(long i) {
            return b.i[(int) (o + i)];
        }

        void i(long i, int v) {
            b.i[(int) (o + i)] = v;
        }

        double d(long i) {
            return b.d[(int) (o + i)];
        }

        void d(long i, double v) {
            b.d[(int) (o + i)] = v;
        }
    }

    private static P p(Object a, Type type) {
        if (a == null) {
            return null;
        }
        Ptr ptr = (Ptr) a;
        Buf b = live(ptr.buffer());
        if (b.type != type) {
            throw new IllegalArgumentException("pointer to " + b.type + " where " + type + " was expected");
        }
        return new P(b, Math.toIntExact(ptr.offset()));
    }

    private static int in(Object a) {
        return (Integer) a;
    }

    /** How many times {@code kernel} was launched. */
    int launches(String kernel) {
        return byKernel.getOrDefault(kernel, 0);
    }

    @Override
    public void launch(String kernel, int gx, int gy, int gz, int block, Object... a) {
        KernelSignatures.check(kernel, gx, gy, gz, block, a);  // what a GPU would refuse or misread
        launches++;
        byKernel.merge(kernel, 1, Integer::sum);
        switch (kernel) {
            case "hs_embed" -> {
                P tok = p(a[0], Type.I32), pos = p(a[1], Type.I32), wte = p(a[2], Type.F32), wpe = p(a[3], Type.F32),
                        h = p(a[4], Type.F32);
                int n = in(a[5]), d = in(a[6]);
                for (int r = 0; r < n; r++) {
                    for (int c = 0; c < d; c++) {
                        h.f((long) r * d + c, wte.f((long) tok.i(r) * d + c) + wpe.f((long) pos.i(r) * d + c));
                    }
                }
            }
            case "hs_layernorm" -> {
                P x = p(a[0], Type.F32), y = p(a[1], Type.F32), w = p(a[2], Type.F32), b = p(a[3], Type.F32);
                int n = in(a[4]), d = in(a[5]);
                float eps = (Float) a[6];
                for (int r = 0; r < n; r++) {
                    float s = 0f;
                    for (int i = 0; i < d; i++) {
                        s += x.f((long) r * d + i);
                    }
                    float mean = s / d;
                    float q = 0f;
                    for (int i = 0; i < d; i++) {
                        float c = x.f((long) r * d + i) - mean;
                        q += c * c;
                    }
                    float inv = (float) (1.0 / Math.sqrt(q / d + eps));
                    for (int i = 0; i < d; i++) {
                        y.f((long) r * d + i, (x.f((long) r * d + i) - mean) * inv * w.f(i) + b.f(i));
                    }
                }
            }
            case "hs_attention" -> {
                P qkv = p(a[0], Type.F32), out = p(a[1], Type.F32), first = p(a[2], Type.I32);
                int n = in(a[3]), nHead = in(a[4]), hs = in(a[5]), d = in(a[6]);
                float scale = (float) (1.0 / Math.sqrt(hs));
                for (int row = 0; row < n; row++) {
                    int f = first.i(row);
                    int len = row - f + 1;
                    for (int head = 0; head < nHead; head++) {
                        float[] att = new float[len];
                        float mx = Float.NEGATIVE_INFINITY;
                        for (int u = 0; u < len; u++) {
                            float dot = 0f;
                            for (int j = 0; j < hs; j++) {
                                dot += qkv.f((long) row * 3 * d + head * hs + j) * qkv.f((long) (f + u) * 3 * d + d + head * hs + j);
                            }
                            att[u] = dot * scale;
                            mx = Math.max(mx, att[u]);
                        }
                        float sum = 0f;
                        for (int u = 0; u < len; u++) {
                            att[u] = (float) Math.exp(att[u] - mx);
                            sum += att[u];
                        }
                        for (int j = 0; j < hs; j++) {
                            float o = 0f;
                            for (int u = 0; u < len; u++) {
                                o += att[u] / sum * qkv.f((long) (f + u) * 3 * d + 2 * d + head * hs + j);
                            }
                            out.f((long) row * d + head * hs + j, o);
                        }
                    }
                }
            }
            case "hs_gelu" -> {
                P x = p(a[0], Type.F32);
                long n = (Long) a[1];
                for (long i = 0; i < n; i++) {
                    double v = x.f(i);
                    x.f(i, (float) (0.5 * v * (1.0 + Math.tanh(Math.sqrt(2.0 / Math.PI) * (v + 0.044715 * v * v * v)))));
                }
            }
            case "hs_add" -> {
                P h = p(a[0], Type.F32), x = p(a[1], Type.F32);
                long n = (Long) a[2];
                for (long i = 0; i < n; i++) {
                    h.f(i, h.f(i) + x.f(i));
                }
            }
            case "hs_gather" -> {
                P h = p(a[0], Type.F32), rows = p(a[1], Type.I32), out = p(a[2], Type.F32);
                int n = in(a[3]), d = in(a[4]);
                for (int i = 0; i < n; i++) {
                    for (int c = 0; c < d; c++) {
                        out.f((long) i * d + c, h.f((long) rows.i(i) * d + c));
                    }
                }
            }
            case "hs_sgemm", "hs_sgemm2" -> {
                // hs_sgemm2 computes the same bits as hs_sgemm, on 128 x 128 tiles instead of 64 x 64
                P A = p(a[0], Type.F32), B = p(a[1], Type.F32), bias = p(a[2], Type.F32), C = p(a[3], Type.F32);
                int M = in(a[4]), N = in(a[5]), K = in(a[6]), lda = in(a[7]), ldb = in(a[8]), ldc = in(a[9]);
                boolean transB = in(a[10]) != 0;
                int tile = kernel.equals("hs_sgemm2") ? 128 : 64;
                if (gx != (N + tile - 1) / tile || gy != (M + tile - 1) / tile || block != 256) {
                    throw new IllegalArgumentException(kernel + " grid");
                }
                for (int m = 0; m < M; m++) {
                    for (int nn = 0; nn < N; nn++) {
                        float acc = 0f;
                        for (int k = 0; k < K; k++) {
                            float b = transB ? B.f((long) nn * ldb + k) : B.f((long) k * ldb + nn);
                            acc = Math.fma(A.f((long) m * lda + k), b, acc);
                        }
                        C.f((long) m * ldc + nn, bias != null ? acc + bias.f(nn) : acc);
                    }
                }
            }
            case "hs_ov_center", "hs_ov_center2" -> {
                if (kernel.equals("hs_ov_center2") && (gx != in(a[5]) || block != 32 || in(a[6]) > 2048)) {
                    throw new IllegalArgumentException("hs_ov_center2 launch: grid " + gx + " block " + block);
                }
                P wo = p(a[0], Type.F32), src = p(a[1], Type.I32), lnfW = p(a[2], Type.F32), wc = p(a[3], Type.F32),
                        m = p(a[4], Type.F32);
                int nr = in(a[5]), d = in(a[6]);
                for (int r = 0; r < nr; r++) {
                    long s0 = (long) src.i(r) * d;
                    float sum = 0f;
                    for (int i = 0; i < d; i++) {
                        sum += wo.f(s0 + i);
                    }
                    float mean = sum / d;
                    for (int i = 0; i < d; i++) {
                        float x = wo.f(s0 + i) - mean;
                        wc.f((long) r * d + i, x);
                        m.f((long) r * d + i, x * lnfW.f(i));
                    }
                }
            }
            case "hs_gram", "hs_gram2" -> {
                P wc = p(a[0], Type.F32), gram = p(a[1], Type.F64);
                int hs = in(a[2]), d = in(a[3]);
                if (kernel.equals("hs_gram2") && (gy != (hs * hs + 255) / 256 || block != 256 || hs > 64)) {
                    throw new IllegalArgumentException("hs_gram2 launch: grid " + gx + "," + gy + " block " + block);
                }
                for (int g = 0; g < gx; g++) {
                    for (int x = 0; x < hs; x++) {
                        for (int y = 0; y < hs; y++) {
                            double s = 0;
                            for (int i = 0; i < d; i++) {
                                s += (double) wc.f(((long) g * hs + x) * d + i) * wc.f(((long) g * hs + y) * d + i);
                            }
                            gram.d(((long) g * hs + x) * hs + y, s);
                        }
                    }
                }
            }
            case "hs_head_scale" -> {
                P v = p(a[0], Type.F32), cols = p(a[2], Type.I32), gram = p(a[3], Type.F64), u = p(a[4], Type.F32);
                int ldv = in(a[1]), n = in(a[5]), hs = in(a[6]), d = in(a[7]);
                float eps = (Float) a[8];
                for (int g = 0; g < gy; g++) {
                    for (int i = 0; i < n; i++) {
                        long vr = (long) i * ldv + cols.i(g);
                        double sq = 0;
                        for (int x = 0; x < hs; x++) {
                            double row = 0;
                            for (int y = 0; y < hs; y++) {
                                row += gram.d(((long) g * hs + x) * hs + y) * v.f(vr + y);
                            }
                            sq += row * v.f(vr + x);
                        }
                        float inv = (float) (1.0 / Math.sqrt(sq / d + eps));
                        for (int j = 0; j < hs; j++) {
                            u.f(((long) g * n + i) * hs + j, v.f(vr + j) * inv);
                        }
                    }
                }
            }
            case "hs_beta" -> {
                P wte = p(a[0], Type.F32), b = p(a[1], Type.F32), beta = p(a[2], Type.F32);
                int V = in(a[3]), d = in(a[4]);
                for (int t = 0; t < V; t++) {
                    float s = 0f;
                    for (int i = 0; i < d; i++) {
                        s += b.f(i) * wte.f((long) t * d + i);
                    }
                    beta.f(t, s);
                }
            }
            case "hs_ov_topk" -> {
                P A = p(a[0], Type.F32), beta = p(a[2], Type.F32), U = p(a[3], Type.F32), gate0 = p(a[10], Type.F32),
                        ov = p(a[11], Type.F32), oi = p(a[12], Type.I32);
                int ldA = in(a[1]), n = in(a[4]), hs = in(a[5]), V = in(a[6]), k = in(a[7]), splitLen = in(a[8]),
                        splits = in(a[9]);
                if (gx != (n + 31) / 32 || gy != splits || block != 256 || splitLen % 64 != 0
                        || (long) splits * splitLen < V || (long) (splits - 1) * splitLen >= V || ldA % 4 != 0) {
                    throw new IllegalArgumentException("hs_ov_topk launch: grid " + gx + "," + gy + " n " + n
                            + " splits " + splits + " x " + splitLen + " V " + V);
                }
                exactTopK(A, ldA, beta, U, n, hs, V, k, splitLen, splits, gz, gate0, ov, oi);
            }
            case "hs_tc_prep" -> {
                P A = p(a[0], Type.F32), beta = p(a[2], Type.F32), abf = p(a[5], Type.I32), tok = p(a[6], Type.F32),
                        tmax = p(a[7], Type.F32), at = p(a[8], Type.F32);
                int ldA = in(a[1]), V = in(a[3]), vpad = in(a[4]);
                if (block != 128 || vpad % 32 != 0 || gx != (vpad / 32 + 3) / 4 || vpad < V || vpad - V >= 32) {
                    throw new IllegalArgumentException("hs_tc_prep launch: grid " + gx + " V " + V + " Vpad " + vpad);
                }
                for (int g = 0; g < gy; g++) {
                    for (int tile = 0; tile < vpad / 32; tile++) {
                        float ma = 0f;
                        float mb = Float.NEGATIVE_INFINITY;
                        for (int t = tile * 32; t < tile * 32 + 32; t++) {
                            float an = 0f;
                            float bb = Float.NEGATIVE_INFINITY;
                            for (int w = 0; w < 32; w++) {
                                int q = w / 8, m = w % 8, j = 2 * q + 8 * m;
                                int word = 0;
                                if (t < V) {
                                    word = SimBf16.bits(A.f((long) (g * 64 + j) * ldA + t))
                                            | SimBf16.bits(A.f((long) (g * 64 + j + 1) * ldA + t)) << 16;
                                }
                                abf.i(((long) g * vpad + t) * 32 + w, word);
                            }
                            for (int j = 0; at != null && j < 64; j++) {
                                at.f(((long) g * vpad + t) * 64 + j, t < V ? A.f((long) (g * 64 + j) * ldA + t) : 0f);
                            }
                            if (t < V) {
                                float ss = 0f;
                                for (int j = 0; j < 64; j++) {
                                    float x = A.f((long) (g * 64 + j) * ldA + t);
                                    ss = Math.fma(x, x, ss);
                                }
                                an = (float) Math.sqrt(ss);
                                an = Float.isNaN(an) ? Float.POSITIVE_INFINITY : an;
                                float b = beta.f(t);
                                bb = b + (3.0517578125e-05f * Math.abs(b) + 1e-30f);
                                bb = Float.isNaN(bb) ? Float.POSITIVE_INFINITY : bb;
                            }
                            tok.f(2L * (g * vpad + t), an);
                            tok.f(2L * (g * vpad + t) + 1, bb);
                            ma = Math.max(ma, an);
                            mb = Math.max(mb, bb);
                        }
                        tmax.f(2L * (g * (vpad / 32) + tile), ma);
                        tmax.f(2L * (g * (vpad / 32) + tile) + 1, mb);
                    }
                }
            }
            case "hs_ov_topk_tc2" -> {
                P abf = p(a[0], Type.I32), tok = p(a[2], Type.F32), tmax = p(a[3], Type.F32), at = p(a[4], Type.F32),
                        beta = p(a[5], Type.F32), U = p(a[6], Type.F32), gate0 = p(a[12], Type.F32), ov = p(a[13], Type.F32),
                        oi = p(a[14], Type.I32);
                int vpad = in(a[1]), n = in(a[7]), V = in(a[8]), k = in(a[9]), splitLen = in(a[10]), splits = in(a[11]);
                if (gx != (n + 127) / 128 || gy != splits || block != 64 || splitLen % 32 != 0
                        || (long) splits * splitLen < V || (long) (splits - 1) * splitLen >= V || vpad % 32 != 0
                        || vpad < V) {
                    throw new IllegalArgumentException("hs_ov_topk_tc2 launch: grid " + gx + "," + gy + " n " + n
                            + " splits " + splits + " x " + splitLen + " V " + V);
                }
                abf.i((long) gz * vpad * 32 - 1);
                tok.f((long) gz * vpad * 2 - 1);
                tmax.f((long) gz * (vpad / 32) * 2 - 1);
                AEntry fromAt = (g, j, t) -> at.f(((long) g * vpad + t) * 64 + j);
                P cn = p(a[15], Type.I32), cids = p(a[16], Type.I32);
                if (cids != null) { // the first pass: every token above the gate, appended (here in falling id order)
                    int cap = in(a[17]);
                    if (k != 0 || gate0 == null) {
                        throw new IllegalArgumentException("hs_ov_topk_tc2 collecting: k " + k + ", gate0 " + gate0);
                    }
                    for (int g = 0; g < gz; g++) {
                        for (int r = 0; r < n; r++) {
                            long row = (long) g * n + r;
                            float g0 = gate0.f(row);
                            for (int t = V - 1; t >= 0; t--) {
                                float x = logit(fromAt, beta, U, n, 64, g, r, t);
                                if (Float.isNaN(g0) || x > g0) {
                                    int slot = cn.i(row);
                                    cn.i(row, slot + 1);
                                    if (slot < cap) {
                                        cids.i(row * cap + slot, t);
                                    }
                                }
                            }
                            collected.add(cn.i(row));
                        }
                    }
                    return;
                }
                // the exact values from the token-major copy: A[j][t] = at[t·64 + j]
                exactTopK(fromAt, beta, U, n, 64, V, k, splitLen, splits, gz, gate0, ov, oi);
            }
            case "hs_ov_topk_tc" -> {
                P abf = p(a[0], Type.I32), tok = p(a[2], Type.F32), tmax = p(a[3], Type.F32), A = p(a[4], Type.F32),
                        beta = p(a[6], Type.F32), U = p(a[7], Type.F32), gate0 = p(a[13], Type.F32), ov = p(a[14], Type.F32),
                        oi = p(a[15], Type.I32);
                int vpad = in(a[1]), ldA = in(a[5]), n = in(a[8]), V = in(a[9]), k = in(a[10]), splitLen = in(a[11]),
                        splits = in(a[12]);
                if (gx != (n + 255) / 256 || gy != splits || block != 128 || splitLen % 32 != 0
                        || (long) splits * splitLen < V || (long) (splits - 1) * splitLen >= V || ldA % 4 != 0
                        || vpad % 32 != 0 || vpad < V) {
                    throw new IllegalArgumentException("hs_ov_topk_tc launch: grid " + gx + "," + gy + " n " + n
                            + " splits " + splits + " x " + splitLen + " V " + V);
                }
                // the inputs from hs_tc_prep must be there (and large enough) for all gz heads
                abf.i((long) gz * vpad * 32 - 1);
                tok.f((long) gz * vpad * 2 - 1);
                tmax.f((long) gz * (vpad / 32) * 2 - 1);
                exactTopK(A, ldA, beta, U, n, 64, V, k, splitLen, splits, gz, gate0, ov, oi);
            }
            case "hs_target_gate" -> {
                P A = p(a[0], Type.F32), beta = p(a[2], Type.F32), U = p(a[3], Type.F32), targets = p(a[7], Type.I32),
                        gate0 = p(a[9], Type.F32), top = p(a[10], Type.F32);
                int ldA = in(a[1]), n = in(a[4]), hs = in(a[5]), V = in(a[6]), T = in(a[8]);
                if (gx != (n + 127) / 128 || block != 128 || ldA % 4 != 0) {
                    throw new IllegalArgumentException("hs_target_gate launch: grid " + gx + " n " + n);
                }
                AEntry Aj = (g, j, t) -> A.f(((long) g * hs + j) * ldA + t);
                for (int g = 0; g < gy; g++) {
                    for (int row = 0; row < n; row++) {
                        boolean any = false;
                        boolean whole = false;
                        boolean nan = false;
                        float lo = Float.POSITIVE_INFINITY;
                        float hi = Float.NEGATIVE_INFINITY;
                        for (int c = 0; c < T; c++) {
                            int t = targets.i((long) row * T + c);
                            if (t < 0 || t >= V) {
                                continue;
                            }
                            any = true;
                            float x = logit(Aj, beta, U, n, hs, g, row, t);
                            nan |= Float.isNaN(x);
                            hi = Float.isNaN(x) ? hi : Math.max(hi, x);
                            if (Float.isNaN(x) || x == Float.NEGATIVE_INFINITY) {
                                whole = true;
                            } else {
                                lo = Math.min(lo, x);
                            }
                        }
                        gate0.f((long) g * n + row, !any ? Float.POSITIVE_INFINITY : whole ? Float.NaN : Math.nextDown(lo));
                        if (top != null) {
                            top.f((long) g * n + row, nan ? Float.NaN : hi);
                        }
                    }
                }
            }
            case "hs_gate_seed" -> {
                P floor = p(a[0], Type.F32), lv = p(a[1], Type.F32), li = p(a[2], Type.I32), gate0 = p(a[5], Type.F32);
                int k = in(a[3]);
                long rows = (Long) a[4];
                for (long r = 0; r < rows; r++) {
                    float g = floor == null ? Float.NaN : floor.f(r);
                    float v = lv.f(r * k + k - 1);
                    if (li.i(r * k + k - 1) >= 0 && !Float.isNaN(v) && v != Float.NEGATIVE_INFINITY) {
                        float s = Math.nextDown(v);
                        seedsRaised += Float.isNaN(g) || s > g ? 1 : 0;
                        g = Float.isNaN(g) ? s : Math.max(g, s);
                    }
                    gate0.f(r, g);
                }
            }
            case "hs_bf16_split" -> {
                P m = p(a[0], Type.F32), mh = p(a[2], Type.F32), ml = p(a[3], Type.F32), ma = p(a[4], Type.F32);
                long count = (Long) a[1];
                for (long i = 0; i < count; i++) {
                    float x = m.f(i);
                    float h = Float.intBitsToFloat(SimBf16.bits(x) << 16);
                    mh.f(i, h);
                    ml.f(i, x - h);
                    ma.f(i, Math.abs(x));
                }
            }
            case "hs_row_bound" -> {
                P U = p(a[0], Type.F32), b1 = p(a[9], Type.F32);
                P gl = p(a[3], Type.F64), gh = p(a[4], Type.F64), ga = p(a[5], Type.F64);
                int n = in(a[1]), hs = in(a[2]);
                double maxE = (Float) a[6], maxEl = (Float) a[7], maxBeta = (Float) a[8];
                for (int g = 0; g < gy; g++) {
                    for (int r = 0; r < n; r++) {
                        double ql = 0, qh = 0, qa = 0, sumU = 0, rowM = 0;
                        for (int x = 0; x < hs; x++) {
                            double ux = U.f(((long) g * n + r) * hs + x);
                            double sl = 0, sh = 0, sa = 0;
                            for (int y = 0; y < hs; y++) {
                                double uy = U.f(((long) g * n + r) * hs + y);
                                long e = ((long) g * hs + x) * hs + y;
                                sl += gl.d(e) * uy;
                                sh += gh.d(e) * uy;
                                sa += ga.d(e) * Math.abs(uy);
                            }
                            ql += ux * sl;
                            qh += ux * sh;
                            qa += Math.abs(ux) * sa;
                            sumU += Math.abs(ux);
                            double diag = ga.d(((long) g * hs + x) * hs + x);
                            rowM = !(diag <= rowM) ? diag : rowM;
                        }
                        double na = Math.sqrt(Math.max(qa, 0)) * (1 + 0x1p-40);
                        double nl = Math.sqrt(Math.max(ql, 0)) + 0x1p-18 * na;
                        double nh = Math.sqrt(Math.max(qh, 0)) + 0x1p-18 * na;
                        double b = 0x1p-16 * maxBeta + (nl + 0x1p-12 * na) * maxE + nh * maxEl + 0x1p-90 * (1 + sumU);
                        b *= 1 + 0x1p-20;
                        if (!(b <= 3.0e38) || !(rowM <= 0x1p32) || !(ql <= 1e300 && qh <= 1e300 && qa <= 1e300)) {
                            b = Double.POSITIVE_INFINITY;
                        }
                        float f = (float) b;
                        b1.f((long) g * n + r, f < b ? Math.nextUp(f) : f);
                    }
                }
            }
            case "hs_pack_bf16" -> {
                P x = p(a[0], Type.F32), out = p(a[2], Type.I32);
                SimBf16.pack(x.b.f, x.o, (Long) a[1], out.b.i, out.o);
            }
            case "hs_gemm_bf16" -> {
                P A = p(a[0], Type.F32), B = p(a[2], Type.I32), C = p(a[4], Type.F32);
                SimBf16.gemm(A.b.f, A.o, in(a[1]), B.b.i, B.o, in(a[3]), C.b.f, C.o, in(a[5]), in(a[6]), in(a[7]),
                        in(a[8]));
            }
            case "hs_zero" -> {
                P z = p(a[0], Type.I32);
                long count = (Long) a[1];
                for (long i = 0; i < count; i++) {
                    z.i(i, 0);
                }
            }
            case "hs_tp_mark" -> {
                P count = p(a[0], Type.I32), ids = p(a[1], Type.I32), mask = p(a[4], Type.I32);
                int cap = in(a[2]);
                long rows = (Long) a[3];
                for (long r = 0; r < rows; r++) {
                    int c = count.i(r);
                    for (int q = 0; c <= cap && q < c; q++) {
                        mask.i(ids.i(r * cap + q), 1);
                    }
                }
            }
            case "hs_tp_compact" -> {
                P mask = p(a[0], Type.I32), cols = p(a[2], Type.I32), total = p(a[3], Type.I32);
                int V = in(a[1]);
                int c = 0;
                for (int t = 0; t < V; t++) {
                    if (mask.i(t) != 0) {
                        cols.i(c++, t);
                    }
                }
                total.i(0, c);
            }
            case "hs_topk_merge" -> {
                P iv = p(a[0], Type.F32), ii = p(a[1], Type.I32), ov = p(a[5], Type.F32), oi = p(a[6], Type.I32);
                long rows = (Long) a[2];
                int splits = in(a[3]), k = in(a[4]);
                for (long r = 0; r < rows; r++) {
                    int[] ids = new int[k];
                    float[] vals = new float[k];
                    TopK top = new TopK(1, k, ids, vals);
                    for (int q = 0; q < splits * k; q++) {
                        int id = ii.i(r * splits * k + q);
                        if (id >= 0) {
                            top.offer(0, id, iv.f(r * splits * k + q));
                        }
                    }
                    for (int q = 0; q < k; q++) {
                        oi.i(r * k + q, ids[q]);
                        ov.f(r * k + q, vals[q]);
                    }
                }
            }
            default -> throw new IllegalArgumentException("no kernel " + kernel);
        }
    }
}
