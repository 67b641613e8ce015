package dev.kullback.internal;

/**
 * Single-precision matrix products over one device's tensors, with cuBLAS's {@code cublasSgemm} contract, for the
 * span of one fused linear loss: column-major, {@code C = alpha · op(A) · op(B) + beta · C} with op(A) m × k, op(B)
 * k × n, C m × n; {@code lda >= max(1, transA ? k : m)}, {@code ldb >= max(1, transB ? n : k)},
 * {@code ldc >= max(1, m)}; when beta is 0, C is not read (NaN there does not propagate). A row-major [r, c] tensor
 * is the column-major c × r matrix with leading dimension c. Offsets count floats from element [0, 0] of a tensor.
 * Work is ordered with the device's other operations (on a GPU: on its stream).
 */
public interface Gemm<T extends AbstractTensor> extends AutoCloseable {
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, T a, long aOffset, int lda, T b,
              long bOffset, int ldb, float beta, T c, long cOffset, int ldc);

    /**
     * Promises that until {@link #close()} {@code t} is read and written only through this Gemm, so a device may keep
     * it where its BLAS works (the CPU: a native copy, written back at close). A no-op where the BLAS works on the
     * tensors themselves.
     */
    default void hold(T t) {
    }

    /** Ends the span: held tensors are written back, staging memory freed. */
    @Override
    void close();
}
