package dev.headsweep.task;

import java.util.List;

/**
 * One prompt of a task: its text and the words whose token the head reads (its keywords). Each
 * keyword is looked up in the tokenized text as the token of {@code " " + word}, or of
 * {@code word} when the text starts with it (see {@link ResolvedTask}).
 *
 * <p>A prompt can instead be given as token ids ({@link #ofTokens}): then {@code tokens} are the
 * prompt's ids as they are (no tokenization) and {@code keywordTokens} the keywords' ids, so any
 * token can be a keyword, also one like {@code "\n"} or a piece of a UTF-8 character that no
 * {@code " " + word} produces. {@code text} and {@code keywords} then hold the decoded texts, for
 * reports and for relations that map words.
 *
 * @param text the prompt text, tokenized without BOS
 * @param keywords the keyword words, at least one, none blank (for text prompts)
 * @param tokens the prompt's token ids, or null for a text prompt
 * @param keywordTokens the keywords' token ids (one per keyword), or null for a text prompt
 */
public record Prompt(String text, List<String> keywords, List<Integer> tokens, List<Integer> keywordTokens) {
    /** A text prompt. */
    public Prompt(String text, List<String> keywords) {
        this(text, keywords, null, null);
    }

    /**
     * A prompt given by token ids; every keyword token must occur in {@code tokens}.
     *
     * @param words the keywords' words (e.g. the decoded token without its leading space), used by
     *     relations that map words and in reports; may be blank
     */
    public static Prompt ofTokens(String text, List<Integer> tokens, List<Integer> keywordTokens, List<String> words) {
        return new Prompt(text, words, List.copyOf(tokens), List.copyOf(keywordTokens));
    }

    /** Whether this prompt is given by token ids. */
    public boolean byTokens() {
        return tokens != null;
    }

    public Prompt {
        if ((tokens == null) != (keywordTokens == null)) {
            throw new IllegalArgumentException("a prompt by token ids needs both its tokens and its keyword tokens");
        }
        if (tokens != null) {
            tokens = List.copyOf(tokens);
            keywordTokens = List.copyOf(keywordTokens);
            keywords = List.copyOf(keywords);
            if (tokens.isEmpty() || keywordTokens.isEmpty()) {
                throw new IllegalArgumentException("a prompt by token ids needs at least one token and one keyword");
            }
            if (keywords.size() != keywordTokens.size()) {
                throw new IllegalArgumentException("a prompt by token ids needs one word per keyword token");
            }
            for (Integer id : keywordTokens) {
                if (!tokens.contains(id)) {
                    throw new IllegalArgumentException("keyword token " + id + " does not occur in the prompt's tokens");
                }
            }
        } else {
            if (text == null || text.isEmpty()) {
                throw new IllegalArgumentException("prompt text is empty");
            }
            keywords = List.copyOf(keywords);
            if (keywords.isEmpty()) {
                throw new IllegalArgumentException("prompt " + Quote.of(text) + " has no keywords");
            }
            for (String word : keywords) {
                if (word.isBlank()) {
                    throw new IllegalArgumentException("prompt " + Quote.of(text) + " has a blank keyword");
                }
            }
        }
    }
}
