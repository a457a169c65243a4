package dev.headsweep.engine;

import java.util.List;

/**
 * The top-k token ids (and their fp32 logits) of every requested head at every keyword row:
 * for head index {@code i} (position in {@link #heads()}) and row {@code r}, entries
 * {@code r·k .. r·k+k-1} of {@code ids()[i]} and {@code logits()[i]}, best first
 * (ties: lower token id first).
 */
public record HeadTopK(List<HeadId> heads, int rows, int k, int[][] ids, float[][] logits) {

    public int id(int head, int row, int rank) {
        return ids[head][row * k + rank];
    }

    public float logit(int head, int row, int rank) {
        return logits[head][row * k + rank];
    }

    /** The k ids of one head at one row, best first (a copy). */
    public int[] ids(int head, int row) {
        int[] out = new int[k];
        System.arraycopy(ids[head], row * k, out, 0, k);
        return out;
    }
}
