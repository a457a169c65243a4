package dev.headsweep.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Tests {@link SafetensorsWriter} by reading its files back with {@link SafetensorsFile}. */
class SafetensorsWriterTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Dtype.class)
    void representableValuesRoundTripExactly(Dtype dtype) throws IOException {
        List<NamedTensor> tensors = List.of(
                new NamedTensor("matrix", new long[] {2, 3}, new float[] {1, -2, 0.5f, 0x1p-10f, 384, -0f}),
                new NamedTensor("scalar", new long[] {}, new float[] {3.25f}),
                new NamedTensor("empty", new long[] {0, 4}, new float[0]));
        Path file = dir.resolve("t.safetensors");
        SafetensorsWriter.write(file, tensors, dtype, "");

        long headerLength = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLength % 8, "data section aligned to 8 bytes");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("matrix", "scalar", "empty"), List.copyOf(f.names()));
            for (NamedTensor t : tensors) {
                assertEquals(dtype, f.dtype(t.name()));
                assertArrayEquals(t.shape(), f.info(t.name()).shape());
                assertArrayEquals(t.data(), f.readFloats(t.name()));
            }
            assertEquals(6L * dtype.byteSize(), f.info("matrix").end() - f.info("matrix").begin());
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(Set.of(file), Set.copyOf(files.toList()), "no temporary files left behind");
        }
    }

    @ParameterizedTest
    @EnumSource(Dtype.class)
    void valuesAreRoundedToNearestEven(Dtype dtype) {
        float[] data = {1 + 0x1p-9f, 1 + 0x1p-12f, 1 + 3 * 0x1p-11f, 0.1f, -1e-7f, 70000f, Float.NaN};
        Path file = dir.resolve("r.safetensors");
        SafetensorsWriter.write(file, List.of(new NamedTensor("x", new long[] {data.length}, data)), dtype, "");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            float[] back = f.readFloats("x");
            for (int i = 0; i < data.length; i++) {
                assertEquals(dtype.round(data[i]), back[i], "element " + i);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Dtype.class)
    void largeTensorsStreamThroughTheBufferAndReadInSlices(Dtype dtype) {
        float[] data = new float[2_500_000]; // more than the 4 MiB write buffer in every dtype
        for (int i = 0; i < data.length; i++) {
            data[i] = (i % 256) - 128; // representable in every dtype
        }
        Path file = dir.resolve("big.safetensors");
        SafetensorsWriter.write(file, List.of(new NamedTensor("small", new long[] {3}, new float[] {1, 2, 3}),
                new NamedTensor("big", new long[] {2500, 1000}, data)), dtype, "");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(data, f.readFloats("big"));
            float[] row = new float[1002];
            f.readFloats("big", 1_999_000, row, 1, 1000);
            assertArrayEquals(Arrays.copyOfRange(data, 1_999_000, 2_000_000), Arrays.copyOfRange(row, 1, 1001));
            assertEquals(0f, row[0]);
            assertEquals(0f, row[1001]);
        }
    }

    @Test
    void prefixIsPrependedToEveryName() {
        Path file = dir.resolve("p.safetensors");
        SafetensorsWriter.write(file, List.of(new NamedTensor("wte.weight", new long[] {1}, new float[] {1})),
                Dtype.F32, "transformer.");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Set.of("transformer.wte.weight"), f.names());
        }
    }

    @Test
    void replacesAnExistingFile() {
        Path file = dir.resolve("w.safetensors");
        SafetensorsWriter.write(file, List.of(new NamedTensor("a", new long[] {1}, new float[] {1})), Dtype.F32, "");
        SafetensorsWriter.write(file, List.of(new NamedTensor("b", new long[] {2}, new float[] {2, 3})), Dtype.F16, "");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Set.of("b"), f.names());
            assertArrayEquals(new float[] {2, 3}, f.readFloats("b"));
        }
    }

    @Test
    void rejectsRepeatedNamesAndMismatchedShapes() {
        NamedTensor a = new NamedTensor("a", new long[] {1}, new float[] {1});
        assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.write(dir.resolve("x.safetensors"), List.of(a, a), Dtype.F32, ""));
        assertThrows(IllegalArgumentException.class, () -> new NamedTensor("b", new long[] {2, 2}, new float[3]));
        assertThrows(IllegalArgumentException.class, () -> new NamedTensor("c", new long[] {-1}, new float[0]));
    }
}
