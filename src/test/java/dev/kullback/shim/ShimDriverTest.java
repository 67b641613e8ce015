package dev.kullback.shim;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadDataEx;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamGetCtx;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.Device;
import dev.kullback.Devices;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import dev.kullback.cuda.CudaDevice;
import dev.kullback.cuda.CudaException;
import dev.kullback.cuda.Gpu;
import dev.kullback.cuda.JCudaGpu;
import com.sun.jna.ptr.PointerByReference;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The driver shim itself, through real JCuda (runs in the driver-shim Surefire execution): the production probe picks
 * it, its loader refuses PTX the configured driver or device could not run, its launch checks catch marshalling
 * slips, and the planted bugs of the issue (a missing synchronization, a launch on a destroyed stream, a wrapped range
 * past its allocation, a pointer argument that is an int) each fail loudly. Kernel faults are not planted here: as on
 * a GPU they would poison the primary context, which this JVM's other tests share.
 */
class ShimDriverTest {
    private static final float[] ROW = {1f, 2f, 3f, 4f};
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();

    @BeforeEach
    void retainThePrimaryContext() {
        DriverShim.assumeActive();
        JCudaDriver.setExceptionsEnabled(false);
        ok(cuInit(0), "cuInit");
        ok(cuDeviceGet(device, 0), "cuDeviceGet");
        ok(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        ok(cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    @AfterEach
    void releaseIt() {
        if (DriverShim.active()) {
            ok(cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
        }
    }

    @Test
    void devicesBestIsTheJCudaDeviceOnTheShim() {
        Device best = Devices.best();
        assertTrue(best.isGpu(), Devices.reason());
        assertTrue(best.name().contains("driver shim") && best.name().contains("sm_90") && best.name().contains(
                "driver 12.6"), best.name());
        try (Tensor x = best.upload(ROW, 1, 4); Tensor y = best.logSoftmax(x);
             Tensor c = Devices.cpu().upload(ROW, 1, 4); Tensor expected = Devices.cpu().logSoftmax(c)) {
            assertArrayEquals(expected.toArray(), y.toArray(), 1e-6f);
        }
    }

    /** Planted: the result read without cuStreamSynchronize after a launch on a non-blocking stream is stale. */
    @Test
    void aMissingStreamSynchronizeReadsAStaleResult() {
        DriverShim.api().kullback_shim_set_lazy(1);
        CUstream stream = new CUstream();
        ok(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        CUmodule module = load("log_softmax");
        CUdeviceptr x = alloc(16);
        CUdeviceptr y = alloc(16);
        try {
            ok(cuMemcpyHtoD(x, Pointer.to(ROW), 16), "cuMemcpyHtoD");
            ok(cuMemcpyHtoD(y, Pointer.to(new float[4]), 16), "cuMemcpyHtoD");
            ok(cuLaunchKernel(function(module, "softmax_rows_block"), 1, 1, 1, 32, 1, 1, 0, stream, Pointer.to(
                    Pointer.to(x), Pointer.to(new long[] {4}), Pointer.to(y), Pointer.to(new long[] {4}),
                    Pointer.to(new int[] {1}), Pointer.to(new int[] {4}), Pointer.to(new int[] {1})), null),
                    "cuLaunchKernel");
            float[] unsynchronized = new float[4];
            ok(cuMemcpyDtoH(Pointer.to(unsynchronized), y, 16), "cuMemcpyDtoH");
            assertArrayEquals(new float[4], unsynchronized, "the copy on the legacy stream does not wait for a "
                    + "non-blocking stream: without cuStreamSynchronize the kernel's output is not there yet");
            ok(cuStreamSynchronize(stream), "cuStreamSynchronize");
            float[] synchronized_ = new float[4];
            ok(cuMemcpyDtoH(Pointer.to(synchronized_), y, 16), "cuMemcpyDtoH");
            assertEquals(-0.44019f, synchronized_[3], 1e-5f, "log-softmax of 4 in [1, 2, 3, 4]");
        } finally {
            cuMemFree(x);
            cuMemFree(y);
            cuModuleUnload(module);
            cuStreamDestroy(stream);
        }
    }

    /** An async copy reads its host memory when it runs, not when it is queued: as a GPU's DMA does. */
    @Test
    void anAsyncCopyReadsTheHostMemoryWhenItRuns() {
        CUstream stream = new CUstream();
        ok(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        CUdeviceptr x = alloc(16);
        FloatBuffer host = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder()).asFloatBuffer();
        try {
            host.put(0, new float[] {1, 1, 1, 1});
            ok(cuMemcpyHtoDAsync(x, Pointer.to(host), 16, stream), "cuMemcpyHtoDAsync");
            host.put(0, new float[] {2, 2, 2, 2}); // a bug on a GPU: the buffer is still the copy's
            ok(cuStreamSynchronize(stream), "cuStreamSynchronize");
            float[] back = new float[4];
            ok(cuMemcpyDtoH(Pointer.to(back), x, 16), "cuMemcpyDtoH");
            assertArrayEquals(new float[] {2, 2, 2, 2}, back);
        } finally {
            cuMemFree(x);
            cuStreamDestroy(stream);
        }
    }

    /** Planted: a launch on a destroyed stream, and a device opened on one, fail with CUDA_ERROR_INVALID_HANDLE. */
    @Test
    void aLaunchOnADestroyedStreamFails() {
        Handle stream = new Handle();
        ok(cuStreamCreate(stream, CUstream_flags.CU_STREAM_DEFAULT), "cuStreamCreate");
        ok(cuStreamDestroy(stream), "cuStreamDestroy");
        CUmodule module = load("reduce");
        CUdeviceptr x = alloc(16);
        try {
            int result = cuLaunchKernel(function(module, "sum_finalize"), 1, 1, 1, 32, 1, 1, 0, stream, Pointer.to(
                    Pointer.to(x), Pointer.to(new int[] {4}), Pointer.to(x), Pointer.to(new float[] {1f})), null);
            assertEquals("CUDA_ERROR_INVALID_HANDLE", CUresult.stringFor(result), lastError());
            assertTrue(lastError().contains("stream that was destroyed"), lastError());
            CudaException open = assertThrows(CudaException.class, () -> CudaDevice.open(0, stream));
            assertEquals("CUDA_ERROR_INVALID_HANDLE", open.error(), open.getMessage());
            CudaException raw = assertThrows(CudaException.class, () -> CudaDevice.open(0, stream.value()));
            assertEquals("CUDA_ERROR_INVALID_HANDLE", raw.error(), raw.getMessage());
        } finally {
            cuMemFree(x);
            cuModuleUnload(module);
        }
    }

    /** Planted: a wrapped range past the end of its allocation (or not in one) is refused before any kernel runs. */
    @Test
    void aWrappedRangePastItsAllocationIsRefused() {
        CUdeviceptr memory = alloc(32);
        try (CudaDevice d = CudaDevice.open(0)) {
            String overrun = assertThrows(IllegalArgumentException.class, () -> d.wrap(memory, 3, 4)).getMessage();
            assertTrue(overrun.contains("48 bytes") && overrun.contains("allocation of 32 bytes"), overrun);
            long inside = JCudaGpuAddress.of(memory) + 16;
            String tail = assertThrows(IllegalArgumentException.class, () -> d.wrap(inside, 2, 4)).getMessage();
            assertTrue(tail.contains("overrun"), tail);
            String foreign = assertThrows(IllegalArgumentException.class, () -> d.wrap(0x1000L, 1, 4)).getMessage();
            assertTrue(foreign.contains("not device memory") && foreign.contains("CUDA_ERROR_NOT_FOUND"), foreign);
            ok(cuMemcpyHtoD(memory, Pointer.to(new float[] {0, 0, 0, 0, 1, 1, 1, 1}), 32), "cuMemcpyHtoD");
            try (Tensor whole = d.wrap(memory, 2, 4); Loss h = d.entropy(whole, Reduction.NONE)) {
                assertArrayEquals(new float[] {(float) Math.log(4), (float) Math.log(4)}, h.value().toArray(), 1e-6f);
            }
        } finally {
            cuMemFree(memory);
        }
    }

    /** Planted: an int where the kernel wants a pointer reaches cuLaunchKernel, which refuses it, naming it. */
    @Test
    void anIntWhereTheKernelWantsAPointerFailsInTheDriver() {
        CUmodule module = load("log_softmax");
        CUdeviceptr y = alloc(16);
        try {
            int result = cuLaunchKernel(function(module, "softmax_rows_block"), 1, 1, 1, 32, 1, 1, 0, null, Pointer.to(
                    Pointer.to(new int[] {4096}), Pointer.to(new long[] {4}), Pointer.to(y), Pointer.to(new long[] {4}),
                    Pointer.to(new int[] {1}), Pointer.to(new int[] {4}), Pointer.to(new int[] {1})), null);
            assertEquals("CUDA_ERROR_INVALID_VALUE", CUresult.stringFor(result), lastError());
            assertTrue(lastError().contains("kernelParams[0]") && lastError().contains("const float*")
                    && lastError().contains("marshalling slip"), lastError());
        } finally {
            cuMemFree(y);
            cuModuleUnload(module);
        }
    }

    /**
     * The same slips through the production launcher are caught before the driver, against the PTX's parameters:
     * an Integer for a pointer, a Long for an int (which no driver could tell), a missing argument.
     */
    @Test
    void theProductionLauncherChecksArgumentsAgainstThePtx() {
        try (JCudaGpu gpu = JCudaGpu.open(0)) {
            Gpu.Function softmax = gpu.function("log_softmax", "softmax_rows_block");
            long y = gpu.malloc(16);
            try {
                String pointer = assertThrows(IllegalArgumentException.class,
                        () -> gpu.launch(softmax, 1, 32, 0, 4096, 4L, y, 4L, 1, 4, 1)).getMessage();
                assertTrue(pointer.contains("argument 0 of log_softmax.softmax_rows_block is Integer 4096; the PTX "
                        + "parameter is .u64, which takes Long"), pointer);
                String longForInt = assertThrows(IllegalArgumentException.class,
                        () -> gpu.launch(softmax, 1, 32, 0, y, 4L, y, 4L, 1L, 4, 1)).getMessage();
                assertTrue(longForInt.contains("argument 4") && longForInt.contains(".u32, which takes Integer"), longForInt);
                String missing = assertThrows(IllegalArgumentException.class,
                        () -> gpu.launch(softmax, 1, 32, 0, y, 4L, y, 4L, 1, 4)).getMessage();
                assertTrue(missing.contains("takes 7 arguments") && missing.contains("passes 6"), missing);
                assertEquals(0, DriverShim.api().kullback_shim_pending(), "nothing was queued");
            } finally {
                gpu.free(y);
            }
        }
    }

    /** The benchmark helpers' driver calls: events around queued work, and the memory attributes. */
    @Test
    void eventsTimeQueuedWorkAndTheBandwidthAttributesAreRead() {
        try (JCudaGpu gpu = JCudaGpu.open(0)) {
            Gpu.Function finalize = gpu.function("reduce", "sum_finalize");
            long x = gpu.malloc(16);
            try {
                gpu.copyToDevice(new float[] {1, 2, 3, 4}, 0, x, 4);
                float ms = gpu.time(() -> gpu.launch(finalize, 1, 32, 0, x, 4, x, 2f));
                assertTrue(ms >= 0 && ms < 60_000, ms + " ms");
                float[] mean = new float[1];
                gpu.copyToHost(x, mean, 0, 1);
                assertEquals(5f, mean[0], "(1 + 2 + 3 + 4) / 2, after the timed launch");
                assertTrue(gpu.peakMemoryBandwidth() > 1e12, "H100-like attributes: " + gpu.peakMemoryBandwidth());
            } finally {
                gpu.free(x);
            }
        }
    }

    /**
     * The seam the libcublas.so.12 shim builds on (shim_api.h): host work and a simulator kernel queued by name on
     * a stream run in its order, only once the stream is synchronized; ranges and streams are checked.
     */
    @Test
    void otherShimsQueueWorkOnTheShimsStreams() {
        Handle stream = new Handle();
        ok(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        com.sun.jna.Pointer handle = new com.sun.jna.Pointer(stream.value());
        CUdeviceptr x = alloc(16);
        long address = JCudaGpuAddress.of(x);
        List<String> ran = Collections.synchronizedList(new ArrayList<>());
        DriverShim.Api.Run hostWork = arg -> {
            ran.add("host work");
            return 0;
        };
        try {
            ok(cuMemcpyHtoD(x, Pointer.to(new float[] {1, 2, 3, 4}), 16), "cuMemcpyHtoD");
            DriverShim.Api api = DriverShim.api();
            assertEquals(0, api.kullback_shim_enqueue(handle, hostWork, null, null, "test host work"), lastError());
            com.sun.jna.Memory p = new com.sun.jna.Memory(8);
            p.setLong(0, address);
            com.sun.jna.Memory n = new com.sun.jna.Memory(4);
            n.setInt(0, 4);
            com.sun.jna.Memory divisor = new com.sun.jna.Memory(4);
            divisor.setFloat(0, 2f);
            assertEquals(0, api.kullback_shim_launch_by_name(handle, "reduce", "sum_finalize", 1, 1, 1, 32, 1, 1, 0,
                    new com.sun.jna.Pointer[] {p, n, p, divisor}), lastError());
            assertEquals(List.of(), ran, "nothing runs before something waits for the stream");
            ok(cuStreamSynchronize(stream), "cuStreamSynchronize");
            assertEquals(List.of("host work"), ran);
            float[] mean = new float[1];
            ok(cuMemcpyDtoH(Pointer.to(mean), x, 4), "cuMemcpyDtoH");
            assertEquals(5f, mean[0], "sum_finalize: (1 + 2 + 3 + 4) / 2");
            assertEquals(0, api.kullback_shim_check_range(address, 16));
            assertEquals(1, api.kullback_shim_check_range(address, 17), "past the allocation");
            assertTrue(lastError().contains("17 bytes") && lastError().contains("overrun"), lastError());
            PointerByReference owner = new PointerByReference();
            assertEquals(0, api.kullback_shim_stream_context(handle, owner));
            Context fromDriver = new Context();
            ok(cuStreamGetCtx(stream, fromDriver), "cuStreamGetCtx");
            assertEquals(fromDriver.value(), com.sun.jna.Pointer.nativeValue(owner.getValue()));
        } finally {
            cuMemFree(x);
            cuStreamDestroy(stream);
        }
        assertEquals(400, DriverShim.api().kullback_shim_stream_context(handle, new PointerByReference()),
                "CUDA_ERROR_INVALID_HANDLE for a destroyed stream");
    }

    /** The loader reads .version, .target and every entry's parameters, and refuses what the device could not run. */
    @Test
    void theLoaderRefusesPtxTheDriverOrDeviceCannotRun() throws IOException {
        String ptx = ptx("log_softmax");
        assertLoadFails(ptx.replace(".version 8.0", ".version 8.6"), "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
                "up to PTX ISA 8.5");
        assertLoadFails(ptx.replace(".target sm_75", ".target sm_100"), "CUDA_ERROR_NO_BINARY_FOR_GPU", "sm_90 device");
        int firstInt = ptx.indexOf(".param .u32");
        assertLoadFails(ptx.substring(0, firstInt) + ".param .u64" + ptx.substring(firstInt + 11),
                "CUDA_ERROR_INVALID_PTX", "the shipped PTX and the source disagree");
        assertLoadFails(ptx.replace("softmax_rows_warp", "softmax_rows_unknown"), "CUDA_ERROR_NOT_FOUND",
                "softmax_rows_unknown");
        assertLoadFails("not ptx at all", "CUDA_ERROR_INVALID_PTX", "no .version");
        CUmodule module = load("log_softmax");
        try {
            CUfunction f = new CUfunction();
            assertEquals("CUDA_ERROR_NOT_FOUND", CUresult.stringFor(cuModuleGetFunction(f, module, "nope")));
            assertTrue(lastError().contains("softmax_rows_block"), "names the entries there are: " + lastError());
        } finally {
            cuModuleUnload(module);
        }
    }

    /** Misuse gets the driver's error codes: no current context, a double free, a block too large, a null stream arg. */
    @Test
    void misuseGetsTheDriversErrorCodes() throws InterruptedException {
        AtomicInteger noContext = new AtomicInteger();
        Thread other = new Thread(() -> noContext.set(cuMemAlloc(new CUdeviceptr(), 16)));
        other.start();
        other.join();
        assertEquals("CUDA_ERROR_INVALID_CONTEXT", CUresult.stringFor(noContext.get()));
        CUdeviceptr x = alloc(16);
        ok(cuMemFree(x), "cuMemFree");
        assertEquals("CUDA_ERROR_INVALID_VALUE", CUresult.stringFor(cuMemFree(x)));
        assertTrue(lastError().contains("double free"), lastError());
        CUmodule module = load("reduce");
        CUdeviceptr y = alloc(16);
        try {
            int tooLarge = cuLaunchKernel(function(module, "sum_finalize"), 1, 1, 1, 2048, 1, 1, 0, null, Pointer.to(
                    Pointer.to(y), Pointer.to(new int[] {4}), Pointer.to(y), Pointer.to(new float[] {1f})), null);
            assertEquals("CUDA_ERROR_INVALID_VALUE", CUresult.stringFor(tooLarge), lastError());
            assertEquals("CUDA_ERROR_INVALID_VALUE", CUresult.stringFor(cuLaunchKernel(function(module, "sum_finalize"),
                    1, 1, 1, 32, 1, 1, 0, null, null, null)), "no kernelParams");
            assertTrue(lastError().contains("takes 4 parameters"), lastError());
        } finally {
            cuMemFree(y);
            cuModuleUnload(module);
        }
    }

    /** Device memory comes back: a device opened, used and closed leaves the shim's live bytes where they were. */
    @Test
    void aClosedDeviceLeavesNoDeviceMemory() {
        long before = DriverShim.api().kullback_shim_live_bytes();
        try (CudaDevice d = CudaDevice.open(0); Tensor x = d.upload(new float[4096 * 3], 3, 4096);
             Labels labels = d.uploadLabels(new int[] {0, 1, 4095}); Loss loss = d.crossEntropy(x, labels)) {
            assertEquals((float) Math.log(4096), loss.value().item(), 1e-5f);
            assertTrue(DriverShim.api().kullback_shim_live_bytes() > before);
        }
        assertEquals(before, DriverShim.api().kullback_shim_live_bytes());
        assertEquals(0, DriverShim.api().kullback_shim_pending(), "no work left queued");
    }

    private static void assertLoadFails(String ptx, String error, String detail) {
        CUmodule module = new CUmodule();
        int result = cuModuleLoadDataEx(module, Pointer.to(terminated(ptx)), 0, new int[0], Pointer.to(new int[0]));
        assertEquals(error, CUresult.stringFor(result), lastError());
        assertTrue(lastError().contains(detail), lastError());
    }

    static String lastError() {
        return DriverShim.api().kullback_shim_last_error();
    }

    static void ok(int result, String call) {
        assertEquals(CUresult.CUDA_SUCCESS, result, () -> call + ": " + CUresult.stringFor(result) + " " + lastError());
    }

    static CUdeviceptr alloc(long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        ok(cuMemAlloc(p, bytes), "cuMemAlloc");
        return p;
    }

    static CUmodule load(String name) {
        CUmodule module = new CUmodule();
        try {
            ok(cuModuleLoadDataEx(module, Pointer.to(terminated(ptx(name))), 0, new int[0], Pointer.to(new int[0])),
                    "cuModuleLoadDataEx");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return module;
    }

    static CUfunction function(CUmodule module, String name) {
        CUfunction f = new CUfunction();
        ok(cuModuleGetFunction(f, module, name), "cuModuleGetFunction " + name);
        return f;
    }

    static String ptx(String module) throws IOException {
        try (InputStream in = ShimDriverTest.class.getResourceAsStream("/dev/kullback/ptx/" + module + ".ptx")) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    private static byte[] terminated(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[bytes.length + 1];
        System.arraycopy(bytes, 0, out, 0, bytes.length);
        return out;
    }

    /** A CUstream whose raw handle a test can read, as a framework would hand it over. */
    static final class Handle extends CUstream {
        long value() {
            return getNativePointer();
        }
    }

    /** A CUcontext whose raw handle a test can read. */
    static final class Context extends CUcontext {
        long value() {
            return getNativePointer();
        }
    }

    /** The raw address of a JCuda device pointer. */
    static final class JCudaGpuAddress extends CUdeviceptr {
        static long of(CUdeviceptr p) {
            return new JCudaGpuAddress(p).getNativePointer();
        }

        private JCudaGpuAddress(CUdeviceptr p) {
            super(p);
        }
    }
}
