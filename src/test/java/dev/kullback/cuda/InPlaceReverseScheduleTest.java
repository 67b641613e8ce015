package dev.kullback.cuda;

import dev.kullback.InPlaceLossesTestAccess;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code InPlaceLossesTest}'s check (every fused loss in place, bitwise the out-of-place result, no [rows, cols]
 * buffer) on the host simulator with each block's threads run last-to-first ({@link SimGpu#reverseSchedule}): a
 * thread that reads an element another thread's gradient overwrote (a cross-thread in-place hazard) reads it
 * overwritten in one of the two orders. A planted hazard (cross-entropy's target logit read after the gradient pass,
 * the bug fixed in f4aff79) fails here and in the default order; see the kernels' in-place comments.
 */
class InPlaceReverseScheduleTest {
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

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Object c : InPlaceLossesTestAccess.cases()) {
            for (int[] shape : InPlaceLossesTestAccess.shapes()) {
                out.add(Arguments.of(c, shape[0], shape[1]));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} [{1}, {2}]")
    @MethodSource("cases")
    void inPlaceIsBitwiseOutOfPlaceReversed(Object c, int rows, int cols) {
        InPlaceLossesTestAccess.check(simulated, c, rows, cols);
    }
}
