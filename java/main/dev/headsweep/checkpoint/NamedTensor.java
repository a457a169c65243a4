package dev.headsweep.checkpoint;

import java.util.Arrays;
import java.util.Objects;

/**
 * A tensor to write: fp32 values in row-major (C) order. The data array is not copied.
 *
 * @param name the tensor's name, e.g. {@code h.0.attn.c_attn.weight}
 * @param shape the dimensions, outermost first; their product is {@code data.length}
 * @param data the values
 */
public record NamedTensor(String name, long[] shape, float[] data) {
    /** @throws IllegalArgumentException if a dimension is negative or they do not multiply to the data length */
    public NamedTensor {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(data, "data");
        shape = shape.clone();
        long n = 1;
        for (long dim : shape) {
            if (dim < 0) {
                throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
            }
            n *= dim;
        }
        if (n != data.length) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " holds " + n
                    + " elements but the data has " + data.length);
        }
    }

    /** The dimensions (a copy). */
    @Override
    public long[] shape() {
        return shape.clone();
    }
}
