package dev.kullback.cuda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a real driver rejects at launch time, and what the simulator checks beyond it (argument types). */
class SimLaunchChecksTest {
    private SimGpu gpu;
    private Gpu.Function fill;
    private long p;

    @BeforeEach
    void open() {
        gpu = SimGpus.open();
        fill = gpu.function("sim_test", "fill_index");
        p = gpu.malloc(4 * 4096);
    }

    @AfterEach
    void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    private SimCudaException rejected(int grid, int block, int shared, String error, String detail) {
        SimCudaException e = assertThrows(SimCudaException.class, () -> gpu.launch(fill, grid, block, shared, p, 16L));
        assertEquals(error, e.errorName(), e.getMessage());
        assertTrue(e.getMessage().contains(detail), e.getMessage());
        assertTrue(e.getMessage().contains("fill_index"), e.getMessage());
        return e;
    }

    @Test
    void badConfigurationsAreInvalidValues() {
        rejected(1, 1025, 0, "CUDA_ERROR_INVALID_VALUE", "block (1025,1,1) exceeds");
        rejected(1, 0, 0, "CUDA_ERROR_INVALID_VALUE", "zero dimension");
        rejected(0, 32, 0, "CUDA_ERROR_INVALID_VALUE", "grid (0,1,1) has a zero dimension");
        rejected(1, 32, 48 * 1024 + 1, "CUDA_ERROR_INVALID_VALUE", "49153 bytes of dynamic shared memory");
        gpu.launch(fill, 1, 1024, 48 * 1024, p, 16L);  // the limits themselves are fine
        assertThrows(SimCudaException.class, () -> gpu.launch3d(fill, 1, 1, 1, 16, 16, 65, 0, p, 16L));
        assertThrows(SimCudaException.class, () -> gpu.launch3d(fill, 1, 65536, 1, 32, 1, 1, 0, p, 16L));
    }

    @Test
    void launchBoundsAreEnforced() {
        Gpu.Function bounded = gpu.function("sim_test", "bounded");
        gpu.launch(bounded, 1, 128, 0, p);
        SimCudaException e = assertThrows(SimCudaException.class, () -> gpu.launch(bounded, 1, 256, 0, p));
        assertEquals("CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", e.errorName());
        assertTrue(e.getMessage().contains("__launch_bounds__(128)"), e.getMessage());
    }

    @Test
    void argumentsAreCheckedAgainstTheKernelsParameters() {
        Gpu.Function axpb = gpu.function("sim_test", "axpb");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> gpu.launch(axpb, 1, 32, 0, p, p, 16, 1, 1f, 0f));
        assertTrue(e.getMessage().contains("argument 3 for `long long n` must be a Long, got Integer 16"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> gpu.launch(axpb, 1, 32, 0, p, p, 16L, 1, 1.0, 0f));
        assertTrue(e.getMessage().contains("`float a` must be a Float, got Double"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> gpu.launch(axpb, 1, 32, 0, p, p, 16L, 1, 1f));
        assertTrue(e.getMessage().contains("takes 6 arguments, the launch passes 5"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> gpu.launch(axpb, 1, 32, 0, p, 7, 16L, 1, 1f, 0f));
        assertTrue(e.getMessage().contains("`float* __restrict__ out` must be a Long"), e.getMessage());
    }

    @Test
    void anEndlessKernelIsStoppedByTheWatchdog() {
        gpu.launchTimeoutMillis(300);
        try {
            long flag = gpu.malloc(4);
            gpu.memsetZero(flag, 4);
            long t0 = System.nanoTime();
            SimCudaException e = assertThrows(SimCudaException.class,
                    () -> gpu.launch(gpu.function("sim_test", "spin_forever"), 4, 64, 0, flag));
            assertEquals("CUDA_ERROR_LAUNCH_TIMEOUT", e.errorName(), e.getMessage());
            assertTrue(e.getMessage().contains("did not finish within 300 ms"), e.getMessage());
            assertTrue(System.nanoTime() - t0 < 20_000_000_000L);
        } finally {
            gpu.launchTimeoutMillis(0);
        }
        try (SimGpu next = SimGpus.open()) {  // the workers are free again
            long q = next.malloc(64);
            next.launch(next.function("sim_test", "fill_index"), 1, 32, 0, q, 16L);
        }
    }

    @Test
    void nameAndWorkers() {
        assertTrue(gpu.name().startsWith("sim:0"), gpu.name());
        assertTrue(gpu.workers() >= 1);
    }
}
