package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kullback.Device;
import dev.kullback.Devices;
import dev.kullback.Reduction;
import dev.kullback.Reference;
import dev.kullback.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every op of the CUDA device against the CPU device, on a grid of shapes that reaches every launch
 * branch (warp per row, block per row, every block size, float4 and scalar tails, one partial and many),
 * with the edge values in the data: -inf logits, an all -inf row, NaN, +-1000, zeros in the target.
 * A subclass supplies the CUDA device: a real GPU, or the host simulator.
 */
abstract class CudaParityContract {
    static final int[] COLS = {1, 2, 31, 32, 33, 127, 1000, 4097, 32000, 131072, 262147};

    /** The CUDA device under test; the same instance for the whole class. */
    abstract CudaDevice cuda();

    /**
     * Rows for a width: fewer for the widest, to keep the run short; more than one block's threads (257) on every
     * launch branch, and 1,025 rows on the warp-per-row branch ([*, 33]).
     */
    static int[] rowsFor(int cols) {
        return cols >= 131072 ? new int[] {1, 3} : cols == 33 ? new int[] {1, 3, 257, 1025} : new int[] {1, 3, 257};
    }

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (int cols : COLS) {
            for (int rows : rowsFor(cols)) {
                for (Op op : Op.values()) {
                    cases.add(Arguments.of(op, rows, cols, false));
                    if (rows == 3) {
                        cases.add(Arguments.of(op, rows, cols, true));
                    }
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} [{1}, {2}] edge values {3}")
    @MethodSource("cases")
    void matchesCpu(Op op, int rows, int cols, boolean edges) {
        CudaDevice cuda = cuda();
        Inputs inputs = Inputs.of(rows, cols, edges);
        float[] expected = op.run(Devices.cpu(), inputs);
        float[] actual = op.run(cuda, inputs);
        op.assertClose(op + " [" + rows + ", " + cols + "]" + (edges ? " with edge values" : ""), expected, actual,
                inputs);
    }

    /** The ops and option combinations, each computed the same way on both devices. */
    enum Op {
        LOG_SOFTMAX((d, in) -> d.logSoftmax(in.logits)),
        SOFTMAX((d, in) -> d.softmax(in.logits)),
        LOG_SOFTMAX_BACKWARD((d, in) -> d.logSoftmaxBackward(in.grad, in.logProbs)),
        KL_NONE((d, in) -> d.klDiv(in.logProbs, in.probs, Reduction.NONE, false)),
        KL_SUM((d, in) -> d.klDiv(in.logProbs, in.probs, Reduction.SUM, false)),
        KL_MEAN((d, in) -> d.klDiv(in.logProbs, in.probs, Reduction.MEAN, false)),
        KL_BATCHMEAN((d, in) -> d.klDiv(in.logProbs, in.probs, Reduction.BATCHMEAN, false)),
        KL_NONE_LOG_TARGET((d, in) -> d.klDiv(in.logProbs, in.logTarget, Reduction.NONE, true)),
        KL_BATCHMEAN_LOG_TARGET((d, in) -> d.klDiv(in.logProbs, in.logTarget, Reduction.BATCHMEAN, true)),
        KL_BACKWARD_NONE((d, in) -> d.klDivBackward(in.grad, in.logProbs, in.probs, Reduction.NONE, false)),
        KL_BACKWARD_BATCHMEAN((d, in) -> d.klDivBackward(in.scalarGrad, in.logProbs, in.probs,
                Reduction.BATCHMEAN, false)),
        KL_BACKWARD_MEAN_LOG_TARGET((d, in) -> d.klDivBackward(in.scalarGrad, in.logProbs, in.logTarget,
                Reduction.MEAN, true)),
        SUM((d, in) -> d.sum(in.logits)),
        MEAN((d, in) -> d.mean(in.grad)),
        ROW_SUM((d, in) -> d.rowSum(in.grad));

        private final BiFunction<Device, Uploaded, Tensor> call;

        Op(BiFunction<Device, Uploaded, Tensor> call) {
            this.call = call;
        }

        float[] run(Device device, Inputs inputs) {
            try (Uploaded uploaded = new Uploaded(device, inputs); Tensor result = call.apply(device, uploaded)) {
                return result.toArray();
            }
        }

        /**
         * Tolerances relative to each quantity's scale. Elementwise results: 2e-5 of themselves, plus 2e-6 of the
         * largest of their row where they are differences of larger terms (log-softmax backward, kl_div pointwise);
         * log-probabilities are compared in log space (2e-5 absolute there is 2e-5 relative in probability).
         * Reductions: 1e-5 of themselves plus 2e-6 of the sum of |terms| (divided like the result), what float32
         * additions in another order can differ by; never an absolute floor, so a MEAN near 1/(rows·cols) is held
         * as tightly as a SUM.
         */
        void assertClose(String what, float[] expected, float[] actual, Inputs in) {
            switch (this) {
                case LOG_SOFTMAX:
                    assertRelative(what, expected, actual, in.cols, 2e-5, 0, 2e-5, null, ceiling(in));
                    break;
                case SOFTMAX: case KL_BACKWARD_NONE: case KL_BACKWARD_BATCHMEAN: case KL_BACKWARD_MEAN_LOG_TARGET:
                    assertRelative(what, expected, actual, in.cols, 2e-5, 0, 0, null, ceiling(in));
                    break;
                case LOG_SOFTMAX_BACKWARD: case KL_NONE: case KL_NONE_LOG_TARGET:
                    assertRelative(what, expected, actual, in.cols, 2e-5, 2e-6, 0, null, ceiling(in));
                    break;
                default:
                    assertRelative(what, expected, actual, 1, 1e-5, 0, 0, termScale(in), ceiling(in));
                    break;
            }
        }

        /** This suite's earlier tolerance, of max(1, |expected|): a ceiling, so nothing is looser than it was. */
        double ceiling(Inputs inputs) {
            switch (this) {
                case KL_SUM: case KL_MEAN: case KL_BATCHMEAN: case KL_BATCHMEAN_LOG_TARGET: case SUM: case MEAN:
                case ROW_SUM:
                    return 2e-6 * Math.sqrt((double) inputs.rows * inputs.cols) + 1e-5;
                default:
                    return 2e-5;
            }
        }

        /** The sum of |terms| of each reduced value, divided like it. */
        private double[] termScale(Inputs in) {
            int n = in.rows * in.cols;
            switch (this) {
                case SUM:
                    return new double[] {l1(in.logits, 0, n)};
                case MEAN:
                    return new double[] {l1(in.grad, 0, n) / n};
                case ROW_SUM: {
                    double[] rows = new double[in.rows];
                    for (int r = 0; r < in.rows; r++) {
                        rows[r] = l1(in.grad, r * in.cols, in.cols);
                    }
                    return rows;
                }
                default: {
                    boolean logTarget = this == KL_BATCHMEAN_LOG_TARGET;
                    double total = Reference.sum(Reference.klDivScale(in.logProbs, logTarget ? in.logTarget : in.probs,
                            logTarget));
                    double divisor = this == KL_MEAN ? n : this == KL_SUM ? 1 : in.rows;
                    return new double[] {total / divisor};
                }
            }
        }

        private static double l1(float[] x, int from, int length) {
            double s = 0;
            for (int i = from; i < from + length; i++) {
                s += Math.abs(x[i]);
            }
            return s;
        }
    }

    /**
     * Host data for one shape; with {@code edges}, row 0 holds -inf, +-1000 and a zero in the target, row 1 is
     * all -inf and row 2 holds a NaN (which make whole-tensor reductions NaN, hence the clean variant too).
     */
    static final class Inputs {
        final int rows;
        final int cols;
        final float[] logits;
        final float[] grad;
        final float[] logProbs;
        final float[] probs;
        final float[] logTarget;

        private Inputs(int rows, int cols, boolean edges) {
            this.rows = rows;
            this.cols = cols;
            Random random = new Random(31L * rows + cols);
            int n = rows * cols;
            logits = new float[n];
            grad = new float[n];
            float[] other = new float[n];
            for (int i = 0; i < n; i++) {
                logits[i] = (float) (random.nextGaussian() * 3);
                grad[i] = (float) random.nextGaussian();
                other[i] = (float) (random.nextGaussian() * 2);
            }
            if (edges && cols > 2) {
                logits[cols / 2] = Float.NEGATIVE_INFINITY;  // a masked entry in row 0
                logits[cols - 1] = 1000f;                     // a huge logit in row 0
                logits[1] = -1000f;
                other[cols / 3] = Float.NEGATIVE_INFINITY;    // an exact zero in the target of row 0
            }
            if (edges && rows >= 3) {
                for (int c = 0; c < cols; c++) {
                    logits[cols + c] = Float.NEGATIVE_INFINITY; // row 1: all -inf
                }
                logits[2 * cols + cols / 2] = Float.NaN;       // row 2: one NaN
            }
            logProbs = onCpu(logits, rows, cols, Device::logSoftmax);
            probs = onCpu(other, rows, cols, Device::softmax);
            logTarget = onCpu(other, rows, cols, Device::logSoftmax);
        }

        static Inputs of(int rows, int cols, boolean edges) {
            return new Inputs(rows, cols, edges);
        }

        private static float[] onCpu(float[] data, int rows, int cols, BiFunction<Device, Tensor, Tensor> op) {
            Device cpu = Devices.cpu();
            try (Tensor x = cpu.upload(data, rows, cols); Tensor y = op.apply(cpu, x)) {
                return y.toArray();
            }
        }
    }

    /** The inputs on one device, closed together. */
    static final class Uploaded implements AutoCloseable {
        final Tensor logits;
        final Tensor logProbs;
        final Tensor probs;
        final Tensor logTarget;
        final Tensor grad;
        final Tensor scalarGrad;

        Uploaded(Device device, Inputs in) {
            logits = device.upload(in.logits, in.rows, in.cols);
            logProbs = device.upload(in.logProbs, in.rows, in.cols);
            probs = device.upload(in.probs, in.rows, in.cols);
            logTarget = device.upload(in.logTarget, in.rows, in.cols);
            grad = device.upload(in.grad, in.rows, in.cols);
            scalarGrad = device.upload(new float[] {0.75f}, 1, 1);
        }

        @Override
        public void close() {
            for (Tensor t : new Tensor[] {logits, logProbs, probs, logTarget, grad, scalarGrad}) {
                t.close();
            }
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
