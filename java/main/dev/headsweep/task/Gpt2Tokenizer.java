package dev.headsweep.task;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

/**
 * GPT-2's byte-pair tokenizer: the {@code r50k_base} encoding of jtokkit, which has the same
 * 50,257 token ids as the GPT-2 checkpoints. Text is encoded as ordinary text: no BOS token is added
 * and special-token markup such as {@code <|endoftext|>} is tokenized literally.
 *
 * <p>One shared instance, loaded on first use; it holds no mutable state and is safe to use from
 * several threads.
 */
public final class Gpt2Tokenizer {
    private static final int VOCAB_SIZE = 50257;

    private final Encoding encoding;

    private Gpt2Tokenizer() {
        encoding = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
    }

    /** Loads the encoding when the instance is first asked for, not when the class is. */
    private static final class Holder {
        static final Gpt2Tokenizer INSTANCE = new Gpt2Tokenizer();
    }

    /** The shared tokenizer. */
    public static Gpt2Tokenizer instance() {
        return Holder.INSTANCE;
    }

    /** The token ids of {@code text}, tokenized as ordinary text (no special tokens, no BOS). */
    public int[] encode(String text) {
        return encoding.encodeOrdinary(text).toArray();
    }

    /**
     * The text of one token. A token whose bytes are not valid UTF-8 on their own (a piece of a
     * multi-byte character) decodes with U+FFFD in place of each invalid sequence, so the result is
     * always displayable.
     *
     * @throws IllegalArgumentException when {@code id} is not in {@code [0, vocabSize())}
     */
    public String decode(int id) {
        if (id < 0 || id >= VOCAB_SIZE) {
            throw new IllegalArgumentException("token id " + id + " is outside [0, " + VOCAB_SIZE + ")");
        }
        IntArrayList ids = new IntArrayList(1);
        ids.add(id);
        return new String(encoding.decodeBytes(ids), StandardCharsets.UTF_8);
    }

    /** The id of {@code text}'s token when it encodes to exactly one token, else empty. */
    public OptionalInt singleToken(String text) {
        int[] ids = encode(text);
        return ids.length == 1 ? OptionalInt.of(ids[0]) : OptionalInt.empty();
    }

    /** The number of token ids, 50,257 (the last, 50256, is {@code <|endoftext|>}). */
    public int vocabSize() {
        return VOCAB_SIZE;
    }
}
