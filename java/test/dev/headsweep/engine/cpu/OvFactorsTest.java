package dev.headsweep.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.headsweep.HeadSweep;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.engine.HeadId;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.reference.RandomCheckpoints;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link OvFactors} gives the bits of the straightforward loops (one sum at a time, each in index
 * order), which are kept here as the reference: the published numbers and the A_h cache's entries
 * depend on {@code u} and {@code m} not changing by a bit.
 */
class OvFactorsTest {
    @TempDir
    static Path tmp;
    static Gpt2Weights weights;

    @BeforeAll
    static void checkpoint() {
        Path dir = tmp.resolve("model");
        RandomCheckpoints.write(dir, 2, 2, 128, 23, Dtype.F32, "");
        weights = HeadSweep.load(dir);
    }

    // ---- the reference: one scalar loop per sum, in index order ----

    static double[] referenceGram(float[] wo, int hs, int d) {
        double[] g = new double[hs * hs];
        for (int a = 0; a < hs; a++) {
            for (int b = a; b < hs; b++) {
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

    static double[] referenceQuadForms(float[] v, int n, int hs, double[] gram) {
        double[] out = new double[n];
        for (int r = 0; r < n; r++) {
            double sq = 0;
            for (int a = 0; a < hs; a++) {
                double row = 0;
                for (int b = 0; b < hs; b++) {
                    row += gram[a * hs + b] * v[r * hs + b];
                }
                sq += row * v[r * hs + a];
            }
            out[r] = sq;
        }
        return out;
    }

    static float[] referenceRows(float[] v, int n, int hs, int d, float eps, double[] gram) {
        float[] u = new float[n * hs];
        double[] rows = new double[hs];
        for (int r = 0; r < n; r++) {
            for (int a = 0; a < hs; a++) {
                double row = 0;
                for (int b = 0; b < hs; b++) {
                    row += gram[a * hs + b] * v[r * hs + b];
                }
                rows[a] = row;
            }
            double sq = 0;
            for (int a = 0; a < hs; a++) {
                sq += rows[a] * v[r * hs + a];
            }
            float inv = (float) (1.0 / Math.sqrt(sq / d + eps));
            for (int j = 0; j < hs; j++) {
                u[r * hs + j] = v[r * hs + j] * inv;
            }
        }
        return u;
    }

    static float[] referenceCentredWo(Gpt2Weights w, HeadId head) {
        int d = w.config().nEmbd();
        int hs = w.config().headSize();
        float[] wo = new float[hs * d];
        System.arraycopy(w.layer(head.layer()).wo(), head.head() * hs * d, wo, 0, hs * d);
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

    static float[] referenceBeta(Gpt2Weights w) {
        int d = w.config().nEmbd();
        int vocab = w.config().vocabSize();
        float[] beta = new float[vocab];
        for (int t = 0; t < vocab; t++) {
            float s = 0f;
            for (int i = 0; i < d; i++) {
                s += w.lnfB()[i] * w.wte()[t * d + i];
            }
            beta[t] = s;
        }
        return beta;
    }

    static float[] random(SplittableRandom r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            // a spread of magnitudes, some exact zeros, so that rounding differs from term to term
            double g = r.nextGaussian() * scale * Math.pow(10, r.nextInt(-3, 3));
            a[i] = r.nextInt(17) == 0 ? 0f : (float) g;
        }
        return a;
    }

    // ---- the tests ----

    @Test
    void gramAndRowsGiveTheBitsOfOneLoopPerSum() {
        SplittableRandom r = new SplittableRandom(7);
        // hs and d not multiples of the blocks (3 rows and 2 terms of G, 2 entries and 3 terms of
        // v·G·vᵀ, 4 in the transpositions); n past OvFactors.CHUNK (passes over 512 rows at a time)
        int[][] shapes = {{64, 768, 388}, {64, 128, 40}, {64, 64, 387}, {64, 64, 386}, {64, 64, 385}, {80, 64, 12},
                {5, 7, 3}, {13, 100, 9}, {37, 33, 5}, {4, 9, 4}, {3, 2, 2}, {1, 1, 1}, {8, 16, 0},
                {64, 16, 1100}, {7, 5, 513}, {2, 3, 512}, {66, 10, 7}, {67, 11, 6}};
        for (int[] s : shapes) {
            int hs = s[0], d = s[1], n = s[2];
            for (int rep = 0; rep < 3; rep++) {
                float[] wo = random(r, hs * d, 0.2);
                float[] v = random(r, n * hs, 1.0);
                String what = " hs=" + hs + " d=" + d + " n=" + n;
                double[] ref = referenceGram(wo, hs, d);
                assertBits(ref, OvFactors.gram(wo, hs, d), "gram" + what);
                assertBits(referenceRows(v, n, hs, d, 1e-5f, ref), OvFactors.rows(v, n, hs, d, 1e-5f, ref), "u" + what);
                assertBits(referenceQuadForms(v, n, hs, ref), OvFactors.quadForms(v, n, hs, ref), "v·G·vᵀ" + what);
            }
        }
    }

    @Test
    void factorsOfEveryHeadGiveTheBitsOfTheReference() {
        var cfg = weights.config();
        int d = cfg.nEmbd();
        int hs = cfg.headSize();
        int n = 37;
        float eps = (float) cfg.layerNormEps();
        float[] x = random(new SplittableRandom(3), n * d, 1.0);
        for (int l = 0; l < cfg.nLayer(); l++) {
            var lay = weights.layer(l);
            float[] z = LayerNorm.rows(x, n, d, lay.ln1W(), lay.ln1B(), eps);
            for (int h = 0; h < cfg.nHead(); h++) {
                HeadId head = new HeadId(l, h);
                float[] wo = referenceCentredWo(weights, head);
                float[] v = MatMul.xw(z, n, d, lay.wv(), d, h * hs, hs, lay.bv());
                float[] uRef = referenceRows(v, n, hs, d, eps, referenceGram(wo, hs, d));
                float[] mRef = wo.clone();
                for (int j = 0; j < hs; j++) {
                    for (int i = 0; i < d; i++) {
                        mRef[j * d + i] *= weights.lnfW()[i];
                    }
                }
                OvFactors f = OvFactors.of(weights, head, z, n);
                assertBits(uRef, f.u(), head + " u");
                assertBits(mRef, f.m(), head + " m");
                assertBits(uRef, OvFactors.u(weights, head, z, n), head + " u alone");
                assertBits(mRef, OvFactors.m(weights, head), head + " m alone");
            }
        }
    }

    @Test
    void betaGivesTheBitsOfOneLoopPerToken() {
        assertBits(referenceBeta(weights), OvFactors.beta(weights), "beta");
    }

    static void assertBits(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            if (Double.doubleToRawLongBits(expected[i]) != Double.doubleToRawLongBits(actual[i])) {
                throw new AssertionError(what + "[" + i + "]: " + expected[i] + " expected, got " + actual[i]);
            }
        }
    }

    static void assertBits(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                throw new AssertionError(what + "[" + i + "]: " + expected[i] + " expected, got " + actual[i]);
            }
        }
    }
}
