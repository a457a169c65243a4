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
                    if (targets[i][j] < 0) {
                        continue; // not a token: never among the ids (unfilled slots hold -1)
                    }
                    for (int q = i * k; q < i * k + k; q++) {
                        if (ids[q] == targets[i][j]) {
                            row[j] = true;
                            break;
                        }
                    }
                }
                hits[h][i] = row;
            }
        }
        return hits;
    }
}
