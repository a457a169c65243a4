package dev.headsweep.engine.cuda;

/**
 * What {@link CudaBackend} needs of a GPU: typed buffers, copies both ways, and kernel launches by
 * the kernel's {@code extern "C"} name (kernels/*.cu). {@link JCudaDevice} is the real one (JCuda's
 * driver API); the tests also run the backend's host-side logic on a plain-Java simulation of the
 * kernels, so the two must agree on every kernel's arguments as documented in the .cu files.
 *
 * <p>Kernel arguments: a {@link Ptr} (device pointer, or {@code null} for a null pointer),
 * {@link Integer} (C {@code int}), {@link Long} (C {@code long}, 64 bits), {@link Float}.
 * Not thread-safe; the backend serializes its calls.
 */
public interface Device extends AutoCloseable {

    /** Element types of buffers. */
    enum Type {
        F32(4), I32(4), F64(8);

        final int bytes;

        Type(int bytes) {
            this.bytes = bytes;
        }
    }

    /** A device buffer of {@code count} elements of {@code type}. */
    interface Buffer {
        long count();

        Type type();

        /** A pointer {@code offset} elements into this buffer. */
        default Ptr at(long offset) {
            return new Ptr(this, offset);
        }

        default Ptr ptr() {
            return new Ptr(this, 0);
        }
    }

    /** A pointer into a buffer, in elements. */
    record Ptr(Buffer buffer, long offset) {
    }

    /** Thrown by {@link #alloc} when the device has no room; the backend splits its work and retries. */
    final class OutOfMemory extends RuntimeException {
        public OutOfMemory(String message) {
            super(message);
        }
    }

    /** One line: name, compute capability, memory. */
    String describe();

    /** Number of streaming multiprocessors (to size grids). */
    int multiprocessors();

    /** The device's memory in bytes; 0 when unknown. */
    default long totalBytes() {
        return 0;
    }

    /** Compute capability as major·10 + minor (90 for sm_90); 0 when unknown. */
    default int computeCapability() {
        return 0;
    }

    /**
     * Turns per-kernel timing on or off: while on, every launch is synchronized before and after
     * and its wall time added to {@link #profile()} (for benchmarks' breakdowns, not for speed).
     */
    default void profiling(boolean on) {
    }

    /** Kernel name → {launches, total nanoseconds} since profiling was last turned on. */
    default java.util.Map<String, long[]> profile() {
        return java.util.Map.of();
    }

    Buffer alloc(long count, Type type);

    void free(Buffer b);

    void upload(Buffer dst, long dstOffset, float[] src, int srcOffset, int len);

    void upload(Buffer dst, long dstOffset, int[] src, int srcOffset, int len);

    void download(Buffer src, long srcOffset, float[] dst, int dstOffset, int len);

    void download(Buffer src, long srcOffset, int[] dst, int dstOffset, int len);

    /** Launches {@code kernel} on a grid of {@code gx × gy × gz} blocks of {@code block} threads. */
    void launch(String kernel, int gx, int gy, int gz, int block, Object... args);

    /** Waits for every launch so far (and surfaces its errors). */
    void synchronize();

    @Override
    void close();

    /** Convenience: a buffer holding {@code data}. */
    default Buffer upload(float[] data) {
        Buffer b = alloc(Math.max(1, data.length), Type.F32);
        upload(b, 0, data, 0, data.length);
        return b;
    }

    default Buffer upload(int[] data) {
        Buffer b = alloc(Math.max(1, data.length), Type.I32);
        upload(b, 0, data, 0, data.length);
        return b;
    }
}
