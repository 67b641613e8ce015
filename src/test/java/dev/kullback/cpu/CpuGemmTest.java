package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kullback.internal.Gemm;
import dev.kullback.BlasOracle;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The CPU device's two products, {@link OpenBlasGemm} (staging, held tensors, offsets, blocks across threads) and the
 * fallback {@link JavaGemm}, against a direct cblas_sgemm call for both transposes, padded leading dimensions,
 * operand offsets, alpha and beta (0 with NaN in C). Integer inputs make every result exact, so bitwise.
 */
class CpuGemmTest {
    private static final int M = 300;
    private static final int N = 70;
    private static final int K = 9;

    @Test
    void bothMatchCblasForEveryTransposeOffsetAndScale() {
        Random random = new Random(5);
        Workers workers = new Workers(3, "cpu-gemm-test");
        try (CpuDevice device = new CpuDevice(3)) {
            for (boolean transA : new boolean[] {false, true}) {
                for (boolean transB : new boolean[] {false, true}) {
                    for (int pad : new int[] {0, 2}) {
                        for (float[] ab : new float[][] {{1f, 0f}, {2f, 1f}, {-0.5f, -2f}}) {
                            int lda = (transA ? K : M) + pad;
                            int ldb = (transB ? N : K) + pad;
                            int ldc = M + pad;
                            int off = 3; // every operand starts 3 floats into its tensor
                            float[] a = BlasOracle.ints(random, off + lda * (transA ? M : K));
                            float[] b = BlasOracle.ints(random, off + ldb * (transB ? K : N));
                            float[] c = BlasOracle.ints(random, off + ldc * N);
                            if (ab[1] == 0f) {
                                Arrays.fill(c, off, c.length, Float.NaN);
                            }
                            float[] want = BlasOracle.sgemm(transA, transB, M, N, K, ab[0], a, off, lda, b, off,
                                    ldb, ab[1], c, off, ldc);
                            for (boolean blas : new boolean[] {true, false}) {
                                for (boolean hold : new boolean[] {false, true}) {
                                    CpuTensor ta = new CpuTensor(device, a.clone(), 1, a.length);
                                    CpuTensor tb = new CpuTensor(device, b.clone(), 1, b.length);
                                    CpuTensor tc = new CpuTensor(device, c.clone(), 1, c.length);
                                    try (Gemm<CpuTensor> gemm = blas ? new OpenBlasGemm(workers)
                                            : new JavaGemm()) {
                                        if (hold) {
                                            gemm.hold(ta);
                                            gemm.hold(tc);
                                        }
                                        gemm.gemm(transA, transB, M, N, K, ab[0], ta, off, lda, tb, off, ldb, ab[1],
                                                tc, off, ldc);
                                    }
                                    assertArrayEquals(want, tc.data(), (blas ? "OpenBlasGemm" : "JavaGemm")
                                            + (hold ? " held" : "") + ": transA " + transA + " transB " + transB
                                            + " pad " + pad + " alpha " + ab[0] + " beta " + ab[1]);
                                }
                            }
                        }
                    }
                }
            }
        } finally {
            workers.shutdown();
        }
    }
}
