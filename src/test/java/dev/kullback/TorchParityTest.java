package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every operation, every reduction, both {@code logTarget} values, forward and backward, against PyTorch's own
 * kernels ({@link TorchOracle}) on the same float32 inputs, over {@link Shape#PARITY}.
 *
 * <p>Tolerances: elementwise results must be within 1e-5 relative of PyTorch plus a tiny absolute term; where
 * a value is a difference of larger terms (kl_div pointwise, the log-softmax gradient) the 1e-5 is taken relative
 * to those terms' magnitude. Reductions allow 1e-5 relative plus 1e-6 (about 8 float32 ulps) of the sum of the
 * magnitudes of what they add up, which is what float32 summation in any order can differ by.
 */
class TorchParityTest {
    private static final double ABS = 1e-30;

    enum Targets {
        /** softmax of random logits: every probability positive. */
        DENSE,
        /** a quarter of the probabilities exactly 0 (rows renormalized). */
        WITH_ZEROS
    }

    static Stream<Arguments> deviceShapes() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Shape s : Shape.PARITY) {
                out.add(Arguments.of(d, s));
            }
        }
        return out.stream();
    }

    /** Device x shape x reduction x logTarget x targets (zeros only make sense for probabilities). */
    static Stream<Arguments> klCases() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Shape s : Shape.PARITY) {
                for (Reduction r : Reduction.values()) {
                    out.add(Arguments.of(d, s, r, false, Targets.DENSE));
                    out.add(Arguments.of(d, s, r, false, Targets.WITH_ZEROS));
                    out.add(Arguments.of(d, s, r, true, Targets.DENSE));
                }
            }
        }
        return out.stream();
    }

    // ---- softmax family ---------------------------------------------------------------------------

    @ParameterizedTest(autoCloseArguments = false, name = "{0} logSoftmax {1}")
    @MethodSource("deviceShapes")
    void logSoftmax(Device d, Shape s) {
        float[] x = Data.logits(Data.random("logSoftmax", s), s);
        float[] expected = TorchOracle.logSoftmax(x, s.rows(), s.cols());
        // PyTorch adds exp(x - max) in float32, so its log-sum-exp is off by up to ~1e-5 on long rows;
        // log(sum(exp(expected))), in double, is exactly that error, and is allowed on top of 1e-5.
        double[] defect = normalizationDefect(expected, s, true);
        double[] tol = new double[expected.length];
        for (int i = 0; i < tol.length; i++) {
            tol[i] = Approx.REL * Math.abs(expected[i]) + 1e-6 + defect[i / s.cols()];
        }
        try (Scope sc = new Scope()) {
            Tensor y = sc.add(d.logSoftmax(sc.upload(d, x, s)));
            assertShape(s.rows(), s.cols(), y);
            Approx.assertClose(d + ": logSoftmax " + s, expected, y.toArray(), s.cols(), tol);
        }
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} softmax {1}")
    @MethodSource("deviceShapes")
    void softmax(Device d, Shape s) {
        float[] x = Data.logits(Data.random("softmax", s), s);
        float[] expected = TorchOracle.softmax(x, s.rows(), s.cols());
        // PyTorch's float32 row sums are off by up to ~1e-5 relative on long rows; |sum(expected) - 1|, in double,
        // is exactly that error, and is allowed on top of 1e-5.
        double[] defect = normalizationDefect(expected, s, false);
        double[] tol = new double[expected.length];
        for (int i = 0; i < tol.length; i++) {
            tol[i] = (Approx.REL + defect[i / s.cols()]) * Math.abs(expected[i]) + 1e-38;
        }
        try (Scope sc = new Scope()) {
            Tensor y = sc.add(d.softmax(sc.upload(d, x, s)));
            assertShape(s.rows(), s.cols(), y);
            Approx.assertClose(d + ": softmax " + s, expected, y.toArray(), s.cols(), tol);
        }
    }

    /**
     * PyTorch's gradient through log_softmax (autograd), against the device's backward fed PyTorch's own forward
     * output, so only the backward kernel is compared.
     */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} logSoftmaxBackward {1}")
    @MethodSource("deviceShapes")
    void logSoftmaxBackward(Device d, Shape s) {
        Random rnd = Data.random("logSoftmaxBackward", s);
        float[] x = Data.logits(rnd, s);
        float[] g = Data.normal(rnd, s);
        float[] y = TorchOracle.logSoftmax(x, s.rows(), s.cols());
        float[] expected = TorchOracle.logSoftmaxBackward(g, x, s.rows(), s.cols());
        // gradIn = g - exp(y) * rowsum(g): each value is within 1e-5 of the terms it is the difference of.
        double[] tol = new double[expected.length];
        int cols = s.cols();
        for (int r = 0; r < s.rows(); r++) {
            double sum = 0;
            double l1 = 0;
            for (int c = 0; c < cols; c++) {
                sum += g[r * cols + c];
                l1 += Math.abs(g[r * cols + c]);
            }
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                double p = Math.exp(y[i]);
                tol[i] = Approx.REL * (Math.abs(expected[i]) + Math.abs(g[i]) + p * Math.abs(sum)) + 1e-6 * p * l1 + ABS;
            }
        }
        try (Scope sc = new Scope()) {
            Tensor gi = sc.add(d.logSoftmaxBackward(sc.upload(d, g, s), sc.upload(d, y, s)));
            assertShape(s.rows(), s.cols(), gi);
            Approx.assertClose(d + ": logSoftmaxBackward " + s, expected, gi.toArray(), cols, tol);
        }
    }

    // ---- kl_div -------------------------------------------------------------------------------------

    @ParameterizedTest(autoCloseArguments = false, name = "{0} klDiv {1} {2} logTarget={3} {4}")
    @MethodSource("klCases")
    void klDiv(Device d, Shape s, Reduction reduction, boolean logTarget, Targets targets) {
        Random rnd = Data.random("klDiv", s, reduction, logTarget, targets);
        float[] input = Data.logProbs(rnd, s);
        float[] target = target(rnd, s, logTarget, targets);
        double[] scale = klScale(input, target, logTarget);
        float[] expected = TorchOracle.klDiv(input, target, s.rows(), s.cols(), reduction, logTarget);
        try (Scope sc = new Scope()) {
            Tensor out = sc.add(d.klDiv(sc.upload(d, input, s), sc.upload(d, target, s), reduction, logTarget));
            String what = d + ": klDiv " + s + " " + reduction + " logTarget=" + logTarget + " " + targets;
            if (reduction == Reduction.NONE) {
                assertShape(s.rows(), s.cols(), out);
                double[] tol = new double[scale.length];
                for (int i = 0; i < tol.length; i++) {
                    tol[i] = Approx.REL * Math.max(scale[i], Math.abs(expected[i])) + ABS;
                }
                Approx.assertClose(what, expected, out.toArray(), s.cols(), tol);
            } else {
                assertShape(1, 1, out);
                double total = 0;
                for (double v : scale) {
                    total += v;
                }
                double divisor = divisor(reduction, s);
                Approx.assertClose(what, expected[0], out.item(),
                        Approx.REL * Math.abs(expected[0]) + 1e-6 * total / divisor + ABS);
            }
        }
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} klDivBackward {1} {2} logTarget={3} {4}")
    @MethodSource("klCases")
    void klDivBackward(Device d, Shape s, Reduction reduction, boolean logTarget, Targets targets) {
        Random rnd = Data.random("klDivBackward", s, reduction, logTarget, targets);
        float[] input = Data.logProbs(rnd, s);
        float[] target = target(rnd, s, logTarget, targets);
        boolean none = reduction == Reduction.NONE;
        float[] g = none ? Data.normal(rnd, s) : new float[] {(float) (0.5 + rnd.nextDouble())};
        float[] expected = TorchOracle.klDivBackward(g, input, target, s.rows(), s.cols(), reduction, logTarget);
        try (Scope sc = new Scope()) {
            Tensor gradOutput = none ? sc.upload(d, g, s) : sc.add(d.upload(g, 1, 1));
            Tensor gi = sc.add(d.klDivBackward(gradOutput, sc.upload(d, input, s), sc.upload(d, target, s),
                    reduction, logTarget));
            assertShape(s.rows(), s.cols(), gi);
            Approx.assertClose(d + ": klDivBackward " + s + " " + reduction + " logTarget=" + logTarget + " " + targets,
                    expected, gi.toArray(), s.cols(), Approx.REL, ABS);
        }
    }

    // ---- reductions ---------------------------------------------------------------------------------

    @ParameterizedTest(autoCloseArguments = false, name = "{0} sum {1}")
    @MethodSource("deviceShapes")
    void sum(Device d, Shape s) {
        float[] x = Data.logits(Data.random("sum", s), s);
        float expected = TorchOracle.sum(x, s.rows(), s.cols());
        try (Scope sc = new Scope()) {
            Tensor out = sc.add(d.sum(sc.upload(d, x, s)));
            assertShape(1, 1, out);
            Approx.assertClose(d + ": sum " + s, expected, out.item(),
                    Approx.REL * Math.abs(expected) + 1e-6 * Approx.l1(x));
        }
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} mean {1}")
    @MethodSource("deviceShapes")
    void mean(Device d, Shape s) {
        float[] x = Data.logits(Data.random("mean", s), s);
        float expected = TorchOracle.mean(x, s.rows(), s.cols());
        try (Scope sc = new Scope()) {
            Tensor out = sc.add(d.mean(sc.upload(d, x, s)));
            assertShape(1, 1, out);
            Approx.assertClose(d + ": mean " + s, expected, out.item(),
                    Approx.REL * Math.abs(expected) + 1e-6 * Approx.l1(x) / s.size());
        }
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} rowSum {1}")
    @MethodSource("deviceShapes")
    void rowSum(Device d, Shape s) {
        float[] x = Data.logits(Data.random("rowSum", s), s);
        float[] expected = TorchOracle.rowSum(x, s.rows(), s.cols());
        double[] tol = new double[s.rows()];
        for (int r = 0; r < s.rows(); r++) {
            double l1 = 0;
            for (int c = 0; c < s.cols(); c++) {
                l1 += Math.abs(x[r * s.cols() + c]);
            }
            tol[r] = Approx.REL * Math.abs(expected[r]) + 1e-6 * l1;
        }
        try (Scope sc = new Scope()) {
            Tensor out = sc.add(d.rowSum(sc.upload(d, x, s)));
            assertShape(s.rows(), 1, out);
            Approx.assertClose(d + ": rowSum " + s, expected, out.toArray(), 1, tol);
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------

    /**
     * Per row, how far PyTorch's own (log-)softmax is from normalized: |sum(p) - 1| for probabilities,
     * |log(sum(exp(y)))| for log-probabilities, computed in double. This is the float32 error of PyTorch's row sum.
     */
    static double[] normalizationDefect(float[] expected, Shape s, boolean log) {
        double[] defect = new double[s.rows()];
        for (int r = 0; r < s.rows(); r++) {
            double sum = 0;
            for (int c = 0; c < s.cols(); c++) {
                float v = expected[r * s.cols() + c];
                sum += log ? Math.exp(v) : v;
            }
            defect[r] = Math.abs(log ? Math.log(sum) : sum - 1);
        }
        return defect;
    }

    static float[] target(Random rnd, Shape s, boolean logTarget, Targets targets) {
        if (logTarget) {
            return Data.logProbs(rnd, s);
        }
        return Data.probs(rnd, s, targets == Targets.WITH_ZEROS ? 0.25 : 0);
    }

    /** Per element, the magnitude of the terms kl_div's pointwise value is the difference of. */
    static double[] klScale(float[] input, float[] target, boolean logTarget) {
        double[] scale = new double[input.length];
        for (int i = 0; i < scale.length; i++) {
            double x = input[i];
            double t = target[i];
            scale[i] = logTarget ? Math.exp(t) * (Math.abs(t) + Math.abs(x))
                    : (t == 0 ? 0 : Math.abs(t * Math.log(t))) + Math.abs(t * x);
        }
        return scale;
    }

    static double divisor(Reduction r, Shape s) {
        switch (r) {
            case MEAN:
                return (double) s.rows() * s.cols();
            case BATCHMEAN:
                return s.rows();
            default:
                return 1;
        }
    }

    static void assertShape(int rows, int cols, Tensor t) {
        assertEquals("[" + rows + ", " + cols + "]", "[" + t.rows() + ", " + t.cols() + "]", "result shape");
    }
}
