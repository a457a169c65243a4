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
        var cfg = w.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        float eps = (float) cfg.layerNormEps();
        Gpt2Weights.LayerOv lay = w.layer(head.layer());
        int col = head.head() * hs;

        float[] v = MatMul.xw(z, n, d, lay.wv(), d, col, hs, lay.bv());
        float[] wo = centredWo(w, head);

        // σ² = |v·W̃_O|²/d + eps = v·G·vᵀ/d + eps with the head's Gram matrix G = W̃_O·W̃_Oᵀ (hs × hs)
        double[] gram = new double[hs * hs];
        for (int a = 0; a < hs; a++) {
            for (int b = a; b < hs; b++) {
                double s = 0;
                for (int i = 0; i < d; i++) {
                    s += (double) wo[a * d + i] * wo[b * d + i];
                }
                gram[a * hs + b] = s;
                gram[b * hs + a] = s;
            }
        }
        float[] u = new float[n * hs];
        for (int r = 0; r < n; r++) {
            double sq = 0;
            for (int a = 0; a < hs; a++) {
                double row = 0;
                for (int b = 0; b < hs; b++) {
                    row += gram[a * hs + b] * v[r * hs + b];
                }
                sq += row * v[r * hs + a];
            }
            float inv = (float) (1.0 / Math.sqrt(sq / d + eps));
            for (int j = 0; j < hs; j++) {
                u[r * hs + j] = v[r * hs + j] * inv;
            }
        }

        scaleByLnf(w, wo);
        return new OvFactors(wo, u);
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
        int col = head.head() * hs;
        float[] wo = new float[hs * d];
        System.arraycopy(w.layer(head.layer()).wo(), col * d, wo, 0, hs * d);
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
        for (int t = 0; t < vocab; t++) {
            float s = 0f;
            for (int i = 0; i < d; i++) {
                s += b[i] * e[t * d + i];
            }
            beta[t] = s;
        }
        return beta;
    }
}
