package dev.headsweep.checkpoint;

import java.util.Arrays;

/**
 * One validated entry of a safetensors header.
 *
 * @param name the tensor's name as stored in the file
 * @param dtype the safetensors dtype name; not necessarily one HeadSweep reads (see {@link Dtype})
 * @param shape the dimensions, outermost first (row-major data)
 * @param begin first byte of the data, relative to the start of the data section
 * @param end one past the last byte of the data, relative to the start of the data section
 */
public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {
    public TensorInfo {
        shape = shape.clone();
    }

    /** The dimensions (a copy). */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** The number of elements: the product of the dimensions (1 for a scalar). */
    public long elementCount() {
        long n = 1;
        for (long dim : shape) {
            n *= dim;
        }
        return n;
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape) + " bytes [" + begin + ", " + end + ")";
    }
}
