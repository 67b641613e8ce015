package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.Devices;
import dev.kullback.Distillation;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.Test;

/**
 * Zero-copy interop on the host simulator: caller memory (a SimGpu allocation, as a training framework's would be)
 * wrapped as tensors, ops run on it in place, and closing the wrappers (or the device) never frees it. The caller's
 * memory comes from a SimGpu of its own (the simulator's memory is process-wide, like a context's), since closing a
 * CudaDevice closes its Gpu.
 */
class SimWrapTest {
    private static final float[] STUDENT = {0.5f, -1f, 2f, 0f, 1f, -0.25f, 3f, 0.1f};
    private static final float[] TEACHER = {1f, 0f, -1f, 0.5f, 0.5f, 2f, -3f, 0f};

    @Test
    void opsRunOnWrappedMemoryAndClosingTheWrapperFreesNothing() {
        try (SimGpu gpu = SimGpus.open()) {   // the training framework's memory
            long student = gpu.malloc(4L * STUDENT.length);
            long teacher = gpu.malloc(4L * TEACHER.length);
            gpu.copyToDevice(STUDENT, 0, student, STUDENT.length);
            gpu.copyToDevice(TEACHER, 0, teacher, TEACHER.length);
            int callerAllocations = gpu.liveAllocations();
            try (CudaDevice device = new CudaDevice(SimGpus.open())) {
                CudaTensor s = device.wrap(student, 2, 4);
                CudaTensor t = device.wrap(new CUdeviceptr().withByteOffset(teacher), 2, 4);
                assertTrue(s.isWrapped());
                assertEquals(student, s.address(), "no copy: the tensor is the caller's memory");
                assertEquals(teacher, t.address());
                assertEquals(0, device.liveBytes(), "wrapped memory is not the pool's");
                assertArrayEquals(STUDENT, s.toArray());

                float[] expectedValue;
                float[] expectedGrad;
                try (Tensor cs = Devices.cpu().upload(STUDENT, 2, 4); Tensor ct = Devices.cpu().upload(TEACHER, 2, 4);
                     Loss kd = Devices.cpu().distillationKl(cs, ct, Distillation.options().temperature(2f))) {
                    expectedValue = kd.value().toArray();
                    expectedGrad = kd.gradient().toArray();
                }
                try (Loss kd = device.distillationKl(s, t, Distillation.options().temperature(2f))) {
                    assertArrayEquals(expectedValue, kd.value().toArray(), 1e-5f, "loss on wrapped memory");
                    assertArrayEquals(expectedGrad, kd.gradient().toArray(), 1e-6f, "gradient on wrapped memory");
                }
                // an op writing into memory the caller owns: a kullback result copied in place by the caller's code
                try (Tensor logQ = device.logSoftmax(s); Tensor p = device.softmax(t);
                     Tensor kl = device.klDiv(logQ, p, Reduction.BATCHMEAN, false)) {
                    assertTrue(kl.item() > 0);
                }
                s.close();
                t.close();
                assertTrue(s.isClosed());
                assertThrows(IllegalStateException.class, () -> device.softmax(s), "a closed wrapper is closed");
                assertEquals(callerAllocations, gpu.liveAllocations(), "closing the wrappers freed nothing");
                float[] back = new float[STUDENT.length];
                gpu.copyToHost(student, back, 0, back.length);
                assertArrayEquals(STUDENT, back, "the caller's data is untouched");
                // a wrapper left open when the device closes
                device.wrap(student, 1, 8);
            }
            assertEquals(callerAllocations, gpu.liveAllocations(), "closing the device freed no caller memory");
            float[] back = new float[TEACHER.length];
            gpu.copyToHost(teacher, back, 0, back.length);
            assertArrayEquals(TEACHER, back);
            gpu.free(student);
            gpu.free(teacher);
        }
    }

    @Test
    void aWrapperIsNeverReclaimedByTheCleaner() throws InterruptedException {
        try (SimGpu gpu = SimGpus.open(); CudaDevice device = new CudaDevice(SimGpus.open())) {
            long caller = gpu.malloc(64);
            device.wrap(caller, 4, 4);   // dropped unclosed
            for (int i = 0; i < 5; i++) {
                System.gc();
                Thread.sleep(20);
            }
            assertEquals(0, device.leaks(), "a dropped wrapper owns nothing, so it is no leak");
            assertEquals(0, device.pooledBytes(), "caller memory never enters the pool");
            gpu.free(caller);  // still the caller's: no double free
        }
    }

    @Test
    void wrapChecksItsArguments() {
        try (SimGpu gpu = SimGpus.open(); CudaDevice device = new CudaDevice(SimGpus.open())) {
            long caller = gpu.malloc(64);
            String nul = assertThrows(IllegalArgumentException.class, () -> device.wrap(0L, 1, 1)).getMessage();
            assertTrue(nul.contains("null"), nul);
            String odd = assertThrows(IllegalArgumentException.class, () -> device.wrap(caller + 2, 1, 1)).getMessage();
            assertTrue(odd.contains("aligned"), odd);
            assertThrows(IllegalArgumentException.class, () -> device.wrap(caller, 0, 4));
            assertThrows(IllegalArgumentException.class, () -> device.wrap((CUdeviceptr) null, 1, 1));
            String over = assertThrows(IllegalArgumentException.class, () -> device.wrap(caller, 4, 5)).getMessage();
            assertTrue(over.contains("80 bytes"), over);
            String offset = assertThrows(IllegalArgumentException.class, () -> device.wrap(caller + 4, 4, 4))
                    .getMessage();
            assertTrue(offset.contains("64 bytes"), offset);
            try (Tensor tail = device.wrap(caller + 4, 3, 5)) {
                assertFalse(tail.isClosed(), "60 bytes at offset 4 fit");
            }
            device.close();
            assertThrows(IllegalStateException.class, () -> device.wrap(caller, 1, 1), "a closed device");
            gpu.free(caller);
        }
    }

    @Test
    void aJCudaPointersByteOffsetIsPartOfItsAddress() {
        assertEquals(0x1000L, JCudaGpu.addressOf(new CUdeviceptr().withByteOffset(0x1000)));
        assertEquals(0x1010L, JCudaGpu.addressOf(new CUdeviceptr().withByteOffset(0x1000).withByteOffset(0x10)));
        assertEquals(0L, JCudaGpu.addressOf(new CUdeviceptr()));
    }
}
