package dev.kullback.cuda;

/**
 * cuBLAS's {@code cublasSgemm} on host arrays, to its letter: column-major, {@code C = alpha · op(A) · op(B) +
 * beta · C}, op(A) m × k, op(B) k × n, C m × n with leading dimensions lda, ldb, ldc, the argument checks that make
 * cuBLAS return CUBLAS_STATUS_INVALID_VALUE, C not read when beta is 0, nothing done to C beyond rows m of each
 * column. The simulator's GEMM ({@link SimGpu#sgemm}); {@code HostSgemmTest} holds it to a real BLAS.
 */
final class HostSgemm {
    private HostSgemm() {
    }

    /** Throws as cuBLAS refuses (CUBLAS_STATUS_INVALID_VALUE) arguments it does not accept. */
    static void check(boolean transA, boolean transB, int m, int n, int k, int lda, int ldb, int ldc) {
        if (m < 0 || n < 0 || k < 0 || lda < Math.max(1, transA ? k : m) || ldb < Math.max(1, transB ? n : k)
                || ldc < Math.max(1, m)) {
            throw new IllegalStateException("cublasSgemm failed: CUBLAS_STATUS_INVALID_VALUE (transA " + transA
                    + ", transB " + transB + ", m " + m + ", n " + n + ", k " + k + ", lda " + lda + ", ldb " + ldb
                    + ", ldc " + ldc + ")");
        }
    }

    /** Values spanned by a stored rows × cols column-major matrix with leading dimension ld (0 when empty). */
    static long extent(int rows, int cols, int ld) {
        return rows == 0 || cols == 0 ? 0 : (long) (cols - 1) * ld + rows;
    }

    static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int lda, float[] b,
                      int ldb, float beta, float[] c, int ldc) {
        check(transA, transB, m, n, k, lda, ldb, ldc);
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                float sum = 0f;
                for (int p = 0; p < k; p++) {
                    float aip = transA ? a[p + i * lda] : a[i + p * lda];
                    float bpj = transB ? b[j + p * ldb] : b[p + j * ldb];
                    sum += aip * bpj;
                }
                int ij = i + j * ldc;
                c[ij] = beta == 0f ? alpha * sum : alpha * sum + beta * c[ij];
            }
        }
    }
}
