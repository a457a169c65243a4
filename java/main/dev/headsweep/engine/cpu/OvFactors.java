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
        return rows(v, n, hs, d, eps, gram(wo, hs, d, scratch().gram(hs)));
    }

    /**
     * The head's Gram matrix {@code G = W̃_O·W̃_Oᵀ} ({@code hs × hs}, double, exactly symmetric). Its
     * own method so that {@link JitWarmUp} can have it compiled before the first head.
     */
    static double[] gram(float[] wo, int hs, int d) {
        return gram(wo, hs, d, new double[hs * hs]);
    }

    /** As {@link #gram(float[], int, int)}, into {@code g} (at least {@code hs × hs}; all of it is written). */
    private static double[] gram(float[] wo, int hs, int d, double[] g) {
        // G[a][b] (b >= a) is one sum over i in index order, one multiply and one add per term, as
        // a single loop gives it (the float products are exact in double); G[b][a] is the same
        // number (x·y = y·x exactly). The code vectorizes ACROSS sums, never within one: W̃_O is
        // copied, transposed and widened into rows wt[i] = (W̃_O[0][i], ..., W̃_O[hs-1][i]), and
        // the sums of 3 rows a, a1, a2 of G advance side by side over b = a .. hs-1, 2 terms i at
        // a time: a loop over b that C2 compiles to vector code. (C2 vectorizes it only while it
        // is this small, about 6 products: it cannot tell the arrays stored to from the rows read.
        // The loop nest is here rather than in a small method called per row and step, which C2
        // would compile only after many heads: as one nest it is replaced on the stack by C2 code
        // in the first call, as the scalar loops were.)
        Scratch scratch = scratch();
        double[][] wt = scratch.rows(d, hs);
        double[] s0 = scratch.sums0(hs);
        double[] s1 = scratch.sums1(hs);
        double[] s2 = scratch.sums2(hs);
        transpose(wo, 0, hs, d, wt); // wt[i][b] = W̃_O[b][i]
        for (int a = 0; a < hs; a += 3) {
            int a1 = Math.min(a + 1, hs - 1); // (past the last row: that row again, computed twice)
            int a2 = Math.min(a + 2, hs - 1);
            java.util.Arrays.fill(s0, a, hs, 0.0);
            java.util.Arrays.fill(s1, a, hs, 0.0);
            java.util.Arrays.fill(s2, a, hs, 0.0);
            int i = 0;
            for (; i + 2 <= d; i += 2) {
                double[] y0 = wt[i];
                double[] y1 = wt[i + 1];
                double x00 = y0[a];
                double x01 = y1[a];
                double x10 = y0[a1];
                double x11 = y1[a1];
                double x20 = y0[a2];
                double x21 = y1[a2];
                for (int b = a; b < hs; b++) {
                    double c0 = y0[b];
                    double c1 = y1[b];
                    s0[b] = s0[b] + x00 * c0 + x01 * c1;
                    s1[b] = s1[b] + x10 * c0 + x11 * c1;
                    s2[b] = s2[b] + x20 * c0 + x21 * c1;
                }
            }
            if (i < d) {
                double[] y = wt[i];
                double x0 = y[a];
                double x1 = y[a1];
                double x2 = y[a2];
                for (int b = a; b < hs; b++) {
                    double c = y[b];
                    s0[b] += x0 * c;
                    s1[b] += x1 * c;
                    s2[b] += x2 * c;
                }
            }
            // (below the diagonal only within the block: s1[a] = G[a1][a] is the number s0[a1] = G[a][a1])
            for (int b = a; b < hs; b++) {
                g[a * hs + b] = s0[b];
                g[b * hs + a] = s0[b];
                g[a1 * hs + b] = s1[b];
                g[b * hs + a1] = s1[b];
                g[a2 * hs + b] = s2[b];
                g[b * hs + a2] = s2[b];
            }
        }
        return g;
    }

    /** The keyword rows {@code u = v/σ} with {@code σ² = v·G·vᵀ/d + eps} ({@code n × hs}). */
    static float[] rows(float[] v, int n, int hs, int d, float eps, double[] gram) {
        double[] sq = quadForms(v, n, hs, gram, scratch().squares(n));
        float[] u = new float[n * hs];
        for (int r = 0; r < n; r++) {
            float inv = (float) (1.0 / Math.sqrt(sq[r] / d + eps));
            for (int j = 0; j < hs; j++) {
                u[r * hs + j] = v[r * hs + j] * inv;
            }
        }
        return u;
    }

    /** Keyword rows per pass of {@link #quadForms} (its transposed rows: {@code hs × CHUNK} doubles). */
    static final int CHUNK = 512;

    /**
     * {@code v·G·vᵀ} of each keyword row ({@code v} is {@code n × hs}), in double:
     * {@code Σ_a (G·vᵀ)[a]·v[a]} with {@code (G·vᵀ)[a] = Σ_b G[a][b]·v[b]}.
     */
    static double[] quadForms(float[] v, int n, int hs, double[] gram) {
        return quadForms(v, n, hs, gram, new double[n]);
    }

    /** As {@link #quadForms(float[], int, int, double[])}, into {@code out[0 .. n-1]}. */
    private static double[] quadForms(float[] v, int n, int hs, double[] gram, double[] out) {
        // Every sum in index order, one multiply and one add per term, as a single loop would (same
        // bits): (G·vᵀ)[a] over b = 0, 1, ..., then the row's sum over a = 0, 1, ... The code
        // vectorizes ACROSS the keyword rows r, as gram does across b: v is transposed and widened
        // into rows vt[b] = (v[0][b], v[1][b], ...); the sums s_a[r] = (G·vᵀ)[a] of 2 entries a at
        // a time advance over all r, 3 terms b at a time; then q[r] += s_a[r]·v[r][a].
        int chunk = Math.min(n, CHUNK);
        Scratch scratch = scratch();
        double[][] vt = scratch.columns(hs, chunk);
        double[] s0 = scratch.sums0(chunk);
        double[] s1 = scratch.sums1(chunk);
        double[] q = n == chunk ? out : new double[chunk];
        for (int from = 0; from < n; from += chunk) {
            int len = Math.min(chunk, n - from);
            transpose(v, from * hs, len, hs, vt); // vt[b][k] = v[from + k][b]
            java.util.Arrays.fill(q, 0, len, 0.0);
            for (int a = 0; a < hs; a += 2) {
                int a1 = Math.min(a + 1, hs - 1); // (past the last entry: that entry again, computed twice)
                int g0 = a * hs;
                int g1 = a1 * hs;
                java.util.Arrays.fill(s0, 0, len, 0.0);
                java.util.Arrays.fill(s1, 0, len, 0.0);
                int b = 0;
                for (; b + 3 <= hs; b += 3) {
                    double[] y0 = vt[b];
                    double[] y1 = vt[b + 1];
                    double[] y2 = vt[b + 2];
                    double x00 = gram[g0 + b];
                    double x01 = gram[g0 + b + 1];
                    double x02 = gram[g0 + b + 2];
                    double x10 = gram[g1 + b];
                    double x11 = gram[g1 + b + 1];
                    double x12 = gram[g1 + b + 2];
                    for (int r = 0; r < len; r++) {
                        double c0 = y0[r];
                        double c1 = y1[r];
                        double c2 = y2[r];
                        s0[r] = s0[r] + x00 * c0 + x01 * c1 + x02 * c2;
                        s1[r] = s1[r] + x10 * c0 + x11 * c1 + x12 * c2;
                    }
                }
                for (; b < hs; b++) {
                    double[] y = vt[b];
                    double x0 = gram[g0 + b];
                    double x1 = gram[g1 + b];
                    for (int r = 0; r < len; r++) {
                        double c = y[r];
                        s0[r] += x0 * c;
                        s1[r] += x1 * c;
                    }
                }
                double[] ya = vt[a];
                for (int r = 0; r < len; r++) {
                    q[r] += s0[r] * ya[r];
                }
                if (a1 > a) {
                    double[] ya1 = vt[a1];
                    for (int r = 0; r < len; r++) {
                        q[r] += s1[r] * ya1[r];
                    }
                }
            }
            if (q != out) {
                System.arraycopy(q, 0, out, from, len);
            }
        }
        return out;
    }

    /**
     * {@code dst[c][r] = src[off + r·cols + c]} for {@code r < rows}, {@code c < cols}: a block of
     * rows of a row-major float matrix, transposed and widened to double (gram: W̃_O, hs × d;
     * quadForms: a pass of keyword rows of v, len × hs).
     */
    private static void transpose(float[] src, int off, int rows, int cols, double[][] dst) {
        int c = 0;
        for (; c + 4 <= cols; c += 4) { // four columns per pass: each line read feeds four of them
            double[] t0 = dst[c];
            double[] t1 = dst[c + 1];
            double[] t2 = dst[c + 2];
            double[] t3 = dst[c + 3];
            for (int r = 0; r < rows; r++) {
                int o = off + r * cols + c;
                t0[r] = src[o];
                t1[r] = src[o + 1];
                t2[r] = src[o + 2];
                t3[r] = src[o + 3];
            }
        }
        for (; c < cols; c++) {
            double[] t = dst[c];
            for (int r = 0; r < rows; r++) {
                t[r] = src[off + r * cols + c];
            }
        }
    }

    /** Each thread's transposed copies and sums for {@link #gram} and {@link #quadForms}, kept between heads. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static Scratch scratch() {
        return SCRATCH.get();
    }

    /** Arrays that grow to the largest size asked for and are then reused. */
    private static final class Scratch {
        private double[][] rows = new double[0][];
        private double[][] columns = new double[0][];
        private double[] sums0 = new double[0];
        private double[] sums1 = new double[0];
        private double[] sums2 = new double[0];
        private double[] gram = new double[0];
        private double[] squares = new double[0];

        /** For {@link #gram}: at least {@code d} rows of at least {@code hs} doubles. */
        double[][] rows(int d, int hs) {
            return rows = fit(rows, d, hs);
        }

        /** For {@link #quadForms}: at least {@code hs} rows of at least {@code n} doubles. */
        double[][] columns(int hs, int n) {
            return columns = fit(columns, hs, n);
        }

        double[] sums0(int n) {
            return sums0 = atLeast(sums0, n);
        }

        double[] sums1(int n) {
            return sums1 = atLeast(sums1, n);
        }

        double[] sums2(int n) {
            return sums2 = atLeast(sums2, n);
        }

        /** For the Gram matrix of {@link #u(Gpt2Weights, HeadId, float[], int)}'s heads. */
        double[] gram(int hs) {
            return gram = atLeast(gram, hs * hs);
        }

        /** For the {@code v·G·vᵀ} of {@link #rows}. */
        double[] squares(int n) {
            return squares = atLeast(squares, n);
        }

        /** {@code a} when it holds {@code n} doubles, else a new array of {@code n}. */
        private static double[] atLeast(double[] a, int n) {
            return a.length >= n ? a : new double[n];
        }

        private static double[][] fit(double[][] m, int rows, int cols) {
            int have = m.length == 0 ? 0 : m[0].length;
            if (m.length >= rows && have >= cols) {
                return m;
            }
            return new double[Math.max(rows, m.length)][Math.max(cols, have)];
        }
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
