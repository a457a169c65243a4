package dev.headsweep.task;

/**
 * One keyword of a resolved task: where its token sits in its prompt.
 *
 * @param prompt the index of the prompt in the task
 * @param index the keyword's index among its prompt's keywords
 * @param word the keyword word
 * @param position the index of the FIRST occurrence of {@code tokenId} in the prompt's token ids
 * @param tokenId the keyword's token id
 */
public record Keyword(int prompt, int index, String word, int position, int tokenId) {
}
