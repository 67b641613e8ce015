package dev.kullback.cuda;

import dev.kullback.OpCase;
import dev.kullback.Shape;
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
 * default order; this class runs a subset of their cases ({@link #subset}). The setting is process-wide: test
 * classes run one at a time, and it is reset after this one.
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

    /**
     * The contract's cases (every kernel, reduction and option, clean and edge values) on 1, 3 and 65 rows of 1 and
     * 33 columns (warp per row) and 4,097 columns (block per row), to keep CI time down. A planted missing
     * {@code __syncthreads()} in {@code block_sum} fails cross-entropy here on [65, 33] and [*, 4097].
     */
    static Stream<Arguments> subset(Stream<Arguments> cases) {
        return cases.filter(a -> {
            Shape s = shapeOf(a);
            return s.rows() <= 65 && (s.cols() == 1 || s.cols() == 33 || s.cols() == 4097);
        });
    }

    /** An op case's shape (CudaParityContract), or a loss case's (LossParityContract: case, rows, cols, edges). */
    private static Shape shapeOf(Arguments a) {
        Object[] args = a.get();
        return args[0] instanceof OpCase c ? c.shape : new Shape((Integer) args[1], (Integer) args[2]);
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
