package dev.kullback.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasMath;
import jcuda.jcublas.cublasOperation;
import jcuda.jcublas.cublasPointerMode;
import jcuda.jcublas.cublasStatus;
import jcuda.runtime.cudaStream_t;

/**
 * One cuBLAS handle of a {@link JCudaGpu}, on its stream: the matrix products of the fused linear losses. Made on
 * first use, so a machine without {@code libcublas.so.12} keeps every other CUDA operation. Deterministic settings:
 * pointer mode host, no atomics (cuBLAS's default), no reduced-precision reductions, one stream, so results repeat
 * bitwise on one GPU model (cuBLAS's documented guarantee for a given toolkit, architecture and SM count).
 */
final class Cublas implements AutoCloseable {
    private static volatile String unavailable; // null until asked; "" when JCublas loads
    private final cublasHandle handle = new cublasHandle();

    private Cublas(CUstream stream) {
        check(JCublas2.cublasCreate(handle), "cublasCreate");
        try {
            check(JCublas2.cublasSetStream(handle, new cudaStream_t(stream)), "cublasSetStream");
            check(JCublas2.cublasSetPointerMode(handle, cublasPointerMode.CUBLAS_POINTER_MODE_HOST),
                    "cublasSetPointerMode");
            check(JCublas2.cublasSetMathMode(handle, cublasMath.CUBLAS_DEFAULT_MATH
                    | cublasMath.CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION), "cublasSetMathMode");
        } catch (RuntimeException e) {
            JCublas2.cublasDestroy(handle);
            throw e;
        }
    }

    /** A handle on {@code stream} (the caller's context must be current), or why cuBLAS cannot be used. */
    static Cublas open(CUstream stream) {
        String reason = unavailableReason();
        if (reason != null) {
            throw new IllegalStateException(reason);
        }
        return new Cublas(stream);
    }

    /**
     * Null when JCublas and libcublas.so.12 load, else a sentence naming the library and the fix; the fused linear
     * losses need it, the rest of the CUDA device does not.
     */
    static String unavailableReason() {
        String r = unavailable;
        if (r == null) {
            synchronized (Cublas.class) {
                r = unavailable;
                if (r == null) {
                    try {
                        JCublas2.setExceptionsEnabled(false);
                        JCublas2.initialize();
                        r = "";
                    } catch (Throwable t) { // UnsatisfiedLinkError, NoClassDefFoundError
                        r = "the fused linear losses need cuBLAS, and JCublas " + "12.6 could not load libcublas.so.12"
                                + " (the CUDA 12 cuBLAS library; a CUDA-13-only machine lacks it): " + oneLine(t)
                                + ". Install CUDA 12's cuBLAS (e.g. the libcublas-12-x package, or pip's "
                                + "nvidia-cublas-cu12) and put its folder on LD_LIBRARY_PATH; the other CUDA "
                                + "operations work without it";
                    }
                    unavailable = r;
                }
            }
        }
        return r.isEmpty() ? null : r;
    }

    private static String oneLine(Throwable t) {
        String m = String.valueOf(t.getMessage());
        int nl = m.indexOf('\n');
        return t.getClass().getSimpleName() + ": " + (nl < 0 ? m : m.substring(0, nl));
    }

    void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, int lda, long b, int ldb,
               float beta, long c, int ldc) {
        check(JCublas2.cublasSgemm(handle, op(transA), op(transB), m, n, k, Pointer.to(new float[] {alpha}),
                device(a), lda, device(b), ldb, Pointer.to(new float[] {beta}), device(c), ldc), "cublasSgemm");
    }

    private static int op(boolean transpose) {
        return transpose ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
    }

    private static CUdeviceptr device(long address) {
        return new CUdeviceptr().withByteOffset(address);
    }

    private static void check(int status, String call) {
        if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
            throw new CudaException(call, cublasStatus.stringFor(status));
        }
    }

    @Override
    public void close() {
        JCublas2.cublasDestroy(handle);
    }
}
