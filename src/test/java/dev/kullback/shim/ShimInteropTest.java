package dev.kullback.shim;

import static dev.kullback.shim.ShimDriverTest.alloc;
import static dev.kullback.shim.ShimDriverTest.ok;
import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kullback.Devices;
import dev.kullback.Distillation;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import dev.kullback.cuda.CudaDevice;
import dev.kullback.cuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code CudaDevice.open(int, long)}: a raw stream handle, as a framework hands one over, through JCuda on the shim.
 * The shim's streams hold their work until something waits for it, so an op that ran on any other stream than the
 * caller's would read the caller's memory before the caller's queued memset and give a wrong value.
 */
class ShimInteropTest {
    private static final float[] STUDENT = {0.5f, -1f, 2f, 0f, 1f, -0.25f, 3f, 0.1f};
    private static final float[] TEACHER = {1f, 0f, -1f, 0.5f, 0.5f, 2f, -3f, 0f};
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private CUdeviceptr student;
    private CUdeviceptr teacher;

    @BeforeEach
    void callerMemory() {
        DriverShim.assumeActive();
        JCudaDriver.setExceptionsEnabled(false);
        ok(cuInit(0), "cuInit");
        ok(cuDeviceGet(device, 0), "cuDeviceGet");
        ok(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        ok(cuCtxSetCurrent(context), "cuCtxSetCurrent");
        student = alloc(4L * STUDENT.length);
        teacher = alloc(4L * TEACHER.length);
        ok(cuMemcpyHtoD(student, Pointer.to(STUDENT), 4L * STUDENT.length), "cuMemcpyHtoD");
        ok(cuMemcpyHtoD(teacher, Pointer.to(TEACHER), 4L * TEACHER.length), "cuMemcpyHtoD");
    }

    @AfterEach
    void release() {
        if (DriverShim.active()) {
            cuMemFree(student);
            cuMemFree(teacher);
            ok(cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
        }
    }

    @Test
    void opsOnARawNonBlockingStreamRunAfterTheCallersWorkOnIt() {
        ShimDriverTest.Handle stream = new ShimDriverTest.Handle();
        ok(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        try {
            float[] expectedValue;
            float[] expectedGrad;
            try (Tensor cs = Devices.cpu().upload(STUDENT, 2, 4); Tensor ct = Devices.cpu().upload(TEACHER, 2, 4);
                 Loss kd = Devices.cpu().distillationKl(cs, ct, Distillation.options().temperature(2f))) {
                expectedValue = kd.value().toArray();
                expectedGrad = kd.gradient().toArray();
            }
            try (CudaDevice d = CudaDevice.open(0, stream.value())) {
                Tensor s = d.wrap(student, 2, 4);
                Tensor t = d.wrap(teacher, 2, 4);
                try (Loss kd = d.distillationKl(s, t, Distillation.options().temperature(2f))) {
                    assertArrayEquals(expectedValue, kd.value().toArray(), 1e-5f);
                    assertArrayEquals(expectedGrad, kd.gradient().toArray(), 1e-5f);
                }
                ok(cuMemsetD32Async(student, Float.floatToIntBits(1f), STUDENT.length, stream), "cuMemsetD32Async");
                try (Loss h = d.entropy(s, Reduction.MEAN)) {
                    assertEquals((float) Math.log(4), h.value().item(), 1e-6f, "entropy after the caller's memset");
                }
            }
            ok(cuStreamSynchronize(stream), "the caller's stream outlives the device");
            float[] back = new float[TEACHER.length];
            ok(cuMemcpyDtoH(Pointer.to(back), teacher, 4L * back.length), "cuMemcpyDtoH");
            assertArrayEquals(TEACHER, back);
        } finally {
            cuStreamDestroy(stream);
        }
    }

    @Test
    void rawZeroIsTheLegacyDefaultStream() {
        try (CudaDevice d = CudaDevice.open(0, 0L)) {
            ok(cuMemsetD32Async(student, Float.floatToIntBits(2f), STUDENT.length, new CUstream()), "cuMemsetD32Async");
            try (Tensor s = d.wrap(student, 1, 8); Loss h = d.entropy(s, Reduction.SUM)) {
                assertEquals((float) Math.log(8), h.value().item(), 1e-6f);
            }
        }
    }

    @Test
    void aRawHandleThatIsNoStreamIsRefused() {
        CudaException e = assertThrows(CudaException.class, () -> CudaDevice.open(0, 0x7e57L << 12));
        assertEquals("CUDA_ERROR_INVALID_HANDLE", e.error(), e.getMessage());
    }
}
