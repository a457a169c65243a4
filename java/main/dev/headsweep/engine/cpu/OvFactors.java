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
     * The head's Gram matrix {@code G = W̃_O·W̃_Oᵀ} ({@code hs × hs}, double). Its own method so that
     * {@link JitWarmUp} can have it compiled before the first head.
     */
    static double[] gram(float[] wo, int hs, int d) {
        // (Each sum below runs in index order, as a single loop would; four independent sums are
        // interleaved so that they do not wait on each other: same bits, about 4× faster.)
        double[] gram = new double[hs * hs];
        for (int a = 0; a < hs; a++) {
            int b = a;
            for (; b + 4 <= hs; b += 4) {
                double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                int oa = a * d, o0 = b * d, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
                for (int i = 0; i < d; i++) {
                    double x = wo[oa + i];
                    s0 += x * wo[o0 + i];
                    s1 += x * wo[o1 + i];
                    s2 += x * wo[o2 + i];
                    s3 += x * wo[o3 + i];
                }
                gram[a * hs + b] = s0;
                gram[b * hs + a] = s0;
                gram[a * hs + b + 1] = s1;
                gram[(b + 1) * hs + a] = s1;
                gram[a * hs + b + 2] = s2;
                gram[(b + 2) * hs + a] = s2;
                gram[a * hs + b + 3] = s3;
                gram[(b + 3) * hs + a] = s3;
            }
            for (; b < hs; b++) {
                double s = 0;
                for (int i = 0; i < d; i++) {
                    s += (double) wo[a * d + i] * wo[b * d + i];
                }
                gram[a * hs + b] = s;
                gram[b * hs + a] = s;
            }
        }
        return gram;
    }

    /** The keyword rows {@code u = v/σ} with {@code σ² = v·G·vᵀ/d + eps} ({@code n × hs}). */
    static float[] rows(float[] v, int n, int hs, int d, float eps, double[] gram) {
        float[] u = new float[n * hs];
        double[] rows = new double[hs];
        for (int r = 0; r < n; r++) {
            int vo = r * hs;
            int a = 0;
            for (; a + 4 <= hs; a += 4) {
                double r0 = 0, r1 = 0, r2 = 0, r3 = 0;
                int g0 = a * hs, g1 = g0 + hs, g2 = g1 + hs, g3 = g2 + hs;
                for (int b = 0; b < hs; b++) {
                    double x = v[vo + b];
                    r0 += gram[g0 + b] * x;
                    r1 += gram[g1 + b] * x;
                    r2 += gram[g2 + b] * x;
                    r3 += gram[g3 + b] * x;
                }
                rows[a] = r0;
                rows[a + 1] = r1;
                rows[a + 2] = r2;
                rows[a + 3] = r3;
            }
            for (; a < hs; a++) {
                double row = 0;
                for (int b = 0; b < hs; b++) {
                    row += gram[a * hs + b] * v[vo + b];
                }
                rows[a] = row;
            }
            double sq = 0;
            for (a = 0; a < hs; a++) {
                sq += rows[a] * v[vo + a];
            }
            float inv = (float) (1.0 / Math.sqrt(sq / d + eps));
            for (int j = 0; j < hs; j++) {
                u[r * hs + j] = v[r * hs + j] * inv;
            }
        }
        return u;
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
