package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kullback.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Launches from several threads while young collections run all the time: a kernel's arguments live in native
 * memory that the launch must keep reachable until the kernel is done (a collected JNA Memory frees its block, and
 * the kernel then reads a garbage pointer: CUDA_ERROR_ILLEGAL_ADDRESS at an odd address). Without the fence in
 * SimGpu.launch3d this failed about every other run; the full suite met it once in a few runs.
 */
@Timeout(120)
class SimLaunchUnderGcTest {
    static volatile long churned;

    @Test
    void argumentsSurviveTheCollector() throws Exception {
        try (CudaDevice device = new CudaDevice(SimGpus.open())) {
            int rows = 33;
            int cols = 100;
            float[] x = new float[rows * cols];
            Random random = new Random(5);
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) random.nextGaussian();
            }
            float[] expected;
            try (Tensor t = device.upload(x, rows, cols); Tensor y = device.logSoftmax(t)) {
                expected = y.toArray();
            }
            AtomicBoolean running = new AtomicBoolean(true);
            Thread collector = new Thread(() -> { // garbage, so that young collections run all the time
                long sum = 0;
                while (running.get()) {
                    sum += new byte[8 << 10].length;
                }
                churned = sum;
            });
            collector.start();
            ExecutorService threads = Executors.newFixedThreadPool(4);
            try (Tensor t = device.upload(x, rows, cols)) {
                List<Future<?>> done = new ArrayList<>();
                for (int thread = 0; thread < 4; thread++) {
                    done.add(threads.submit(() -> {
                        for (int i = 0; i < 3000; i++) {
                            try (Tensor y = device.logSoftmax(t)) {
                                assertArrayEquals(expected, y.toArray());
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get(100, TimeUnit.SECONDS);
                }
            } finally {
                running.set(false);
                collector.join();
                threads.shutdownNow();
            }
        }
    }
}
