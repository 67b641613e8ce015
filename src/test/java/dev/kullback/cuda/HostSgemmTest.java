package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.BlasOracle;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The simulator's cublasSgemm ({@link HostSgemm}, and through {@link SimGpu#sgemm} on device memory) against a real
 * BLAS (OpenBLAS's cblas_sgemm, column-major), for both transposes of both operands, tight and padded leading
 * dimensions, alpha and beta (0 with NaN in C, which cuBLAS does not read): so a row-major/column-major or
 * leading-dimension slip in the fused linear losses cannot pass on the simulator and fail on a GPU. Small integer
 * inputs make every product and sum exact, so the comparison is bitwise.
 */
class HostSgemmTest {
    private static final int M = 5;
    private static final int N = 4;
    private static final int K = 7;

    @Test
    void matchesOpenBlasForEveryTransposeAndLeadingDimension() {
        Random random = new Random(3);
        int combinations = 0;
        for (boolean transA : new boolean[] {false, true}) {
            for (boolean transB : new boolean[] {false, true}) {
                for (int pad : new int[] {0, 3}) {
                    for (float[] ab : new float[][] {{1f, 0f}, {2f, 1f}, {-0.5f, -2f}}) {
                        int lda = (transA ? K : M) + pad;
                        int ldb = (transB ? N : K) + pad;
                        int ldc = M + pad;
                        float[] a = BlasOracle.ints(random, lda * (transA ? M : K));
                        float[] b = BlasOracle.ints(random, ldb * (transB ? K : N));
                        float[] c = BlasOracle.ints(random, ldc * N);
                        if (ab[1] == 0f) {
                            Arrays.fill(c, Float.NaN); // not read when beta is 0
                        }
                        float[] want = BlasOracle.sgemm(transA, transB, M, N, K, ab[0], a, 0, lda, b, 0, ldb, ab[1],
                                c, 0, ldc);
                        float[] got = c.clone();
                        HostSgemm.sgemm(transA, transB, M, N, K, ab[0], a, lda, b, ldb, ab[1], got, ldc);
                        // rows past m of each column (the padding) are left alone by both
                        assertArrayEquals(want, got, "transA " + transA + " transB " + transB + " pad " + pad);
                        assertArrayEquals(want, onSimulator(transA, transB, ab[0], a, lda, b, ldb, ab[1], c, ldc),
                                "on the simulator: transA " + transA + " transB " + transB + " pad " + pad);
                        combinations++;
                    }
                }
            }
        }
        assertTrue(combinations == 24);
    }

    @Test
    void refusesWhatCublasRefuses() {
        float[] x = new float[100];
        assertThrows(IllegalStateException.class, () -> HostSgemm.sgemm(false, false, M, N, K, 1f, x, M - 1, x, K, 0f,
                x, M));
        assertThrows(IllegalStateException.class, () -> HostSgemm.sgemm(true, false, M, N, K, 1f, x, M, x, K, 0f,
                x, M)); // transposed A needs lda >= k
        assertThrows(IllegalStateException.class, () -> HostSgemm.sgemm(false, true, M, N, K, 1f, x, M, x, N - 1, 0f,
                x, M)); // transposed B needs ldb >= n
        assertThrows(IllegalStateException.class, () -> HostSgemm.sgemm(false, false, M, N, K, 1f, x, M, x, K, 0f,
                x, M - 1));
    }

    @Test
    void simulatorRefusesAnOperandPastItsAllocation() {
        try (SimGpu gpu = SimGpus.open()) {
            long a = gpu.malloc(4L * M * K);
            long b = gpu.malloc(4L * K * N);
            long c = gpu.malloc(4L * M * N);
            // lda M + 1 makes A span M * K + K - 1 floats: past its allocation
            assertThrows(RuntimeException.class, () -> gpu.sgemm(false, false, M, N, K, 1f, a, M + 1, b, K, 0f, c, M));
        }
    }

    private static float[] onSimulator(boolean transA, boolean transB, float alpha, float[] a, int lda, float[] b,
                                       int ldb, float beta, float[] c, int ldc) {
        try (SimGpu gpu = SimGpus.open()) {
            long da = upload(gpu, a);
            long db = upload(gpu, b);
            long dc = upload(gpu, c);
            gpu.sgemm(transA, transB, M, N, K, alpha, da, lda, db, ldb, beta, dc, ldc);
            float[] out = new float[c.length];
            gpu.copyToHost(dc, out, 0, out.length);
            return out;
        }
    }

    private static long upload(SimGpu gpu, float[] x) {
        long address = gpu.malloc(4L * x.length);
        gpu.copyToDevice(x, 0, address, x.length);
        return address;
    }
}
