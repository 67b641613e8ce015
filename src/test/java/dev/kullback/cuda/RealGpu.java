package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kullback.Devices;

/**
 * The real GPU of the GPU-only suites, opened once ({@link Devices#cuda()}). Where none is usable a test skips with
 * the reason; {@code -Dkullback.requireGpu=true} (CUDA CI runners) makes that a failure, so a runner whose GPU went
 * missing cannot pass by skipping.
 */
final class RealGpu {
    private static CudaDevice gpu;
    private static String missing;

    private RealGpu() {
    }

    /** The GPU, or a skip (a failure under requireGpu) naming {@code what} would have run and why it cannot. */
    static synchronized CudaDevice require(String what) {
        if (gpu == null && missing == null) {
            try {
                gpu = (CudaDevice) Devices.cuda();
            } catch (IllegalStateException e) {
                missing = e.getMessage();
            }
        }
        if (gpu == null) {
            skipOrFail("no GPU here, so " + what + " is skipped: " + missing);
        }
        return gpu;
    }

    /** Skips with {@code reason}, or fails with it under {@code -Dkullback.requireGpu=true}. */
    static void skipOrFail(String reason) {
        if (Boolean.getBoolean("kullback.requireGpu")) {
            fail("-Dkullback.requireGpu=true but " + reason);
        }
        assumeTrue(false, reason);
    }
}
