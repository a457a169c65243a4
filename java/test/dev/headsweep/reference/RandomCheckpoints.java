package dev.headsweep.reference;

import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.checkpoint.GptConfig;
import dev.headsweep.checkpoint.NamedTensor;
import dev.headsweep.checkpoint.SafetensorsWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Small checkpoints with GPT-2's vocabulary (so real prompts tokenize) and random weights at
 * GPT-2's initialization scale, with LayerNorm weights and biases that are far from 1 and 0 so
 * that every term of the contract matters.
 */
public final class RandomCheckpoints {
    private RandomCheckpoints() {
    }

    public static final int VOCAB = 50257;

    public static GptConfig config(int nLayer, int nHead, int d) {
        return new GptConfig(nLayer, nHead, d, VOCAB, 32, 1e-5);
    }

    public static List<NamedTensor> tensors(GptConfig cfg, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int d = cfg.nEmbd();
        List<NamedTensor> t = new ArrayList<>();
        t.add(new NamedTensor("wte.weight", new long[] {cfg.vocabSize(), d}, g(r, cfg.vocabSize() * d, 0.0, 0.5)));
        t.add(new NamedTensor("wpe.weight", new long[] {cfg.nPositions(), d}, g(r, cfg.nPositions() * d, 0.0, 0.1)));
        for (int l = 0; l < cfg.nLayer(); l++) {
            String p = "h." + l + ".";
            t.add(new NamedTensor(p + "ln_1.weight", new long[] {d}, g(r, d, 1.0, 0.3)));
            t.add(new NamedTensor(p + "ln_1.bias", new long[] {d}, g(r, d, 0.0, 0.2)));
            t.add(new NamedTensor(p + "attn.c_attn.weight", new long[] {d, 3 * d}, g(r, d * 3 * d, 0.0, 0.2)));
            t.add(new NamedTensor(p + "attn.c_attn.bias", new long[] {3 * d}, g(r, 3 * d, 0.0, 0.2)));
            t.add(new NamedTensor(p + "attn.c_proj.weight", new long[] {d, d}, g(r, d * d, 0.0, 0.2)));
            t.add(new NamedTensor(p + "attn.c_proj.bias", new long[] {d}, g(r, d, 0.0, 0.2)));
            t.add(new NamedTensor(p + "ln_2.weight", new long[] {d}, g(r, d, 1.0, 0.3)));
            t.add(new NamedTensor(p + "ln_2.bias", new long[] {d}, g(r, d, 0.0, 0.2)));
            t.add(new NamedTensor(p + "mlp.c_fc.weight", new long[] {d, 4 * d}, g(r, d * 4 * d, 0.0, 0.2)));
            t.add(new NamedTensor(p + "mlp.c_fc.bias", new long[] {4 * d}, g(r, 4 * d, 0.0, 0.2)));
            t.add(new NamedTensor(p + "mlp.c_proj.weight", new long[] {4 * d, d}, g(r, 4 * d * d, 0.0, 0.2)));
            t.add(new NamedTensor(p + "mlp.c_proj.bias", new long[] {d}, g(r, d, 0.0, 0.2)));
        }
        t.add(new NamedTensor("ln_f.weight", new long[] {d}, g(r, d, 1.0, 0.3)));
        t.add(new NamedTensor("ln_f.bias", new long[] {d}, g(r, d, 0.0, 0.2)));
        return t;
    }

    /** Writes a random checkpoint into {@code dir}; returns its config. */
    public static GptConfig write(Path dir, int nLayer, int nHead, int d, long seed, Dtype dtype, String prefix) {
        GptConfig cfg = config(nLayer, nHead, d);
        SafetensorsWriter.writeCheckpoint(dir, cfg, tensors(cfg, seed), dtype, prefix);
        return cfg;
    }

    private static float[] g(SplittableRandom r, int n, double mean, double std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (mean + std * r.nextGaussian());
        }
        return a;
    }
}
