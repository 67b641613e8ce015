package dev.kullback.cuda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Device memory of the simulator: alignment, copies, poisoning, range checks, and a first launch. */
class SimGpuMemoryTest {
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

    @Test
    void allocationsAre256ByteAlignedAndRoundTrip() {
        for (int n : new int[] {1, 3, 63, 64, 65, 1000, 4096, 100_003}) {
            long p = gpu.malloc(4L * n);
            assertEquals(0, p % 256, "alignment of " + n + " floats");
            float[] src = new float[n];
            for (int i = 0; i < n; i++) {
                src[i] = i * 0.5f - 7;
            }
            gpu.copyToDevice(src, 0, p, n);
            float[] back = new float[n + 2];
            gpu.copyToHost(p, back, 1, n);
            for (int i = 0; i < n; i++) {
                assertEquals(src[i], back[i + 1]);
            }
            gpu.free(p);
        }
        assertEquals(0, gpu.liveBytes());
    }

    @Test
    void freshMemoryIsNaNAndMemsetZeroes() {
        long p = gpu.malloc(40);
        float[] back = new float[10];
        gpu.copyToHost(p, back, 0, 10);
        for (float v : back) {
            assertTrue(Float.isNaN(v), "fresh device memory is poisoned with NaN");
        }
        gpu.memsetZero(p + 8, 16);
        gpu.copyToHost(p, back, 0, 10);
        assertTrue(Float.isNaN(back[1]));
        assertEquals(0f, back[2]);
        assertEquals(0f, back[5]);
        assertTrue(Float.isNaN(back[6]));
    }

    @Test
    void copiesOutsideAnAllocationAreRejected() {
        long p = gpu.malloc(400);
        float[] data = new float[101];
        SimCudaException e = assertThrows(SimCudaException.class, () -> gpu.copyToDevice(data, 0, p, 101));
        assertEquals("CUDA_ERROR_INVALID_VALUE", e.errorName());
        assertThrows(SimCudaException.class, () -> gpu.copyToHost(p + 4, data, 0, 100));
        assertThrows(SimCudaException.class, () -> gpu.memsetZero(p - 4, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> gpu.copyToDevice(data, 1, p, 101));
        gpu.copyToDevice(data, 1, p, 100);
    }

    @Test
    void doubleFreeAndZeroSizedAllocationsAreErrors() {
        long p = gpu.malloc(8);
        gpu.free(p);
        assertThrows(SimCudaException.class, () -> gpu.free(p));
        SimCudaException e = assertThrows(SimCudaException.class, () -> gpu.malloc(0));
        assertEquals("CUDA_ERROR_INVALID_VALUE", e.errorName());
    }

    @Test
    void memoryLimitGivesOutOfMemory() {
        // the limit is process-wide: leave room for what other simulated devices in this JVM still hold
        gpu.memoryLimit(gpu.processLiveBytes() + (1 << 20));
        try {
            long p = gpu.malloc(1 << 19);
            SimCudaException e = assertThrows(SimCudaException.class, () -> gpu.malloc(1 << 20));
            assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
            gpu.free(p);
        } finally {
            gpu.memoryLimit(0);
        }
    }

    @Test
    void aGridStrideKernelFillsMemory() {
        int n = 100_000;
        long p = gpu.malloc(4L * n);
        Gpu.Function f = gpu.function("sim_test", "fill_index");
        gpu.launch(f, 7, 128, 0, p, (long) n);
        gpu.synchronize();
        float[] back = new float[n];
        gpu.copyToHost(p, back, 0, n);
        for (int i = 0; i < n; i++) {
            assertEquals((float) i, back[i], "index " + i);
        }
    }

    @Test
    void argumentsOfEveryTypeArriveIntact() {
        int n = 1000;
        long x = gpu.malloc(8L * n);
        long y = gpu.malloc(8L * n);
        float[] xs = new float[2 * n];
        for (int i = 0; i < 2 * n; i++) {
            xs[i] = i;
        }
        gpu.copyToDevice(xs, 0, x, 2 * n);
        gpu.memsetZero(y, 8L * n);
        gpu.launch(gpu.function("sim_test", "axpb"), (n + 255) / 256, 256, 0, x, y, (long) n, 2, 1.5f, -3f);
        float[] ys = new float[2 * n];
        gpu.copyToHost(y, ys, 0, 2 * n);
        for (int i = 0; i < n; i++) {
            assertEquals(1.5f * (2 * i) - 3f, ys[2 * i]);
            assertEquals(0f, ys[2 * i + 1]);
        }
    }

    @Test
    void threeDimensionalIndicesAreCudas() {
        int bx = 4, by = 3, bz = 2, gx = 3, gy = 2, gz = 2;
        int nt = bx * by * bz, nb = gx * gy * gz;
        long out = gpu.malloc(4L * nt * nb);
        gpu.launch3d(gpu.function("sim_test", "thread_ids"), gx, gy, gz, bx, by, bz, 0, out);
        int[] ids = new int[nt * nb];
        gpu.copyToHost(out, ids);
        int[] want = new int[nt * nb];
        for (int z = 0; z < gz; z++) {
            for (int y = 0; y < gy; y++) {
                for (int x = 0; x < gx; x++) {
                    int b = x + gx * (y + gy * z);
                    for (int tz = 0; tz < bz; tz++) {
                        for (int ty = 0; ty < by; ty++) {
                            for (int tx = 0; tx < bx; tx++) {
                                int t = tx + bx * (ty + by * tz);
                                want[b * nt + t] = tx | ty << 5 | tz << 10 | x << 16 | y << 20 | z << 24;
                            }
                        }
                    }
                }
            }
        }
        assertArrayEquals(want, ids);
    }

    private static int[] maybeNull;

    private static int length(int[] a) {
        return a.length;  // compiled code checks null implicitly: a SIGSEGV that HotSpot's handler turns into an NPE
    }

    @Test
    void theJvmsOwnSignalsStillReachIt() {
        // The simulator's SIGSEGV handler is installed in front of HotSpot's and must pass on every fault
        // that is not a kernel's. A broken chain crashes the JVM here.
        long p = gpu.malloc(1024);
        gpu.launch(gpu.function("sim_test", "write_at"), 1, 32, 0, p, 0L, 1f);
        int npes = 0;
        for (int i = 0; i < 200_000; i++) {
            try {
                maybeNull = i % 1000 == 999 ? null : new int[i % 3];
                length(maybeNull);
            } catch (NullPointerException e) {
                npes++;
            }
        }
        assertEquals(200, npes);
        gpu.launch(gpu.function("sim_test", "write_at"), 1, 32, 0, p, 1L, 2f);
    }

    @Test
    void unknownModulesAndKernelsAreNamed() {
        SimCudaException e = assertThrows(SimCudaException.class, () -> gpu.function("no_such_module", "k"));
        assertEquals("CUDA_ERROR_FILE_NOT_FOUND", e.errorName());
        e = assertThrows(SimCudaException.class, () -> gpu.function("sim_test", "no_such_kernel"));
        assertEquals("CUDA_ERROR_NOT_FOUND", e.errorName());
        assertTrue(e.getMessage().contains("fill_index"), e.getMessage());
        assertTrue(gpu.kernels("sim_test").contains("warp_ops"));
    }
}
