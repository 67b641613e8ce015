package dev.kullback.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemGetAddressRange;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadDataEx;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamGetCtx;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * The real side of the {@link Gpu} seam: the CUDA driver API through JCuda. Uses the device's primary
 * context (shared with any other CUDA code in the process, e.g. a training framework), made current on
 * whichever thread calls, and one stream: its own, or the caller's ({@link #open(int, CUstream)}), so that
 * kullback's kernels are ordered with the caller's own work. Every CUresult other than success becomes an
 * exception that names the call and the error.
 */
public final class JCudaGpu implements Gpu {
    private static final String PTX_FOLDER = "/dev/kullback/ptx/";
    /** The shipped PTX's {@code .version} (scripts/build-ptx.sh; PtxCompatibilityTest holds the files to it). */
    public static final String PTX_ISA = "8.0";
    /** The shipped PTX's {@code .target}. */
    public static final String PTX_TARGET = "sm_75";
    /** The oldest CUDA version whose driver JIT-compiles PTX ISA {@link #PTX_ISA}. */
    public static final String MIN_DRIVER_CUDA = "12.0";
    /** The module loaded when a device opens, to learn whether the driver takes the shipped PTX: the smallest one. */
    static final String PROBE_MODULE = "soft_cap";

    private final int ordinal;
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final CUstream stream;
    /** Whether the stream was created here (and is destroyed by close()) rather than passed in by the caller. */
    private final boolean ownsStream;
    private final String name;
    private final Map<String, CUmodule> modules = new HashMap<>();
    /** Each loaded module's entries and their PTX parameter types, to check launches against. */
    private final Map<String, Map<String, List<String>>> entryParams = new HashMap<>();
    private boolean closed;

    private JCudaGpu(int ordinal, CUstream callerStream) {
        this.ordinal = ordinal;
        this.ownsStream = callerStream == null;
        this.stream = ownsStream ? new CUstream() : callerStream;
        JCudaDriver.setExceptionsEnabled(false); // we check every CUresult ourselves, with context
        check(cuInit(0), "cuInit");
        int[] count = {0};
        check(cuDeviceGetCount(count), "cuDeviceGetCount");
        if (ordinal >= count[0]) {
            throw new IllegalStateException("no CUDA device " + ordinal + ": the driver reports " + count[0]
                    + " device(s)");
        }
        check(cuDeviceGet(device, ordinal), "cuDeviceGet");
        check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        makeCurrent();
        if (ownsStream) {
            check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_DEFAULT), "cuStreamCreate");
        } else {
            requireStreamOfPrimaryContext();
        }
        this.name = "cuda:" + ordinal + " " + deviceName() + " (sm_" + attribute(
                CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) + attribute(
                CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR) + ", driver "
                + driverVersion() + ")";
        // Whether the driver takes the shipped PTX (its ISA version and sm target) must be known before a device is
        // handed out, so that Devices.best() can fall back with the reason: one small module is loaded now, the
        // others on their first launch.
        try {
            module(PROBE_MODULE);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Opens CUDA device {@code ordinal}; throws with the reason when the driver or device is unusable. */
    public static JCudaGpu open(int ordinal) {
        return new JCudaGpu(ordinal, null);
    }

    /**
     * Opens CUDA device {@code ordinal} with every launch, memset and copy ordered on the caller's {@code stream}
     * (which must belong to the device's primary context, as the CUDA runtime's streams and those of frameworks
     * built on it do; {@code new CUstream()}, the null pointer, is the legacy default stream). The stream stays the
     * caller's: close() synchronizes it but does not destroy it.
     */
    public static JCudaGpu open(int ordinal, CUstream stream) {
        if (stream == null) {
            throw new IllegalArgumentException("stream is null (new CUstream() is the default stream)");
        }
        return new JCudaGpu(ordinal, stream);
    }

    /**
     * {@link #open(int, CUstream)} for a raw {@code cudaStream_t}/{@code CUstream} handle, e.g. a framework's current
     * stream; 0 is the legacy default stream.
     */
    public static JCudaGpu open(int ordinal, long stream) {
        return new JCudaGpu(ordinal, RawStream.of(stream));
    }

    /** The stream every launch, memset and copy is ordered on. */
    CUstream stream() {
        return stream;
    }

    @Override
    public int ordinal() {
        return ordinal;
    }

    @Override
    public long streamHandle() {
        return new StreamAddress(stream).value();
    }

    /** A CUstream's native handle, read through the runtime API's stream type (which copies it). */
    private static final class StreamAddress extends jcuda.runtime.cudaStream_t {
        StreamAddress(CUstream stream) {
            super(stream);
        }

        long value() {
            return getNativePointer();
        }
    }

    /** Whether the stream is the caller's (never destroyed here). */
    boolean usesCallerStream() {
        return !ownsStream;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public synchronized long totalMemory() {
        makeCurrent();
        long[] bytes = {0};
        check(cuDeviceTotalMem(bytes, device), "cuDeviceTotalMem");
        return bytes[0];
    }

    @Override
    public synchronized long malloc(long bytes) {
        makeCurrent();
        Address address = new Address();
        check(cuMemAlloc(address, bytes), "cuMemAlloc(" + bytes + " bytes)");
        return address.value();
    }

    @Override
    public synchronized void free(long address) {
        makeCurrent();
        check(cuMemFree(Address.of(address)), "cuMemFree");
    }

    @Override
    public synchronized void copyToDevice(float[] src, int srcOffset, long dst, int count) {
        makeCurrent();
        check(cuStreamSynchronize(stream), "cuStreamSynchronize");
        check(cuMemcpyHtoD(Address.of(dst), Pointer.to(src).withByteOffset(4L * srcOffset), 4L * count),
                "cuMemcpyHtoD(" + count + " floats)");
    }

    @Override
    public synchronized void copyToDevice(int[] src, long dst) {
        makeCurrent();
        check(cuStreamSynchronize(stream), "cuStreamSynchronize");
        check(cuMemcpyHtoD(Address.of(dst), Pointer.to(src), 4L * src.length), "cuMemcpyHtoD(" + src.length
                + " ints)");
    }

    @Override
    public synchronized void copyToHost(long src, float[] dst, int dstOffset, int count) {
        makeCurrent();
        check(cuStreamSynchronize(stream), "cuStreamSynchronize");
        check(cuMemcpyDtoH(Pointer.to(dst).withByteOffset(4L * dstOffset), Address.of(src), 4L * count),
                "cuMemcpyDtoH(" + count + " floats)");
    }

    @Override
    public synchronized void copyToDevice(short[] src, long dst) {
        makeCurrent();
        check(cuStreamSynchronize(stream), "cuStreamSynchronize");
        check(cuMemcpyHtoD(Address.of(dst), Pointer.to(src), 2L * src.length), "cuMemcpyHtoD(" + src.length
                + " halves)");
    }

    @Override
    public synchronized void copyToHost(long src, short[] dst) {
        makeCurrent();
        check(cuStreamSynchronize(stream), "cuStreamSynchronize");
        check(cuMemcpyDtoH(Pointer.to(dst), Address.of(src), 2L * dst.length), "cuMemcpyDtoH(" + dst.length
                + " halves)");
    }

    @Override
    public synchronized void memsetZero(long dst, long bytes) {
        makeCurrent();
        check(cuMemsetD8Async(Address.of(dst), (byte) 0, bytes, stream), "cuMemsetD8Async(" + bytes + " bytes)");
    }

    /**
     * Checks that the module ships and returns the kernel unresolved: its module is loaded (and the driver compiles
     * its PTX) on the first launch of any of its kernels, so opening a device compiles only the small probe module
     * and a program pays only for the modules it uses.
     */
    @Override
    public synchronized Function function(String module, String kernel) {
        if (JCudaGpu.class.getResource(PTX_FOLDER + module + ".ptx") == null) {
            throw new IllegalStateException("PTX resource " + PTX_FOLDER + module + ".ptx is missing from the classpath");
        }
        return new Kernel(module, kernel);
    }

    /** The module {@code name}, loaded (the driver JIT-compiling its PTX) and its entries' parameters read once. */
    private CUmodule module(String name) {
        CUmodule loaded = modules.get(name);
        if (loaded == null) {
            loaded = new CUmodule();
            byte[] ptx = readPtx(name);
            check(cuModuleLoadDataEx(loaded, Pointer.to(ptx), 0, new int[0], Pointer.to(new int[0])),
                    "cuModuleLoadDataEx(" + name + ".ptx)");
            modules.put(name, loaded);
            entryParams.put(name, PtxParams.of(new String(ptx, StandardCharsets.US_ASCII)));
        }
        return loaded;
    }

    /** The kernel's CUfunction, loading its module on first use. Caller holds this object's lock. */
    private CUfunction resolve(Kernel kernel) {
        if (kernel.function == null) {
            CUmodule loaded = module(kernel.module);
            CUfunction function = new CUfunction();
            check(cuModuleGetFunction(function, loaded, kernel.kernel), "cuModuleGetFunction(" + kernel.name + ")");
            kernel.params = entryParams.get(kernel.module).get(kernel.kernel);
            kernel.function = function;
        }
        return kernel.function;
    }

    @Override
    public synchronized void launch(Function function, int gridX, int blockX, int sharedBytes, Object... args) {
        makeCurrent();
        Kernel kernel = (Kernel) function;
        CUfunction resolved = resolve(kernel);
        PtxParams.check(kernel.name, kernel.params, args);
        Pointer[] params = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            params[i] = marshal(args[i], kernel, i);
        }
        check(cuLaunchKernel(resolved, gridX, 1, 1, blockX, 1, 1, sharedBytes, stream, Pointer.to(params),
                null), "cuLaunchKernel(" + kernel.name + ", grid " + gridX + ", block " + blockX + ")");
    }

    /** cuBLAS on this GPU's stream, made on the first product (see {@link Cublas}). */
    private Cublas cublas;

    @Override
    public synchronized void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, int lda,
                                   long b, int ldb, float beta, long c, int ldc) {
        makeCurrent();
        if (cublas == null) {
            cublas = Cublas.open(stream);
        }
        cublas.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    @Override
    public synchronized void synchronize() {
        makeCurrent();
        check(cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    /**
     * Milliseconds of GPU time taken by the work that {@code work} queues on this GPU's stream: a CUDA event is
     * recorded on the stream before and after it, and {@code cuEventElapsedTime} read once the second has completed.
     * For benchmarks (not part of the {@link Gpu} seam); {@code work} must not synchronize the stream with the host.
     */
    public synchronized float time(Runnable work) {
        makeCurrent();
        CUevent start = new CUevent();
        CUevent stop = new CUevent();
        check(cuEventCreate(start, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
        try {
            check(cuEventCreate(stop, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
            try {
                check(cuEventRecord(start, stream), "cuEventRecord");
                work.run();
                makeCurrent();
                check(cuEventRecord(stop, stream), "cuEventRecord");
                check(cuEventSynchronize(stop), "cuEventSynchronize");
                float[] ms = {0};
                check(cuEventElapsedTime(ms, start, stop), "cuEventElapsedTime");
                return ms[0];
            } finally {
                cuEventDestroy(stop);
            }
        } finally {
            cuEventDestroy(start);
        }
    }

    /**
     * The device memory's theoretical peak in bytes per second, {@code 2 (double data rate) · memory clock · bus
     * width / 8}, from CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE (kHz) and CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH
     * (bits); 0 when the driver reports neither.
     */
    public synchronized double peakMemoryBandwidth() {
        makeCurrent();
        double clockHz = 1e3 * attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE);
        double busBytes = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH) / 8.0;
        return 2 * clockHz * busBytes;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        makeCurrent(); // before closed is set: makeCurrent refuses a closed device
        closed = true;
        cuStreamSynchronize(stream);
        if (cublas != null) {
            cublas.close();
        }
        modules.values().forEach(m -> cuModuleUnload(m));
        modules.clear();
        if (ownsStream) {
            cuStreamDestroy(stream);
        }
        cuDevicePrimaryCtxRelease(device);
    }

    /**
     * Throws unless [address, address + bytes) lies inside one allocation of this context (cuMemGetAddressRange),
     * so a wrapped pointer with a wrong shape fails here rather than as an illegal address in a kernel.
     */
    @Override
    public synchronized void requireAllocated(long address, long bytes) {
        makeCurrent();
        CUdeviceptr base = new CUdeviceptr();
        long[] size = {0};
        int result = cuMemGetAddressRange(base, size, Address.of(address));
        if (result != CUresult.CUDA_SUCCESS) {
            throw new IllegalArgumentException("0x" + Long.toHexString(address) + " is not device memory of " + name
                    + " (cuMemGetAddressRange: " + CUresult.stringFor(result) + ")");
        }
        long start = addressOf(base);
        if (address - start > size[0] - bytes) {
            throw new IllegalArgumentException(bytes + " bytes at 0x" + Long.toHexString(address) + " overrun the "
                    + "allocation of " + size[0] + " bytes at 0x" + Long.toHexString(start));
        }
    }

    /** The raw device address of a JCuda device pointer (its native pointer plus its byte offset). */
    static long addressOf(CUdeviceptr pointer) {
        return new Address(pointer).value();
    }

    private void requireStreamOfPrimaryContext() {
        if (stream.equals(new CUstream())) {
            return; // the legacy default stream: that of whichever context is current, ours
        }
        CUcontext owner = new CUcontext();
        check(cuStreamGetCtx(stream, owner), "cuStreamGetCtx");
        if (!owner.equals(context)) {
            throw new IllegalArgumentException("the stream belongs to another CUDA context than the primary context "
                    + "of cuda:" + ordinal + " (kullback runs in the primary context, as the CUDA runtime does)");
        }
    }

    private void makeCurrent() {
        if (closed) {
            throw new IllegalStateException(name + " is closed");
        }
        check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    private static Pointer marshal(Object arg, Kernel kernel, int index) {
        if (arg instanceof Long) {
            return Pointer.to(new long[] {(Long) arg});
        }
        if (arg instanceof Integer) {
            return Pointer.to(new int[] {(Integer) arg});
        }
        if (arg instanceof Float) {
            return Pointer.to(new float[] {(Float) arg});
        }
        throw new IllegalArgumentException("argument " + index + " of " + kernel.name + " has unsupported type "
                + (arg == null ? "null" : arg.getClass().getName()));
    }

    private String deviceName() {
        byte[] buffer = new byte[256];
        check(cuDeviceGetName(buffer, buffer.length, device), "cuDeviceGetName");
        int length = 0;
        while (length < buffer.length && buffer[length] != 0) {
            length++;
        }
        return new String(buffer, 0, length, StandardCharsets.US_ASCII);
    }

    private int attribute(int attribute) {
        int[] value = {0};
        check(cuDeviceGetAttribute(value, attribute, device), "cuDeviceGetAttribute(" + attribute + ")");
        return value[0];
    }

    private static String driverVersion() {
        int version = driverVersionNumber();
        return version / 1000 + "." + version % 1000 / 10;
    }

    /** cuDriverGetVersion: the CUDA version the installed driver supports, e.g. 12040 for 12.4. */
    public static int driverVersionNumber() {
        JCudaDriver.setExceptionsEnabled(false);
        int[] version = {0};
        check(cuDriverGetVersion(version), "cuDriverGetVersion");
        return version[0];
    }

    /** The shipped PTX of {@code kernels/<module>.cu}, NUL-terminated as cuModuleLoadDataEx expects. */
    static byte[] readPtx(String module) {
        String resource = PTX_FOLDER + module + ".ptx";
        try (InputStream in = JCudaGpu.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("PTX resource " + resource + " is missing from the classpath");
            }
            byte[] text = in.readAllBytes();
            byte[] terminated = new byte[text.length + 1];
            System.arraycopy(text, 0, terminated, 0, text.length);
            return terminated;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + resource, e);
        }
    }

    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call, CUresult.stringFor(result));
        }
    }

    private static final class Kernel implements Function {
        final String module;
        final String kernel;
        final String name;
        /** Set on the first launch (guarded by the JCudaGpu's lock): the function and its PTX parameter types. */
        CUfunction function;
        List<String> params;

        Kernel(String module, String kernel) {
            this.module = module;
            this.kernel = kernel;
            this.name = module + "." + kernel;
        }
    }

    /** A CUdeviceptr that can be read as, and made from, a raw device address. */
    private static final class Address extends CUdeviceptr {
        Address() {
        }

        Address(CUdeviceptr pointer) {
            super(pointer);
        }

        long value() {
            return getNativePointer() + getByteOffset();
        }

        static CUdeviceptr of(long address) {
            return new CUdeviceptr().withByteOffset(address);
        }
    }
}
