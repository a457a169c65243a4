package dev.headsweep.checkpoint;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.headsweep.HeadSweepException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;

/**
 * A validated, open {@code .safetensors} file.
 *
 * <p>Layout: an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON mapping each
 * tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (plus an optional
 * {@code __metadata__} entry, ignored here), then the data section; offsets are relative to its
 * start. {@link #open} checks all of it against the file's size before any tensor is read; each
 * problem is a one-line {@link HeadSweepException} starting with the file's path.
 *
 * <p>Tensor data is memory-mapped on demand, a bounded window at a time, so files (and tensors)
 * larger than 2 GB are fine and nothing is read that is not asked for. Reads may run concurrently.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** The largest header accepted (the same limit as the reference implementation). */
    public static final long MAX_HEADER_BYTES = 100L << 20;

    /** The largest region mapped at once when reading. */
    private static final long MAP_WINDOW_BYTES = 256L << 20;

    private static final String METADATA_KEY = "__metadata__";

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
    }

    /** Opens and validates {@code path}; the caller closes the result. */
    public static SafetensorsFile open(Path path) {
        if (!Files.exists(path)) {
            throw new HeadSweepException(path + ": no such file");
        }
        if (!Files.isRegularFile(path)) {
            throw new HeadSweepException(path + ": not a regular file");
        }
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new HeadSweepException(path + ": no such file", e);
        } catch (IOException e) {
            throw new HeadSweepException(path + ": cannot open: " + Json.firstLine(e.getMessage()), e);
        }
        try {
            long fileSize = channel.size();
            if (fileSize < 8) {
                throw fail(path, "truncated: the file is " + fileSize
                        + " bytes, too short for the 8-byte header length");
            }
            long headerLength = readFully(channel, 0, 8).getLong();
            if (Long.compareUnsigned(headerLength, fileSize - 8) > 0) {
                throw fail(path, "header length " + Long.toUnsignedString(headerLength)
                        + " is larger than the file (" + fileSize + " bytes)");
            }
            if (headerLength > MAX_HEADER_BYTES) {
                throw fail(path, "header length " + headerLength + " exceeds the limit of "
                        + MAX_HEADER_BYTES + " bytes (100 MiB)");
            }
            ByteBuffer headerBytes = readFully(channel, 8, (int) headerLength);
            JsonObject header = Json.parseObject(headerBytes, path + ": the header");
            long dataStart = 8 + headerLength;
            Map<String, TensorInfo> tensors = parseEntries(path, header, fileSize - dataStart);
            return new SafetensorsFile(path, channel, dataStart, Collections.unmodifiableMap(tensors));
        } catch (IOException e) {
            closeQuietly(channel);
            throw new HeadSweepException(path + ": cannot read: " + Json.firstLine(e.getMessage()), e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** The tensor names, in header order. */
    public Set<String> names() {
        return tensors.keySet();
    }

    /** The header entry of tensor {@code name}. */
    public TensorInfo info(String name) {
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw fail(path, "tensor " + name + " is missing");
        }
        return info;
    }

    /** The dtype of tensor {@code name}, which must be one HeadSweep reads. */
    public Dtype dtype(String name) {
        TensorInfo info = info(name);
        return Dtype.supported(info.dtype()).orElseThrow(() -> fail(path, "tensor " + name + " has dtype "
                + info.dtype() + ", which HeadSweep does not read (it reads F32, F16 and BF16)"));
    }

    /** All of tensor {@code name}, converted to fp32, row-major. */
    public float[] readFloats(String name) {
        long n = info(name).elementCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw fail(path, "tensor " + name + " has " + n + " elements, too many for one Java array");
        }
        float[] out = new float[(int) n];
        readFloats(name, 0, out, 0, out.length);
        return out;
    }

    /**
     * Reads elements {@code [firstElement, firstElement + count)} of tensor {@code name} (in
     * row-major order), converted to fp32, into {@code dst[dstOffset...]}.
     */
    public void readFloats(String name, long firstElement, float[] dst, int dstOffset, int count) {
        TensorInfo info = info(name);
        Dtype dtype = dtype(name);
        Objects.checkFromIndexSize(firstElement, count, info.elementCount());
        Objects.checkFromIndexSize(dstOffset, count, dst.length);
        int window = (int) (MAP_WINDOW_BYTES / dtype.byteSize());
        try {
            for (int done = 0; done < count; ) {
                int n = Math.min(window, count - done);
                long position = dataStart + info.begin() + (firstElement + done) * dtype.byteSize();
                ByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, position, (long) n * dtype.byteSize());
                dtype.decode(mapped.order(ByteOrder.LITTLE_ENDIAN), dst, dstOffset + done, n);
                done += n;
            }
        } catch (IOException e) {
            throw new HeadSweepException(path + ": cannot read tensor " + name + ": "
                    + Json.firstLine(e.getMessage()), e);
        }
    }

    /**
     * Reads {@code rows} runs of {@code len} elements of tensor {@code name} (row-major), run
     * {@code q} starting at element {@code first + q·stride}, converted to fp32, into
     * {@code dst[q·len ...]}: e.g. a block of columns of a matrix, without reading (or allocating)
     * the rest of it.
     */
    public void readFloats(String name, long first, int len, long stride, int rows, float[] dst) {
        TensorInfo info = info(name);
        Dtype dtype = dtype(name);
        if (rows < 0 || len < 0 || stride < len) {
            throw new IllegalArgumentException("rows " + rows + ", len " + len + ", stride " + stride);
        }
        if (rows == 0) {
            return;
        }
        Objects.checkFromIndexSize(first, (rows - 1) * stride + len, info.elementCount());
        Objects.checkFromIndexSize(0, (long) rows * len, dst.length);
        long perWindow = Math.max(1, MAP_WINDOW_BYTES / dtype.byteSize() / stride); // rows per mapping
        try {
            for (int q0 = 0; q0 < rows; ) {
                int q1 = (int) Math.min(rows, q0 + perWindow);
                long position = dataStart + info.begin() + (first + q0 * stride) * dtype.byteSize();
                long span = ((q1 - q0 - 1) * stride + len) * dtype.byteSize();
                ByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, position, span)
                        .order(ByteOrder.LITTLE_ENDIAN);
                for (int q = q0; q < q1; q++) {
                    ByteBuffer row = mapped.duplicate().order(ByteOrder.LITTLE_ENDIAN)
                            .position((int) ((q - q0) * stride * dtype.byteSize()));
                    dtype.decode(row, dst, q * len, len);
                }
                q0 = q1;
            }
        } catch (IOException e) {
            throw new HeadSweepException(path + ": cannot read tensor " + name + ": "
                    + Json.firstLine(e.getMessage()), e);
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static Map<String, TensorInfo> parseEntries(Path path, JsonObject header, long dataSize) {
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> entry : header.entrySet()) {
            if (!entry.getKey().equals(METADATA_KEY)) {
                tensors.put(entry.getKey(), parseEntry(path, entry.getKey(), entry.getValue(), dataSize));
            }
        }
        checkNoOverlap(path, tensors.values());
        return tensors;
    }

    private static TensorInfo parseEntry(Path path, String name, JsonElement value, long dataSize) {
        String where = "tensor " + name;
        if (!value.isJsonObject()) {
            throw fail(path, where + ": the header entry is not a JSON object");
        }
        JsonObject o = value.getAsJsonObject();

        JsonElement dtypeElement = o.get("dtype");
        if (dtypeElement == null || !dtypeElement.isJsonPrimitive() || !dtypeElement.getAsJsonPrimitive().isString()) {
            throw fail(path, where + ": \"dtype\" is missing or not a string");
        }
        String dtype = dtypeElement.getAsString();
        int bits = Dtype.specBits(dtype);
        if (bits < 0) {
            throw fail(path, where + " has unknown dtype \"" + dtype + "\" (not a safetensors dtype)");
        }

        long[] shape = longs(path, where, o.get("shape"), "shape", -1);
        long[] offsets = longs(path, where, o.get("data_offsets"), "data_offsets", 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end) {
            throw fail(path, where + " has data_offsets [" + begin + ", " + end + "] that end before they begin");
        }
        if (end > dataSize) {
            throw fail(path, where + " has data_offsets [" + begin + ", " + end
                    + "] out of range: the data section is " + dataSize + " bytes (truncated file?)");
        }
        long expectedBytes;
        try {
            long bitCount = bits;
            for (long dim : shape) {
                bitCount = Math.multiplyExact(bitCount, dim);
            }
            if (bitCount % 8 != 0) {
                throw fail(path, where + " of shape " + Arrays.toString(shape) + " and dtype " + dtype
                        + " does not fill a whole number of bytes");
            }
            expectedBytes = bitCount / 8;
        } catch (ArithmeticException overflow) {
            throw fail(path, where + " has shape " + Arrays.toString(shape) + ", too large to address", overflow);
        }
        if (end - begin != expectedBytes) {
            throw fail(path, where + " has " + (end - begin) + " bytes (data_offsets [" + begin + ", " + end
                    + "]) but shape " + Arrays.toString(shape) + " of " + dtype + " needs " + expectedBytes);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** A JSON array of non-negative integers; {@code length} -1 allows any length. */
    private static long[] longs(Path path, String where, JsonElement e, String key, int length) {
        String expected = length < 0 ? "an array of non-negative integers" : "an array of " + length + " non-negative integers";
        if (e == null || !e.isJsonArray() || (length >= 0 && e.getAsJsonArray().size() != length)) {
            throw fail(path, where + ": \"" + key + "\" is missing or not " + expected + ", got " + e);
        }
        JsonArray array = e.getAsJsonArray();
        long[] values = new long[array.size()];
        for (int i = 0; i < values.length; i++) {
            OptionalLong v = Json.integer(array.get(i));
            if (v.isEmpty() || v.getAsLong() < 0) {
                throw fail(path, where + ": \"" + key + "\" is not " + expected + ", got " + e);
            }
            values[i] = v.getAsLong();
        }
        return values;
    }

    /** No two non-empty byte ranges may share a byte. */
    private static void checkNoOverlap(Path path, Iterable<TensorInfo> tensors) {
        List<TensorInfo> sorted = new ArrayList<>();
        for (TensorInfo t : tensors) {
            if (t.end() > t.begin()) {
                sorted.add(t);
            }
        }
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        TensorInfo furthest = null; // among those seen so far, the one whose data ends last
        for (TensorInfo t : sorted) {
            if (furthest != null && t.begin() < furthest.end()) {
                throw fail(path, "tensors " + furthest.name() + " [" + furthest.begin() + ", " + furthest.end()
                        + "] and " + t.name() + " [" + t.begin() + ", " + t.end() + "] overlap");
            }
            if (furthest == null || t.end() > furthest.end()) {
                furthest = t;
            }
        }
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position()) < 0) {
                throw new IOException("unexpected end of file");
            }
        }
        return buffer.flip();
    }

    private static HeadSweepException fail(Path path, String message) {
        return new HeadSweepException(path + ": " + message);
    }

    private static HeadSweepException fail(Path path, String message, Throwable cause) {
        return new HeadSweepException(path + ": " + message, cause);
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // Nothing useful to do: the file was only read.
        }
    }
}
