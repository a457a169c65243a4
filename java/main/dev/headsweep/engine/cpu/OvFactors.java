package dev.headsweep.engine.cpu;

import dev.headsweep.engine.HeadId;
import dev.headsweep.model.Gpt2Weights;

/**
 * One head's OV chain in factored form (DESIGN.md section 2):
 * {@code logits = (1/σ)·v·A_h + β} with {@code A_h = W̃_O·diag(ln_f.w)·wteᵀ}, where
 * {@code W̃_O} is the head's {@code W_O} with each row's mean removed, {@code v = z·W_V + b_V} and
 * {@code σ = sqrt(|v·W̃_O|²/d + eps)} (the std that ln_f divides by), computed through the head's
 * 64 × 64 Gram matrix {@code W̃_O·W̃_Oᵀ} so that no d-wide row is formed.
 *
 * @param m {@code W̃_O·diag(ln_f.w)}, {@code [hs, d]}
 * @param u the rows {@code v/σ}, {@code [n, hs]}
 */
public record OvFactors(float[] m, float[] u) {

    /**
     * @param z the keyword rows after the head's layer's ln_1, {@code [n, d]}
     */
    public static OvFactors of(Gpt2Weights w, HeadId head, float[] z, int n) {
        float[] wo = centredWo(w, head);
        float[] u = u(w, head, wo, z, n);
        scaleByLnf(w, wo);
        return new OvFactors(wo, u);
    }

    /**
     * The keyword rows {@code u = v/σ} alone ({@code [n, hs]}), bit for bit the {@link #u()} of
     * {@link #of}: all that a run reading {@code A_h} from the {@link AhCache} needs of the head.
     *
     * @param z the keyword rows after the head's layer's ln_1, {@code [n, d]}
     */
    public static float[] u(Gpt2Weights w, HeadId head, float[] z, int n) {
        int d = w.config().nEmbd();
        int hs = w.config().headSize();
        float[] wo = CENTRED.get();
        if (wo == null || wo.length < hs * d) {
            wo = new float[hs * d];
            CENTRED.set(wo);
        }
        centredRows(w.layer(head.layer()).wo(), head.head() * hs * d, hs, d, wo);
        return u(w, head, wo, z, n);
    }

    /** Each thread's scratch for {@code W̃_O} in {@link #u(Gpt2Weights, HeadId, float[], int)}. */
    private static final ThreadLocal<float[]> CENTRED = new ThreadLocal<>();

    private static float[] u(Gpt2Weights w, HeadId head, float[] wo, float[] z, int n) {
        var cfg = w.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        float eps = (float) cfg.layerNormEps();
        Gpt2Weights.LayerOv lay = w.layer(head.layer());
        float[] v = MatMul.xw(z, n, d, lay.wv(), d, head.head() * hs, hs, lay.bv());
        // σ² = |v·W̃_O|²/d + eps = v·G·vᵀ/d + eps with the head's Gram matrix G = W̃_O·W̃_Oᵀ (hs × hs)
        return rows(v, n, hs, d, eps, gram(wo, hs, d));
    }

    /**
     * The head's Gram matrix {@code G = W̃_O·W̃_Oᵀ} ({@code hs × hs}, double, exactly symmetric). Its
     * own method so that {@link JitWarmUp} can have it compiled before the first head.
     */
    static double[] gram(float[] wo, int hs, int d) {
        // Each sum runs in index order i = 0, 1, ..., one multiply and one add per term, as a
        // single loop would (same bits; the float products are exact in double). The sums of a
        // 4 × 4 block of G advance side by side: each step loads 8 values for 16 terms.
        double[] g = new double[hs * hs];
        int full = hs - hs % 4;
        for (int a = 0; a < full; a += 4) {
            int a0 = a * d, a1 = a0 + d, a2 = a1 + d, a3 = a2 + d;
            for (int b = a; b < full; b += 4) { // blocks on and above the diagonal
                int b0 = b * d, b1 = b0 + d, b2 = b1 + d, b3 = b2 + d;
                double s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
                double s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
                for (int i = 0; i < d; i++) {
                    double x0 = wo[a0 + i], x1 = wo[a1 + i], x2 = wo[a2 + i], x3 = wo[a3 + i];
                    double y0 = wo[b0 + i], y1 = wo[b1 + i], y2 = wo[b2 + i], y3 = wo[b3 + i];
                    s00 += x0 * y0;
                    s01 += x0 * y1;
                    s02 += x0 * y2;
                    s03 += x0 * y3;
                    s10 += x1 * y0;
                    s11 += x1 * y1;
                    s12 += x1 * y2;
                    s13 += x1 * y3;
                    s20 += x2 * y0;
                    s21 += x2 * y1;
                    s22 += x2 * y2;
                    s23 += x2 * y3;
                    s30 += x3 * y0;
                    s31 += x3 * y1;
                    s32 += x3 * y2;
                    s33 += x3 * y3;
                }
                // (in a diagonal block, G[a+p][a+q] and G[a+q][a+p] are the same sum: x·y = y·x exactly)
                putSym(g, hs, a, b, s00, s01, s02, s03);
                putSym(g, hs, a + 1, b, s10, s11, s12, s13);
                putSym(g, hs, a + 2, b, s20, s21, s22, s23);
                putSym(g, hs, a + 3, b, s30, s31, s32, s33);
            }
        }
        for (int a = 0; a < hs; a++) { // the columns past the last block of 4
            for (int b = Math.max(a, full); b < hs; b++) {
                double s = 0;
                for (int i = 0; i < d; i++) {
                    s += (double) wo[a * d + i] * wo[b * d + i];
                }
                g[a * hs + b] = s;
                g[b * hs + a] = s;
            }
        }
        return g;
    }

    /** {@code G[a][b+q] = G[b+q][a] = s_q} for q < 4. */
    private static void putSym(double[] g, int hs, int a, int b, double s0, double s1, double s2, double s3) {
        g[a * hs + b] = s0;
        g[a * hs + b + 1] = s1;
        g[a * hs + b + 2] = s2;
        g[a * hs + b + 3] = s3;
        g[b * hs + a] = s0;
        g[(b + 1) * hs + a] = s1;
        g[(b + 2) * hs + a] = s2;
        g[(b + 3) * hs + a] = s3;
    }

    /** The keyword rows {@code u = v/σ} with {@code σ² = v·G·vᵀ/d + eps} ({@code n × hs}). */
    static float[] rows(float[] v, int n, int hs, int d, float eps, double[] gram) {
        double[] sq = quadForms(v, n, hs, gram);
        float[] u = new float[n * hs];
        for (int r = 0; r < n; r++) {
            float inv = (float) (1.0 / Math.sqrt(sq[r] / d + eps));
            for (int j = 0; j < hs; j++) {
                u[r * hs + j] = v[r * hs + j] * inv;
            }
        }
        return u;
    }

    /**
     * {@code v·G·vᵀ} of each keyword row ({@code v} is {@code n × hs}), in double:
     * {@code Σ_a (G·vᵀ)[a]·v[a]} with {@code (G·vᵀ)[a] = Σ_b G[a][b]·v[b]}.
     */
    static double[] quadForms(float[] v, int n, int hs, double[] gram) {
        // Every sum in index order, one multiply and one add per term, as a single loop would (same
        // bits). The sums of 4 keyword rows × 4 entries of G·vᵀ advance side by side: each step
        // loads 8 values for 16 terms.
        double[] out = new double[n];
        double[] rows = new double[4 * hs];
        int full = hs - hs % 4;
        int r = 0;
        for (; r < n; r += 4) {
            int count = Math.min(4, n - r);
            int v0 = r * hs;
            int v1 = count > 1 ? v0 + hs : v0; // (a short last block repeats its first row)
            int v2 = count > 2 ? v0 + 2 * hs : v0;
            int v3 = count > 3 ? v0 + 3 * hs : v0;
            for (int a = 0; a < full; a += 4) {
                int g0 = a * hs, g1 = g0 + hs, g2 = g1 + hs, g3 = g2 + hs;
                double s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
                double s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
                for (int b = 0; b < hs; b++) {
                    double c0 = gram[g0 + b], c1 = gram[g1 + b], c2 = gram[g2 + b], c3 = gram[g3 + b];
                    double x0 = v[v0 + b], x1 = v[v1 + b], x2 = v[v2 + b], x3 = v[v3 + b];
                    s00 += c0 * x0;
                    s01 += c1 * x0;
                    s02 += c2 * x0;
                    s03 += c3 * x0;
                    s10 += c0 * x1;
                    s11 += c1 * x1;
                    s12 += c2 * x1;
                    s13 += c3 * x1;
                    s20 += c0 * x2;
                    s21 += c1 * x2;
                    s22 += c2 * x2;
                    s23 += c3 * x2;
                    s30 += c0 * x3;
                    s31 += c1 * x3;
                    s32 += c2 * x3;
                    s33 += c3 * x3;
                }
                put4(rows, a, s00, s01, s02, s03);
                put4(rows, hs + a, s10, s11, s12, s13);
                put4(rows, 2 * hs + a, s20, s21, s22, s23);
                put4(rows, 3 * hs + a, s30, s31, s32, s33);
            }
            for (int p = 0; p < count; p++) {
                int vo = v0 + p * hs;
                for (int a = full; a < hs; a++) { // the entries past the last block of 4
                    double row = 0;
                    for (int b = 0; b < hs; b++) {
                        row += gram[a * hs + b] * v[vo + b];
                    }
                    rows[p * hs + a] = row;
                }
                double sq = 0;
                for (int a = 0; a < hs; a++) {
                    sq += rows[p * hs + a] * v[vo + a];
                }
                out[r + p] = sq;
            }
        }
        return out;
    }

    private static void put4(double[] a, int at, double s0, double s1, double s2, double s3) {
        a[at] = s0;
        a[at + 1] = s1;
        a[at + 2] = s2;
        a[at + 3] = s3;
    }

    /**
     * The head's {@code M = W̃_O·diag(ln_f.w)} alone ({@code [hs, d]}), bit for bit the {@link #m()}
     * of {@link #of}: what {@code A_h = M·wteᵀ} is computed from (to fill the {@link AhCache} for
     * heads a run does not score).
     */
    public static float[] m(Gpt2Weights w, HeadId head) {
        float[] wo = centredWo(w, head);
        scaleByLnf(w, wo);
        return wo;
    }

    /** The head's rows of {@code c_proj}, each with its mean removed: {@code W̃_O}, {@code [hs, d]}. */
    private static float[] centredWo(Gpt2Weights w, HeadId head) {
        int d = w.config().nEmbd();
        int hs = w.config().headSize();
        return centredRows(w.layer(head.layer()).wo(), head.head() * hs * d, hs, d);
    }

    /** Rows {@code [hs, d]} of {@code src} from {@code off} on, copied, each with its mean removed. */
    static float[] centredRows(float[] src, int off, int hs, int d) {
        return centredRows(src, off, hs, d, new float[hs * d]);
    }

    /** As {@link #centredRows(float[], int, int, int)}, into {@code wo} (at least {@code hs × d}). */
    static float[] centredRows(float[] src, int off, int hs, int d, float[] wo) {
        System.arraycopy(src, off, wo, 0, hs * d);
        for (int j = 0; j < hs; j++) {
            float sum = 0f;
            for (int i = 0; i < d; i++) {
                sum += wo[j * d + i];
            }
            float mean = sum / d;
            for (int i = 0; i < d; i++) {
                wo[j * d + i] -= mean;
            }
        }
        return wo;
    }

    private static void scaleByLnf(Gpt2Weights w, float[] wo) {
        int d = w.config().nEmbd();
        int hs = w.config().headSize();
        float[] lnfW = w.lnfW();
        for (int j = 0; j < hs; j++) {
            for (int i = 0; i < d; i++) {
                wo[j * d + i] *= lnfW[i];
            }
        }
    }

    /** {@code β = ln_f.b · wteᵀ}: the part of every head's logits that does not depend on the head. */
    public static float[] beta(Gpt2Weights w) {
        int d = w.config().nEmbd();
        int vocab = w.config().vocabSize();
        float[] e = w.wte();
        float[] b = w.lnfB();
        float[] beta = new float[vocab];
        // Blocks of tokens in parallel.
        int block = 1024;
        java.util.stream.IntStream.range(0, (vocab + block - 1) / block).parallel()
                .forEach(blk -> beta(e, b, d, blk * block, Math.min(vocab, blk * block + block), beta));
        return beta;
    }

    /** {@code beta[t] = Σ_i b[i]·e[t·d + i]} for tokens {@code from .. to}. */
    static void beta(float[] e, float[] b, int d, int from, int to, float[] beta) {
        // Each token's sum runs in index order, as one loop per token would (same bits); four
        // tokens' sums are interleaved so that they do not wait on each other.
        int t = from;
        for (; t + 4 <= to; t += 4) {
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            int e0 = t * d, e1 = e0 + d, e2 = e1 + d, e3 = e2 + d;
            for (int i = 0; i < d; i++) {
                float bi = b[i];
                s0 += bi * e[e0 + i];
                s1 += bi * e[e1 + i];
                s2 += bi * e[e2 + i];
                s3 += bi * e[e3 + i];
            }
            beta[t] = s0;
            beta[t + 1] = s1;
            beta[t + 2] = s2;
            beta[t + 3] = s3;
        }
        for (; t < to; t++) {
            float s = 0f;
            for (int i = 0; i < d; i++) {
                s += b[i] * e[t * d + i];
            }
            beta[t] = s;
        }
    }
}
