package dev.headsweep.engine;

/**
 * Whether given target ids are among each row's top-k ids: the answer of
 * {@link Backend#ovTargetsInTopK}, looked up in a whole top-k.
 */
public final class TargetsInTopK {
    private TargetsInTopK() {
    }

    /**
     * {@code hits[h][i][j]}: whether {@code targets[i][j]} is among the top-k ids of head {@code h}
     * at row {@code i} of {@code top}.
     */
    public static boolean[][][] lookUp(HeadTopK top, int[][] targets) {
        if (targets.length != top.rows()) {
            throw new IllegalArgumentException(targets.length + " rows of targets for " + top.rows() + " rows");
        }
        int k = top.k();
        boolean[][][] hits = new boolean[top.heads().size()][top.rows()][];
        for (int h = 0; h < hits.length; h++) {
            int[] ids = top.ids()[h];
            for (int i = 0; i < top.rows(); i++) {
                boolean[] row = new boolean[targets[i].length];
                for (int j = 0; j < row.length; j++) {
                    row[j] = among(targets[i][j], ids, i * k, k);
                }
                hits[h][i] = row;
            }
        }
        return hits;
    }

    /**
     * Whether token {@code id} is one of {@code ids[from .. from+k)}; never for an id below 0 (not a
     * token: unfilled top-k slots hold -1).
     */
    public static boolean among(int id, int[] ids, int from, int k) {
        if (id < 0) {
            return false;
        }
        for (int q = from; q < from + k; q++) {
            if (ids[q] == id) {
                return true;
            }
        }
        return false;
    }
}
