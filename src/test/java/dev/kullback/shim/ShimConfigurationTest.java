package dev.kullback.shim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The failure paths that need a driver or device other than the default one, each in a fresh JVM on the shim
 * configured through its environment: {@code Devices.best()} through JCuda meets a driver too old for the shipped PTX
 * (CUDA_ERROR_UNSUPPORTED_PTX_VERSION), a GPU older than its target (CUDA_ERROR_NO_BINARY_FOR_GPU), and a device too
 * small for the work (CUDA_ERROR_OUT_OF_MEMORY), and falls back or fails as the user would see it; and the driver's
 * life cycle (not initialized, a destroyed context, a kernel fault that poisons the context), which the test JVM's
 * shared primary context cannot go through.
 */
class ShimConfigurationTest {
    /**
     * The CPU device's bits for this input (its short-row kernels since issue 13: float lane sums, a float log, and
     * since the short-row exp {@code ShortRowExp}, the first row's Σ one float ulp apart from the general exp's, its
     * log Σ 8e-8; every value within 1.5e-7 of float64).
     */
    private static final String CPU_RESULT = "logSoftmax=[-2.4076061, -1.407606, -0.40760604, -0.024744924, -4.024745, "
            + "-5.024745]";

    @Test
    void aDriverTooOldForThePtxFallsBackToTheCpuWithTheReason() throws Exception {
        String out = DriverShim.probe(Map.of("KULLBACK_SHIM_DRIVER_VERSION", "11080"));
        assertTrue(out.contains("gpu=false"), out);
        assertTrue(out.contains("reason=no usable GPU: kullback's kernels are PTX ISA 8.0 for sm_75, which needs an "
                + "NVIDIA driver for CUDA 12.0 or newer; the installed driver supports CUDA 11.8 (cuDriverGetVersion "
                + "11080): update the driver (cuModuleLoadDataEx(soft_cap.ptx) failed: "
                + "CUDA_ERROR_UNSUPPORTED_PTX_VERSION)"), out);
        assertTrue(out.contains(CPU_RESULT), "the CPU device answers instead: " + out);
    }

    @Test
    void theOldestDriverThatLoadsThePtxIsCuda12() throws Exception {
        String out = DriverShim.probe(Map.of("KULLBACK_SHIM_DRIVER_VERSION", "12000", "KULLBACK_SHIM_SM", "75"));
        assertTrue(out.contains("gpu=true") && out.contains("(sm_75, driver 12.0)"), out);
    }

    @Test
    void aGpuOlderThanThePtxTargetFallsBackWithTheReason() throws Exception {
        String out = DriverShim.probe(Map.of("KULLBACK_SHIM_SM", "70"));
        assertTrue(out.contains("gpu=false"), out);
        assertTrue(out.contains("or the GPU is older than sm_75 (Turing)") && out.contains("CUDA_ERROR_NO_BINARY_FOR_GPU"),
                out);
        assertTrue(out.contains(CPU_RESULT), out);
    }

    @Test
    void outOfDeviceMemoryTrimsThePoolThenFailsLoudly() throws Exception {
        String out = DriverShim.probe(Map.of("KULLBACK_SHIM_MEMORY", "1m"), "oom", "200000");
        assertTrue(out.contains("large after trim=2.0"), "the pool gave its idle buffer back: " + out);
        assertTrue(out.contains("second large failed: dev.kullback.cuda.CudaException: cuMemAlloc(800000 bytes) "
                + "failed: CUDA_ERROR_OUT_OF_MEMORY"), out);
        assertTrue(out.contains("live after close=0"), out);
    }

    @Test
    void theDriversLifeCycleErrorsAreTheDriversCodes() throws Exception {
        String out = DriverShim.probe(Map.of("KULLBACK_SHIM_QUIET", "1"), "lifecycle");
        assertTrue(out.contains("before cuInit=CUDA_ERROR_NOT_INITIALIZED"), out);
        assertTrue(out.contains("released context=CUDA_ERROR_CONTEXT_IS_DESTROYED"), out);
        assertTrue(out.contains("queued=ok") && out.contains("synchronize=CUDA_ERROR_ILLEGAL_ADDRESS"),
                "an out-of-bounds kernel fails at the next synchronization, not at the launch: " + out);
        assertTrue(out.contains("after the fault=CUDA_ERROR_ILLEGAL_ADDRESS"), "the context stays poisoned: " + out);
    }
}
