package dev.headsweep.model;

import dev.headsweep.checkpoint.Checkpoint;
import dev.headsweep.checkpoint.GptConfig;
import dev.headsweep.engine.Progress;

/**
 * The fp32 weights of a GPT-2 checkpoint that the OV sweep reads: the embeddings, all of block 0,
 * and for every layer its ln_1 and the value and output weights of its heads. MLPs of layers
 * after 0 are never read. Loaded once; immutable and shared by every backend and thread.
 */
public final class Gpt2Weights {
    private final GptConfig config;
    private final String source;
    private final float[] wte;
    private final float[] wpe;
    private final Block0Weights block0;
    private final LayerOv[] layers;
    private final float[] lnfW;
    private final float[] lnfB;

    /** Block 0 in full. Matrices are {@code [in, out]} row-major, as GPT-2 stores them. */
    public record Block0Weights(float[] ln1W, float[] ln1B, float[] attnW, float[] attnB,
                                float[] projW, float[] projB, float[] ln2W, float[] ln2B,
                                float[] fcW, float[] fcB, float[] fcProjW, float[] fcProjB) {
    }

    /**
     * What one layer contributes to the OV circuits of its heads.
     *
     * @param wv the value part of {@code c_attn}: {@code [d, d]}, head h owns columns {@code h·64 ..}
     * @param bv the value part of {@code c_attn}'s bias: {@code [d]}
     * @param wo {@code c_proj}: {@code [d, d]}, head h owns rows {@code h·64 ..}
     */
    public record LayerOv(float[] ln1W, float[] ln1B, float[] wv, float[] bv, float[] wo) {
    }

    private Gpt2Weights(GptConfig config, String source, float[] wte, float[] wpe,
                        Block0Weights block0, LayerOv[] layers, float[] lnfW, float[] lnfB) {
        this.config = config;
        this.source = source;
        this.wte = wte;
        this.wpe = wpe;
        this.block0 = block0;
        this.layers = layers;
        this.lnfW = lnfW;
        this.lnfB = lnfB;
    }

    /** Reads (and converts to fp32) every tensor the sweep needs. */
    public static Gpt2Weights load(Checkpoint ckpt) {
        return load(ckpt, Progress.NONE);
    }

    /** As {@link #load(Checkpoint)}, reporting progress layer by layer (stage "load"). */
    public static Gpt2Weights load(Checkpoint ckpt, Progress progress) {
        GptConfig cfg = ckpt.config();
        int steps = cfg.nLayer() + 2;
        progress.update("load", 0, steps);
        int d = cfg.nEmbd();
        Block0Weights b0 = new Block0Weights(
                ckpt.floats("h.0.ln_1.weight"), ckpt.floats("h.0.ln_1.bias"),
                ckpt.floats("h.0.attn.c_attn.weight"), ckpt.floats("h.0.attn.c_attn.bias"),
                ckpt.floats("h.0.attn.c_proj.weight"), ckpt.floats("h.0.attn.c_proj.bias"),
                ckpt.floats("h.0.ln_2.weight"), ckpt.floats("h.0.ln_2.bias"),
                ckpt.floats("h.0.mlp.c_fc.weight"), ckpt.floats("h.0.mlp.c_fc.bias"),
                ckpt.floats("h.0.mlp.c_proj.weight"), ckpt.floats("h.0.mlp.c_proj.bias"));
        LayerOv[] layers = new LayerOv[cfg.nLayer()];
        progress.update("load", 1, steps);
        for (int l = 0; l < layers.length; l++) {
            String p = "h." + l + ".";
            float[] wv = new float[d * d];
            float[] bv = new float[d];
            if (l == 0) {
                for (int i = 0; i < d; i++) {
                    System.arraycopy(b0.attnW(), i * 3 * d + 2 * d, wv, i * d, d);
                }
                System.arraycopy(b0.attnB(), 2 * d, bv, 0, d);
            } else {
                // the value columns alone: W_Q and W_K of layers after 0 are never read
                ckpt.floats(p + "attn.c_attn.weight", 2L * d, d, 3L * d, d, wv);
                ckpt.floats(p + "attn.c_attn.bias", 2L * d, bv, 0, d);
            }
            layers[l] = new LayerOv(
                    l == 0 ? b0.ln1W() : ckpt.floats(p + "ln_1.weight"),
                    l == 0 ? b0.ln1B() : ckpt.floats(p + "ln_1.bias"),
                    wv, bv,
                    l == 0 ? b0.projW() : ckpt.floats(p + "attn.c_proj.weight"));
            progress.update("load", l + 2, steps);
        }
        Gpt2Weights w = new Gpt2Weights(cfg, ckpt.path().toString(), ckpt.floats("wte.weight"),
                ckpt.floats("wpe.weight"), b0, layers, ckpt.floats("ln_f.weight"), ckpt.floats("ln_f.bias"));
        progress.update("load", steps, steps);
        return w;
    }

    public GptConfig config() {
        return config;
    }

    /** Where the weights came from (the checkpoint's path), for reports. */
    public String source() {
        return source;
    }

    /** Token embedding {@code [V, d]}; also the unembedding (tied). */
    public float[] wte() {
        return wte;
    }

    /** Position embedding {@code [P, d]}. */
    public float[] wpe() {
        return wpe;
    }

    public Block0Weights block0() {
        return block0;
    }

    public LayerOv layer(int l) {
        return layers[l];
    }

    public float[] lnfW() {
        return lnfW;
    }

    public float[] lnfB() {
        return lnfB;
    }
}
