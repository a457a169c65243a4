package dev.headsweep.engine;

import dev.headsweep.HeadSweepException;

/** An attention head, written {@code L.H} as in the literature (9.1 is layer 9, head 1). */
public record HeadId(int layer, int head) implements Comparable<HeadId> {

    /** Parses {@code "9.1"}; bounds are checked against the model by {@link #checkIn}. */
    public static HeadId parse(String text) {
        String[] parts = text.trim().split("\\.");
        if (parts.length != 2) {
            throw new HeadSweepException("head \"" + text + "\" is not of the form LAYER.HEAD (e.g. 9.1)");
        }
        try {
            return new HeadId(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
        } catch (NumberFormatException e) {
            throw new HeadSweepException("head \"" + text + "\" is not of the form LAYER.HEAD (e.g. 9.1)");
        }
    }

    /** Throws a user-facing error when this head does not exist in a model of that shape. */
    public HeadId checkIn(int nLayer, int nHead) {
        if (layer < 0 || layer >= nLayer || head < 0 || head >= nHead) {
            throw new HeadSweepException("head " + this + " does not exist: the model has layers 0.."
                    + (nLayer - 1) + " and heads 0.." + (nHead - 1));
        }
        return this;
    }

    @Override
    public int compareTo(HeadId o) {
        return layer != o.layer ? Integer.compare(layer, o.layer) : Integer.compare(head, o.head);
    }

    @Override
    public String toString() {
        return layer + "." + head;
    }
}
