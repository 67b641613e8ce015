package dev.kullback.cuda;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;

import java.lang.ref.Reference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@link Gpu} seam implemented by the host SIMT simulator (test infrastructure): the kernels of
 * {@code kernels/*.cu} compiled by g++ against a header of CUDA's built-ins and run on the CPU, each
 * CUDA thread a fiber, with guard pages around every device allocation. Built by
 * {@code scripts/build-sim.sh} into {@code target/sim} (during {@code mvn test}); see
 * {@code src/test/native/sim/README.md} for what it checks and what it does not model.
 *
 * <p>Stricter than a real driver where that costs nothing: launch arguments are checked against the
 * kernel's parameter types (a real launch reads whatever bytes it is given), copies must lie inside one
 * live allocation, fresh device memory and shared memory are filled with NaN bytes. Like CUDA, an error
 * raised by a kernel (out-of-bounds access, assert, trap, ...) leaves this device unusable: later
 * copies and launches throw; {@link #free} and {@link #close} still work.
 *
 * <p>Work is synchronous: a launch returns when the kernel is done, so {@link #synchronize()} has nothing
 * to wait for. All instances share one simulated device and one stream.
 */
public final class SimGpu implements Gpu {
    /** The simulator's C API (src/test/native/sim/sim_runtime.cpp). */
    interface Lib extends Library {
        int sim_init();

        int sim_abi_version();

        String sim_last_error();

        int sim_worker_count();

        void sim_set_reverse_schedule(int reverse);

        void sim_set_memory_limit(long bytes);

        void sim_set_launch_timeout_ms(long ms);

        long sim_live_bytes();

        int sim_live_allocations();

        int sim_malloc(long bytes, LongByReference out);

        int sim_free(long ptr);

        int sim_check_range(long ptr, long bytes);

        int sim_memset(long dst, int value, long bytes);

        int sim_memcpy_dtod(long dst, long src, long bytes);

        int sim_load_module(String name, LongByReference out);

        int sim_find_kernel(long module, String name, LongByReference out);

        int sim_kernel_arity(long kernel);

        String sim_kernel_signature(long kernel);

        String sim_kernel_params(long kernel);

        int sim_kernel_max_threads(long kernel);

        int sim_module_kernel_count(long module);

        String sim_module_kernel_name(long module, int index);

        int sim_launch(long kernel, int gx, int gy, int gz, int bx, int by, int bz, int shared, Pointer params,
                       int nparams);
    }

    private static final String LIBRARY = "libkullbacksim.so";
    private static final Object STREAM = new Object();  // one simulated stream for all instances
    private static volatile Object loaded;               // Lib, or the String reason it is unavailable
    private static final Map<String, Long> MODULES = new ConcurrentHashMap<>();
    /** "module.kernel" of every launch that ran to completion in this JVM: which kernels the tests reached. */
    private static final Set<String> LAUNCHED = ConcurrentHashMap.newKeySet();

    private final Lib lib;
    private final Map<Long, Long> allocations = new ConcurrentHashMap<>();  // address -> bytes
    private final Map<String, Kernel> functions = new ConcurrentHashMap<>();
    private volatile SimCudaException sticky;
    private volatile boolean closed;

    private SimGpu(Lib lib) {
        this.lib = lib;
    }

    /** A new simulator device, or empty when the native library is not built ({@link #unavailableReason()}). */
    public static Optional<SimGpu> open() {
        Object l = library();
        return l instanceof Lib ? Optional.of(new SimGpu((Lib) l)) : Optional.empty();
    }

    /** Why {@link #open()} is empty, or null when the simulator is available. */
    public static String unavailableReason() {
        Object l = library();
        return l instanceof Lib ? null : (String) l;
    }

    /** The folder holding libkullbacksim.so and modules/: {@code -Dkullback.sim.dir}, else target/sim. */
    public static Path directory() {
        return Path.of(System.getProperty("kullback.sim.dir", "target/sim")).toAbsolutePath();
    }

    private static Object library() {
        Object l = loaded;
        if (l == null) {
            synchronized (SimGpu.class) {
                l = loaded;
                if (l == null) {
                    l = load();
                    loaded = l;
                }
            }
        }
        return l;
    }

    private static Object load() {
        Path path = directory().resolve(LIBRARY);
        if (!Files.isRegularFile(path)) {
            return path + " is not built (run scripts/build-sim.sh, which needs g++; `mvn test` runs it)";
        }
        try {
            Lib lib = Native.load(path.toString(), Lib.class);
            lib.sim_init();
            return lib;
        } catch (Throwable t) {
            return "cannot load " + path + ": " + t;
        }
    }

    // ---- Gpu ------------------------------------------------------------------------------------

    @Override
    public String name() {
        return "sim:0 kullback host SIMT simulator (" + lib.sim_worker_count() + " worker threads)";
    }

    @Override
    public long malloc(long bytes) {
        requireUsable();
        LongByReference out = new LongByReference();
        int code = lib.sim_malloc(bytes, out);
        if (code != 0) {
            throw error(code, null);
        }
        allocations.put(out.getValue(), bytes);
        return out.getValue();
    }

    @Override
    public void free(long address) {
        requireOpen();
        if (allocations.remove(address) == null) {
            throw new SimCudaException(1, null, "CUDA_ERROR_INVALID_VALUE: cuMemFree(0x" + Long.toHexString(address)
                    + "): not a live allocation of this device (double free?)");
        }
        int code = lib.sim_free(address);
        if (code != 0) {
            throw error(code, null);
        }
    }

    @Override
    public void requireAllocated(long address, long bytes) {
        requireUsable();
        if (lib.sim_check_range(address, bytes) != 0) {
            throw new IllegalArgumentException(bytes + " bytes at 0x" + Long.toHexString(address)
                    + " are not inside one live allocation: " + lib.sim_last_error());
        }
    }

    @Override
    public void copyToDevice(float[] src, int srcOffset, long dst, int count) {
        Objects.checkFromIndexSize(srcOffset, count, src.length);
        synchronized (STREAM) {
            checkRange(dst, 4L * count);
            if (count > 0) {
                new Pointer(dst).write(0, src, srcOffset, count);
            }
        }
    }

    @Override
    public void copyToHost(long src, float[] dst, int dstOffset, int count) {
        Objects.checkFromIndexSize(dstOffset, count, dst.length);
        synchronized (STREAM) {
            checkRange(src, 4L * count);
            if (count > 0) {
                new Pointer(src).read(0, dst, dstOffset, count);
            }
        }
    }

    @Override
    public void copyToDevice(short[] src, long dst) {
        synchronized (STREAM) {
            checkRange(dst, 2L * src.length);
            if (src.length > 0) {
                new Pointer(dst).write(0, src, 0, src.length);
            }
        }
    }

    @Override
    public void copyToHost(long src, short[] dst) {
        synchronized (STREAM) {
            checkRange(src, 2L * dst.length);
            if (dst.length > 0) {
                new Pointer(src).read(0, dst, 0, dst.length);
            }
        }
    }

    @Override
    public void memsetZero(long dst, long bytes) {
        synchronized (STREAM) {
            requireUsable();
            int code = lib.sim_memset(dst, 0, bytes);
            if (code != 0) {
                throw error(code, null);
            }
        }
    }

    @Override
    public Function function(String module, String kernel) {
        requireUsable();
        return functions.computeIfAbsent(module + "/" + kernel, k -> {
            long m = module(module);
            LongByReference out = new LongByReference();
            int code = lib.sim_find_kernel(m, kernel, out);
            if (code != 0) {
                throw error(code, kernel);
            }
            long h = out.getValue();
            return new Kernel(module, kernel, h, lib.sim_kernel_signature(h), lib.sim_kernel_params(h),
                    lib.sim_kernel_max_threads(h));
        });
    }

    @Override
    public void launch(Function function, int gridX, int blockX, int sharedBytes, Object... args) {
        launch3d(function, gridX, 1, 1, blockX, 1, 1, sharedBytes, args);
    }

    /** A 3-D launch (the seam's launches are 1-D; this is for the simulator's own tests). */
    public void launch3d(Function function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                       int sharedBytes, Object... args) {
        if (!(function instanceof Kernel)) {
            throw new IllegalArgumentException("not a function of this simulator: " + function);
        }
        Kernel k = (Kernel) function;
        Objects.requireNonNull(args, "args");
        if (args.length != k.signature.length()) {
            throw new IllegalArgumentException(k + " takes " + k.signature.length() + " arguments, the launch passes "
                    + args.length);
        }
        // cuLaunchKernel's kernelParams: an array of pointers, each to one argument's bytes.
        Memory values = new Memory(8L * Math.max(1, args.length));
        Memory pointers = new Memory(8L * Math.max(1, args.length));
        for (int i = 0; i < args.length; i++) {
            long off = 8L * i;
            Object a = args[i];
            char code = k.signature.charAt(i);
            Class<?> want = code == 'p' || code == 'l' ? Long.class : code == 'i' ? Integer.class
                    : code == 'f' ? Float.class : code == 'd' ? Double.class : null;
            if (want == null) {
                throw new IllegalArgumentException(k + ": parameter " + (i + 1) + " (" + k.param(i)
                        + ") has a type the Gpu seam cannot pass");
            }
            if (a == null || a.getClass() != want) {
                throw new IllegalArgumentException(k + ": argument " + (i + 1) + " for `" + k.param(i) + "` must be a "
                        + want.getSimpleName() + ", got " + (a == null ? "null" : a.getClass().getSimpleName() + " " + a));
            }
            if (a instanceof Long) {
                values.setLong(off, (Long) a);
            } else if (a instanceof Integer) {
                values.setInt(off, (Integer) a);
            } else if (a instanceof Float) {
                values.setFloat(off, (Float) a);
            } else {
                values.setDouble(off, (Double) a);
            }
            pointers.setPointer(off, values.share(off));
        }
        try {
            synchronized (STREAM) {
                requireUsable();
                int code = lib.sim_launch(k.handle, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes,
                        pointers, args.length);
                if (code != 0) {
                    SimCudaException e = error(code, k.kernel);
                    if (isSticky(code)) {
                        sticky = e;
                    }
                    throw e;
                }
                LAUNCHED.add(k.module + "." + k.kernel);
            }
        } finally {
            // pointers holds only the raw addresses of values' bytes: without this fence the collector may free
            // values (JNA frees a Memory's native block when it is collected) while the kernel still reads its
            // arguments from it, and a kernel then sees a garbage pointer (seen under 16 threads in ConcurrencyTest)
            Reference.reachabilityFence(values);
            Reference.reachabilityFence(pointers);
        }
    }

    /** "module.kernel" of every kernel launched successfully so far in this JVM, by any SimGpu. */
    public static Set<String> launchedKernels() {
        return Set.copyOf(LAUNCHED);
    }

    /** cublasSgemm on the host ({@link HostSgemm}), every operand's span checked to lie in one live allocation. */
    @Override
    public void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, int lda, long b,
                      int ldb, float beta, long c, int ldc) {
        HostSgemm.check(transA, transB, m, n, k, lda, ldb, ldc);
        synchronized (STREAM) {
            float[] x = read(a, HostSgemm.extent(transA ? k : m, transA ? m : k, lda));
            float[] y = read(b, HostSgemm.extent(transB ? n : k, transB ? k : n, ldb));
            float[] z = read(c, HostSgemm.extent(m, n, ldc));
            HostSgemm.sgemm(transA, transB, m, n, k, alpha, x, lda, y, ldb, beta, z, ldc);
            if (z.length > 0) {
                new Pointer(c).write(0, z, 0, z.length);
            }
        }
    }

    private float[] read(long address, long values) {
        float[] host = new float[Math.toIntExact(values)];
        if (values > 0) {
            checkRange(address, 4 * values);
            new Pointer(address).read(0, host, 0, host.length);
        }
        return host;
    }

    @Override
    public void synchronize() {
        requireUsable();
    }

    /** Frees what this device still holds. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Long address : new ArrayList<>(allocations.keySet())) {
            allocations.remove(address);
            lib.sim_free(address);
        }
    }

    // ---- extras for tests --------------------------------------------------------------------------

    /** Bytes this device has allocated and not freed. */
    public long liveBytes() {
        return allocations.values().stream().mapToLong(Long::longValue).sum();
    }

    public int liveAllocations() {
        return allocations.size();
    }

    public void copyToDevice(int[] src, long dst) {
        synchronized (STREAM) {
            checkRange(dst, 4L * src.length);
            new Pointer(dst).write(0, src, 0, src.length);
        }
    }

    public void copyToHost(long src, int[] dst) {
        synchronized (STREAM) {
            checkRange(src, 4L * dst.length);
            new Pointer(src).read(0, dst, 0, dst.length);
        }
    }

    public void copyToDevice(long[] src, long dst) {
        synchronized (STREAM) {
            checkRange(dst, 8L * src.length);
            new Pointer(dst).write(0, src, 0, src.length);
        }
    }

    public void copyToHost(long src, long[] dst) {
        synchronized (STREAM) {
            checkRange(src, 8L * dst.length);
            new Pointer(src).read(0, dst, 0, dst.length);
        }
    }

    public void copyToDevice(double[] src, long dst) {
        synchronized (STREAM) {
            checkRange(dst, 8L * src.length);
            new Pointer(dst).write(0, src, 0, src.length);
        }
    }

    public void copyToHost(long src, double[] dst) {
        synchronized (STREAM) {
            checkRange(src, 8L * dst.length);
            new Pointer(src).read(0, dst, 0, dst.length);
        }
    }

    /** Worker threads that run blocks in parallel ({@code KULLBACK_SIM_WORKERS}, default: the cores). */
    public int workers() {
        return lib.sim_worker_count();
    }

    /**
     * Runs a block's threads last-to-first instead of first-to-last (process-wide), to expose races that
     * one order hides. Also set by {@code KULLBACK_SIM_SCHEDULE=reverse}.
     */
    public void reverseSchedule(boolean reverse) {
        lib.sim_set_reverse_schedule(reverse ? 1 : 0);
    }

    /** Caps the simulated device memory (process-wide; 0: no cap): beyond it malloc fails with OUT_OF_MEMORY. */
    /** The host's physical memory: the simulator's device memory is the host's. */
    @Override
    public long totalMemory() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getTotalMemorySize();
    }

    /** Bytes allocated by every simulated device of this process (what {@link #memoryLimit} counts). */
    public long processLiveBytes() {
        return lib.sim_live_bytes();
    }

    public void memoryLimit(long bytes) {
        lib.sim_set_memory_limit(bytes);
    }

    /**
     * The watchdog (process-wide; 0: the default, 120 s): a launch running longer is stopped and fails
     * with CUDA_ERROR_LAUNCH_TIMEOUT, so an endless loop in a kernel fails its test instead of hanging it.
     */
    public void launchTimeoutMillis(long millis) {
        lib.sim_set_launch_timeout_ms(millis);
    }

    /** The kernels of a module, by name. */
    public List<String> kernels(String module) {
        long m = module(module);
        List<String> names = new ArrayList<>();
        for (int i = 0; i < lib.sim_module_kernel_count(m); i++) {
            names.add(lib.sim_module_kernel_name(m, i));
        }
        return names;
    }

    /** The error that made this device unusable, or null. */
    public SimCudaException stickyError() {
        return sticky;
    }

    // ---- internals --------------------------------------------------------------------------------

    private long module(String name) {
        Long m = MODULES.get(name);
        if (m != null) {
            return m;
        }
        synchronized (MODULES) {
            m = MODULES.get(name);
            if (m == null) {
                LongByReference out = new LongByReference();
                int code = lib.sim_load_module(name, out);
                if (code != 0) {
                    throw error(code, null);
                }
                m = out.getValue();
                MODULES.put(name, m);
            }
            return m;
        }
    }

    private void checkRange(long address, long bytes) {
        requireUsable();
        int code = lib.sim_check_range(address, bytes);
        if (code != 0) {
            throw error(code, null);
        }
    }

    private SimCudaException error(int code, String kernel) {
        return new SimCudaException(code, kernel, lib.sim_last_error());
    }

    private static boolean isSticky(int code) {
        return code >= 700 && code < 800;
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("this SimGpu is closed");
        }
    }

    private void requireUsable() {
        requireOpen();
        SimCudaException s = sticky;
        if (s != null) {
            throw new SimCudaException(s.code(), s.kernel(), s.errorName()
                    + ": the device is unusable after an earlier error (as a CUDA context is): " + s.getMessage());
        }
    }

    /** A kernel resolved from a simulator module. */
    static final class Kernel implements Function {
        final String module;
        final String kernel;
        final long handle;
        final String signature;
        final String params;
        final int maxThreads;
        private final String[] paramList;

        Kernel(String module, String kernel, long handle, String signature, String params, int maxThreads) {
            this.module = module;
            this.kernel = kernel;
            this.handle = handle;
            this.signature = signature;
            this.params = params;
            this.maxThreads = maxThreads;
            this.paramList = params.split(",");
        }

        String param(int i) {
            return i < paramList.length && paramList.length == signature.length() ? paramList[i].trim() : "#" + (i + 1);
        }

        @Override
        public String toString() {
            return "kernel " + kernel + "(" + params + ") of " + module + ".cu";
        }
    }
}
