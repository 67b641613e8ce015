package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kullback.Device;
import dev.kullback.Devices;
import org.junit.jupiter.api.BeforeAll;

/**
 * The CUDA device on a real GPU against the CPU device. Skips, with the reason, where no GPU is usable;
 * {@code -Dkullback.requireGpu=true} (CUDA CI runners) makes that a failure.
 */
class GpuParityTest extends CudaParityContract {
    private static CudaDevice gpu;

    @BeforeAll
    static void openGpu() {
        try {
            Device device = Devices.cuda();
            gpu = (CudaDevice) device;
        } catch (IllegalStateException noGpu) {
            if (Boolean.getBoolean("kullback.requireGpu")) {
                fail("-Dkullback.requireGpu=true but " + noGpu.getMessage(), noGpu);
            }
            assumeTrue(false, "GPU parity skipped: " + noGpu.getMessage());
        }
    }

    @Override
    CudaDevice cuda() {
        return gpu;
    }
}
