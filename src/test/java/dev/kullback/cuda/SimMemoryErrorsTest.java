package dev.kullback.cuda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Planted memory errors in kernels: every one must fail the launch with a message that names it. */
class SimMemoryErrorsTest {
    private SimGpu gpu;

    @BeforeEach
    void open() {
        gpu = SimGpus.open();
    }

    @AfterEach
    void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    private SimCudaException launchFails(String kernel, int grid, int block, int shared, Object... args) {
        Gpu.Function f = gpu.function("sim_test", kernel);
        SimCudaException e = assertThrows(SimCudaException.class, () -> gpu.launch(f, grid, block, shared, args));
        assertEquals(kernel, e.kernel());
        assertTrue(e.getMessage().contains("kernel " + kernel), e.getMessage());
        return e;
    }

    private static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "expected \"" + p + "\" in: " + message);
        }
    }

    @Test
    void anOffByOneWriteFaultsOnTheGuardPage() {
        int n = 256;  // 1024 bytes: the allocation ends exactly at its guard page
        long p = gpu.malloc(4L * n);
        SimCudaException e = launchFails("oob_write", 3, 128, 0, p, n);
        assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", e.errorName());
        assertContains(e.getMessage(), "out-of-bounds write", "0 bytes past the end of the allocation of 1024 bytes",
                "block 2 thread 0");
    }

    @Test
    void anOffByOneReadFaultsOnTheGuardPage() {
        int n = 512;
        long in = gpu.malloc(4L * n);
        long out = gpu.malloc(4L * n);
        SimCudaException e = launchFails("oob_read", 5, 128, 0, in, out, n);
        assertContains(e.getMessage(), "out-of-bounds read", "past the end of the allocation of 2048 bytes",
                "block 4 thread 0");
    }

    @Test
    void aWriteIntoThePaddingIsFoundAfterTheLaunch() {
        int n = 100;  // 400 bytes: 112 bytes of padding to the 256-byte boundary have no guard page
        long p = gpu.malloc(4L * n);
        SimCudaException e = launchFails("oob_write", 1, 128, 0, p, n);
        assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", e.errorName());
        assertContains(e.getMessage(), "out-of-bounds write detected after kernel oob_write",
                "0 bytes past the end of the allocation of 400 bytes");
    }

    @Test
    void aWriteBeforeTheStartIsFound() {
        long p = gpu.malloc(1000);
        SimCudaException e = launchFails("write_at", 1, 32, 0, p, -1L, 1f);
        assertContains(e.getMessage(), "4 bytes before the start of the allocation of 1000 bytes");
        gpu.close();
        gpu = SimGpus.open();
        long q = gpu.malloc(4096);  // starts on a page: the guard page is right before it
        e = launchFails("write_at", 1, 32, 0, q, -1L, 1f);
        assertContains(e.getMessage(), "out-of-bounds write", "4 bytes before the start of the allocation of 4096 bytes",
                "block 0 thread 0");
    }

    @Test
    void aReadInThePaddingIsNotCaughtButReadsNaN() {
        // The documented gap: reads between the end and the next 256-byte boundary see the canary, a NaN.
        long p = gpu.malloc(4 * 100);
        long out = gpu.malloc(4);
        gpu.launch(gpu.function("sim_test", "read_at"), 1, 32, 0, p, 100L, out);
        float[] v = new float[1];
        gpu.copyToHost(out, v, 0, 1);
        assertTrue(Float.isNaN(v[0]));
    }

    @Test
    void useAfterFreeIsNamed() {
        long p = gpu.malloc(4096);
        gpu.free(p);
        SimCudaException e = launchFails("write_at", 1, 32, 0, p, 3L, 1f);
        assertContains(e.getMessage(), "use after free", "freed allocation of 4096 bytes");
    }

    @Test
    void aNullPointerIsAnInvalidAddress() {
        SimCudaException e = launchFails("write_at", 1, 32, 0, 0L, 0L, 1f);
        assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", e.errorName());
        assertContains(e.getMessage(), "invalid write at address 0x0");
    }

    @Test
    void theDeviceIsUnusableAfterAKernelFault() {
        long p = gpu.malloc(1024);
        launchFails("oob_write", 3, 128, 0, p, 256);
        SimCudaException e = assertThrows(SimCudaException.class, () -> gpu.copyToHost(p, new float[1], 0, 1));
        assertContains(e.getMessage(), "unusable after an earlier error", "CUDA_ERROR_ILLEGAL_ADDRESS");
        gpu.free(p);  // still allowed
        try (SimGpu other = SimGpus.open()) {  // a new "context" works
            long q = other.malloc(16);
            other.launch(other.function("sim_test", "write_at"), 1, 32, 0, q, 0L, 5f);
        }
    }

    @Test
    void dynamicSharedMemoryOverrunFaults() {
        long out = gpu.malloc(4 * 64);
        gpu.launch(gpu.function("sim_test", "dynamic_shared_fill"), 2, 64, 64 * 4, out);
        SimCudaException e = launchFails("dynamic_shared_fill", 2, 64, 60 * 4, out);
        assertContains(e.getMessage(), "out-of-bounds write of dynamic shared memory at offset 240",
                "the launch has 240 bytes", "block 0 thread 60");
    }

    @Test
    void aMisalignedFloat4IsCaught() {
        long in = gpu.malloc(4 * 160);
        long out = gpu.malloc(4 * 160);
        gpu.launch(gpu.function("sim_test", "float4_copy"), 1, 32, 0, in, out, 4);
        SimCudaException e = launchFails("float4_copy", 1, 32, 0, in, out, 1);
        assertEquals("CUDA_ERROR_MISALIGNED_ADDRESS", e.errorName());
        assertContains(e.getMessage(), "misaligned float4", "thread 0");
    }

    @Test
    void stackOverflowIsCaught() {
        long out = gpu.malloc(4 * 32);
        gpu.launch(gpu.function("sim_test", "stack_hog"), 1, 32, 0, out, 2);
        SimCudaException e = launchFails("stack_hog", 1, 32, 0, out, 100);
        assertEquals("CUDA_ERROR_HARDWARE_STACK_ERROR", e.errorName());
        assertContains(e.getMessage(), "stack overflow");
    }

    @Test
    void assertTrapAndDivisionByZeroFail() {
        long x = gpu.malloc(4 * 32);
        gpu.memsetZero(x, 4 * 32);
        gpu.launch(gpu.function("sim_test", "assert_zero"), 1, 32, 0, x);
        gpu.copyToDevice(new int[] {0, 0, 0, 0, 0, 7}, x);
        SimCudaException e = launchFails("assert_zero", 1, 32, 0, x);
        assertEquals("CUDA_ERROR_ASSERT", e.errorName());
        assertContains(e.getMessage(), "thread 5", "x[threadIdx.x] == 0", "sim_test.cu");

        gpu = reopen();
        long out = gpu.malloc(4 * 32);
        e = launchFails("trap_kernel", 1, 32, 0, out);
        assertEquals("CUDA_ERROR_ILLEGAL_INSTRUCTION", e.errorName());
        assertContains(e.getMessage(), "__trap()", "thread 3");

        gpu = reopen();
        long a = gpu.malloc(4 * 32);
        long o = gpu.malloc(4 * 32);
        gpu.memsetZero(a, 4 * 32);
        e = launchFails("int_divide", 1, 32, 0, a, o, 0);
        assertContains(e.getMessage(), "division by zero");
    }

    private SimGpu reopen() {
        gpu.close();
        return SimGpus.open();
    }
}
