package dev.kullback.cuda;

import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.params.provider.Arguments;

/**
 * The CUDA-device parity suites again, with the host simulator running each block's threads last-to-first
 * ({@link SimGpu#reverseSchedule}). Within a block the simulator switches threads only at barriers and warp
 * intrinsics, so a missing {@code __syncthreads()} shows in one of its two orders and not the other (in
 * cross-entropy, only in this one); {@link SimulatorParityTest} and {@link SimulatorLossParityTest} run the
 * default order. A subset (up to 65 rows and 4,097 columns: every kernel on both launch branches, the edge
 * values, every reduction) keeps CI time down. The setting is process-wide: test classes run one at a time, and it is reset after this one.
 */
class SimulatorReverseScheduleTest {
    private static SimGpu gpu;
    private static CudaDevice simulated;

    @BeforeAll
    static void openReversed() {
        gpu = SimGpus.open();
        gpu.reverseSchedule(true);
        simulated = new CudaDevice(gpu);
    }

    @AfterAll
    static void closeAndRestore() {
        if (gpu != null) {
            gpu.reverseSchedule(false);
        }
        if (simulated != null) {
            simulated.close();
        }
    }

    /** The contract's cases on its warp- and block-per-row shapes up to 65 rows and 4,097 columns (CI time). */
    static Stream<Arguments> subset(Stream<Arguments> cases) {
        return cases.filter(a -> {
            int rows = (Integer) a.get()[1];
            int cols = (Integer) a.get()[2];
            return rows <= 65 && cols <= 4097;
        });
    }

    @Nested
    class Ops extends CudaParityContract {
        static Stream<Arguments> cases() {
            return subset(CudaParityContract.cases());
        }

        @Override
        CudaDevice cuda() {
            return simulated;
        }
    }

    @Nested
    class Losses extends LossParityContract {
        static Stream<Arguments> cases() {
            return subset(LossParityContract.cases());
        }

        @Override
        CudaDevice cuda() {
            return simulated;
        }
    }
}
