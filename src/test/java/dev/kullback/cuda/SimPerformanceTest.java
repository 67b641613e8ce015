package dev.kullback.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a simulated launch costs (printed), with a loose bound so that a simulator made much slower
 * (a syscall per fiber switch, say) fails here rather than as a CI timeout.
 */
class SimPerformanceTest {
    private static double seconds(SimGpu gpu, Gpu.Function f, int grid, int block, Object... args) {
        gpu.launch(f, grid, block, 0, args);  // warm-up
        int reps = 3;
        long t0 = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            gpu.launch(f, grid, block, 0, args);
        }
        return (System.nanoTime() - t0) / 1e9 / reps;
    }

    @Test
    void logSoftmaxTimings() {
        Assumptions.assumeTrue(Files.exists(Path.of("kernels/log_softmax.cu")), "no kernels/ sources in this tree");
        try (SimGpu gpu = SimGpus.open()) {
            double worst = 0;
            int[][] shapes = {{257, 4097, 256}, {257, 4097, 1024}, {4, 262147, 1024}, {4099, 257, 0}};
            for (int[] s : shapes) {
                int rows = s[0], cols = s[1], block = s[2];
                long n = (long) rows * cols;
                long x = gpu.malloc(4 * n), y = gpu.malloc(4 * n);
                gpu.memsetZero(x, 4 * n);
                double t = block == 0
                        ? seconds(gpu, gpu.function("log_softmax", "softmax_rows_warp"), (rows + 3) / 4, 128, x, (long) cols, y, (long) cols, rows, cols, 1)
                        : seconds(gpu, gpu.function("log_softmax", "softmax_rows_block"), rows, block, x, (long) cols, y, (long) cols, rows, cols, 1);
                System.out.printf(Locale.ROOT, "simulated log_softmax [%d, %d] %s: %.1f ms (%.1f ns/element, %d workers)%n",
                        rows, cols, block == 0 ? "warp per row" : "block of " + block, t * 1e3, t * 1e9 / n, gpu.workers());
                worst = Math.max(worst, t * 1e9 / n);
                gpu.free(x);
                gpu.free(y);
            }
            assertTrue(worst < 2000, "simulated cost per element: " + worst + " ns");
        }
    }
}
