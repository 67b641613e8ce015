package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kullback.Devices;
import org.junit.jupiter.api.BeforeAll;

/**
 * Every loss kernel on a real GPU (see LossParityContract). Skips, with the reason, where no GPU is usable;
 * {@code -Dkullback.requireGpu=true} (CUDA CI runners) makes that a failure.
 */
class GpuLossParityTest extends LossParityContract {
    private static CudaDevice gpu;
    private static String noGpu;

    @BeforeAll
    static void openGpu() {
        try {
            gpu = (CudaDevice) Devices.cuda();
        } catch (IllegalStateException e) {
            if (Boolean.getBoolean("kullback.requireGpu")) {
                fail("-Dkullback.requireGpu=true but " + e.getMessage(), e);
            }
            noGpu = e.getMessage();
        }
    }

    @Override
    CudaDevice cuda() {
        assumeTrue(gpu != null, () -> "no GPU here, so GPU loss parity is skipped: " + noGpu);
        return gpu;
    }
}
