package dev.kullback;

import static dev.kullback.HalfCase.assertNearTorch;
import static dev.kullback.HalfCase.assertRoundedOnce;
import static dev.kullback.HalfCase.rounded;
import static dev.kullback.HalfCase.rowScale;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kullback.HalfCase.Layout;
import dev.kullback.LossCase.Ignore;
import dev.kullback.LossCase.Op;
import dev.kullback.internal.HalfFloats;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * bfloat16 and float16 inputs, on every device that holds them ({@link TestDevices#halfCapable()}), for every op and
 * loss and their gradients: each result has the type PyTorch gives it, is the float32 computation rounded once to that
 * type (checked against the float64 reference of the same rounded inputs: {@link HalfCase#assertRoundedOnce}), and
 * is close to PyTorch's own bf16/fp16 CPU kernels ({@link HalfCase#assertNearTorch}, whose tolerance allows for the
 * intermediate roundings of PyTorch's composed ops).
 */
class HalfPrecisionParityTest {
    /** float32 arithmetic error of an op, relative to its row's magnitude (the float32 suites allow 2e-5 to 6e-5). */
    private static final double F32 = 6e-5;
    /** Unit roundoffs of the row's magnitude between us and one of PyTorch's half kernels (see assertNearTorch). */
    private static final double TORCH_UNITS = 8;
    /**
     * A loss PyTorch composes from several half ops: its log-probabilities (|log p| up to about 10 for these logits) are
     * rounded to the type, then exponentiated, multiplied and summed (JSD's log of a mixture cancels), each op rounding
     * again; measured, its gradients are off the float64 reference by up to about 100 u of the row's magnitude. No
     * fixed multiple of u is a fair bound for it, so a loss is held to PyTorch's own accuracy on the same inputs
     * ({@link #assertAsAccurateAsTorch}), and our results to the strict bound (the float64 reference, rounded once).
     */
    private static final double TORCH_LOSS_SLACK_UNITS = 2;

    static Stream<Arguments> devicesAndTypes() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.halfCapable()) {
            for (DType t : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
                out.add(Arguments.of(d, t));
            }
        }
        return out.stream();
    }

    /**
     * Every op of {@link OpCase#catalog} over {@link Shape#HALF}, its inputs rounded to the type (a reduced kl_div's
     * [1, 1] gradOutput uploaded FLOAT32, the loss's type): elementwise results have the type, are rounded once from the
     * float32 computation and are near PyTorch's half kernels; reduced ones are FLOAT32 results of the exact half values.
     */
    @ParameterizedTest(name = "{0} {1}", autoCloseArguments = false)
    @MethodSource("devicesAndTypes")
    void softmaxFamilyAndReductions(Device d, DType type) {
        for (OpCase original : OpCase.catalog(Shape.HALF)) {
            OpCase c = original.roundedTo(type);
            String at = d.name() + " " + type + " " + c;
            float[][] in = c.inputs();
            float[] ours;
            try (Scope sc = new Scope()) {
                List<Tensor> t = new ArrayList<>();
                for (int i = 0; i < c.op.arguments.size(); i++) {
                    Shape s = c.argumentShape(i);
                    t.add(sc.add(s.equals(c.shape) ? d.upload(in[i], s.rows(), s.cols(), type)
                            : d.upload(in[i], s.rows(), s.cols())));
                }
                Tensor y = sc.add(c.call(d, t, null));
                boolean elementwise = c.resultShape().equals(c.shape);
                assertEquals(elementwise ? type : DType.FLOAT32, y.dtype(), at + ": the result's type");
                ours = y.toArray();
            }
            float[] torch = TorchOracle.inType(type, c::torch);
            if (c.resultShape().equals(c.shape)) {
                assertElementwise(at, type, c, ours, torch);
            } else {
                assertReduced(at, type, c, ours, torch);
            }
        }
    }

    /** An elementwise op: rounded once from the float32 computation (F32 of the row's terms), and near PyTorch. */
    private static void assertElementwise(String at, DType type, OpCase c, float[] ours, float[] torch) {
        float[][] in = c.inputs();
        int rows = c.shape.rows();
        int cols = c.shape.cols();
        double[] ref = c.reference();
        double[] scale = rowScale(rows, cols, ref, null);
        double[] torchScale = rowScale(rows, cols, ref, torch);
        if (c.op == OpCase.Op.LOG_SOFTMAX_BACKWARD) {
            scale = rowScale(rows, cols, Reference.logSoftmaxBackwardScale(in[0], in[1], rows, cols), null);
        } else if (c.op == OpCase.Op.KL_DIV) {
            scale = rowScale(rows, cols, Reference.klDivScale(in[0], in[1], c.logTarget), null);
            torchScale = scale;
        }
        assertRoundedOnce(at, type, ref, ours, scale, F32);
        assertNearTorch(at, type, torch, ours, torchScale, TORCH_UNITS);
    }

    /** A reduced op: the FLOAT32 computation on the exact half inputs, and near PyTorch's (which rounds to the type). */
    private static void assertReduced(String at, DType type, OpCase c, float[] ours, float[] torch) {
        float[] x = c.inputs()[0];
        int rows = c.shape.rows();
        int cols = c.shape.cols();
        double[] ref = c.reference();
        switch (c.op) {
            case KL_DIV: {
                double mag = Reference.sumAbs(Reference.klDivScale(x, c.inputs()[1], c.logTarget))
                        / Reference.divisor(c.reduction, rows, cols);
                Approx.assertClose(at, ref[0], ours[0], F32 * mag + 1e-7);
                if (Float.isInfinite(torch[0]) && mag * Reference.divisor(c.reduction, rows, cols)
                        > HalfCase.maxFinite(type)) {
                    // PyTorch's reduced value, or its running sum, has the input's type and overflows it; ours is FLOAT32
                    assertEquals(DType.FLOAT16, type, at + ": only float16 overflows here");
                } else {
                    // PyTorch reduces the rounded pointwise terms: within u of the terms' magnitude
                    Approx.assertClose(at + " vs PyTorch", torch[0], ours[0],
                            TORCH_UNITS * HalfCase.unitRoundoff(type) * mag + 1e-6);
                }
                break;
            }
            case SUM:
                Approx.assertClose(at, ref[0], ours[0], 1e-6 * Reference.sumAbs(x));
                // PyTorch rounds its sum to the type: within half an ulp of it, plus float32 accumulation
                Approx.assertClose(at + " vs PyTorch", torch[0], ours[0],
                        HalfCase.ulp(type, torch[0]) + 1e-6 * Reference.sumAbs(x));
                break;
            case MEAN:
                Approx.assertClose(at, ref[0], ours[0], 1e-6 * Reference.sumAbs(x) / x.length);
                break;
            case ROW_SUM: {
                double[] abs = Reference.rowSumAbs(x, rows, cols);
                for (int r = 0; r < rows; r++) {
                    Approx.assertClose(at + "[" + r + "]", ref[r], ours[r], 1e-6 * abs[r]);
                }
                break;
            }
            default:
                throw new AssertionError(c);
        }
    }

    static List<LossCase> lossCases() {
        List<LossCase> out = new ArrayList<>();
        for (Shape s : Shape.HALF) {
            out.add(new LossCase(Op.DISTILLATION, s, Reduction.BATCHMEAN).temperature(2));
            out.add(new LossCase(Op.DISTILLATION, s, Reduction.NONE).reverse(true).ignore(Ignore.SOME));
            out.add(new LossCase(Op.CROSS_ENTROPY, s, Reduction.MEAN).ignore(Ignore.SOME));
            out.add(new LossCase(Op.CROSS_ENTROPY, s, Reduction.SUM).weights(true).smoothing(0.1f).zLoss(1e-3f)
                    .ignore(Ignore.NONE_IGNORED));
            out.add(new LossCase(Op.CROSS_ENTROPY, s, Reduction.NONE).ignore(Ignore.NONE_IGNORED));
            out.add(new LossCase(Op.SOFT_CROSS_ENTROPY, s, Reduction.MEAN).smoothing(0.1f));
            out.add(new LossCase(Op.JSD, s, Reduction.BATCHMEAN).beta(0.5f));
            out.add(new LossCase(Op.SYMMETRIC_KL, s, Reduction.SUM));
            out.add(new LossCase(Op.ENTROPY, s, Reduction.MEAN));
            out.add(new LossCase(Op.KERAS_KL, s, Reduction.BATCHMEAN));
            out.add(new LossCase(Op.GAUSSIAN_KL, s, Reduction.MEAN));
            out.add(new LossCase(Op.GAUSSIAN_KL, s, Reduction.SUM).standard(true));
            out.add(new LossCase(Op.TVD, s, Reduction.BATCHMEAN));
        }
        return out;
    }

    @ParameterizedTest(name = "{0} {1}", autoCloseArguments = false)
    @MethodSource("devicesAndTypes")
    void everyLossAndItsGradients(Device d, DType type) {
        for (LossCase c : lossCases()) {
            HalfCase.roundedTo(type, c);
            String at = d.name() + " " + type + " " + c;
            HalfCase.Result ours = HalfCase.run(d, c, type, Layout.CONTIGUOUS, false);
            assertEquals(DType.FLOAT32, ours.valueType(), at + ": the loss value is FLOAT32");
            for (DType g : ours.gradTypes()) {
                assertEquals(type, g, at + ": a gradient has its input's type");
            }
            Reference.Result ref = c.reference();
            LossCase.Out torch = TorchOracle.inType(type, c::oracle);
            int rows = c.shape.rows();
            int cols = c.shape.cols();
            for (int i = 0; i < ref.value().length; i++) {
                double mag = ref.valueMagnitude() == null ? Math.abs(ref.value()[i]) : ref.valueMagnitude()[i];
                // the value is FLOAT32: the float32 computation on the exact half inputs
                Approx.assertClose(at + " value[" + i + "]", ref.value()[i], ours.out().value()[i], F32 * mag + 1e-6);
            }
            assertAsAccurateAsTorch(at + " value", type, ref.value(), torch.value(), ours.out().value(),
                    ref.valueMagnitude() == null ? absolute(ref.value()) : ref.valueMagnitude());
            for (int k = 0; k < ours.out().grads().length; k++) {
                double[] scale = rowScale(rows, cols, ref.grads()[k], null);
                assertRoundedOnce(at + " grad " + k, type, ref.grads()[k], ours.out().grads()[k], scale, F32);
                assertAsAccurateAsTorch(at + " grad " + k, type, ref.grads()[k], torch.grads()[k],
                        ours.out().grads()[k], rowScale(rows, cols, ref.grads()[k], torch.grads()[k]));
            }
        }
    }

    /**
     * Ours is at least as close to the float64 reference as PyTorch's half result (largest error relative to the
     * element's scale, with {@link #TORCH_LOSS_SLACK_UNITS} u of slack), and each element lies within twice PyTorch's
     * own largest error (plus an ulp) of PyTorch's.
     */
    private static void assertAsAccurateAsTorch(String what, DType type, double[] ref, float[] torch, float[] ours,
                                                double[] scale) {
        double u = HalfCase.unitRoundoff(type);
        double torchErr = 0;
        double ourErr = 0;
        for (int i = 0; i < ref.length; i++) {
            // PyTorch's composition may overflow an intermediate (1 / yPred for a clipped Keras prediction in float16)
            // and give NaN or infinity where the result is in range: that element says nothing of its accuracy
            if (outOfRange(type, ref[i]) || !Float.isFinite(torch[i]) || scale[i] == 0) {
                continue;
            }
            torchErr = Math.max(torchErr, Math.abs(torch[i] - ref[i]) / scale[i]);
            ourErr = Math.max(ourErr, Math.abs(ours[i] - ref[i]) / scale[i]);
        }
        if (!(ourErr <= torchErr + TORCH_LOSS_SLACK_UNITS * u)) {
            org.junit.jupiter.api.Assertions.fail(what + ": our largest scaled error " + ourErr / u + " u exceeds "
                    + "PyTorch " + type + "'s " + torchErr / u + " u");
        }
        for (int i = 0; i < ref.length; i++) {
            if (outOfRange(type, ref[i]) || !Float.isFinite(torch[i])) {
                continue;
            }
            double tol = 2 * torchErr * scale[i] + HalfCase.ulp(type, torch[i]) + u * scale[i];
            if (!(Math.abs(ours[i] - torch[i]) <= tol)) {
                org.junit.jupiter.api.Assertions.fail(what + "[" + i + "]: ours " + ours[i] + " vs PyTorch " + type
                        + " " + torch[i] + " (tolerance " + tol + ")");
            }
        }
    }

    /** NaN, infinite, or beyond the type's range (checked to overflow by assertRoundedOnce). */
    private static boolean outOfRange(DType type, double v) {
        return !(Math.abs(v) <= HalfCase.maxFinite(type));
    }

    private static double[] absolute(double[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = Math.abs(x[i]);
        }
        return out;
    }

    /** float32Gradients(true): FLOAT32 gradients, which rounded to the type are bitwise the half gradients. */
    @ParameterizedTest(name = "{0} {1}", autoCloseArguments = false)
    @MethodSource("devicesAndTypes")
    void float32GradientsRoundToTheHalfGradients(Device d, DType type) {
        for (LossCase c : lossCases()) {
            if (c.op != Op.CROSS_ENTROPY && c.op != Op.SOFT_CROSS_ENTROPY && c.op != Op.DISTILLATION) {
                continue;
            }
            HalfCase.roundedTo(type, c);
            HalfCase.Result half = HalfCase.run(d, c, type, Layout.CONTIGUOUS, false);
            HalfCase.Result wide = HalfCase.run(d, c, type, Layout.CONTIGUOUS, true);
            assertEquals(List.of(DType.FLOAT32), wide.gradTypes(), c + ": float32Gradients");
            assertArrayEquals(half.out().value(), wide.out().value(), c + ": the value does not depend on it");
            float[] g = wide.out().grads()[0];
            float[] back = new float[g.length];
            for (int i = 0; i < g.length; i++) {
                back[i] = HalfFloats.toFloat(type, HalfFloats.fromFloat(type, g[i]));
            }
            assertArrayEquals(half.out().grads()[0], back, c + ": the half gradient is the float32 one rounded once");
        }
    }
}
