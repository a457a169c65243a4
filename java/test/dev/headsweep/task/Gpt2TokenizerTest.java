package dev.headsweep.task;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

class Gpt2TokenizerTest {
    private final Gpt2Tokenizer tokenizer = Gpt2Tokenizer.instance();

    @Test
    void isOneSharedInstance() {
        assertSame(tokenizer, Gpt2Tokenizer.instance());
    }

    @Test
    void encodesKnownGpt2Ids() {
        assertArrayEquals(new int[] {16, 362, 513, 604}, tokenizer.encode("1 2 3 4"));
        assertArrayEquals(new int[] {505, 734, 1115, 1440}, tokenizer.encode("one two three four"));
        assertArrayEquals(new int[0], tokenizer.encode(""));
    }

    @Test
    void encodesSpecialTokenMarkupAsOrdinaryText() {
        int[] ids = tokenizer.encode("<|endoftext|>");
        assertTrue(ids.length > 1);
        for (int id : ids) {
            assertTrue(id != 50256);
        }
    }

    @Test
    void decodesSingleTokens() {
        assertEquals(" 10", tokenizer.decode(838));
        assertEquals(" second", tokenizer.decode(1218));
        assertEquals("!", tokenizer.decode(0));
        assertEquals("<|endoftext|>", tokenizer.decode(50256));
    }

    @Test
    void decodesPartialUtf8ToSomethingDisplayable() {
        int[] ids = tokenizer.encode("\u00e9\u4e2d\u6587\uD83D\uDE00");
        boolean sawReplacement = false;
        for (int id : ids) {
            String piece = tokenizer.decode(id);
            assertFalse(piece.isEmpty());
            sawReplacement |= piece.contains("\uFFFD");
        }
        assertTrue(sawReplacement, "the emoji is split into byte tokens that are not UTF-8 alone");
    }

    @Test
    void rejectsIdsOutsideTheVocabulary() {
        assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(50257));
        assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(-1));
    }

    @Test
    void findsSingleTokens() {
        assertEquals(OptionalInt.of(838), tokenizer.singleToken(" 10"));
        assertEquals(OptionalInt.empty(), tokenizer.singleToken(" twelfth"));
        assertEquals(OptionalInt.empty(), tokenizer.singleToken(""));
    }

    @Test
    void vocabularyHasGpt2Size() {
        assertEquals(50257, tokenizer.vocabSize());
    }
}
