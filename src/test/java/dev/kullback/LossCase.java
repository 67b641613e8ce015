package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * One loss call with all of its options and reproducible inputs, runnable three ways: on a {@link Device}, with
 * {@link TorchOracle} (float32 PyTorch) and with {@link Reference} (float64). The parity, reference and
 * property tests are all built from these.
 */
public final class LossCase {
    /** The losses, by their name in the API, with the names of their tensor arguments in the order of {@link #inputs()}. */
    public enum Op {
        DISTILLATION("distillationKl", "studentLogits", "teacherLogits"),
        CROSS_ENTROPY("crossEntropy", "logits"),
        SOFT_CROSS_ENTROPY("crossEntropy (probabilities)", "logits", "targetProbabilities"),
        JSD("jsd", "studentLogits", "teacherLogits"),
        SYMMETRIC_KL("symmetricKl", "logitsP", "logitsQ"),
        ENTROPY("entropy", "logits"),
        KERAS_KL("kerasKl", "yTrue", "yPred"),
        /** the general form; the standard one ({@link #standard}) takes mu and logvar. */
        GAUSSIAN_KL("gaussianKl", "mu1", "logvar1", "mu2", "logvar2"),
        TVD("tvd", "studentLogits", "teacherLogits");

        public final String api;
        private final List<String> arguments;

        Op(String api, String... arguments) {
            this.api = api;
            this.arguments = List.of(arguments);
        }
    }

    /** Which rows carry the ignore index (distillation and class-index cross-entropy). */
    public enum Ignore {
        /** no labels at all (distillation only). */
        NO_LABELS,
        /** labels, none of them the ignore index (-100). */
        NONE_IGNORED,
        /** every third row (r % 3 == 1) labelled -100. */
        SOME,
        /** every row labelled -100: nothing counted. */
        ALL,
        /** ignore index 0, a real class: the rows whose random label is 0 (cross-entropy). */
        CLASS_ZERO
    }

    public final Op op;
    public final Shape shape;
    public final Reduction reduction;
    public float temperature = 1;
    public boolean reverse;
    public Ignore ignore = Ignore.NO_LABELS;
    public boolean weights;
    public float smoothing;
    public float zLoss;
    public float beta;
    public boolean bits;
    public boolean standard;
    public boolean edges;

    /** Inputs, made on first use from a seed derived from the description. */
    private float[][] inputs;
    private int[] labels;
    float[] weightValues;

    public LossCase(Op op, Shape shape, Reduction reduction) {
        this.op = op;
        this.shape = shape;
        this.reduction = reduction;
    }

    public LossCase temperature(float t) {
        temperature = t;
        return this;
    }

    public LossCase reverse(boolean r) {
        reverse = r;
        return this;
    }

    public LossCase ignore(Ignore i) {
        ignore = i;
        return this;
    }

    public LossCase weights(boolean w) {
        weights = w;
        return this;
    }

    public LossCase smoothing(float s) {
        smoothing = s;
        return this;
    }

    public LossCase zLoss(float z) {
        zLoss = z;
        return this;
    }

    public LossCase beta(float b) {
        beta = b;
        return this;
    }

    public LossCase bits(boolean b) {
        bits = b;
        return this;
    }

    public LossCase standard(boolean s) {
        standard = s;
        return this;
    }

    /** Edge values in the generated inputs: see {@link #withEdges}. */
    public LossCase edges(boolean e) {
        edges = e;
        return this;
    }

    /** Replaces the generated inputs (each [rows, cols], in the order of the call's tensor arguments). */
    public LossCase inputs(float[]... in) {
        inputs = in;
        return this;
    }

    public LossCase labels(int[] l) {
        labels = l;
        return this;
    }

    /** The API's names of the call's tensor arguments: those of {@link #inputs()}, then "weights" with class weights. */
    public List<String> argumentNames() {
        List<String> names = new ArrayList<>(op == Op.GAUSSIAN_KL && standard ? List.of("mu", "logvar") : op.arguments);
        if (weightValues() != null) {
            names.add("weights");
        }
        return names;
    }

    public int ignoreIndex() {
        return ignore == Ignore.CLASS_ZERO ? 0 : -100;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(op.name().toLowerCase()).append(' ').append(shape).append(' ')
                .append(reduction);
        switch (op) {
            case DISTILLATION:
                sb.append(" T=").append(temperature).append(reverse ? " reverse" : "").append(' ').append(ignore);
                break;
            case TVD:
                sb.append(' ').append(ignore);
                break;
            case CROSS_ENTROPY:
                sb.append(' ').append(ignore);
                // fall through
            case SOFT_CROSS_ENTROPY:
                sb.append(weights ? " weights" : "").append(" smoothing=").append(smoothing).append(" z=").append(zLoss);
                break;
            case JSD:
                sb.append(" beta=").append(beta);
                break;
            case KERAS_KL:
                sb.append(bits ? " bits" : " nats");
                break;
            case GAUSSIAN_KL:
                sb.append(standard ? " standard" : " general");
                break;
            default:
                break;
        }
        return edges ? sb.append(" edges").toString() : sb.toString();
    }

    // ---- inputs ----------------------------------------------------------------------------------------

    public synchronized float[][] inputs() {
        if (inputs == null) {
            Random rnd = Data.random("LossCase", toString());
            switch (op) {
                case DISTILLATION:
                case JSD:
                case SYMMETRIC_KL:
                case TVD:
                    inputs = new float[][] {Data.logits(rnd, shape), Data.logits(rnd, shape)};
                    break;
                case CROSS_ENTROPY:
                case ENTROPY:
                    inputs = new float[][] {Data.logits(rnd, shape)};
                    break;
                case SOFT_CROSS_ENTROPY:
                    inputs = new float[][] {Data.logits(rnd, shape), Data.probs(rnd, shape, 0.2)};
                    break;
                case KERAS_KL: {
                    float[] yTrue = Data.probs(rnd, shape, 0.25);
                    float[] yPred = Data.probs(rnd, shape, 0.25);
                    for (int i = 5; i < yPred.length; i += 11) {
                        yPred[i] = 1.5f;           // above the clip: clipped to 1, gradient 0
                    }
                    for (int i = 7; i < yTrue.length; i += 13) {
                        yTrue[i] = 1.25f;          // clipped to 1
                    }
                    inputs = new float[][] {yTrue, yPred};
                    break;
                }
                case GAUSSIAN_KL: {
                    int n = standard ? 2 : 4;
                    inputs = new float[n][];
                    for (int k = 0; k < n; k++) {
                        float[] v = Data.normal(rnd, shape);
                        if (k % 2 == 1) {
                            for (int i = 0; i < v.length; i++) {
                                v[i] *= 0.7f;      // log-variances
                            }
                        }
                        inputs[k] = v;
                    }
                    break;
                }
                default:
                    throw new AssertionError(op);
            }
            if (edges) {
                withEdges(inputs);
            }
        }
        return inputs;
    }

    /**
     * With {@link #edges} (and more than 2 columns), every row but row 1: a column that is -inf in every logit input
     * (a masked vocabulary entry; its soft target 0), a +1000 and a -1000 logit; Keras predictions outside [1e-7, 1]
     * (0, 1.5, -0.25); log-variances of +-8.
     */
    private void withEdges(float[][] in) {
        int rows = shape.rows();
        int cols = shape.cols();
        if (cols <= 2) {
            return;
        }
        for (int r = 0; r < rows; r++) {
            if (r == 1) {
                continue;
            }
            int o = r * cols;
            int mid = o + cols / 2;
            switch (op) {
                case DISTILLATION: case JSD: case SYMMETRIC_KL: case TVD:
                    in[1][mid] = Float.NEGATIVE_INFINITY;
                    in[1][o + 1] = -1000f;
                    // fall through: the first logits get the rest
                case CROSS_ENTROPY: case ENTROPY: case SOFT_CROSS_ENTROPY:
                    in[0][mid] = Float.NEGATIVE_INFINITY;
                    in[0][o + cols - 1] = 1000f;
                    if (r == 0) {
                        in[0][o + 1] = -1000f;
                    }
                    if (op == Op.SOFT_CROSS_ENTROPY) {
                        in[1][mid] = 0f;
                    }
                    break;
                case KERAS_KL:
                    in[1][o] = 0f;
                    in[1][o + 1] = 1.5f;
                    in[1][mid] = -0.25f;
                    break;
                case GAUSSIAN_KL:
                    for (int k = 1; k < in.length; k += 2) {
                        in[k][o + cols - 1] = 8f;
                        in[k][o + 1] = -8f;
                    }
                    break;
                default:
                    throw new AssertionError(op);
            }
        }
    }

    /** The row labels, or null (NO_LABELS, or an op without labels). */
    public synchronized int[] labels() {
        if (op != Op.DISTILLATION && op != Op.CROSS_ENTROPY && op != Op.TVD) {
            return null;
        }
        if (labels == null && ignore != Ignore.NO_LABELS) {
            Random rnd = Data.random("LossCase labels", toString());
            labels = new int[shape.rows()];
            for (int r = 0; r < labels.length; r++) {
                labels[r] = rnd.nextInt(shape.cols());
                if (edges && r != 1 && shape.cols() > 2 && labels[r] == shape.cols() / 2) {
                    labels[r] = 0;         // not the masked class: its -inf logit would make the row's loss inf
                }
                if (ignore == Ignore.ALL || ignore == Ignore.SOME && r % 3 == 1) {
                    labels[r] = -100;
                }
            }
        }
        return labels;
    }

    public synchronized float[] weightValues() {
        if (!weights || op != Op.CROSS_ENTROPY && op != Op.SOFT_CROSS_ENTROPY) {
            return null;
        }
        if (weightValues == null) {
            Random rnd = Data.random("LossCase weights", toString());
            weightValues = new float[shape.cols()];
            for (int c = 0; c < weightValues.length; c++) {
                weightValues[c] = 0.25f + 2 * rnd.nextFloat();
            }
        }
        return weightValues;
    }

    /** How many inputs have a gradient. */
    public int gradientCount() {
        switch (op) {
            case JSD:
            case SYMMETRIC_KL:
            case TVD:
                return 2;
            case GAUSSIAN_KL:
                return standard ? 2 : 4;
            default:
                return 1;
        }
    }

    // ---- the three ways to run it ----------------------------------------------------------------------

    /** What a run gives back, as host arrays. */
    public record Out(float[] value, float[][] grads) {
    }

    /** Runs the case on {@code d}, checks the shapes of the value and the gradients, and copies them back. */
    public Out run(Device d) {
        float[][] in = inputs();
        int rows = shape.rows();
        int cols = shape.cols();
        List<AutoCloseable> open = new ArrayList<>();
        try (Scope sc = new Scope()) {
            Tensor[] t = new Tensor[in.length];
            for (int i = 0; i < in.length; i++) {
                t[i] = sc.upload(d, in[i], shape);
            }
            Labels l = labels() == null ? null : d.uploadLabels(labels());
            if (l != null) {
                open.add(l);
            }
            Tensor w = weightValues() == null ? null : sc.add(d.upload(weightValues(), 1, cols));
            Loss loss = call(d, t, l, w, false);
            open.add(loss);
            int want = reduction == Reduction.NONE ? rows : 1;
            assertEquals(want + "x1", loss.value().rows() + "x" + loss.value().cols(), this + ": value shape");
            assertEquals(gradientCount(), loss.gradientCount(), this + ": gradient count");
            float[][] grads = new float[loss.gradientCount()][];
            for (int i = 0; i < grads.length; i++) {
                Tensor g = loss.gradient(i);
                assertEquals(rows + "x" + cols, g.rows() + "x" + g.cols(), this + ": gradient " + i + " shape");
                grads[i] = g.toArray();
            }
            return new Out(loss.value().toArray(), grads);
        } finally {
            for (AutoCloseable c : open) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
        }
    }

    /** The call on tensors {@code t} (in the order of {@link #inputs()}), labels {@code l} and class weights {@code w}. */
    Loss call(Device d, Tensor[] t, Labels l, Tensor w, boolean float32Gradients) {
        switch (op) {
            case DISTILLATION: {
                Distillation o = Distillation.options().temperature(temperature).reduction(reduction).reverse(reverse)
                        .float32Gradients(float32Gradients);
                if (l != null) {
                    o = o.ignore(l, ignoreIndex());
                }
                return d.distillationKl(t[0], t[1], o);
            }
            case CROSS_ENTROPY:
                return d.crossEntropy(t[0], l, ceOptions(w, float32Gradients));
            case SOFT_CROSS_ENTROPY:
                return d.crossEntropy(t[0], t[1], ceOptions(w, float32Gradients));
            case JSD:
                return d.jsd(t[0], t[1], beta, reduction);
            case SYMMETRIC_KL:
                return d.symmetricKl(t[0], t[1], reduction);
            case ENTROPY:
                return d.entropy(t[0], reduction);
            case KERAS_KL:
                return d.kerasKl(t[0], t[1], reduction, bits);
            case GAUSSIAN_KL:
                return standard ? d.gaussianKl(t[0], t[1], reduction) : d.gaussianKl(t[0], t[1], t[2], t[3], reduction);
            case TVD:
                return d.tvd(t[0], t[1], reduction, l, ignoreIndex());
            default:
                throw new AssertionError(op);
        }
    }

    private CrossEntropy ceOptions(Tensor w, boolean float32Gradients) {
        CrossEntropy o = CrossEntropy.options().reduction(reduction).labelSmoothing(smoothing).zLoss(zLoss)
                .float32Gradients(float32Gradients);
        if (op == Op.CROSS_ENTROPY) {
            o = o.ignoreIndex(ignoreIndex());
        }
        return w == null ? o : o.weights(w);
    }

    /**
     * PyTorch's answer: its formulas run in float64 and rounded to float32 once ({@link TorchOracle#inFloat64}, which
     * says why), or in a half type inside {@link TorchOracle#inType}.
     */
    public Out oracle() {
        return TorchOracle.inFloat64(this::torchAnswer);
    }

    private Out torchAnswer() {
        float[][] in = inputs();
        int rows = shape.rows();
        int cols = shape.cols();
        TorchOracle.LossOut o;
        switch (op) {
            case DISTILLATION:
                o = TorchOracle.distillation(in[0], in[1], rows, cols, temperature, reverse, reduction, labels(),
                        ignoreIndex());
                break;
            case CROSS_ENTROPY:
                o = TorchOracle.crossEntropy(in[0], rows, cols, labels(), weightValues(), reduction, ignoreIndex(),
                        smoothing, zLoss);
                break;
            case SOFT_CROSS_ENTROPY:
                o = TorchOracle.softCrossEntropy(in[0], in[1], rows, cols, weightValues(), reduction, smoothing, zLoss);
                break;
            case JSD:
                o = TorchOracle.jsd(in[0], in[1], rows, cols, beta, reduction);
                break;
            case SYMMETRIC_KL:
                o = TorchOracle.symmetricKl(in[0], in[1], rows, cols, reduction);
                break;
            case ENTROPY:
                o = TorchOracle.entropy(in[0], rows, cols, reduction);
                break;
            case KERAS_KL:
                o = TorchOracle.kerasKl(in[0], in[1], rows, cols, reduction, bits);
                break;
            case GAUSSIAN_KL:
                o = standard ? TorchOracle.gaussianKl(in[0], in[1], null, null, rows, cols, reduction)
                        : TorchOracle.gaussianKl(in[0], in[1], in[2], in[3], rows, cols, reduction);
                break;
            case TVD:
                o = TorchOracle.tvd(in[0], in[1], rows, cols, reduction, labels(), ignoreIndex());
                break;
            default:
                throw new AssertionError(op);
        }
        return new Out(o.value(), o.grads());
    }

    /** The float64 reference. */
    public Reference.Result reference() {
        float[][] in = inputs();
        int rows = shape.rows();
        int cols = shape.cols();
        switch (op) {
            case DISTILLATION:
                return Reference.distillation(in[0], in[1], rows, cols, temperature, reverse, reduction, labels(),
                        ignoreIndex());
            case CROSS_ENTROPY:
                return Reference.crossEntropy(in[0], rows, cols, labels() == null ? new int[rows] : labels(),
                        weightValues(), reduction, ignoreIndex(), smoothing, zLoss);
            case SOFT_CROSS_ENTROPY:
                return Reference.softCrossEntropy(in[0], in[1], rows, cols, weightValues(), reduction, smoothing,
                        zLoss);
            case JSD:
                return Reference.jsd(in[0], in[1], rows, cols, beta, reduction);
            case SYMMETRIC_KL:
                return Reference.symmetricKl(in[0], in[1], rows, cols, reduction);
            case ENTROPY:
                return Reference.entropy(in[0], rows, cols, reduction);
            case KERAS_KL:
                return Reference.kerasKl(in[0], in[1], rows, cols, reduction, bits);
            case GAUSSIAN_KL:
                return standard ? Reference.gaussianKl(in[0], in[1], null, null, rows, cols, reduction)
                        : Reference.gaussianKl(in[0], in[1], in[2], in[3], rows, cols, reduction);
            case TVD:
                return Reference.tvd(in[0], in[1], rows, cols, reduction, labels(), ignoreIndex());
            default:
                throw new AssertionError(op);
        }
    }

    // ---- comparison --------------------------------------------------------------------------------------

    /** Relative tolerance of values and gradients, and the share of the magnitude / row scale allowed on top. */
    public static final double REL = 2e-5;
    public static final double OF_MAGNITUDE = 2e-5;
    /**
     * The share of the magnitude of the terms of a gradient element (p, log p, ...) allowed on top, for elements that
     * are differences of terms which can cancel to 0 (Gaussian KL's log-variance gradients, TVD's): there no bound
     * relative to the element itself holds. Error analysis for a float32 implementation with exps of at most 2 ulp
     * (PyTorch's composition, the CUDA kernel's expf without fast math): d lv2 = 0.5 (1 - R) with
     * R = (exp(lv1) + d²) exp(-lv2) rounds about six times (two exps, d, d², the sum, the product), so
     * |δR| <= 6 · 2^-24 · R ≈ 3.6e-7 R, which 1 - R keeps as an absolute error: at most 7.2e-7 of the terms'
     * magnitude 0.5 (1 + R). d lv1 = 0.5 (exp(lv1 - lv2) - 1) adds the rounding of the argument, 2^-24 |lv1 - lv2|
     * relative (|lv1 - lv2| <= 16 with the edge log-variances of +-8): at most about 2.2e-6 of 0.5 (exp(.) + 1).
     * PyTorch's autograd of the composition rounds a few more times (num / e² · e). 6e-5 is about 25 times that bound,
     * a margin for other devices' exp libraries; measured in issue 13 (CPU vector and scalar kernels, the host
     * simulator and PyTorch, shapes up to [2, 4097] and [257, 31], with and without edge values), no Gaussian KL
     * gradient element needed any of it beyond {@link #REL} and {@link #OF_MAGNITUDE}.
     */
    public static final double OF_TERMS = 6e-5;

    /**
     * Asserts that {@code actual} matches {@code expected} (PyTorch's float32 or the float64 reference): each value
     * within REL of itself plus OF_MAGNITUDE of the magnitude of what it adds up (from the reference); each gradient
     * element within REL of itself plus OF_MAGNITUDE of the largest |gradient| of its row (so an ignored row, whose
     * gradient is all zeros, must be exactly zero).
     */
    public static void assertMatches(String what, Out expected, Out actual, Reference.Result ref, int cols) {
        assertMatches(what, expected, actual, ref, cols, null);
    }

    /** A suite's own earlier tolerance of an element (output 0: the value, k + 1: gradient k), as a ceiling. */
    public interface Ceiling {
        double of(int output, float expected);
    }

    /**
     * {@link #assertMatches(String, Out, Out, Reference.Result, int)}, each tolerance no larger than
     * {@code ceiling}'s (null: none): for suites whose earlier tolerances must not be loosened.
     */
    public static void assertMatches(String what, Out expected, Out actual, Reference.Result ref, int cols,
                                     Ceiling ceiling) {
        double[] vt = new double[expected.value().length];
        for (int i = 0; i < vt.length; i++) {
            vt[i] = REL * Math.abs(expected.value()[i]) + OF_MAGNITUDE * ref.valueMagnitude()[i] + 1e-30;
            if (ceiling != null) {
                vt[i] = Math.min(vt[i], ceiling.of(0, expected.value()[i]));
            }
        }
        Approx.assertClose(what + ": value", expected.value(), actual.value(), 1, vt);
        assertEquals(expected.grads().length, actual.grads().length, what + ": gradient count");
        for (int k = 0; k < expected.grads().length; k++) {
            float[] e = expected.grads()[k];
            double[] tol = new double[e.length];
            int rows = e.length / cols;
            for (int r = 0; r < rows; r++) {
                double max = 0;
                for (int c = 0; c < cols; c++) {
                    max = Math.max(max, Math.abs(ref.grads()[k][r * cols + c]));
                }
                for (int c = 0; c < cols; c++) {
                    int i = r * cols + c;
                    tol[i] = REL * Math.abs(e[i]) + OF_MAGNITUDE * max
                            + (ref.gradMagnitude() == null ? 0 : OF_TERMS * ref.gradMagnitude()[k][i]);
                    if (ceiling != null) {
                        tol[i] = Math.min(tol[i], ceiling.of(k + 1, e[i]));
                    }
                }
            }
            Approx.assertClose(what + ": gradient " + k, e, actual.grads()[k], cols, tol);
        }
    }

    /**
     * The reference with every non-finite entry (where edge values make the float64 formulas NaN or infinite) set to
     * 0, for use as a scale only: where it is 0 an element is held to {@link #REL} of itself.
     */
    public static Reference.Result finiteScale(Reference.Result r) {
        double[][] grads = new double[r.grads().length][];
        for (int k = 0; k < grads.length; k++) {
            grads[k] = finite(r.grads()[k]);
        }
        double[][] gm = null;
        if (r.gradMagnitude() != null) {
            gm = new double[r.gradMagnitude().length][];
            for (int k = 0; k < gm.length; k++) {
                gm[k] = finite(r.gradMagnitude()[k]);
            }
        }
        return new Reference.Result(finite(r.value()), grads, finite(r.valueMagnitude()), gm);
    }

    private static double[] finite(double[] x) {
        double[] out = x.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] = Double.isFinite(out[i]) ? out[i] : 0;
        }
        return out;
    }

    /** The reference as float32 arrays, to compare with like an expected answer. */
    public static Out toFloat(Reference.Result r) {
        float[][] g = new float[r.grads().length][];
        for (int k = 0; k < g.length; k++) {
            g[k] = toFloat(r.grads()[k]);
        }
        return new Out(toFloat(r.value()), g);
    }

    static float[] toFloat(double[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) x[i];
        }
        return out;
    }
}
