package dev.kullback.cuda;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * JUnit helper: a {@link SimGpu}, or the test is skipped with the reason the simulator is unavailable
 * (usually: no g++ to build it). With {@code CI=true} in the environment, or
 * {@code -Dkullback.sim.required=true}, a missing simulator fails the test instead.
 */
public final class SimGpus {
    private SimGpus() {
    }

    /** Whether a missing simulator is a failure rather than a skip. */
    public static boolean required() {
        return "true".equalsIgnoreCase(System.getenv("CI")) || Boolean.getBoolean("kullback.sim.required");
    }

    /** A new simulator device (close it), or skips (fails in CI) the calling test. */
    public static SimGpu open() {
        return SimGpu.open().orElseGet(() -> {
            String reason = SimGpu.unavailableReason();
            if (required()) {
                return Assertions.fail("the CUDA host simulator is required (CI=true) but unavailable: " + reason);
            }
            Assumptions.abort("the CUDA host simulator is unavailable: " + reason);
            return null;
        });
    }
}
