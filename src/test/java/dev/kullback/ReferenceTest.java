package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.LossCase.Ignore;
import dev.kullback.LossCase.Op;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The float64 {@link Reference} checked against central finite differences of itself: every gradient of every
 * loss, under every reduction and the options that change a gradient. The step h = 2^-14 is exact in float32
 * for inputs below 2^9 in magnitude, so (f(x + h) - f(x - h)) / 2h is computed on exactly the perturbed inputs.
 * (That the float32 devices match this reference is checked case by case in {@link LossTorchParityTest#device}.)
 */
class ReferenceTest {
    static final float H = 0x1p-14f;

    static Stream<LossCase> cases() {
        List<LossCase> out = new ArrayList<>();
        for (Shape s : new Shape[] {new Shape(3, 5), new Shape(2, 1)}) {
            for (Reduction r : Reduction.values()) {
                for (float t : new float[] {0.5f, 2}) {
                    for (boolean rev : new boolean[] {false, true}) {
                        out.add(new LossCase(Op.DISTILLATION, s, r).temperature(t).reverse(rev).ignore(Ignore.SOME));
                    }
                }
                for (float b : new float[] {0, 0.3f, 0.5f, 1}) {
                    out.add(new LossCase(Op.JSD, s, r).beta(b));
                }
                out.add(new LossCase(Op.SYMMETRIC_KL, s, r));
                out.add(new LossCase(Op.ENTROPY, s, r));
                out.add(new LossCase(Op.TVD, s, r).ignore(Ignore.SOME));
                for (boolean bits : new boolean[] {false, true}) {
                    LossCase k = new LossCase(Op.KERAS_KL, s, r).bits(bits);
                    // away from the clip's kinks: in-range entries in [0.01, 0.9], clipped ones at -0.5 and 1.5
                    float[] yTrue = new float[s.size()];
                    float[] yPred = new float[s.size()];
                    java.util.Random rnd = Data.random("keras fd", s, r, bits);
                    for (int i = 0; i < yTrue.length; i++) {
                        yTrue[i] = i % 4 == 3 ? 0 : 0.01f + 0.89f * rnd.nextFloat();
                        yPred[i] = i % 5 == 1 ? -0.5f : i % 5 == 3 ? 1.5f : 0.01f + 0.89f * rnd.nextFloat();
                    }
                    out.add(k.inputs(yTrue, yPred));
                }
                out.add(new LossCase(Op.GAUSSIAN_KL, s, r).standard(true));
                out.add(new LossCase(Op.GAUSSIAN_KL, s, r).standard(false));
                if (r == Reduction.BATCHMEAN) {
                    continue;
                }
                for (boolean w : new boolean[] {false, true}) {
                    for (float eps : new float[] {0, 0.1f, 1}) {
                        out.add(new LossCase(Op.CROSS_ENTROPY, s, r).weights(w).smoothing(eps).zLoss(0.01f)
                                .ignore(Ignore.SOME));
                        out.add(new LossCase(Op.SOFT_CROSS_ENTROPY, s, r).weights(w).smoothing(eps).zLoss(0.01f));
                    }
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void gradientsAreFiniteDifferences(LossCase c) {
        Reference.Result at = c.reference();
        float[][] in = c.inputs();
        int checked = 0;
        for (int k = 0; k < c.gradientCount(); k++) {
            // the gradient of input k: input k itself, except for keras (yPred is input 1)
            int input = c.op == Op.KERAS_KL ? 1 : k;
            float[] x = in[input];
            double[] fd = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                float keep = x[i];
                x[i] = keep + H;
                double up = c.reference().total();
                x[i] = keep - H;
                double down = c.reference().total();
                x[i] = keep;
                fd[i] = (up - down) / (2.0 * H);
            }
            double[] g = at.grads()[k];
            for (int i = 0; i < x.length; i++) {
                double tol = 2e-6 + 2e-5 * Math.abs(fd[i]);
                if (Double.isNaN(at.total())) {
                    tol = Double.POSITIVE_INFINITY;      // nothing counted: the value is NaN, its gradient 0
                    assertTrue(g[i] == 0, c + ": gradient of a NaN (empty) reduction must be 0");
                }
                assertTrue(Math.abs(fd[i] - g[i]) <= tol, c + ": gradient " + k + " at " + i + ": analytic " + g[i]
                        + ", finite difference " + fd[i]);
                checked++;
            }
        }
        assertTrue(checked > 0, "nothing checked");
        assertTrue(Double.isFinite(at.total()), c + ": the reference value is " + at.total());
    }
}
