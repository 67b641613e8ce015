package dev.kullback.cuda;

/**
 * The one narrow seam between the CUDA device's Java code and a GPU: memory, copies, kernels.
 * {@link JCudaGpu} is the real driver; the test suite's host simulator is the other side, so the same
 * launch code (pool, launch configurations, argument marshalling, multi-kernel reductions) runs in CI
 * on machines with no GPU. Addresses are raw device addresses; work is ordered on one stream (the
 * caller's, when the device was opened with one: {@link JCudaGpu#open(int, jcuda.driver.CUstream)}).
 */
public interface Gpu extends AutoCloseable {
    /** A kernel resolved by name from a loaded module. */
    interface Function {
    }

    /** e.g. "cuda:0 NVIDIA H100 (sm_90)". */
    String name();

    /** The device's memory in bytes: no single allocation can be larger. */
    long totalMemory();

    /** Allocates device memory, at least 256-byte aligned. */
    long malloc(long bytes);

    void free(long address);

    /**
     * Throws {@link IllegalArgumentException} unless [address, address + bytes) lies inside one live device
     * allocation: the check on memory the caller wraps. The default checks nothing.
     */
    default void requireAllocated(long address, long bytes) {
    }

    /** Copies count floats from src[srcOffset..] to the device at dst, after all queued work. */
    void copyToDevice(float[] src, int srcOffset, long dst, int count);

    /** Copies all of {@code src} (int32 labels) to the device at dst, after all queued work. */
    void copyToDevice(int[] src, long dst);

    /** Copies count floats from the device at src into dst[dstOffset..], after all queued work. */
    void copyToHost(long src, float[] dst, int dstOffset, int count);

    /**
     * Copies all of {@code src} (16-bit patterns of a half tensor) to the device at dst, after all queued work. The
     * default (a GPU stand-in without half tensors) throws {@link UnsupportedOperationException}.
     */
    default void copyToDevice(short[] src, long dst) {
        throw new UnsupportedOperationException(name() + " cannot copy 16-bit data");
    }

    /** Copies dst.length 16-bit patterns from the device at src into dst, after all queued work (default: as above). */
    default void copyToHost(long src, short[] dst) {
        throw new UnsupportedOperationException(name() + " cannot copy 16-bit data");
    }

    /** Sets bytes of device memory to zero, in stream order. */
    void memsetZero(long dst, long bytes);

    /** The kernel {@code kernel} of {@code kernels/<module>.cu}; the module is loaded once, on first use. */
    Function function(String module, String kernel);

    /**
     * Queues a 1-D launch. Arguments are marshalled by their Java type: Long (a device address or a
     * {@code long long}), Integer ({@code int}), Float ({@code float}).
     */
    void launch(Function function, int gridX, int blockX, int sharedBytes, Object... args);

    /** The CUDA device ordinal, for libraries that select the device themselves (NCCL); -1 where there is none. */
    default int ordinal() {
        return -1;
    }

    /** The raw CUstream handle every launch and copy is ordered on (0: the legacy default stream). */
    default long streamHandle() {
        return 0L;
    }

    /**
     * Queues cuBLAS's {@code cublasSgemm} in stream order, with its exact contract: column-major,
     * {@code C = alpha · op(A) · op(B) + beta · C}, op(A) m × k, op(B) k × n, C m × n at raw device addresses, leading
     * dimensions lda, ldb, ldc; C is not read when beta is 0. Used by the fused linear losses only: a GPU whose BLAS
     * cannot load throws {@link IllegalStateException} saying why, and everything else keeps working.
     */
    default void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, int lda, long b,
                       int ldb, float beta, long c, int ldc) {
        throw new IllegalStateException("the fused linear losses need a BLAS, and " + name() + " has none");
    }

    /** Waits for all queued work. */
    void synchronize();

    @Override
    void close();
}
