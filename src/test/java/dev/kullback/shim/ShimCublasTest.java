package dev.kullback.shim;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.BlasOracle;
import java.util.Arrays;
import java.util.Random;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import jcuda.jcublas.cublasPointerMode;
import jcuda.jcublas.cublasStatus;
import jcuda.runtime.cudaStream_t;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The cuBLAS shim ({@code target/sim/driver/libcublas.so.12}, libcublas_shim.cpp) through the real JCublas2, in the
 * driver-shim JVM: cublasSgemm to its letter against OpenBLAS, queued on the handle's stream, and the misuse cuBLAS
 * refuses (bad leading dimensions, device pointer mode) or a GPU would fault on (a matrix past its allocation).
 */
class ShimCublasTest {
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final cublasHandle handle = new cublasHandle();

    @BeforeEach
    void openAHandle() {
        DriverShim.assumeActive();
        JCudaDriver.setExceptionsEnabled(false);
        JCublas2.setExceptionsEnabled(false);
        ShimDriverTest.ok(cuInit(0), "cuInit");
        ShimDriverTest.ok(cuDeviceGet(device, 0), "cuDeviceGet");
        ShimDriverTest.ok(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        ShimDriverTest.ok(cuCtxSetCurrent(context), "cuCtxSetCurrent");
        assertEquals(cublasStatus.CUBLAS_STATUS_SUCCESS, JCublas2.cublasCreate(handle));
    }

    @AfterEach
    void closeIt() {
        if (DriverShim.active()) {
            JCublas2.cublasDestroy(handle);
            ShimDriverTest.ok(cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
        }
    }

    private static CUdeviceptr upload(float[] x) {
        CUdeviceptr p = new CUdeviceptr();
        ShimDriverTest.ok(cuMemAlloc(p, 4L * x.length), "cuMemAlloc");
        ShimDriverTest.ok(cuMemcpyHtoD(p, Pointer.to(x), 4L * x.length), "cuMemcpyHtoD");
        return p;
    }

    private static float[] download(CUdeviceptr p, int n) {
        float[] x = new float[n];
        ShimDriverTest.ok(cuMemcpyDtoH(Pointer.to(x), p, 4L * n), "cuMemcpyDtoH");
        return x;
    }

    private int sgemm(boolean ta, boolean tb, int m, int n, int k, float alpha, CUdeviceptr a, int lda, CUdeviceptr b,
                      int ldb, float beta, CUdeviceptr c, int ldc) {
        return JCublas2.cublasSgemm(handle, ta ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N,
                tb ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N, m, n, k,
                Pointer.to(new float[] {alpha}), a, lda, b, ldb, Pointer.to(new float[] {beta}), c, ldc);
    }

    /**
     * Every transpose pair, padded leading dimensions, alpha and beta (beta 0 with NaN in C, which cuBLAS does not
     * read), queued on a non-blocking stream: C changes only when the stream is synchronized, then equals OpenBLAS.
     */
    @Test
    void sgemmIsCublasSgemmOnTheHandlesStream() {
        DriverShim.api().kullback_shim_set_lazy(1);
        CUstream stream = new CUstream();
        ShimDriverTest.ok(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        assertEquals(cublasStatus.CUBLAS_STATUS_SUCCESS, JCublas2.cublasSetStream(handle, new cudaStream_t(stream)));
        Random random = new Random(7);
        int m = 5;
        int n = 4;
        int k = 3;
        try {
            for (boolean ta : new boolean[] {false, true}) {
                for (boolean tb : new boolean[] {false, true}) {
                    for (float[] ab : new float[][] {{1f, 0f}, {-2f, 0.5f}, {0f, 3f}}) {
                        int lda = (ta ? k : m) + 2;
                        int ldb = (tb ? n : k) + 1;
                        int ldc = m + 3;
                        float[] a = BlasOracle.ints(random, lda * (ta ? m : k));
                        float[] b = BlasOracle.ints(random, ldb * (tb ? k : n));
                        float[] c = BlasOracle.ints(random, ldc * n);
                        if (ab[1] == 0f) {
                            Arrays.fill(c, Float.NaN);
                        }
                        float[] want = BlasOracle.sgemm(ta, tb, m, n, k, ab[0], a, 0, lda, b, 0, ldb, ab[1], c, 0,
                                ldc);
                        CUdeviceptr da = upload(a);
                        CUdeviceptr db = upload(b);
                        CUdeviceptr dc = upload(c);
                        try {
                            assertEquals(cublasStatus.CUBLAS_STATUS_SUCCESS,
                                    sgemm(ta, tb, m, n, k, ab[0], da, lda, db, ldb, ab[1], dc, ldc));
                            assertArrayEquals(c, download(dc, c.length), "queued: nothing ran before a sync");
                            ShimDriverTest.ok(cuStreamSynchronize(stream), "cuStreamSynchronize");
                            assertArrayEquals(want, download(dc, c.length),
                                    "transA " + ta + " transB " + tb + " alpha " + ab[0] + " beta " + ab[1]);
                        } finally {
                            cuMemFree(da);
                            cuMemFree(db);
                            cuMemFree(dc);
                        }
                    }
                }
            }
        } finally {
            JCublas2.cublasSetStream(handle, new cudaStream_t());
            cuStreamDestroy(stream);
        }
    }

    /** What cuBLAS refuses, it refuses; a matrix past its allocation fails the call where a GPU would fault. */
    @Test
    void misuseFailsLoudly() {
        CUdeviceptr a = upload(new float[6]);
        CUdeviceptr c = upload(new float[6]);
        try {
            assertEquals(cublasStatus.CUBLAS_STATUS_INVALID_VALUE, sgemm(false, false, 3, 2, 2, 1f, a, 2, a, 2, 0f,
                    c, 3), "lda 2 < m 3");
            assertEquals(cublasStatus.CUBLAS_STATUS_INVALID_VALUE, sgemm(false, false, 3, 2, -1, 1f, a, 3, a, 3, 0f,
                    c, 3), "k < 0");
            assertEquals(cublasStatus.CUBLAS_STATUS_EXECUTION_FAILED, sgemm(false, false, 3, 3, 2, 1f, a, 3, a, 2,
                    0f, c, 3), "C is 3 x 3 but its allocation holds 6 values");
            assertTrue(ShimDriverTest.lastError().contains("overrun"), ShimDriverTest.lastError());
            assertEquals(cublasStatus.CUBLAS_STATUS_SUCCESS, sgemm(false, false, 3, 2, 2, 1f, a, 3, a, 2, 0f, c, 3),
                    "the handle works after refusals");
            assertEquals(cublasStatus.CUBLAS_STATUS_SUCCESS, JCublas2.cublasSetPointerMode(handle,
                    cublasPointerMode.CUBLAS_POINTER_MODE_DEVICE));
            assertEquals(cublasStatus.CUBLAS_STATUS_NOT_SUPPORTED, sgemm(false, false, 3, 2, 2, 1f, a, 3, a, 2, 0f,
                    c, 3), "device pointer mode is not modelled");
        } finally {
            JCublas2.cublasSetPointerMode(handle, cublasPointerMode.CUBLAS_POINTER_MODE_HOST);
            cuMemFree(a);
            cuMemFree(c);
        }
    }
}
