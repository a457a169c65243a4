package dev.headsweep.task;

import java.util.List;

/**
 * One prompt of a task: its text and the words whose token the head reads (its keywords). Each
 * keyword is looked up in the tokenized text as the token of {@code " " + word}, or of
 * {@code word} when the text starts with it (see {@link ResolvedTask}).
 *
 * @param text the prompt text, tokenized without BOS
 * @param keywords the keyword words, at least one, none blank
 */
public record Prompt(String text, List<String> keywords) {
    public Prompt {
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
