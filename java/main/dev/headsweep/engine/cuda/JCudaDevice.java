package dev.headsweep.engine.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

/**
 * A GPU through JCuda's driver API: the primary context of one device, the kernel modules
 * (fatbins from the jar, see {@link CudaSupport}) and launches by name. The only class that names
 * JCuda; it is loaded only after {@link CudaSupport} found a driver, so CPU-only runs never load
 * JCuda's native library.
 *
 * <p>Not yet run on a GPU: written against JCuda 12.0.0's API and compiled, checked by
 * {@code bench/gpu-check.sh} where a GPU exists.
 */
final class JCudaDevice implements Device {
    private final CUdevice device;
    private final CUcontext context;
    private final List<CUmodule> modules = new ArrayList<>();
    private final Map<String, CUfunction> functions = new HashMap<>();
    private int capability;
    private long totalBytes;
    private Map<String, long[]> profile;
    private final String description;
    private final int sms;
    private boolean closed;

    private static final class Buf implements Buffer {
        final CUdeviceptr ptr;
        final long count;
        final Type type;

        Buf(CUdeviceptr ptr, long count, Type type) {
            this.ptr = ptr;
            this.count = count;
            this.type = type;
        }

        @Override
        public long count() {
            return count;
        }

        @Override
        public Type type() {
            return type;
        }
    }

    /**
     * Opens device {@code ordinal} and loads the kernel images.
     *
     * @throws CudaException when the driver, the device or an image fails
     */
    JCudaDevice(int ordinal, List<byte[]> images) {
        JCudaDriver.setExceptionsEnabled(true);
        cuInit(0);
        int[] count = {0};
        cuDeviceGetCount(count);
        if (count[0] <= ordinal) {
            throw new CudaException("no CUDA device " + ordinal + " (the driver sees " + count[0] + ")");
        }
        device = new CUdevice();
        cuDeviceGet(device, ordinal);
        context = new CUcontext();
        cuDevicePrimaryCtxRetain(context, device);
        cuCtxSetCurrent(context);
        try {
            for (byte[] image : images) {
                CUmodule m = new CUmodule();
                cuModuleLoadData(m, image);
                modules.add(m);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        byte[] name = new byte[256];
        cuDeviceGetName(name, name.length, device);
        int end = 0;
        while (end < name.length && name[end] != 0) {
            end++;
        }
        int major = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        int minor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        sms = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        capability = major * 10 + minor;
        long[] total = {0};
        cuDeviceTotalMem(total, device);
        totalBytes = total[0];
        description = String.format(Locale.ROOT, "%s, sm_%d%d, %d SMs, %.1f GiB",
                new String(name, 0, end, StandardCharsets.UTF_8).trim(), major, minor, sms, total[0] / (double) (1L << 30));
    }

    private int attribute(int attribute) {
        int[] v = {0};
        cuDeviceGetAttribute(v, attribute, device);
        return v[0];
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public int multiprocessors() {
        return sms;
    }

    @Override
    public long totalBytes() {
        return totalBytes;
    }

    @Override
    public int computeCapability() {
        return capability;
    }

    @Override
    public void profiling(boolean on) {
        profile = on ? new java.util.TreeMap<>() : null;
    }

    @Override
    public Map<String, long[]> profile() {
        return profile == null ? Map.of() : profile;
    }

    private void current() {
        if (closed) {
            throw new IllegalStateException("the CUDA device is closed");
        }
        cuCtxSetCurrent(context);
    }

    @Override
    public Buffer alloc(long count, Type type) {
        current();
        CUdeviceptr p = new CUdeviceptr();
        long bytes = Math.max(1, count) * type.bytes;
        try {
            cuMemAlloc(p, bytes);
        } catch (CudaException e) {
            if (String.valueOf(e.getMessage()).contains("OUT_OF_MEMORY")) {
                throw new OutOfMemory("cuMemAlloc of " + bytes + " bytes: " + e.getMessage());
            }
            throw e;
        }
        return new Buf(p, count, type);
    }

    @Override
    public void free(Buffer b) {
        if (b != null && !closed) {
            current();
            cuMemFree(((Buf) b).ptr);
        }
    }

    private static CUdeviceptr at(Buffer b, long offset) {
        Buf buf = (Buf) b;
        return (CUdeviceptr) buf.ptr.withByteOffset(offset * buf.type.bytes);
    }

    private static void check(Buffer b, long offset, int len, Type type) {
        if (b.type() != type || offset < 0 || len < 0 || offset + len > b.count()) {
            throw new IllegalArgumentException("copy of " + len + " " + type + " at " + offset + " into a buffer of "
                    + b.count() + " " + b.type());
        }
    }

    @Override
    public void upload(Buffer dst, long dstOffset, float[] src, int srcOffset, int len) {
        check(dst, dstOffset, len, Type.F32);
        if (len > 0) {
            current();
            cuMemcpyHtoD(at(dst, dstOffset), Pointer.to(src).withByteOffset(4L * srcOffset), 4L * len);
        }
    }

    @Override
    public void upload(Buffer dst, long dstOffset, int[] src, int srcOffset, int len) {
        check(dst, dstOffset, len, Type.I32);
        if (len > 0) {
            current();
            cuMemcpyHtoD(at(dst, dstOffset), Pointer.to(src).withByteOffset(4L * srcOffset), 4L * len);
        }
    }

    @Override
    public void download(Buffer src, long srcOffset, float[] dst, int dstOffset, int len) {
        check(src, srcOffset, len, Type.F32);
        if (len > 0) {
            current();
            cuMemcpyDtoH(Pointer.to(dst).withByteOffset(4L * dstOffset), at(src, srcOffset), 4L * len);
        }
    }

    @Override
    public void download(Buffer src, long srcOffset, int[] dst, int dstOffset, int len) {
        check(src, srcOffset, len, Type.I32);
        if (len > 0) {
            current();
            cuMemcpyDtoH(Pointer.to(dst).withByteOffset(4L * dstOffset), at(src, srcOffset), 4L * len);
        }
    }

    private CUfunction function(String name) {
        CUfunction f = functions.get(name);
        if (f != null) {
            return f;
        }
        for (CUmodule m : modules) {
            CUfunction candidate = new CUfunction();
            try {
                cuModuleGetFunction(candidate, m, name);
                functions.put(name, candidate);
                return candidate;
            } catch (CudaException notInThisModule) {
                // try the next module
            }
        }
        throw new IllegalStateException("kernel " + name + " is in none of the loaded modules");
    }

    @Override
    public void launch(String kernel, int gx, int gy, int gz, int block, Object... args) {
        current();
        Pointer[] params = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            if (a == null) {
                params[i] = Pointer.to(new CUdeviceptr());
            } else if (a instanceof Ptr p) {
                params[i] = Pointer.to(at(p.buffer(), p.offset()));
            } else if (a instanceof Integer v) {
                params[i] = Pointer.to(new int[] {v});
            } else if (a instanceof Long v) {
                params[i] = Pointer.to(new long[] {v});
            } else if (a instanceof Float v) {
                params[i] = Pointer.to(new float[] {v});
            } else {
                throw new IllegalArgumentException("kernel argument " + i + " of " + kernel + ": " + a.getClass());
            }
        }
        CUfunction f = function(kernel);
        if (profile == null) {
            cuLaunchKernel(f, gx, gy, gz, block, 1, 1, 0, null, Pointer.to(params), null);
            return;
        }
        cuCtxSynchronize();
        long t0 = System.nanoTime();
        cuLaunchKernel(f, gx, gy, gz, block, 1, 1, 0, null, Pointer.to(params), null);
        cuCtxSynchronize();
        long[] e = profile.computeIfAbsent(kernel, x -> new long[2]);
        e[0]++;
        e[1] += System.nanoTime() - t0;
    }

    @Override
    public void synchronize() {
        current();
        cuCtxSynchronize();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            cuCtxSetCurrent(context);
            for (CUmodule m : modules) {
                cuModuleUnload(m);
            }
        } catch (RuntimeException ignored) {
            // closing after an error: release the context all the same
        } finally {
            closed = true;
            try {
                cuDevicePrimaryCtxRelease(device);
            } catch (RuntimeException ignored) {
                // nothing more to do
            }
        }
    }
}
