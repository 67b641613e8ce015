package dev.kullback.cuda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** __syncthreads, shared memory and atomics: real barriers, one shared instance per block, poisoned. */
class SimBarrierTest {
    private SimGpu gpu;

    @BeforeEach
    void open() {
        gpu = SimGpus.open();
    }

    @AfterEach
    void close() {
        if (gpu == null) {
            return;
        }
        gpu.reverseSchedule(false);
        gpu.close();
    }

    private float[] blockSums(String kernel, int blocks, int threads, int shared, Object flag) {
        int n = blocks * threads;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (i % 13) - 4;
        }
        long dx = gpu.malloc(4L * n);
        long dout = gpu.malloc(4L * blocks);
        gpu.copyToDevice(x, 0, dx, n);
        if (flag == null) {
            gpu.launch(gpu.function("sim_test", kernel), blocks, threads, shared, dx, dout);
        } else {
            gpu.launch(gpu.function("sim_test", kernel), blocks, threads, shared, dx, dout, flag);
        }
        float[] got = new float[blocks];
        gpu.copyToHost(dout, got, 0, blocks);
        gpu.free(dx);
        gpu.free(dout);
        return got;
    }

    private static float[] expectedSums(int blocks, int threads) {
        float[] want = new float[blocks];
        for (int b = 0; b < blocks; b++) {
            for (int t = 0; t < threads; t++) {
                want[b] += ((b * threads + t) % 13) - 4;
            }
        }
        return want;
    }

    @Test
    void aReductionWithItsBarrierIsRight() {
        for (int threads : new int[] {32, 64, 256, 1024}) {
            assertArrayEquals(expectedSums(37, threads), blockSums("block_sum_static", 37, threads, 0, 1));
            assertArrayEquals(expectedSums(37, threads), blockSums("block_sum_dynamic", 37, threads, 4 * threads, null));
        }
    }

    @Test
    void aMissingBarrierGivesAWrongResultInEitherScheduleOrder() {
        for (boolean reverse : new boolean[] {false, true}) {
            gpu.reverseSchedule(reverse);
            float[] want = expectedSums(8, 256);
            float[] got = blockSums("block_sum_static", 8, 256, 0, 0);
            for (int b = 0; b < 8; b++) {
                assertFalse(want[b] == got[b], "block " + b + " must not be right by accident (reverse=" + reverse + ")");
            }
            assertArrayEquals(want, blockSums("block_sum_static", 8, 256, 0, 1), "with the barrier (reverse=" + reverse + ")");
        }
    }

    @Test
    void namespaceScopeDynamicSharedMemory() {
        int blocks = 3, threads = 64;
        long out = gpu.malloc(4L * blocks * threads);
        gpu.launch(gpu.function("sim_test", "namespace_dynamic_shared"), blocks, threads, 4 * threads, out);
        float[] r = new float[blocks * threads];
        gpu.copyToHost(out, r, 0, r.length);
        for (int b = 0; b < blocks; b++) {
            for (int t = 0; t < threads; t++) {
                assertEquals(threads - 1 - t + b, r[b * threads + t]);
            }
        }
    }

    @Test
    void eachBlockHasItsOwnSharedMemory() {
        int blocks = 200, threads = 96;
        long out = gpu.malloc(4L * blocks * threads);
        gpu.launch(gpu.function("sim_test", "shared_per_block"), blocks, threads, 0, out);
        int[] r = new int[blocks * threads];
        gpu.copyToHost(out, r);
        for (int i = 0; i < r.length; i++) {
            assertEquals(i / threads, r[i], "thread " + i);
        }
    }

    @Test
    void sharedMemoryStartsPoisonedInEveryBlock() {
        int blocks = 16, threads = 64;
        long out = gpu.malloc(4L * blocks * threads);
        gpu.launch(gpu.function("sim_test", "shared_uninitialized"), blocks, threads, 0, out);
        int[] r = new int[blocks * threads];
        gpu.copyToHost(out, r);
        for (int v : r) {
            assertEquals(-1, v, "0xFFFFFFFF: a float NaN");
        }
    }

    @Test
    void divergentBarriersAreAnError() {
        long out = gpu.malloc(4 * 64);
        SimCudaException e = assertThrows(SimCudaException.class,
                () -> gpu.launch(gpu.function("sim_test", "divergent_barrier"), 1, 64, 0, out));
        assertEquals("CUDA_ERROR_LAUNCH_FAILED", e.errorName());
        assertTrue(e.getMessage().contains("divergent barrier"), e.getMessage());
        assertTrue(e.getMessage().contains("thread 32"), e.getMessage());
    }

    @Test
    void exitedThreadsDoNotBlockABarrier() {
        long out = gpu.malloc(4 * 128);
        gpu.launch(gpu.function("sim_test", "barrier_after_exit"), 1, 128, 0, out, 70);
        int[] r = new int[128];
        gpu.copyToHost(out, r);
        for (int t = 0; t < 70; t++) {
            assertEquals((t + 1) % 70, r[t]);
        }
    }

    @Test
    void barrierReductions() {
        long pred = gpu.malloc(4 * 96);
        long out = gpu.malloc(4 * 3);
        int[] p = new int[96];
        for (int i = 0; i < 96; i += 3) {
            p[i] = 1;
        }
        gpu.copyToDevice(p, pred);
        gpu.launch(gpu.function("sim_test", "barrier_reductions"), 1, 96, 0, pred, out);
        int[] r = new int[3];
        gpu.copyToHost(out, r);
        assertArrayEquals(new int[] {32, 0, 1}, r);
        java.util.Arrays.fill(p, 2);
        gpu.copyToDevice(p, pred);
        gpu.launch(gpu.function("sim_test", "barrier_reductions"), 1, 96, 0, pred, out);
        gpu.copyToHost(out, r);
        assertArrayEquals(new int[] {96, 1, 1}, r);
    }

    @Test
    void atomicsAreAtomicAcrossParallelBlocks() {
        int blocks = 500, threads = 256;
        long count = gpu.malloc(4), total = gpu.malloc(8), fsum = gpu.malloc(4), max = gpu.malloc(4);
        for (long p : new long[] {count, total, fsum, max}) {
            gpu.memsetZero(p, p == total ? 8 : 4);
        }
        gpu.launch(gpu.function("sim_test", "atomics"), blocks, threads, 0, count, total, fsum, max);
        int[] c = new int[1];
        long[] t = new long[1];
        float[] f = new float[1];
        int[] m = new int[1];
        gpu.copyToHost(count, c);
        gpu.copyToHost(total, t);
        gpu.copyToHost(fsum, f, 0, 1);
        gpu.copyToHost(max, m);
        long n = (long) blocks * threads;
        assertEquals(n, c[0]);
        assertEquals(n * (n - 1) / 2, t[0]);
        assertEquals((float) n, f[0]);
        assertEquals(n - 1, m[0]);
    }
}
