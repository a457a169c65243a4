package dev.headsweep.checkpoint;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.headsweep.HeadSweepException;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * The GPT-2 hyperparameters HeadSweep needs, as found in a Hugging Face {@code config.json}.
 *
 * @param nLayer number of transformer blocks ({@code n_layer})
 * @param nHead attention heads per block ({@code n_head})
 * @param nEmbd width of the residual stream ({@code n_embd}); a multiple of {@code nHead}
 * @param vocabSize number of token embeddings ({@code vocab_size})
 * @param nPositions number of position embeddings ({@code n_positions}, or {@code n_ctx})
 * @param layerNormEps the epsilon added to the variance in layer norms ({@code layer_norm_epsilon})
 */
public record GptConfig(int nLayer, int nHead, int nEmbd, int vocabSize, int nPositions, double layerNormEps) {
    /** The layer norm epsilon of GPT-2, used when {@code config.json} gives none. */
    public static final double DEFAULT_LAYER_NORM_EPS = 1e-5;

    /**
     * Checks the numbers.
     *
     * @throws IllegalArgumentException if a size is not positive, {@code nEmbd} is not a multiple of
     *     {@code nHead}, or the epsilon is not a positive finite number; the message names the
     *     {@code config.json} field
     */
    public GptConfig {
        positive("n_layer", nLayer);
        positive("n_head", nHead);
        positive("n_embd", nEmbd);
        positive("vocab_size", vocabSize);
        positive("n_positions", nPositions);
        if (nEmbd % nHead != 0) {
            throw new IllegalArgumentException("n_embd " + nEmbd + " is not divisible by n_head " + nHead);
        }
        if (!(layerNormEps > 0) || Double.isInfinite(layerNormEps)) {
            throw new IllegalArgumentException("layer_norm_epsilon must be a positive number, got " + layerNormEps);
        }
    }

    /** A config with GPT-2's layer norm epsilon. */
    public GptConfig(int nLayer, int nHead, int nEmbd, int vocabSize, int nPositions) {
        this(nLayer, nHead, nEmbd, vocabSize, nPositions, DEFAULT_LAYER_NORM_EPS);
    }

    /** Width of one attention head: {@code n_embd / n_head}. */
    public int headSize() {
        return nEmbd / nHead;
    }

    /**
     * Reads a Hugging Face GPT-2 {@code config.json}. Fields other than the ones above are ignored.
     *
     * @throws HeadSweepException naming {@code file} if it is missing, not a JSON object, lacks a
     *     field, or holds values the record constructor rejects
     */
    public static GptConfig read(Path file) {
        JsonObject json = Json.readObject(file);
        int nLayer = intField(file, json, "n_layer");
        int nHead = intField(file, json, "n_head");
        int nEmbd = intField(file, json, "n_embd");
        int vocabSize = intField(file, json, "vocab_size");
        if (!json.has("n_positions") && !json.has("n_ctx")) {
            throw new HeadSweepException(file + ": n_positions (or n_ctx) is missing");
        }
        int nPositions = intField(file, json, json.has("n_positions") ? "n_positions" : "n_ctx");
        double eps = DEFAULT_LAYER_NORM_EPS;
        JsonElement epsElement = json.get("layer_norm_epsilon");
        if (epsElement != null) {
            if (!epsElement.isJsonPrimitive() || !epsElement.getAsJsonPrimitive().isNumber()) {
                throw new HeadSweepException(file + ": layer_norm_epsilon must be a number, got " + epsElement);
            }
            eps = epsElement.getAsDouble();
        }
        try {
            return new GptConfig(nLayer, nHead, nEmbd, vocabSize, nPositions, eps);
        } catch (IllegalArgumentException e) {
            throw new HeadSweepException(file + ": " + e.getMessage(), e);
        }
    }

    /** This config as {@code config.json} text that {@link #read} (and Hugging Face) accept. */
    public String toJson() {
        JsonObject json = new JsonObject();
        json.addProperty("model_type", "gpt2");
        json.addProperty("n_layer", nLayer);
        json.addProperty("n_head", nHead);
        json.addProperty("n_embd", nEmbd);
        json.addProperty("vocab_size", vocabSize);
        json.addProperty("n_positions", nPositions);
        json.addProperty("n_ctx", nPositions);
        json.addProperty("layer_norm_epsilon", layerNormEps);
        return new GsonBuilder().setPrettyPrinting().create().toJson(json) + "\n";
    }

    private static int intField(Path file, JsonObject json, String key) {
        JsonElement e = json.get(key);
        if (e == null || e.isJsonNull()) {
            throw new HeadSweepException(file + ": " + key + " is missing");
        }
        OptionalLong value = Json.integer(e);
        if (value.isEmpty() || value.getAsLong() != (int) value.getAsLong()) {
            throw new HeadSweepException(file + ": " + key + " must be a positive integer, got " + e);
        }
        return (int) value.getAsLong();
    }

    private static void positive(String key, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(key + " must be a positive integer, got " + value);
        }
    }
}
