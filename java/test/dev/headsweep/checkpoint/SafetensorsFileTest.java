package dev.headsweep.checkpoint;

import static dev.headsweep.checkpoint.TestFiles.assertFails;
import static dev.headsweep.checkpoint.TestFiles.writeRaw;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tests {@link SafetensorsFile}'s validation on hand-made files. */
class SafetensorsFileTest {
    @TempDir
    Path dir;

    private Path file() {
        return dir.resolve("model.safetensors");
    }

    /** Little-endian fp32 bytes. */
    private static byte[] f32(float... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape
                + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    private void assertOpenFails(Path file, String phrase) {
        assertFails(file, phrase, () -> SafetensorsFile.open(file).close());
    }

    @Test
    void readsAValidHandMadeFile() throws IOException {
        String header = "{\"__metadata__\":{\"format\":\"pt\"}," + entry("a", "F32", "[2]", 0, 8) + ","
                + entry("ids", "I64", "[1]", 8, 16) + "," + entry("none", "F32", "[0]", 16, 16) + "}  ";
        byte[] data = Arrays.copyOf(f32(1.5f, -2f), 16);
        writeRaw(file(), header, data);
        try (SafetensorsFile f = SafetensorsFile.open(file())) {
            assertEquals(Set.of("a", "ids", "none"), f.names());
            assertArrayEquals(new float[] {1.5f, -2f}, f.readFloats("a"));
            assertArrayEquals(new float[0], f.readFloats("none"));
            assertEquals("I64", f.info("ids").dtype());
            assertFails(file(), "tensor ids has dtype I64, which HeadSweep does not read", () -> f.readFloats("ids"));
            assertFails(file(), "tensor b is missing", () -> f.info("b"));
            assertThrows(IndexOutOfBoundsException.class, () -> f.readFloats("a", 1, new float[2], 0, 2));
        }
    }

    /** A block of columns read with a stride equals the same columns of the whole tensor, for each dtype. */
    @Test
    void stridedReadOfColumns() throws IOException {
        int rows = 5, cols = 9;
        float[] all = new float[rows * cols];
        for (int q = 0; q < all.length; q++) {
            all[q] = q * 0.25f - 3f; // exact in F16 and BF16 too
        }
        for (String dtype : new String[] {"F32", "F16", "BF16"}) {
            byte[] data = switch (dtype) {
                case "F32" -> f32(all);
                default -> {
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(all.length * 2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                    for (float x : all) {
                        b.putShort(dtype.equals("F16") ? Dtype.floatToHalf(x) : (short) (Float.floatToRawIntBits(x) >>> 16));
                    }
                    yield b.array();
                }
            };
            String header = "{" + entry("w", dtype, "[" + rows + "," + cols + "]", 0, data.length) + "}";
            writeRaw(file(), header, data);
            try (SafetensorsFile f = SafetensorsFile.open(file())) {
                float[] got = new float[rows * 3];
                f.readFloats("w", 6, 3, cols, rows, got); // columns 6..8 of every row
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < 3; c++) {
                        assertEquals(all[r * cols + 6 + c], got[r * 3 + c], dtype + " row " + r + " column " + (6 + c));
                    }
                }
                assertThrows(IndexOutOfBoundsException.class, () -> f.readFloats("w", 7, 3, cols, rows, new float[rows * 3]));
            }
        }
    }

    @Test
    void missingFile() {
        assertOpenFails(file(), "no such file");
    }

    @Test
    void shorterThanTheHeaderLength() throws IOException {
        Files.write(file(), new byte[] {1, 2, 3, 4, 5});
        assertOpenFails(file(), "truncated: the file is 5 bytes");
    }

    @Test
    void headerCutShort() throws IOException {
        String header = "{" + entry("a", "F32", "[2]", 0, 8) + "}";
        writeRaw(file(), header.length(), header.substring(0, 10).getBytes(), new byte[0]);
        assertOpenFails(file(), "header length " + header.length() + " is larger than the file (18 bytes)");
    }

    @Test
    void headerLengthLargerThanTheFile() throws IOException {
        writeRaw(file(), 9_999_999, "{}".getBytes(), new byte[0]);
        assertOpenFails(file(), "header length 9999999 is larger than the file (10 bytes)");
        writeRaw(file(), -1, "{}".getBytes(), new byte[0]);
        assertOpenFails(file(), "header length 18446744073709551615 is larger than the file");
    }

    @Test
    void headerLengthOverTheLimit() throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file().toFile(), "rw")) {
            raf.setLength(SafetensorsFile.MAX_HEADER_BYTES + 64); // sparse: cheap to make
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(SafetensorsFile.MAX_HEADER_BYTES + 1).array());
        }
        assertOpenFails(file(), "exceeds the limit");
    }

    @Test
    void headerNotJson() throws IOException {
        writeRaw(file(), "{\"a\": {\"dtype\": ", new byte[0]);
        assertOpenFails(file(), "the header is not valid JSON");
        writeRaw(file(), "{} {}", new byte[0]);
        assertOpenFails(file(), "the header is not valid JSON");
        writeRaw(file(), "[1, 2]", new byte[0]);
        assertOpenFails(file(), "the header is not a JSON object");
        writeRaw(file(), 4, new byte[] {'{', (byte) 0xff, (byte) 0xfe, '}'}, new byte[0]);
        assertOpenFails(file(), "the header is not valid UTF-8");
    }

    @Test
    void overlappingOffsets() throws IOException {
        String header = "{" + entry("alpha", "F32", "[4]", 0, 16) + "," + entry("gamma", "F32", "[1]", 20, 24)
                + "," + entry("beta", "F32", "[4]", 8, 24) + "}";
        writeRaw(file(), header, new byte[24]);
        assertOpenFails(file(), "tensors alpha [0, 16] and beta [8, 24] overlap");
    }

    @Test
    void overlapInsideALongerTensor() throws IOException {
        String header = "{" + entry("outer", "F32", "[8]", 0, 32) + "," + entry("first", "F32", "[1]", 0, 4)
                + "," + entry("inner", "F32", "[1]", 12, 16) + "}";
        writeRaw(file(), header, new byte[32]);
        assertOpenFails(file(), "overlap");
    }

    @Test
    void outOfRangeOffsets() throws IOException {
        writeRaw(file(), "{" + entry("a", "F32", "[4]", 0, 16) + "}", new byte[8]);
        assertOpenFails(file(), "tensor a has data_offsets [0, 16] out of range: the data section is 8 bytes");
        writeRaw(file(), "{" + entry("a", "F32", "[0]", 8, 4) + "}", new byte[8]);
        assertOpenFails(file(), "end before they begin");
        writeRaw(file(), "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", new byte[8]);
        assertOpenFails(file(), "\"data_offsets\" is not an array of 2 non-negative integers");
    }

    @Test
    void unknownDtype() throws IOException {
        writeRaw(file(), "{" + entry("a", "Q7", "[4]", 0, 16) + "}", new byte[16]);
        assertOpenFails(file(), "tensor a has unknown dtype \"Q7\"");
    }

    @Test
    void shapeInconsistentWithByteRange() throws IOException {
        writeRaw(file(), "{" + entry("a", "F32", "[2, 3]", 0, 16) + "}", new byte[24]);
        assertOpenFails(file(), "tensor a has 16 bytes (data_offsets [0, 16]) but shape [2, 3] of F32 needs 24");
        writeRaw(file(), "{" + entry("a", "F4", "[3]", 0, 2) + "}", new byte[2]);
        assertOpenFails(file(), "does not fill a whole number of bytes");
    }

    @Test
    void malformedEntries() throws IOException {
        for (String bad : List.of("{\"a\": 3}", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
                "{" + entry("a", "F32", "[-1]", 0, 4) + "}", "{" + entry("a", "F32", "[1.5]", 0, 4) + "}",
                "{" + entry("a", "F32", "\"4\"", 0, 4) + "}", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,2,4]}}")) {
            writeRaw(file(), bad, new byte[4]);
            assertOpenFails(file(), "tensor a");
        }
    }
}
