package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kullback.Devices;
import dev.kullback.OpCase;
import dev.kullback.Reduction;
import dev.kullback.Reference;
import dev.kullback.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every op of the CUDA device against the CPU device: every case of {@link OpCase#catalog} over
 * {@link Shape#CUDA_CONTRACT}, a grid that reaches every launch branch (warp per row, block per row, every block size,
 * float4 and scalar tails, one partial and many), and again on 3 rows with edge values in the data
 * ({@link OpCase#withEdges}: -inf logits, an all -inf row, NaN, +-1000, zeros in the target).
 * A subclass supplies the CUDA device: a real GPU, or the host simulator.
 */
abstract class CudaParityContract {
    /** The CUDA device under test; the same instance for the whole class. */
    abstract CudaDevice cuda();

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (OpCase c : OpCase.catalog(Shape.CUDA_CONTRACT)) {
            cases.add(Arguments.of(c));
            if (c.shape.rows() == 3) {
                cases.add(Arguments.of(c.withEdges()));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesCpu(OpCase entry) {
        CudaDevice cuda = cuda();
        OpCase c = entry.copy();
        if (c.edges) {
            assertTrue(hasNonFinite(c.inputs()), c + ": no edge values in the inputs");
        }
        float[] expected = c.run(Devices.cpu());
        float[] actual = c.run(cuda);
        assertClose(c, expected, actual);
    }

    /**
     * Tolerances relative to each quantity's scale. Elementwise results: 2e-5 of themselves, plus 2e-6 of the largest
     * of their row where they are differences of larger terms (log-softmax backward, kl_div pointwise); log-probabilities
     * are compared in log space (2e-5 absolute there is 2e-5 relative in probability). Reductions: 1e-5 of themselves
     * plus 2e-6 of the sum of |terms| (divided like the result), what float32 additions in another order can differ by;
     * never an absolute floor, so a MEAN near 1/(rows·cols) is held as tightly as a SUM.
     */
    static void assertClose(OpCase c, float[] expected, float[] actual) {
        int cols = c.shape.cols();
        String what = c.toString();
        switch (c.op) {
            case LOG_SOFTMAX:
                assertRelative(what, expected, actual, cols, 2e-5, 0, 2e-5, null, ceiling(c));
                break;
            case SOFTMAX: case KL_DIV_BACKWARD:
                assertRelative(what, expected, actual, cols, 2e-5, 0, 0, null, ceiling(c));
                break;
            case KL_DIV:
                if (c.reduction == Reduction.NONE) {
                    assertRelative(what, expected, actual, cols, 2e-5, 2e-6, 0, null, ceiling(c));
                } else {
                    assertRelative(what, expected, actual, 1, 1e-5, 0, 0, termScale(c), ceiling(c));
                }
                break;
            case LOG_SOFTMAX_BACKWARD:
                assertRelative(what, expected, actual, cols, 2e-5, 2e-6, 0, null, ceiling(c));
                break;
            default:
                assertRelative(what, expected, actual, 1, 1e-5, 0, 0, termScale(c), ceiling(c));
                break;
        }
    }

    private static boolean hasNonFinite(float[][] inputs) {
        for (float[] x : inputs) {
            for (float v : x) {
                if (!Float.isFinite(v)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** This suite's earlier tolerance, of max(1, |expected|): a ceiling, so nothing is looser than it was. */
    static double ceiling(OpCase c) {
        boolean reduces = c.op == OpCase.Op.SUM || c.op == OpCase.Op.MEAN || c.op == OpCase.Op.ROW_SUM
                || c.op == OpCase.Op.KL_DIV && c.reduction != Reduction.NONE;
        return reduces ? 2e-6 * Math.sqrt(c.shape.size()) + 1e-5 : 2e-5;
    }

    /** The sum of |terms| of each reduced value, divided like it. */
    private static double[] termScale(OpCase c) {
        float[][] in = c.inputs();
        int rows = c.shape.rows();
        int cols = c.shape.cols();
        switch (c.op) {
            case SUM:
                return new double[] {Reference.sumAbs(in[0])};
            case MEAN:
                return new double[] {Reference.sumAbs(in[0]) / c.shape.size()};
            case ROW_SUM:
                return Reference.rowSumAbs(in[0], rows, cols);
            default:
                return new double[] {Reference.sum(Reference.klDivScale(in[0], in[1], c.logTarget))
                        / Reference.divisor(c.reduction, rows, cols)};
        }
    }

    /**
     * Same NaNs, same infinities, and each finite value within {@code rel * |expected| + ofRow * (the largest finite
     * |expected| of its row of cols) + 2e-6 * scale[i]}, at least {@code logSpace} (log-probabilities, whose absolute
     * error is the probability's relative one), at most {@code ceiling * max(1, |expected|)} (this suite's earlier
     * bound): relative to the quantity's scale, so values far below 1 (MEAN reductions, gradients divided by rows ·
     * cols) are held as tightly as values near 1.
     */
    static void assertRelative(String what, float[] expected, float[] actual, int cols, double rel, double ofRow,
                               double logSpace, double[] scale, double ceiling) {
        assertEquals(expected.length, actual.length, what + ": length");
        assertTrue(expected.length > 0, what + ": empty result");
        for (int row = 0; row * cols < expected.length; row++) {
            double max = 0;
            for (int i = row * cols; i < (row + 1) * cols; i++) {
                if (Float.isFinite(expected[i])) {
                    max = Math.max(max, Math.abs(expected[i]));
                }
            }
            for (int i = row * cols; i < (row + 1) * cols; i++) {
                float e = expected[i];
                float a = actual[i];
                double tolerance = Math.min(ceiling * Math.max(1, Math.abs(e)),
                        Math.max(logSpace, rel * Math.abs(e) + ofRow * max + (scale == null ? 0 : 2e-6 * scale[i])));
                boolean ok = Float.isNaN(e) ? Float.isNaN(a)
                        : Float.isInfinite(e) ? a == e : Math.abs((double) a - e) <= tolerance;
                if (!ok) {
                    fail(what + ": element " + i + " [" + row + ", " + (i - row * cols) + "] expected " + e
                            + " but was " + a + " (tolerance " + tolerance + ", row scale " + max + ")");
                }
            }
        }
    }
}
