package dev.kullback.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
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
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.Devices;
import dev.kullback.Distillation;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import org.junit.jupiter.api.Test;

/**
 * Interop with GPU training code on a real GPU: caller memory from cuMemAlloc wrapped without a copy, ops on the
 * caller's non-blocking stream ordered after the caller's own work on it, the stream and memory left to the caller.
 * Skips where no GPU is usable ({@code -Dkullback.requireGpu=true} makes that a failure); without a GPU only the
 * argument checks that run before the driver is touched are exercised (see the last test).
 */
class GpuInteropTest {
    private static final float[] STUDENT = {0.5f, -1f, 2f, 0f, 1f, -0.25f, 3f, 0.1f};
    private static final float[] TEACHER = {1f, 0f, -1f, 0.5f, 0.5f, 2f, -3f, 0f};

    private static void assumeGpu() {
        RealGpu.require("GPU interop");
    }

    @Test
    void distillationInPlaceOnWrappedMemoryAndTheCallersStream() {
        assumeGpu();
        CUdevice cuDevice = new CUdevice();
        CUcontext primary = new CUcontext();
        JCudaGpu.check(cuDeviceGet(cuDevice, 0), "cuDeviceGet");
        JCudaGpu.check(cuDevicePrimaryCtxRetain(primary, cuDevice), "cuDevicePrimaryCtxRetain");
        JCudaGpu.check(cuCtxSetCurrent(primary), "cuCtxSetCurrent");
        CUstream stream = new CUstream();
        JCudaGpu.check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        CUdeviceptr student = new CUdeviceptr();
        CUdeviceptr teacher = new CUdeviceptr();
        JCudaGpu.check(cuMemAlloc(student, 4L * STUDENT.length), "cuMemAlloc");
        JCudaGpu.check(cuMemAlloc(teacher, 4L * TEACHER.length), "cuMemAlloc");
        try {
            JCudaGpu.check(cuMemcpyHtoD(student, Pointer.to(STUDENT), 4L * STUDENT.length), "cuMemcpyHtoD");
            JCudaGpu.check(cuMemcpyHtoD(teacher, Pointer.to(TEACHER), 4L * TEACHER.length), "cuMemcpyHtoD");
            float[] expectedValue;
            float[] expectedGrad;
            try (Tensor cs = Devices.cpu().upload(STUDENT, 2, 4); Tensor ct = Devices.cpu().upload(TEACHER, 2, 4);
                 Loss kd = Devices.cpu().distillationKl(cs, ct, Distillation.options().temperature(2f))) {
                expectedValue = kd.value().toArray();
                expectedGrad = kd.gradient().toArray();
            }
            try (CudaDevice device = CudaDevice.open(0, stream)) {
                CudaTensor s = device.wrap(student, 2, 4);
                CudaTensor t = device.wrap(teacher, 2, 4);
                try (Loss kd = device.distillationKl(s, t, Distillation.options().temperature(2f))) {
                    assertArrayEquals(expectedValue, kd.value().toArray(), 1e-5f);
                    assertArrayEquals(expectedGrad, kd.gradient().toArray(), 1e-5f);
                }
                // the caller's own work, queued and not waited for: kullback's op must run after it on the stream
                JCudaGpu.check(cuMemsetD32Async(student, Float.floatToIntBits(1f),
                        STUDENT.length, stream), "cuMemsetD32Async");
                try (Loss h = device.entropy(s, Reduction.MEAN)) {
                    assertEquals((float) Math.log(4), h.value().item(), 1e-6f, "entropy of the memset's uniform logits");
                }
                assertTrue(device.wrap(student, 1, 8).isWrapped());
                assertThrows(IllegalArgumentException.class, () -> device.wrap(student, 3, 4),
                        "48 bytes overrun the 32-byte allocation");
                s.close();
                t.close();
            }
            // the device is closed; the stream and the memory are still the caller's
            JCudaGpu.check(cuStreamSynchronize(stream), "cuStreamSynchronize after the device closed");
            float[] back = new float[TEACHER.length];
            JCudaGpu.check(cuMemcpyDtoH(Pointer.to(back), teacher, 4L * back.length), "cuMemcpyDtoH");
            assertArrayEquals(TEACHER, back);
        } finally {
            cuMemFree(student);
            cuMemFree(teacher);
            cuStreamDestroy(stream);
            cuDevicePrimaryCtxRelease(cuDevice);
        }
    }

    /** What can be checked without a GPU: a null stream is refused before the driver is touched. */
    @Test
    void aNullStreamIsRefusedBeforeTheDriverIsTouched() {
        String message = assertThrows(IllegalArgumentException.class, () -> CudaDevice.open(0, null)).getMessage();
        assertTrue(message.contains("stream is null"), message);
    }
}
