package dev.headsweep.plant;

import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.checkpoint.GptConfig;
import dev.headsweep.checkpoint.NamedTensor;
import dev.headsweep.checkpoint.SafetensorsWriter;
import dev.headsweep.engine.HeadId;
import dev.headsweep.task.Gpt2Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * A GPT-2 checkpoint with heads whose answers are known (DESIGN.md section 4).
 *
 * <p>The number tokens ({@code "n"} and {@code " n"} for n = 0..{@value #NUMBERS}) get embeddings on a
 * helix {@code e_n = ρ·c₀·Rⁿ·Uᵀ}: U spans a 64-dimensional subspace (orthogonal to the all-ones
 * direction, so LayerNorm's centring leaves it alone) and R rotates 32 planes by incommensurate
 * angles, so that distinct numbers point in nearly orthogonal directions. A head whose
 * {@code W_V = U} and {@code W_O = Rˢ·Uᵀ} maps the residual of number n to the direction of number
 * n+s: s = 0 is a perfect copy head, s = 1 a next head, s = −1 a previous head. Every other token
 * and head is random at GPT-2's initialization scale, and block 0 is kept weak so that the
 * residual after it stays near the embedding.
 */
public final class PlantedCheckpoint {
    /** Number tokens 0..NUMBERS get helix embeddings. */
    public static final int NUMBERS = 120;
    private static final int RANK = 64;
    private static final float RHO = 3.5f;

    /** What a planted head does to a number. */
    public enum Kind {
        COPY(0), NEXT(1), PREV(-1);

        final int shift;

        Kind(int shift) {
            this.shift = shift;
        }
    }

    private final GptConfig config;
    private final Map<HeadId, Kind> planted;
    private final long seed;

    private PlantedCheckpoint(GptConfig config, Map<HeadId, Kind> planted, long seed) {
        this.config = config;
        this.planted = planted;
        this.seed = seed;
    }

    /**
     * @param config  the model's shape; needs a head size of at least 64 and d ≥ 65, and the full
     *                GPT-2 vocabulary (the number tokens have GPT-2's ids)
     * @param planted which heads do what; all others are random
     */
    public static PlantedCheckpoint of(GptConfig config, Map<HeadId, Kind> planted, long seed) {
        if (config.headSize() < RANK || config.nEmbd() <= RANK) {
            throw new IllegalArgumentException("planting needs head size ≥ " + RANK + ", got " + config.headSize());
        }
        if (config.vocabSize() < Gpt2Tokenizer.instance().vocabSize()) {
            throw new IllegalArgumentException("planting needs GPT-2's vocabulary of "
                    + Gpt2Tokenizer.instance().vocabSize() + " tokens");
        }
        for (HeadId h : planted.keySet()) {
            h.checkIn(config.nLayer(), config.nHead());
        }
        return new PlantedCheckpoint(config, new LinkedHashMap<>(planted), seed);
    }

    /** GPT-2 small's shape (12 layers, 12 heads, d 768, vocabulary 50257, 1024 positions). */
    public static GptConfig gpt2SmallShape() {
        return gpt2Shape("small");
    }

    /** The shape of GPT-2 {@code small}, {@code medium}, {@code large} or {@code xl}. */
    public static GptConfig gpt2Shape(String size) {
        return switch (size) {
            case "small" -> new GptConfig(12, 12, 768, 50257, 1024, 1e-5);
            case "medium" -> new GptConfig(24, 16, 1024, 50257, 1024, 1e-5);
            case "large" -> new GptConfig(36, 20, 1280, 50257, 1024, 1e-5);
            case "xl" -> new GptConfig(48, 25, 1600, 50257, 1024, 1e-5);
            default -> throw new IllegalArgumentException("GPT-2 sizes are small, medium, large and xl, not " + size);
        };
    }

    /** The heads the demo plants in GPT-2 small's shape, echoing the published findings. */
    public static Map<HeadId, Kind> demoHeads() {
        Map<HeadId, Kind> m = new LinkedHashMap<>();
        m.put(new HeadId(5, 5), Kind.PREV);
        m.put(new HeadId(6, 9), Kind.COPY);
        m.put(new HeadId(7, 10), Kind.COPY);
        m.put(new HeadId(8, 11), Kind.COPY);
        m.put(new HeadId(9, 1), Kind.NEXT);
        return m;
    }

    public GptConfig config() {
        return config;
    }

    public Map<HeadId, Kind> planted() {
        return planted;
    }

    /** Writes {@code config.json} and {@code model.safetensors} into {@code dir}. */
    public void write(Path dir, Dtype dtype, String prefix) {
        SafetensorsWriter.writeCheckpoint(dir, config, tensors(), dtype, prefix);
    }

    /** Every tensor of a full GPT-2 checkpoint, in the Hugging Face names (no prefix). */
    public List<NamedTensor> tensors() {
        int d = config.nEmbd();
        int v = config.vocabSize();
        int hs = config.headSize();
        SplittableRandom root = new SplittableRandom(seed);
        double[][] u = subspace(d, root.split());
        double[] theta = new double[RANK / 2];
        double[] phase = new double[RANK / 2];
        for (int p = 0; p < theta.length; p++) {
            theta[p] = 0.9 * Math.PI * (p + 0.5) / theta.length + 0.05 * Math.sin(7.3 * p);
            phase[p] = 2 * Math.PI * root.nextDouble();
        }

        List<NamedTensor> out = new ArrayList<>();
        float[] wte = gaussian(v * d, 0.12, root.split());
        SplittableRandom noise = root.split();
        Gpt2Tokenizer tok = Gpt2Tokenizer.instance();
        for (int n = 0; n <= NUMBERS; n++) {
            double[] c = helixPoint(n, theta, phase);
            for (String text : new String[] {Integer.toString(n), " " + n}) {
                var id = tok.singleToken(text);
                if (id.isEmpty()) {
                    continue;
                }
                int row = id.getAsInt() * d;
                for (int i = 0; i < d; i++) {
                    double s = 0;
                    for (int j = 0; j < RANK; j++) {
                        s += c[j] * u[j][i];
                    }
                    wte[row + i] = (float) (RHO * s + 0.02 * noise.nextGaussian());
                }
            }
        }
        out.add(t("wte.weight", wte, v, d));
        out.add(t("wpe.weight", gaussian(config.nPositions() * d, 0.01, root.split()), config.nPositions(), d));

        for (int l = 0; l < config.nLayer(); l++) {
            String p = "h." + l + ".";
            SplittableRandom r = root.split();
            out.add(t(p + "ln_1.weight", around(d, 1.0, 0.05, r), d));
            out.add(t(p + "ln_1.bias", gaussian(d, 0.01, r), d));
            float[] attn = gaussian(d * 3 * d, 0.02, r);
            float[] proj = gaussian(d * d, 0.02, r);
            for (int h = 0; h < config.nHead(); h++) {
                Kind kind = planted.get(new HeadId(l, h));
                if (kind != null) {
                    plant(attn, proj, h * hs, hs, d, u, theta, kind.shift);
                }
            }
            if (l == 0) {
                // weak block 0: its attention and MLP barely move the residual
                for (int i = 0; i < proj.length; i++) {
                    proj[i] *= 0.02f;
                }
            }
            out.add(t(p + "attn.c_attn.weight", attn, d, 3 * d));
            out.add(t(p + "attn.c_attn.bias", gaussian(3 * d, 0.01, r), 3 * d));
            out.add(t(p + "attn.c_proj.weight", proj, d, d));
            out.add(t(p + "attn.c_proj.bias", gaussian(d, l == 0 ? 0.001 : 0.01, r), d));
            out.add(t(p + "ln_2.weight", around(d, 1.0, 0.05, r), d));
            out.add(t(p + "ln_2.bias", gaussian(d, 0.01, r), d));
            out.add(t(p + "mlp.c_fc.weight", gaussian(d * 4 * d, 0.02, r), d, 4 * d));
            out.add(t(p + "mlp.c_fc.bias", gaussian(4 * d, 0.01, r), 4 * d));
            out.add(t(p + "mlp.c_proj.weight", gaussian(4 * d * d, l == 0 ? 0.0005 : 0.02, r), 4 * d, d));
            out.add(t(p + "mlp.c_proj.bias", gaussian(d, l == 0 ? 0.001 : 0.01, r), d));
        }
        out.add(t("ln_f.weight", around(d, 1.0, 0.05, root.split()), d));
        out.add(t("ln_f.bias", gaussian(d, 0.01, root.split()), d));
        return out;
    }

    /**
     * Makes head columns {@code col..col+hs} of {@code c_attn}'s value part {@code U} (scaled) and
     * the head's rows of {@code c_proj} {@code Rˢ·Uᵀ}; head dimensions past 64 are zeroed.
     */
    private static void plant(float[] attn, float[] proj, int col, int hs, int d, double[][] u,
                              double[] theta, int shift) {
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < hs; j++) {
                attn[i * 3 * d + 2 * d + col + j] = j < RANK ? (float) (0.1 * u[j][i]) : 0f;
            }
        }
        for (int j = 0; j < hs; j++) {
            for (int i = 0; i < d; i++) {
                proj[(col + j) * d + i] = 0f;
            }
        }
        // row j of R^s: plane p = j/2 rotates (a, b) -> (a cos − b sin, a sin + b cos) for row vectors
        for (int p = 0; p < RANK / 2; p++) {
            double c = Math.cos(shift * theta[p]);
            double s = Math.sin(shift * theta[p]);
            int a = 2 * p;
            int b = 2 * p + 1;
            for (int i = 0; i < d; i++) {
                proj[(col + a) * d + i] = (float) (c * u[a][i] + s * u[b][i]);
                proj[(col + b) * d + i] = (float) (-s * u[a][i] + c * u[b][i]);
            }
        }
    }

    /** {@code c₀·Rⁿ}: unit length, equal energy in each of the 32 planes. */
    static double[] helixPoint(int n, double[] theta, double[] phase) {
        double[] c = new double[RANK];
        double amp = 1.0 / Math.sqrt(theta.length);
        for (int p = 0; p < theta.length; p++) {
            double angle = phase[p] + n * theta[p];
            c[2 * p] = amp * Math.cos(angle);
            c[2 * p + 1] = amp * Math.sin(angle);
        }
        return c;
    }

    /** 64 orthonormal rows of length d, each orthogonal to the all-ones vector. */
    private static double[][] subspace(int d, SplittableRandom r) {
        double[][] u = new double[RANK + 1][d];
        java.util.Arrays.fill(u[0], 1.0 / Math.sqrt(d));
        for (int j = 1; j <= RANK; j++) {
            for (int i = 0; i < d; i++) {
                u[j][i] = r.nextGaussian();
            }
            for (int pass = 0; pass < 2; pass++) {
                for (int q = 0; q < j; q++) {
                    double dot = 0;
                    for (int i = 0; i < d; i++) {
                        dot += u[j][i] * u[q][i];
                    }
                    for (int i = 0; i < d; i++) {
                        u[j][i] -= dot * u[q][i];
                    }
                }
            }
            double norm = 0;
            for (int i = 0; i < d; i++) {
                norm += u[j][i] * u[j][i];
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < d; i++) {
                u[j][i] /= norm;
            }
        }
        return java.util.Arrays.copyOfRange(u, 1, RANK + 1);
    }

    private static float[] gaussian(int n, double std, SplittableRandom r) {
        float[] a = new float[n];
        int chunk = 1 << 16;
        int chunks = (n + chunk - 1) / chunk;
        // one independent generator per chunk, split off in order (deterministic); seeds that differ
        // by SplittableRandom's own increment would give the same stream shifted, i.e. repeated rows
        SplittableRandom[] streams = new SplittableRandom[chunks];
        for (int c = 0; c < chunks; c++) {
            streams[c] = r.split();
        }
        IntStream.range(0, chunks).parallel().forEach(c -> {
            SplittableRandom cr = streams[c];
            int end = Math.min(n, (c + 1) * chunk);
            for (int i = c * chunk; i < end; i++) {
                a[i] = (float) (std * cr.nextGaussian());
            }
        });
        return a;
    }

    private static float[] around(int n, double mean, double std, SplittableRandom r) {
        float[] a = gaussian(n, std, r);
        for (int i = 0; i < n; i++) {
            a[i] += (float) mean;
        }
        return a;
    }

    private static NamedTensor t(String name, float[] data, long... shape) {
        return new NamedTensor(name, shape, data);
    }
}
