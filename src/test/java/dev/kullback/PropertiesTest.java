package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Mathematical identities the operations must satisfy, checked on the device alone (no oracle): KL >= 0,
 * KL(p, p) = 0, normalization, exp(logSoftmax) = softmax, the gradient identities of log-softmax and kl_div,
 * the relations between the reductions, exact sums that see every element, and the tensor contract (copies,
 * shapes, inputs left untouched, bitwise reproducibility).
 */
class PropertiesTest {
    private static final double EPS = Approx.EPS;

    static Stream<Arguments> deviceShapes() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Shape s : Shape.SMALL) {
                out.add(Arguments.of(d, s));
            }
        }
        return out.stream();
    }

    /** Every device with each case of {@link OpCase#catalog} over {@link Shape#SMALL} that {@code which} keeps. */
    static Stream<Arguments> deviceCases(Predicate<OpCase> which) {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (OpCase c : OpCase.catalog(Shape.SMALL)) {
                if (which.test(c)) {
                    out.add(Arguments.of(d, c));
                }
            }
        }
        return out.stream();
    }

    /** kl_div (NONE: the tests reduce it every way themselves) of probabilities with zeros, and of log-probabilities. */
    static Stream<Arguments> klCases() {
        return deviceCases(c -> c.op == OpCase.Op.KL_DIV && c.reduction == Reduction.NONE
                && (c.logTarget || c.targets == OpCase.Targets.WITH_ZEROS));
    }

    static Stream<Arguments> softmaxCases() {
        return deviceCases(c -> c.op == OpCase.Op.SOFTMAX);
    }

    static Stream<Arguments> logSoftmaxCases() {
        return deviceCases(c -> c.op == OpCase.Op.LOG_SOFTMAX);
    }

    static Stream<Arguments> logSoftmaxBackwardCases() {
        return deviceCases(c -> c.op == OpCase.Op.LOG_SOFTMAX_BACKWARD);
    }

    static Stream<Arguments> devices() {
        return TestDevices.all().stream().map(Arguments::of);
    }

    // ---- kl_div --------------------------------------------------------------------------------------

    /** Gibbs' inequality: KL(t || q) >= 0 for distributions t, q, per row and for every reduction. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} KL >= 0 {1}")
    @MethodSource("klCases")
    void klIsNonNegative(Device d, OpCase op) {
        Shape s = op.shape;
        boolean logTarget = op.logTarget;
        float[] input = op.inputs()[0];
        float[] target = op.inputs()[1];
        double[] scale = Reference.klDivScale(input, target, logTarget);
        double total = 0;
        for (double v : scale) {
            total += v;
        }
        try (Scope sc = new Scope()) {
            Tensor x = sc.upload(d, input, s);
            Tensor t = sc.upload(d, target, s);
            float[] rows = sc.add(d.rowSum(sc.add(d.klDiv(x, t, Reduction.NONE, logTarget)))).toArray();
            for (int r = 0; r < s.rows(); r++) {
                double rowScale = 0;
                for (int c = 0; c < s.cols(); c++) {
                    rowScale += scale[r * s.cols() + c];
                }
                // rounding: the inputs are float roundings of distributions, so sum(t) = 1 +- n eps
                double tol = 1e-6 * rowScale + 2 * s.cols() * EPS;
                assertTrue(rows[r] >= -tol, d + ": KL of row " + r + " is " + rows[r] + " < 0 (tolerance " + tol + ")");
            }
            for (Reduction r : new Reduction[] {Reduction.SUM, Reduction.MEAN, Reduction.BATCHMEAN}) {
                float v = sc.add(d.klDiv(x, t, r, logTarget)).item();
                double tol = (1e-6 * total + 2 * s.size() * EPS) / Reference.divisor(r, s.rows(), s.cols());
                assertTrue(v >= -tol, d + ": KL " + r + " is " + v + " < 0 (tolerance " + tol + ")");
                assertTrue(Float.isFinite(v), d + ": KL " + r + " is " + v);
            }
        }
    }

    /** KL(p || p) = 0: input log p against target p (or log p when logTarget), every reduction and pointwise. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} KL(p, p) = 0 {1}")
    @MethodSource("klCases")
    void klOfItselfIsZero(Device d, OpCase op) {
        Shape s = op.shape;
        boolean logTarget = op.logTarget;
        Random rnd = Data.random("klOfItselfIsZero", s, logTarget);
        float[] p = Data.probs(rnd, s, 0);
        float[] logp = Data.log(p);
        float[] target = logTarget ? logp : p;
        double[] scale = Reference.klDivScale(logp, target, logTarget);
        try (Scope sc = new Scope()) {
            Tensor x = sc.upload(d, logp, s);
            Tensor t = sc.upload(d, target, s);
            float[] none = sc.add(d.klDiv(x, t, Reduction.NONE, logTarget)).toArray();
            double total = 0;
            for (int i = 0; i < none.length; i++) {
                total += scale[i];
                if (logTarget) {
                    // exp(t) * (t - x) with t == x bit for bit: exactly zero
                    assertEquals(0f, none[i], 0f, d + ": exp(t) * (t - t) at " + i);
                } else {
                    // t*log(t) - t*x with x = float(log t): zero up to the rounding of x and of the products
                    assertTrue(Math.abs(none[i]) <= 4 * EPS * scale[i] + 1e-37,
                            d + ": t log t - t log t at " + i + " is " + none[i] + " (t = " + p[i] + ")");
                }
            }
            for (Reduction r : new Reduction[] {Reduction.SUM, Reduction.MEAN, Reduction.BATCHMEAN}) {
                float v = sc.add(d.klDiv(x, t, r, logTarget)).item();
                double tol = 4 * EPS * total / Reference.divisor(r, s.rows(), s.cols()) + 1e-37;
                assertTrue(Math.abs(v) <= tol, d + ": KL(p, p) " + r + " = " + v + " (tolerance " + tol + ")");
            }
        }
    }

    /** SUM = sum(NONE), MEAN = SUM / (rows * cols), BATCHMEAN = SUM / rows; and the same for the gradients. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} kl_div reductions agree {1}")
    @MethodSource("klCases")
    void klReductionsAgree(Device d, OpCase op) {
        Shape s = op.shape;
        boolean logTarget = op.logTarget;
        float[] target = op.inputs()[1];
        try (Scope sc = new Scope()) {
            Tensor x = sc.upload(d, op.inputs()[0], s);
            Tensor t = sc.upload(d, target, s);
            double total = Reference.sum(Reference.klDivScale(op.inputs()[0], target, logTarget));
            double sumOfNone = 0;
            for (float v : sc.add(d.klDiv(x, t, Reduction.NONE, logTarget)).toArray()) {
                sumOfNone += v;
            }
            float sum = sc.add(d.klDiv(x, t, Reduction.SUM, logTarget)).item();
            float deviceSumOfNone = sc.add(d.sum(sc.add(d.klDiv(x, t, Reduction.NONE, logTarget)))).item();
            float mean = sc.add(d.klDiv(x, t, Reduction.MEAN, logTarget)).item();
            float batchmean = sc.add(d.klDiv(x, t, Reduction.BATCHMEAN, logTarget)).item();
            double tol = 1e-6 * total + 1e-5 * Math.abs(sumOfNone);
            Approx.assertClose(d + ": SUM vs sum of NONE", sumOfNone, sum, tol);
            Approx.assertClose(d + ": SUM vs sum(klDiv NONE)", sumOfNone, deviceSumOfNone, tol);
            Approx.assertClose(d + ": MEAN vs SUM / (rows * cols)", sum / ((double) s.size()), mean,
                    tol / s.size());
            Approx.assertClose(d + ": BATCHMEAN vs SUM / rows", sum / (double) s.rows(), batchmean, tol / s.rows());

            // gradients: MEAN and BATCHMEAN are SUM's scaled by 1 / divisor; NONE with g = 1 is SUM's
            Tensor one = sc.add(d.upload(new float[] {1}, 1, 1));
            float[] gSum = sc.add(d.klDivBackward(one, x, t, Reduction.SUM, logTarget)).toArray();
            float[] gNone = sc.add(d.klDivBackward(sc.upload(d, Data.filled(s.size(), 1), s), x, t,
                    Reduction.NONE, logTarget)).toArray();
            float[] gMean = sc.add(d.klDivBackward(one, x, t, Reduction.MEAN, logTarget)).toArray();
            float[] gBatch = sc.add(d.klDivBackward(one, x, t, Reduction.BATCHMEAN, logTarget)).toArray();
            float[] mean2 = new float[gSum.length];
            float[] batch2 = new float[gSum.length];
            float[] minusT = new float[gSum.length];
            for (int i = 0; i < gSum.length; i++) {
                mean2[i] = (float) (gSum[i] / (double) s.size());
                batch2[i] = (float) (gSum[i] / (double) s.rows());
                minusT[i] = (float) -(logTarget ? Math.exp(target[i]) : target[i]);
            }
            Approx.assertClose(d + ": SUM gradient vs -target", minusT, gSum, s.cols(), 1e-6, 0);
            Approx.assertClose(d + ": NONE gradient (g = 1) vs SUM gradient", gSum, gNone, s.cols(), 1e-6, 0);
            Approx.assertClose(d + ": MEAN gradient vs SUM / n", mean2, gMean, s.cols(), 1e-6, 0);
            Approx.assertClose(d + ": BATCHMEAN gradient vs SUM / rows", batch2, gBatch, s.cols(), 1e-6, 0);
        }
    }

    // ---- softmax family -------------------------------------------------------------------------------

    /** Rows of softmax sum to 1 and lie in [0, 1]; exp(logSoftmax) = softmax; logSoftmax <= 0. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} softmax is normalized, exp(logSoftmax) = softmax {1}")
    @MethodSource("softmaxCases")
    void softmaxIsNormalized(Device d, OpCase op) {
        Shape s = op.shape;
        float[] x = op.inputs()[0];
        try (Scope sc = new Scope()) {
            Tensor xt = sc.upload(d, x, s);
            float[] p = sc.add(d.softmax(xt)).toArray();
            float[] y = sc.add(d.logSoftmax(xt)).toArray();
            float[] rowSums = sc.add(d.rowSum(sc.add(d.softmax(xt)))).toArray();
            for (int r = 0; r < s.rows(); r++) {
                double sum = 0;
                for (int c = 0; c < s.cols(); c++) {
                    int i = r * s.cols() + c;
                    assertTrue(p[i] >= 0 && p[i] <= 1, d + ": softmax[" + r + ", " + c + "] = " + p[i]);
                    assertTrue(y[i] <= 0, d + ": logSoftmax[" + r + ", " + c + "] = " + y[i]);
                    sum += p[i];
                    double e = Math.exp(y[i]);
                    // exp amplifies the absolute error of y (about eps * |y|) into a relative one
                    double tol = (1e-6 + 4 * EPS * Math.abs(y[i])) * e + 1e-38;
                    if (!(Math.abs(e - p[i]) <= tol)) {
                        fail(d + ": exp(logSoftmax) != softmax at [" + r + ", " + c + "]: exp(" + y[i] + ") = " + e
                                + ", softmax " + p[i]);
                    }
                }
                assertEquals(1.0, sum, 1e-5, d + ": softmax row " + r + " sums to " + sum);
                assertEquals(1.0, rowSums[r], 1e-5, d + ": rowSum(softmax) row " + r);
            }
        }
    }

    /** logSoftmax(x + c) = logSoftmax(x) and softmax(x + c) = softmax(x) for a per-tensor constant c. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} softmax is shift invariant {1}")
    @MethodSource("logSoftmaxCases")
    void shiftInvariance(Device d, OpCase op) {
        Shape s = op.shape;
        float[] x = op.inputs()[0];
        for (float shift : new float[] {64f, -512f, 4096f}) {
            float[] xs = new float[x.length];
            float[] x2 = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                xs[i] = x[i] + shift;
                x2[i] = xs[i] - shift;  // the exact value the shifted input represents, less the shift
            }
            try (Scope sc = new Scope()) {
                float[] a = sc.add(d.logSoftmax(sc.upload(d, x2, s))).toArray();
                float[] b = sc.add(d.logSoftmax(sc.upload(d, xs, s))).toArray();
                float[] pa = sc.add(d.softmax(sc.upload(d, x2, s))).toArray();
                float[] pb = sc.add(d.softmax(sc.upload(d, xs, s))).toArray();
                // x - max is exact in both (Sterbenz), the rest identical up to rounding of the shifted max
                double[] tol = new double[a.length];
                for (int i = 0; i < a.length; i++) {
                    tol[i] = 1e-5 * Math.abs(a[i]) + 1e-5;
                }
                Approx.assertClose(d + ": logSoftmax(x + " + shift + ")", a, b, s.cols(), tol);
                Approx.assertClose(d + ": softmax(x + " + shift + ")", pa, pb, s.cols(), 1e-5, 1e-12);
            }
        }
    }

    /**
     * Every row of logSoftmaxBackward sums to 0 (sum(g) - sum(p) * sum(g)); a zero gradient gives zeros. The output y is
     * the device's own log-softmax of the case's logits.
     */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} logSoftmaxBackward rows sum to 0 {1}")
    @MethodSource("logSoftmaxBackwardCases")
    void logSoftmaxBackwardRowsSumToZero(Device d, OpCase op) {
        Shape s = op.shape;
        float[] g = op.inputs()[0];
        float[] x = op.forwardLogits();
        try (Scope sc = new Scope()) {
            Tensor y = sc.add(d.logSoftmax(sc.upload(d, x, s)));
            float[] gi = sc.add(d.logSoftmaxBackward(sc.upload(d, g, s), y)).toArray();
            for (int r = 0; r < s.rows(); r++) {
                double sum = 0;
                double l1 = 0;
                for (int c = 0; c < s.cols(); c++) {
                    sum += gi[r * s.cols() + c];
                    l1 += Math.abs(g[r * s.cols() + c]);
                }
                assertEquals(0, sum, 1e-5 * l1 + 1e-6, d + ": row " + r + " of logSoftmaxBackward sums to " + sum);
            }
            float[] zero = sc.add(d.logSoftmaxBackward(sc.add(d.zeros(s.rows(), s.cols())), y)).toArray();
            for (int i = 0; i < zero.length; i++) {
                assertEquals(0f, zero[i], 0f, d + ": logSoftmaxBackward(0) at " + i);
            }
        }
    }

    /**
     * The classic identities: d(cross-entropy)/d(logits) = softmax - onehot, and the gradient of
     * batchmean KL(t || softmax(x)) with respect to the logits is (softmax(x) - t) / rows, through the chain
     * klDivBackward -> logSoftmaxBackward.
     */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} KL gradient chain = (softmax - t) / rows {1}")
    @MethodSource("deviceShapes")
    void gradientChain(Device d, Shape s) {
        Random rnd = Data.random("gradientChain", s);
        float[] logits = Data.logits(rnd, s);
        float[] t = Data.probs(rnd, s, 0.25);
        float[] onehot = new float[s.size()];
        float[] minusOnehot = new float[s.size()];
        for (int r = 0; r < s.rows(); r++) {
            int c = rnd.nextInt(s.cols());
            onehot[r * s.cols() + c] = 1;
            minusOnehot[r * s.cols() + c] = -1;
        }
        try (Scope sc = new Scope()) {
            Tensor x = sc.upload(d, logits, s);
            Tensor y = sc.add(d.logSoftmax(x));
            float[] p = sc.add(d.softmax(x)).toArray();

            float[] ce = sc.add(d.logSoftmaxBackward(sc.upload(d, minusOnehot, s), y)).toArray();
            float[] want = new float[p.length];
            for (int i = 0; i < p.length; i++) {
                want[i] = p[i] - onehot[i];
            }
            Approx.assertCloseToRowScale(d + ": logSoftmaxBackward(-onehot) vs softmax - onehot", want, ce,
                    s.cols(), 1e-5, 1e-6);

            Tensor tt = sc.upload(d, t, s);
            Tensor g1 = sc.add(d.klDivBackward(sc.add(d.upload(new float[] {1}, 1, 1)), y, tt, Reduction.BATCHMEAN,
                    false));
            float[] chain = sc.add(d.logSoftmaxBackward(g1, y)).toArray();
            for (int r = 0; r < s.rows(); r++) {
                double mass = 0;
                for (int c = 0; c < s.cols(); c++) {
                    mass += t[r * s.cols() + c];
                }
                for (int c = 0; c < s.cols(); c++) {
                    int i = r * s.cols() + c;
                    want[i] = (float) ((p[i] * mass - t[i]) / s.rows());
                }
            }
            Approx.assertClose(d + ": d batchmean KL / d logits vs (softmax * sum(t) - t) / rows", want, chain,
                    s.cols(), 1e-5, 1e-6 / s.rows());
        }
    }

    // ---- reductions -----------------------------------------------------------------------------------

    /** mean = sum / n; sum(rowSum) = sum. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} mean = sum / n, sum(rowSum) = sum {1}")
    @MethodSource("deviceShapes")
    void reductionsAgree(Device d, Shape s) {
        float[] x = Data.logits(Data.random("reductionsAgree", s), s);
        double l1 = Approx.l1(x);
        try (Scope sc = new Scope()) {
            Tensor xt = sc.upload(d, x, s);
            float sum = sc.add(d.sum(xt)).item();
            float mean = sc.add(d.mean(xt)).item();
            Tensor rows = sc.add(d.rowSum(xt));
            float sumOfRows = sc.add(d.sum(rows)).item();
            double exact = 0;
            for (float v : x) {
                exact += v;
            }
            Approx.assertClose(d + ": sum vs exact", exact, sum, 1e-6 * l1 + 1e-5 * Math.abs(exact));
            Approx.assertClose(d + ": mean vs sum / n", sum / (double) s.size(), mean,
                    (1e-6 * l1 + 1e-5 * Math.abs(exact)) / s.size());
            Approx.assertClose(d + ": sum(rowSum) vs sum", sum, sumOfRows, 2e-6 * l1 + 1e-5 * Math.abs(exact));
        }
    }

    /**
     * Exact sums that see every element: a single 1 at each interesting position (first, last, warp, block and
     * partial boundaries) among zeros sums to exactly 1 and lands in the right row; ones sum to exactly n.
     */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} sums see every element {1}")
    @MethodSource("deviceShapes")
    void sumsSeeEveryElement(Device d, Shape s) {
        int n = s.size();
        List<Integer> positions = new ArrayList<>();
        for (int p : new int[] {0, 1, 31, 32, 33, 255, 256, 1023, 1024, 1025, 4095, 4096, 4097, n / 2, n - 2, n - 1}) {
            if (p >= 0 && p < n && !positions.contains(p)) {
                positions.add(p);
            }
        }
        float[] x = new float[n];
        try (Scope sc = new Scope()) {
            for (int p : positions) {
                x[p] = 1;
                Tensor xt = sc.upload(d, x, s);
                assertEquals(1f, sc.add(d.sum(xt)).item(), 0f, d + ": sum with a single 1 at " + p);
                assertEquals(1f / n, sc.add(d.mean(xt)).item(), Math.ulp(1f / n), d + ": mean with a single 1 at " + p);
                float[] rows = sc.add(d.rowSum(xt)).toArray();
                for (int r = 0; r < s.rows(); r++) {
                    assertEquals(r == p / s.cols() ? 1f : 0f, rows[r], 0f, d + ": rowSum[" + r + "] with a 1 at " + p);
                }
                // kl_div's own reduction: input -2 everywhere against a one-hot target at p is exactly 2
                float[] in = Data.filled(n, -2);
                float kl = sc.add(d.klDiv(sc.upload(d, in, s), xt, Reduction.SUM, false)).item();
                assertEquals(2f, kl, 0f, d + ": kl_div SUM of input -2 against a one-hot target at " + p);
                float klLog = sc.add(d.klDiv(sc.upload(d, in, s), sc.upload(d, logOneHot(n, p), s), Reduction.SUM,
                        true)).item();
                assertEquals(2f, klLog, 0f, d + ": kl_div SUM, logTarget, of input -2 against log one-hot at " + p);
                x[p] = 0;
            }
            Tensor ones = sc.upload(d, Data.filled(n, 1), s);
            assertEquals((float) n, sc.add(d.sum(ones)).item(), 0f, d + ": sum of ones");
            assertEquals(1f, sc.add(d.mean(ones)).item(), 0f, d + ": mean of ones");
            assertArrayEquals(Data.filled(s.rows(), s.cols()), sc.add(d.rowSum(ones)).toArray(), 0f,
                    d + ": rowSum of ones");
            Tensor zeros = sc.add(d.zeros(s.rows(), s.cols()));
            assertEquals(0f, sc.add(d.sum(zeros)).item(), 0f, d + ": sum of zeros");
        }
    }

    // ---- the tensor contract --------------------------------------------------------------------------

    /** upload copies the caller's array; toArray returns a fresh copy; values survive bit for bit. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} upload and toArray copy, bit for bit")
    @MethodSource("devices")
    void uploadAndToArrayCopy(Device d) {
        float[] data = {0f, -0f, 1f, -1f, Float.MIN_VALUE, -Float.MIN_NORMAL, Float.MAX_VALUE, Float.NaN,
            Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1e-40f, 3.1415927f};
        float[] original = data.clone();
        try (Tensor t = d.upload(data, 3, 4)) {
            assertEquals(3, t.rows());
            assertEquals(4, t.cols());
            assertEquals(12L, t.size());
            assertSame(d, t.device());
            assertFalse(t.isClosed());
            java.util.Arrays.fill(data, 7f);
            float[] back = t.toArray();
            Approx.assertBitwise(d + ": upload/toArray round trip", original, back);
            assertNotSame(back, t.toArray(), "toArray must return a fresh array");
            back[0] = 42f;
            Approx.assertBitwise(d + ": toArray after mutating an earlier copy", original, t.toArray());
        }
        try (Tensor z = d.zeros(2, 5)) {
            Approx.assertBitwise(d + ": zeros", new float[10], z.toArray());
        }
        try (Tensor one = d.upload(new float[] {-2.5f}, 1, 1)) {
            assertEquals(-2.5f, one.item(), 0f);
        }
    }

    /**
     * No operation modifies its inputs, results have the documented shapes, and results are reproducible: every case of
     * the catalog on the shape, run twice on the same tensors.
     */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} inputs untouched, shapes, reproducible {1}")
    @MethodSource("deviceShapes")
    void inputsUntouchedAndReproducible(Device d, Shape s) {
        for (OpCase c : OpCase.catalog(List.of(s))) {
            float[][] in = c.inputs();
            try (Scope sc = new Scope()) {
                List<Tensor> t = new ArrayList<>();
                for (int i = 0; i < c.op.arguments.size(); i++) {
                    t.add(sc.upload(d, in[i], c.argumentShape(i)));
                }
                float[] first = shaped(sc, c.call(d, t, null), c.resultShape());
                Approx.assertBitwise(d + ": " + c + " run twice", first, shaped(sc, c.call(d, t, null), c.resultShape()));
                for (int i = 0; i < t.size(); i++) {
                    Approx.assertBitwise(d + ": " + c + ": " + c.op.arguments.get(i) + " after the op", in[i],
                            t.get(i).toArray());
                }
            }
        }
    }

    /** log of a one-hot: 0 at p, -inf elsewhere (exp(-inf) * (-inf - x) is NaN, so use a very negative finite). */
    private static float[] logOneHot(int n, int p) {
        float[] t = Data.filled(n, -1e4f);   // exp(-1e4) is exactly 0 in float and double
        t[p] = 0;
        return t;
    }

    private static float[] shaped(Scope sc, Tensor t, Shape want) {
        sc.add(t);
        assertEquals(want.toString(), "[" + t.rows() + ", " + t.cols() + "]", "result shape");
        return t.toArray();
    }

    /** Closing a result does not disturb the tensors it came from, nor other results. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} closing one tensor leaves the others intact")
    @MethodSource("devices")
    void closingIsLocal(Device d) {
        float[] x = {1, 2, 3, 4, 5, 6};
        try (Tensor xt = d.upload(x, 2, 3)) {
            Tensor a = d.softmax(xt);
            Tensor b = d.logSoftmax(xt);
            float[] before = b.toArray();
            a.close();
            assertTrue(a.isClosed());
            assertFalse(b.isClosed());
            assertFalse(xt.isClosed());
            Approx.assertBitwise(d + ": input after closing a result", x, xt.toArray());
            Approx.assertBitwise(d + ": other result after closing a result", before, b.toArray());
            b.close();
            try (Tensor c = d.softmax(xt)) {
                assertEquals(3, c.cols());
            }
        }
    }
}
