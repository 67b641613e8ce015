package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.LossCase.Ignore;
import dev.kullback.LossCase.Op;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every loss, every option combination, forward and every gradient, against PyTorch ({@link TorchOracle}: its
 * formulas on the same float32 inputs, computed in float64 and rounded once, see {@link TorchOracle#inFloat64}) on
 * every device, over {@link Shape#LOSS_PARITY}; and each device against the float64 {@link Reference} too. The oracle
 * itself is checked against the reference ({@link #oracleMatchesReference}), so a disagreement is pinned on the
 * device, PyTorch or the spec.
 *
 * <p>Tolerances ({@link LossCase#assertMatches}): 2e-5 relative, plus 2e-5 of the magnitude of the terms a value
 * adds up (a float32 sum over 262144 terms in blocked or pairwise order stays well inside it; a sequential one of
 * equal terms need not, as PyTorch's own float32 autograd shows on AVX2 machines), plus, for a gradient element, 2e-5
 * of the largest gradient of its row. A wrong factor, sign, divisor, temperature or option moves a value or a
 * row's largest gradient by far more; a row that must be left out must give exactly 0.
 */
class LossTorchParityTest {
    private static List<LossCase> cases;
    private static final Map<LossCase, LossCase.Out> ORACLE = new IdentityHashMap<>();
    private static final Map<LossCase, Reference.Result> REFERENCE = new IdentityHashMap<>();

    static synchronized List<LossCase> cases() {
        if (cases == null) {
            cases = build();
        }
        return cases;
    }

    /**
     * On shapes of 64000 elements or more, one combination in 4, and on shapes of more than 64 rows one in 8 (chosen by
     * a fixed seed within each op, so every op keeps cases there).
     */
    private static List<LossCase> build() {
        List<LossCase> out = new ArrayList<>();
        for (Shape s : Shape.LOSS_PARITY) {
            List<LossCase> all = new ArrayList<>();
            for (Reduction r : Reduction.values()) {
                for (float t : new float[] {0.5f, 1, 2, 4}) {
                    for (boolean rev : new boolean[] {false, true}) {
                        for (Ignore ig : new Ignore[] {Ignore.NO_LABELS, Ignore.NONE_IGNORED, Ignore.SOME, Ignore.ALL}) {
                            all.add(new LossCase(Op.DISTILLATION, s, r).temperature(t).reverse(rev).ignore(ig));
                        }
                    }
                }
            }
            for (Reduction r : new Reduction[] {Reduction.NONE, Reduction.SUM, Reduction.MEAN}) {
                for (boolean w : new boolean[] {false, true}) {
                    for (float eps : new float[] {0, 0.1f, 1}) {
                        for (float z : new float[] {0, 1e-3f}) {
                            for (Ignore ig : new Ignore[] {Ignore.NONE_IGNORED, Ignore.SOME, Ignore.ALL,
                                    Ignore.CLASS_ZERO}) {
                                all.add(new LossCase(Op.CROSS_ENTROPY, s, r).weights(w).smoothing(eps).zLoss(z)
                                        .ignore(ig));
                            }
                            all.add(new LossCase(Op.SOFT_CROSS_ENTROPY, s, r).weights(w).smoothing(eps).zLoss(z));
                        }
                    }
                }
            }
            for (Reduction r : Reduction.values()) {
                for (float b : new float[] {0, 0.3f, 0.5f, 1}) {
                    all.add(new LossCase(Op.JSD, s, r).beta(b));
                }
                all.add(new LossCase(Op.SYMMETRIC_KL, s, r));
                all.add(new LossCase(Op.ENTROPY, s, r));
                all.add(new LossCase(Op.KERAS_KL, s, r).bits(false));
                all.add(new LossCase(Op.KERAS_KL, s, r).bits(true));
                all.add(new LossCase(Op.GAUSSIAN_KL, s, r).standard(true));
                all.add(new LossCase(Op.GAUSSIAN_KL, s, r).standard(false));
                for (Ignore ig : new Ignore[] {Ignore.NO_LABELS, Ignore.SOME, Ignore.ALL}) {
                    all.add(new LossCase(Op.TVD, s, r).ignore(ig));
                }
            }
            if (s.size() >= 64000 || s.rows() > 64) {
                Random rnd = new Random(s.size());
                int stride = s.rows() > 64 ? 8 : 4;
                // every op keeps at least one case: sample within each op
                for (Op op : Op.values()) {
                    List<LossCase> ofOp = all.stream().filter(c -> c.op == op).toList();
                    int start = rnd.nextInt(Math.min(stride, ofOp.size()));
                    for (int i = start; i < ofOp.size(); i += stride) {
                        out.add(ofOp.get(i));
                    }
                }
            } else {
                out.addAll(all);
            }
        }
        return out;
    }

    static synchronized LossCase.Out oracle(LossCase c) {
        return ORACLE.computeIfAbsent(c, LossCase::oracle);
    }

    static synchronized Reference.Result reference(LossCase c) {
        return REFERENCE.computeIfAbsent(c, LossCase::reference);
    }

    static Stream<Arguments> deviceCases() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (LossCase c : cases()) {
                out.add(Arguments.of(d, c));
            }
        }
        return out.stream();
    }

    static Stream<LossCase> allCases() {
        return cases().stream();
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1}")
    @MethodSource("deviceCases")
    void device(Device d, LossCase c) {
        LossCase.Out actual = c.run(d);
        Reference.Result ref = reference(c);
        LossCase.assertMatches(d + " " + c + " vs PyTorch", oracle(c), actual, ref, c.shape.cols());
        LossCase.assertMatches(d + " " + c + " vs float64 reference", LossCase.toFloat(ref), actual, ref,
                c.shape.cols());
    }

    /** The oracle's composition agrees with the spec's float64 reference: checks the oracle and the spec. */
    @ParameterizedTest(name = "oracle {0}")
    @MethodSource("allCases")
    void oracleMatchesReference(LossCase c) {
        Reference.Result ref = reference(c);
        LossCase.assertMatches("TorchOracle " + c + " vs float64 reference", LossCase.toFloat(ref), oracle(c), ref,
                c.shape.cols());
    }

    /** The grid is what the class promises: every op on every shape, every option value present. */
    @Test
    void everyOpOnEveryShape() {
        for (Shape s : Shape.LOSS_PARITY) {
            for (Op op : Op.values()) {
                assertTrue(cases().stream().anyMatch(c -> c.shape.equals(s) && c.op == op), op + " on " + s);
            }
        }
        assertTrue(cases().size() > 500, "cases: " + cases().size());
    }

    // ---- masked vocabulary: -inf in both logits ------------------------------------------------------------

    static Stream<Arguments> maskedCases() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Shape s : new Shape[] {new Shape(3, 33), new Shape(2, 4097)}) {
                for (Reduction r : Reduction.values()) {
                    for (boolean rev : new boolean[] {false, true}) {
                        out.add(Arguments.of(d, s, r, rev));
                    }
                }
            }
        }
        return out.stream();
    }

    /**
     * Columns that are -inf in both logits: PyTorch's composition gives NaN there; ours gives 0 to the loss and the
     * gradient. Compared with PyTorch on the same inputs with those columns removed (MEAN's divisor keeps every
     * column, so PyTorch's MEAN is rescaled by kept / cols).
     */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} distillation masked columns {1} {2} reverse={3}")
    @MethodSource("maskedCases")
    void distillationMaskedColumns(Device d, Shape s, Reduction r, boolean reverse) {
        Random rnd = Data.random("masked", s, r, reverse);
        float[] st = Data.logits(rnd, s);
        float[] te = Data.logits(rnd, s);
        boolean[] masked = new boolean[s.cols()];
        for (int c = 0; c < s.cols(); c++) {
            masked[c] = c % 4 == 2;
        }
        int kept = 0;
        for (boolean m : masked) {
            kept += m ? 0 : 1;
        }
        float[] sk = new float[s.rows() * kept];
        float[] tk = new float[s.rows() * kept];
        for (int row = 0, k = 0; row < s.rows(); row++) {
            for (int c = 0; c < s.cols(); c++) {
                if (masked[c]) {
                    st[row * s.cols() + c] = Float.NEGATIVE_INFINITY;
                    te[row * s.cols() + c] = Float.NEGATIVE_INFINITY;
                } else {
                    sk[k] = st[row * s.cols() + c];
                    tk[k] = te[row * s.cols() + c];
                    k++;
                }
            }
        }
        float temperature = 2;
        TorchOracle.LossOut o = TorchOracle.distillation(sk, tk, s.rows(), kept, temperature, reverse, r, null, 0);
        Reference.Result ref = Reference.distillation(sk, tk, s.rows(), kept, temperature, reverse, r, null, 0);
        double scale = r == Reduction.MEAN ? (double) kept / s.cols() : 1;
        try (Scope sc = new Scope()) {
            Tensor a = sc.upload(d, st, s);
            Tensor b = sc.upload(d, te, s);
            try (Loss loss = d.distillationKl(a, b, Distillation.options().temperature(temperature).reduction(r)
                    .reverse(reverse))) {
                float[] value = loss.value().toArray();
                float[] grad = loss.gradient().toArray();
                float[] gradKept = new float[s.rows() * kept];
                for (int row = 0, k = 0; row < s.rows(); row++) {
                    for (int c = 0; c < s.cols(); c++) {
                        float g = grad[row * s.cols() + c];
                        if (masked[c]) {
                            assertEquals(0f, Math.abs(g), 0f, d + ": gradient at masked [" + row + ", " + c + "]");
                        } else {
                            gradKept[k++] = g;
                        }
                    }
                }
                float[] ov = o.value().clone();
                float[] og = o.grads()[0].clone();
                for (int i = 0; i < ov.length; i++) {
                    ov[i] *= (float) scale;
                }
                for (int i = 0; i < og.length; i++) {
                    og[i] *= (float) scale;
                }
                double[] mag = ref.valueMagnitude().clone();
                for (int i = 0; i < mag.length; i++) {
                    mag[i] *= scale;
                }
                double[][] rg = {ref.grads()[0].clone()};
                for (int i = 0; i < rg[0].length; i++) {
                    rg[0][i] *= scale;
                }
                Reference.Result scaled = new Reference.Result(ref.value(), rg, mag);
                LossCase.assertMatches(d + " distillation, masked columns " + s + " " + r,
                        new LossCase.Out(ov, new float[][] {og}), new LossCase.Out(value, new float[][] {gradKept}),
                        scaled, kept);
            }
        }
    }

    /** Entropy with -inf logits: they contribute 0 (PyTorch's -(p * log p) gives NaN there); as if removed. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} entropy masked columns {1} {2}")
    @MethodSource("maskedCases")
    void entropyMaskedColumns(Device d, Shape s, Reduction r, boolean unused) {
        if (unused) {
            assertTrue(unused);
            return;
        }
        Random rnd = Data.random("entropy masked", s, r);
        float[] x = Data.logits(rnd, s);
        int kept = 0;
        for (int c = 0; c < s.cols(); c++) {
            kept += c % 3 == 0 ? 0 : 1;
        }
        float[] xk = new float[s.rows() * kept];
        for (int row = 0, k = 0; row < s.rows(); row++) {
            for (int c = 0; c < s.cols(); c++) {
                if (c % 3 == 0) {
                    x[row * s.cols() + c] = Float.NEGATIVE_INFINITY;
                } else {
                    xk[k++] = x[row * s.cols() + c];
                }
            }
        }
        TorchOracle.LossOut o = TorchOracle.entropy(xk, s.rows(), kept, r);
        Reference.Result ref = Reference.entropy(xk, s.rows(), kept, r);
        try (Scope sc = new Scope(); Loss loss = d.entropy(sc.upload(d, x, s), r)) {
            float[] grad = loss.gradient().toArray();
            float[] gradKept = new float[s.rows() * kept];
            for (int row = 0, k = 0; row < s.rows(); row++) {
                for (int c = 0; c < s.cols(); c++) {
                    float g = grad[row * s.cols() + c];
                    if (c % 3 == 0) {
                        assertEquals(0f, Math.abs(g), 0f, d + ": entropy gradient at -inf [" + row + ", " + c + "]");
                    } else {
                        gradKept[k++] = g;
                    }
                }
            }
            LossCase.assertMatches(d + " entropy, -inf columns " + s + " " + r, new LossCase.Out(o.value(), o.grads()),
                    new LossCase.Out(loss.value().toArray(), new float[][] {gradKept}), ref, kept);
        }
    }
}
