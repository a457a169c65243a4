package dev.headsweep.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Tests {@link Dtype}: names and sizes, and the exact fp16 / bf16 conversions. */
class SafetensorsDtypeTest {
    @Test
    void everyHalfConvertsToFloatAndBackUnchanged() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = Dtype.halfToFloat((short) bits);
            short back = Dtype.floatToHalf(f);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Dtype.halfToFloat(back)), "nan " + Integer.toHexString(bits));
            } else {
                assertEquals((short) bits, back, "half " + Integer.toHexString(bits));
            }
        }
    }

    @Test
    void halfValues() {
        assertEquals(1f, Dtype.halfToFloat((short) 0x3c00));
        assertEquals(-2f, Dtype.halfToFloat((short) 0xc000));
        assertEquals(65504f, Dtype.halfToFloat((short) 0x7bff));
        assertEquals(0x1p-14f, Dtype.halfToFloat((short) 0x0400));
        assertEquals(0x1p-24f, Dtype.halfToFloat((short) 0x0001));
        assertEquals(1023 * 0x1p-24f, Dtype.halfToFloat((short) 0x03ff));
        assertEquals(Float.floatToIntBits(-0f), Float.floatToIntBits(Dtype.halfToFloat((short) 0x8000)));
        assertEquals(Float.POSITIVE_INFINITY, Dtype.halfToFloat((short) 0x7c00));
        assertEquals(Float.NEGATIVE_INFINITY, Dtype.halfToFloat((short) 0xfc00));
        assertTrue(Float.isNaN(Dtype.halfToFloat((short) 0x7e00)));
    }

    @Test
    void floatToHalfRoundsToNearestEven() {
        assertEquals((short) 0x3c00, Dtype.floatToHalf(1 + 0x1p-11f)); // tie, down to even
        assertEquals((short) 0x3c02, Dtype.floatToHalf(1 + 3 * 0x1p-11f)); // tie, up to even
        assertEquals((short) 0x3c01, Dtype.floatToHalf(1 + 0x1p-11f + 0x1p-20f)); // above the tie
        assertEquals((short) 0x7bff, Dtype.floatToHalf(65519f));
        assertEquals((short) 0x7c00, Dtype.floatToHalf(65520f)); // tie at the top goes to inf
        assertEquals((short) 0xfc00, Dtype.floatToHalf(-1e10f));
        assertEquals((short) 0x0000, Dtype.floatToHalf(0x1p-25f)); // tie, down to zero
        assertEquals((short) 0x0001, Dtype.floatToHalf(3 * 0x1p-26f));
        assertEquals((short) 0x0002, Dtype.floatToHalf(3 * 0x1p-25f)); // subnormal tie, up to even
        assertEquals((short) 0x0400, Dtype.floatToHalf(0x1p-14f - 0x1p-26f)); // rounds up into the normals
        assertEquals((short) 0x8000, Dtype.floatToHalf(-Float.MIN_VALUE));
        assertTrue(Float.isNaN(Dtype.halfToFloat(Dtype.floatToHalf(Float.NaN))));
    }

    @Test
    void bf16IsTheUpperHalfOfAFloatRoundedToNearestEven() {
        assertEquals(1f, Dtype.bf16ToFloat((short) 0x3f80));
        assertEquals(-0x1p-133f, Dtype.bf16ToFloat((short) 0x8001)); // a subnormal
        assertEquals((short) 0x3f80, Dtype.floatToBf16(1 + 0x1p-8f)); // tie, down to even
        assertEquals((short) 0x3f82, Dtype.floatToBf16(1 + 3 * 0x1p-8f)); // tie, up to even
        assertEquals((short) 0x3f81, Dtype.floatToBf16(1 + 0x1p-8f + 0x1p-20f));
        assertEquals((short) 0x7f80, Dtype.floatToBf16(Float.MAX_VALUE));
        assertEquals((short) 0xff80, Dtype.floatToBf16(Float.NEGATIVE_INFINITY));
        assertTrue(Float.isNaN(Dtype.bf16ToFloat(Dtype.floatToBf16(Float.NaN))));
        assertTrue(Float.isNaN(Dtype.bf16ToFloat(Dtype.floatToBf16(Float.intBitsToFloat(0x7f800001)))));
    }

    @Test
    void roundGoesToTheNearestValueOfTheDtype() {
        assertEquals(1 + 0x1p-12f, Dtype.F32.round(1 + 0x1p-12f));
        assertEquals(1f, Dtype.F16.round(1 + 0x1p-12f));
        assertEquals(1f, Dtype.BF16.round(1 + 0x1p-9f));
    }

    @Test
    void namesAndSizes() {
        assertEquals(4, Dtype.F32.byteSize());
        assertEquals(2, Dtype.F16.byteSize());
        assertEquals(2, Dtype.BF16.byteSize());
        assertEquals(Optional.of(Dtype.BF16), Dtype.supported("BF16"));
        assertEquals(Optional.empty(), Dtype.supported("I64"));
        assertEquals(64, Dtype.specBits("I64"));
        assertEquals(8, Dtype.specBits("F8_E4M3"));
        assertEquals(4, Dtype.specBits("F4"));
        assertEquals(-1, Dtype.specBits("Q7"));
        assertEquals(-1, Dtype.specBits("f32"));
    }
}
