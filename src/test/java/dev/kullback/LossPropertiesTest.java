package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.LossCase.Ignore;
import dev.kullback.LossCase.Op;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Identities between the losses, on every device (no oracle involved). */
class LossPropertiesTest {
    static Stream<Arguments> deviceShapes() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Shape s : Shape.LOSS_PROPERTIES) {
                out.add(Arguments.of(d, s));
            }
        }
        return out.stream();
    }

    static float sum(float[] x) {
        double s = 0;
        for (float v : x) {
            s += v;
        }
        return (float) s;
    }

    /** H(p, q) = H(p) + KL(p || q): soft-target cross-entropy = entropy + distillation KL at T = 1 = entropy + klDiv. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} H(p,q) = H(p) + KL(p||q) {1}")
    @MethodSource("deviceShapes")
    void crossEntropyIsEntropyPlusKl(Device d, Shape s) {
        Random rnd = Data.random("H(p,q)", s);
        float[] x = Data.logits(rnd, s);       // q = softmax(x)
        float[] y = Data.logits(rnd, s);       // p = softmax(y)
        try (Scope sc = new Scope()) {
            Tensor tx = sc.upload(d, x, s);
            Tensor ty = sc.upload(d, y, s);
            Tensor p = sc.add(d.softmax(ty));
            float hpq;
            float hp;
            float kl;
            float klDiv;
            try (Loss ce = d.crossEntropy(tx, p, CrossEntropy.options().reduction(Reduction.SUM));
                 Loss h = d.entropy(ty, Reduction.SUM);
                 Loss k = d.distillationKl(tx, ty, Distillation.options().reduction(Reduction.SUM))) {
                hpq = ce.value().item();
                hp = h.value().item();
                kl = k.value().item();
                // the gradients with respect to x agree too: d H(p, q)/dx = d KL(p || q)/dx (H(p) does not depend on x)
                Approx.assertCloseToRowScale(d + ": dH(p,q)/dx = dKL/dx " + s, k.gradient().toArray(),
                        ce.gradient().toArray(), s.cols(), 1e-4, 1e-6);
            }
            klDiv = sc.add(d.klDiv(sc.add(d.logSoftmax(tx)), p, Reduction.SUM, false)).item();
            double tol = 2e-5 * (Math.abs(hpq) + Math.abs(hp) + Math.abs(kl) + s.rows());
            Approx.assertClose(d + ": H(p,q) = H(p) + distillationKl " + s, hpq, (double) hp + kl, tol);
            Approx.assertClose(d + ": H(p,q) = H(p) + klDiv " + s, hpq, (double) hp + klDiv, tol);
            assertTrue(kl >= -tol, "KL >= 0: " + kl);
        }
    }

    /** KL(p, p) = 0 with a zero gradient: distillation (both directions, any T), every JSD, symmetric KL. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} divergence of a distribution from itself {1}")
    @MethodSource("deviceShapes")
    void divergenceOfItselfIsZero(Device d, Shape s) {
        float[] x = Data.logits(Data.random("KL(p,p)", s), s);
        try (Scope sc = new Scope()) {
            Tensor a = sc.upload(d, x, s);
            Tensor b = sc.upload(d, x, s);
            List<Loss> losses = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (float t : new float[] {0.5f, 1, 4}) {
                for (boolean rev : new boolean[] {false, true}) {
                    losses.add(d.distillationKl(a, b, Distillation.options().temperature(t).reverse(rev)
                            .reduction(Reduction.SUM)));
                    names.add("distillation T=" + t + " reverse=" + rev);
                }
            }
            for (float beta : new float[] {0, 0.3f, 0.5f, 1}) {
                losses.add(d.jsd(a, b, beta, Reduction.SUM));
                names.add("jsd beta=" + beta);
            }
            losses.add(d.symmetricKl(a, b, Reduction.SUM));
            names.add("symmetricKl");
            try {
                for (int i = 0; i < losses.size(); i++) {
                    Loss l = losses.get(i);
                    assertEquals(0, l.value().item(), 2e-6 * s.rows() * 16, d + " " + names.get(i) + " " + s);
                    for (int k = 0; k < l.gradientCount(); k++) {
                        Approx.assertClose(d + " " + names.get(i) + " gradient " + k + " " + s, new float[s.size()],
                                l.gradient(k).toArray(), s.cols(), 0, 1e-6 * 16);
                    }
                }
            } finally {
                losses.forEach(Loss::close);
            }
        }
    }

    /** JSD(beta = 0.5) is symmetric in its arguments (gradients swap) and at most ln 2 per row, even for disjoint supports. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} JSD symmetric and <= ln 2 {1}")
    @MethodSource("deviceShapes")
    void jsdSymmetricAndBounded(Device d, Shape s) {
        Random rnd = Data.random("jsd sym", s);
        float[] a = Data.logits(rnd, s);
        float[] b = Data.logits(rnd, s);
        // disjoint (nearly): row-wise opposite one-hot-like logits
        float[] c = new float[s.size()];
        float[] e = new float[s.size()];
        for (int r = 0; r < s.rows(); r++) {
            for (int k = 0; k < s.cols(); k++) {
                c[r * s.cols() + k] = k == 0 ? 60 : -60;
                e[r * s.cols() + k] = k == s.cols() - 1 ? 60 : -60;
            }
        }
        try (Scope sc = new Scope()) {
            Tensor ta = sc.upload(d, a, s);
            Tensor tb = sc.upload(d, b, s);
            try (Loss ab = d.jsd(ta, tb, 0.5f, Reduction.NONE); Loss ba = d.jsd(tb, ta, 0.5f, Reduction.NONE)) {
                Approx.assertClose(d + " jsd(a,b) = jsd(b,a) " + s, ab.value().toArray(), ba.value().toArray(), 1,
                        1e-5, 1e-7);
                Approx.assertCloseToRowScale(d + " jsd gradients swap " + s, ab.gradient(0).toArray(),
                        ba.gradient(1).toArray(), s.cols(), 1e-4, 1e-7);
                for (float v : ab.value().toArray()) {
                    assertTrue(v >= -1e-7 && v <= Math.log(2) + 1e-6, "0 <= JSD <= ln 2: " + v);
                }
            }
            try (Loss far = d.jsd(sc.upload(d, c, s), sc.upload(d, e, s), 0.5f, Reduction.NONE)) {
                float[] v = far.value().toArray();
                for (float x : v) {
                    assertTrue(x <= Math.log(2) + 1e-6, "JSD <= ln 2: " + x);
                    if (s.cols() > 1) {
                        assertEquals(Math.log(2), x, 1e-5, d + " disjoint supports: JSD = ln 2");
                    }
                }
            }
        }
    }

    /** KL of a Gaussian from itself is 0 (both forms), with zero gradients; the standard form of N(0, 1) too. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} Gaussian KL of identical distributions {1}")
    @MethodSource("deviceShapes")
    void gaussianKlOfItselfIsZero(Device d, Shape s) {
        Random rnd = Data.random("gauss self", s);
        float[] mu = Data.normal(rnd, s);
        float[] lv = Data.normal(rnd, s);
        try (Scope sc = new Scope()) {
            Tensor m = sc.upload(d, mu, s);
            Tensor v = sc.upload(d, lv, s);
            try (Loss l = d.gaussianKl(m, v, m, v, Reduction.SUM);
                 Loss std = d.gaussianKl(sc.add(d.zeros(s.rows(), s.cols())), sc.add(d.zeros(s.rows(), s.cols())),
                         Reduction.SUM)) {
                assertEquals(0, l.value().item(), 1e-6 * s.size(), d + " KL(N||N) " + s);
                assertEquals(0, std.value().item(), 0, d + " KL(N(0,1)||N(0,1)) " + s);
                for (int k = 0; k < 4; k++) {
                    Approx.assertClose(d + " gradient " + k, new float[s.size()], l.gradient(k).toArray(), s.cols(), 0,
                            1e-6);
                }
            }
        }
    }

    static Stream<Arguments> ceOptions() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Shape s : Shape.LOSS_PROPERTIES) {
                for (Reduction r : new Reduction[] {Reduction.NONE, Reduction.SUM, Reduction.MEAN}) {
                    for (boolean w : new boolean[] {false, true}) {
                        if (w && r == Reduction.MEAN) {
                            continue;      // class indices divide by sum of w_y, probabilities by rows: they differ
                        }
                        for (float eps : new float[] {0, 0.1f}) {
                            out.add(Arguments.of(d, s, r, w, eps));
                        }
                    }
                }
            }
        }
        return out.stream();
    }

    /** Cross-entropy with one-hot probability targets equals cross-entropy with the class indices. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} one-hot targets = labels {1} {2} weights={3} eps={4}")
    @MethodSource("ceOptions")
    void oneHotTargetsAreLabels(Device d, Shape s, Reduction r, boolean w, float eps) {
        Random rnd = Data.random("onehot", s, r, w, eps);
        float[] x = Data.logits(rnd, s);
        int[] labels = new int[s.rows()];
        float[] onehot = new float[s.size()];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(s.cols());
            onehot[i * s.cols() + labels[i]] = 1;
        }
        float[] weights = new float[s.cols()];
        for (int c = 0; c < weights.length; c++) {
            weights[c] = 0.5f + rnd.nextFloat();
        }
        try (Scope sc = new Scope(); Labels l = d.uploadLabels(labels)) {
            Tensor tx = sc.upload(d, x, s);
            CrossEntropy o = CrossEntropy.options().reduction(r).labelSmoothing(eps).zLoss(1e-3f);
            if (w) {
                o = o.weights(sc.add(d.upload(weights, 1, s.cols())));
            }
            try (Loss a = d.crossEntropy(tx, l, o); Loss b = d.crossEntropy(tx, sc.upload(d, onehot, s), o)) {
                Approx.assertClose(d + " value", a.value().toArray(), b.value().toArray(), 1, 1e-5, 1e-6);
                Approx.assertCloseToRowScale(d + " gradient", a.gradient().toArray(), b.gradient().toArray(),
                        s.cols(), 1e-4, 1e-7);
            }
        }
    }

    /** labelSmoothing(0) (and -0.0) is exactly the default, no smoothing: bitwise the same value and gradient. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} smoothing 0 = no smoothing {1}")
    @MethodSource("deviceShapes")
    void smoothingZeroIsNoSmoothing(Device d, Shape s) {
        Random rnd = Data.random("eps0", s);
        float[] x = Data.logits(rnd, s);
        int[] labels = new int[s.rows()];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(s.cols());
        }
        try (Scope sc = new Scope(); Labels l = d.uploadLabels(labels)) {
            Tensor tx = sc.upload(d, x, s);
            try (Loss a = d.crossEntropy(tx, l); Loss b = d.crossEntropy(tx, l, CrossEntropy.options().labelSmoothing(0f));
                 Loss c = d.crossEntropy(tx, l, CrossEntropy.options().labelSmoothing(-0.0f))) {
                Approx.assertBitwise(d + " value", a.value().toArray(), b.value().toArray());
                Approx.assertBitwise(d + " value -0.0", a.value().toArray(), c.value().toArray());
                Approx.assertBitwise(d + " gradient", a.gradient().toArray(), b.gradient().toArray());
                assertTrue(Float.isFinite(a.value().item()) && (s.cols() == 1 || a.value().item() > 0),
                        "a real loss: " + a.value().item());
            }
        }
    }

    static Stream<Arguments> noneVsSum() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Shape s : new Shape[] {new Shape(3, 33), new Shape(8, 1024)}) {
                out.add(Arguments.of(d, new LossCase(Op.DISTILLATION, s, Reduction.NONE).temperature(2).ignore(Ignore.SOME)));
                out.add(Arguments.of(d, new LossCase(Op.DISTILLATION, s, Reduction.NONE).reverse(true)));
                out.add(Arguments.of(d, new LossCase(Op.CROSS_ENTROPY, s, Reduction.NONE).weights(true).smoothing(0.1f)
                        .zLoss(1e-3f).ignore(Ignore.SOME)));
                out.add(Arguments.of(d, new LossCase(Op.SOFT_CROSS_ENTROPY, s, Reduction.NONE).weights(true)
                        .smoothing(0.1f).zLoss(1e-3f)));
                for (float b : new float[] {0, 0.3f, 1}) {
                    out.add(Arguments.of(d, new LossCase(Op.JSD, s, Reduction.NONE).beta(b)));
                }
                out.add(Arguments.of(d, new LossCase(Op.SYMMETRIC_KL, s, Reduction.NONE)));
                out.add(Arguments.of(d, new LossCase(Op.ENTROPY, s, Reduction.NONE)));
                out.add(Arguments.of(d, new LossCase(Op.TVD, s, Reduction.NONE).ignore(Ignore.SOME)));
                out.add(Arguments.of(d, new LossCase(Op.KERAS_KL, s, Reduction.NONE).bits(true)));
                out.add(Arguments.of(d, new LossCase(Op.GAUSSIAN_KL, s, Reduction.NONE)));
                out.add(Arguments.of(d, new LossCase(Op.GAUSSIAN_KL, s, Reduction.NONE).standard(true)));
            }
        }
        return out.stream();
    }

    /** The gradients of NONE (of the sum of the rows' losses) are the SUM gradients; the rows add up to SUM's value. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} NONE vs SUM {1}")
    @MethodSource("noneVsSum")
    void noneGradientsAreSumGradients(Device d, LossCase none) {
        LossCase sum = new LossCase(none.op, none.shape, Reduction.SUM).temperature(none.temperature)
                .reverse(none.reverse).ignore(none.ignore).weights(none.weights).smoothing(none.smoothing)
                .zLoss(none.zLoss).beta(none.beta).bits(none.bits).standard(none.standard).inputs(none.inputs())
                .labels(none.labels());
        if (none.weightValues() != null) {
            sum.weightValues = none.weightValues();
        }
        LossCase.Out a = none.run(d);
        LossCase.Out b = sum.run(d);
        double mag = 0;
        for (float v : a.value()) {
            mag += Math.abs(v);
        }
        Approx.assertClose(d + " " + none + ": rows add up to SUM", b.value()[0], sum(a.value()), 1e-5 * mag + 1e-6);
        for (int k = 0; k < a.grads().length; k++) {
            Approx.assertClose(d + " " + none + ": gradient " + k, b.grads()[k], a.grads()[k], none.shape.cols(), 1e-5,
                    1e-9);
        }
    }
}
