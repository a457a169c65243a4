package dev.headsweep.checkpoint;

import java.nio.ByteBuffer;
import java.nio.ShortBuffer;
import java.util.Map;
import java.util.Optional;

/**
 * The tensor element types HeadSweep reads, named as in the safetensors header. Elements are stored
 * little-endian; all are converted to fp32 for computation.
 *
 * <p>The safetensors format names more types (integers, fp64, fp8, ...). A header may list tensors
 * of those types, as long as HeadSweep never has to read them: {@link #specBits} knows their sizes so
 * that such a header can still be validated.
 */
public enum Dtype {
    /** IEEE 754 single precision. */
    F32(4),
    /** IEEE 754 half precision (1 sign, 5 exponent, 10 mantissa bits), with subnormals, inf, nan. */
    F16(2),
    /** bfloat16: the upper 16 bits of an fp32. */
    BF16(2);

    /** Bits per element of every dtype in the safetensors format, including those not read here. */
    private static final Map<String, Integer> SPEC_BITS = Map.ofEntries(
            Map.entry("BOOL", 8),
            Map.entry("F4", 4),
            Map.entry("F6_E2M3", 6),
            Map.entry("F6_E3M2", 6),
            Map.entry("U8", 8),
            Map.entry("I8", 8),
            Map.entry("F8_E5M2", 8),
            Map.entry("F8_E4M3", 8),
            Map.entry("F8_E8M0", 8),
            Map.entry("I16", 16),
            Map.entry("U16", 16),
            Map.entry("F16", 16),
            Map.entry("BF16", 16),
            Map.entry("I32", 32),
            Map.entry("U32", 32),
            Map.entry("F32", 32),
            Map.entry("F64", 64),
            Map.entry("C64", 64),
            Map.entry("I64", 64),
            Map.entry("U64", 64));

    private final int byteSize;

    Dtype(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /**
     * Bits per element of a dtype named in the safetensors format, whether HeadSweep reads it or
     * not; -1 for a name the format does not define.
     */
    public static int specBits(String name) {
        return SPEC_BITS.getOrDefault(name, -1);
    }

    /** The dtype with this safetensors name, if HeadSweep reads it. */
    public static Optional<Dtype> supported(String name) {
        for (Dtype d : values()) {
            if (d.name().equals(name)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /** The value of this dtype nearest to {@code x} (round to nearest, ties to even), as an fp32. */
    public float round(float x) {
        switch (this) {
            case F16:
                return halfToFloat(floatToHalf(x));
            case BF16:
                return bf16ToFloat(floatToBf16(x));
            default:
                return x;
        }
    }

    /**
     * Converts {@code count} elements to fp32: from {@code src}'s position on (little-endian) into
     * {@code dst[dstOffset...]}. The source buffer's position is not changed.
     */
    void decode(ByteBuffer src, float[] dst, int dstOffset, int count) {
        if (this == F32) {
            src.asFloatBuffer().get(dst, dstOffset, count);
            return;
        }
        ShortBuffer s = src.asShortBuffer();
        if (this == F16) {
            for (int i = 0; i < count; i++) {
                dst[dstOffset + i] = halfToFloat(s.get(i));
            }
        } else {
            for (int i = 0; i < count; i++) {
                dst[dstOffset + i] = bf16ToFloat(s.get(i));
            }
        }
    }

    /**
     * Rounds {@code count} floats from {@code src[srcOffset...]} to this dtype and puts them at
     * {@code dst}'s position (in its byte order), advancing it.
     */
    void encode(float[] src, int srcOffset, int count, ByteBuffer dst) {
        if (this == F32) {
            dst.asFloatBuffer().put(src, srcOffset, count);
            dst.position(dst.position() + 4 * count);
        } else if (this == F16) {
            for (int i = 0; i < count; i++) {
                dst.putShort(floatToHalf(src[srcOffset + i]));
            }
        } else {
            for (int i = 0; i < count; i++) {
                dst.putShort(floatToBf16(src[srcOffset + i]));
            }
        }
    }

    /** The fp32 value of an IEEE half (exact: every half is representable as an fp32). */
    public static float halfToFloat(short half) {
        int h = half & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1f;
        int mantissa = h & 0x3ff;
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f; // zero or subnormal: mantissa * 2^-24, exact
            return sign == 0 ? magnitude : -magnitude;
        }
        if (exponent == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13)); // inf or nan
        }
        return Float.intBitsToFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
    }

    /**
     * The IEEE half nearest to {@code f} (ties to even); overflows to infinity, underflows through
     * the subnormals to zero; nan stays nan.
     */
    public static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = (bits >>> 23) & 0xff;
        int mantissa = bits & 0x7fffff;
        if (exponent == 0xff) {
            return (short) (sign | 0x7c00 | (mantissa == 0 ? 0 : 0x200 | (mantissa >>> 13)));
        }
        int e = exponent - 127 + 15; // the half's biased exponent
        if (e >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign; // below half the smallest subnormal
            }
            // Subnormal: value / 2^-24 = (1.mantissa) * 2^(exponent - 126).
            return (short) (sign | roundShift(mantissa | 0x800000, 14 - e));
        }
        // Normal. A carry out of the mantissa bumps the exponent, which is exactly right (up to inf).
        return (short) (sign | roundShift((e << 23) | mantissa, 13));
    }

    /** {@code value >>> shift}, rounded to nearest with ties to even. */
    private static int roundShift(int value, int shift) {
        int kept = value >>> shift;
        int rest = value & ((1 << shift) - 1);
        int halfway = 1 << (shift - 1);
        if (rest > halfway || (rest == halfway && (kept & 1) != 0)) {
            kept++;
        }
        return kept;
    }

    /** The fp32 value of a bfloat16 (exact). */
    public static float bf16ToFloat(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xffff) << 16);
    }

    /** The bfloat16 nearest to {@code f} (ties to even); nan stays nan. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40); // keep it a (quiet) nan after truncation
        }
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }
}
