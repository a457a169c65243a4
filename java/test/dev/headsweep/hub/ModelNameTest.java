package dev.headsweep.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweepException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Names as from_pretrained takes them; everything else is refused with one line that says what a name is. */
class ModelNameTest {
    @Test
    void theGpt2SizesAndRepoIds() {
        assertEquals(new ModelName("gpt2", "main"), ModelName.parse("gpt2"));
        assertEquals(new ModelName("gpt2-xl", "main"), ModelName.parse("gpt2-xl"));
        assertEquals(new ModelName("gpt2-medium", "v1.0"), ModelName.parse("gpt2-medium@v1.0"));
        assertEquals(new ModelName("openai-community/gpt2-large", "main"), ModelName.parse("openai-community/gpt2-large"));
        assertEquals(new ModelName("my_org/tiny.gpt2-v2", "refs/pr/3"), ModelName.parse("my_org/tiny.gpt2-v2@refs/pr/3"));
        String hash = "607a30d783dfa663caf39e06633721c8d4cfcd7e";
        ModelName pinned = ModelName.parse("gpt2@" + hash);
        assertTrue(pinned.isCommit());
        assertFalse(ModelName.parse("gpt2").isCommit());
    }

    @Test
    void cacheFoldersAndPrinting() {
        assertEquals("models--gpt2", ModelName.parse("gpt2").cacheFolder());
        assertEquals("models--openai-community--gpt2-xl", ModelName.parse("openai-community/gpt2-xl").cacheFolder());
        assertEquals("gpt2", ModelName.parse("gpt2@main").toString());
        assertEquals("org/name@v2", ModelName.parse("org/name@v2").toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"gtp2", "GPT2", "llama", "gpt2@", "@main", "org/", "/name", "a/b/c", "org//name",
        "org/na me", "org/-name", "org/name-", "org/na--me", "org/na..me", "org/name@a..b", "org/name@/x",
        "org/name@x/", "org/name@a b", "./models/gpt2", "~/models/gpt2", "C:\\models\\gpt2", "org/name@v1@v2", ""})
    void garbageIsRefusedInOneLine(String text) {
        HeadSweepException e = assertThrows(HeadSweepException.class, () -> ModelName.parse(text));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().startsWith("\"" + text + "\": no such file or folder, and not a model name ("),
                e.getMessage());
        assertTrue(e.getMessage().contains("gpt2-xl") && e.getMessage().contains("org/name"), e.getMessage());
    }

    @Test
    void aRepoIdHasAtMost96Characters() {
        assertThrows(HeadSweepException.class, () -> ModelName.parse("org/" + "x".repeat(93)));
        assertEquals(96, ModelName.parse("org/" + "x".repeat(92)).repoId().length());
    }
}
