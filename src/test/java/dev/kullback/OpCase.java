package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * One op call (the softmax family, kl_div and its backward, the sums) with its options and reproducible inputs,
 * runnable three ways: on a {@link Device}, with {@link TorchOracle} (float32 PyTorch) and with {@link Reference}
 * (float64). The op twin of {@link LossCase}: the parity, property, bad-input and view suites take their op cases from
 * {@link #catalog}; adding an op is one {@link Op} entry and a line in each switch below.
 */
public final class OpCase {
    /** The ops, by their name in the API, with the names of their tensor arguments in order. */
    public enum Op {
        LOG_SOFTMAX("logSoftmax", "logits"),
        SOFTMAX("softmax", "logits"),
        LOG_SOFTMAX_BACKWARD("logSoftmaxBackward", "gradOutput", "output"),
        KL_DIV("klDiv", "input", "target"),
        KL_DIV_BACKWARD("klDivBackward", "gradOutput", "input", "target"),
        SUM("sum", "x"),
        MEAN("mean", "x"),
        ROW_SUM("rowSum", "x");

        public final String api;
        public final List<String> arguments;

        Op(String api, String... arguments) {
            this.api = api;
            this.arguments = List.of(arguments);
        }

        /** Whether the op takes a reduction and logTarget. */
        public boolean kl() {
            return this == KL_DIV || this == KL_DIV_BACKWARD;
        }
    }

    /** kl_div targets when not logTarget: positive probabilities, or a quarter of them exactly 0 (rows renormalized). */
    public enum Targets { DENSE, WITH_ZEROS }

    public final Op op;
    public final Shape shape;
    /** kl_div's options (null, false and null for the other ops). */
    public final Reduction reduction;
    public final boolean logTarget;
    public final Targets targets;
    /** Edge values planted in the inputs: see {@link #withEdges}. */
    public final boolean edges;

    private float[][] inputs;

    private OpCase(Op op, Shape shape, Reduction reduction, boolean logTarget, Targets targets, boolean edges) {
        this.op = op;
        this.shape = shape;
        this.reduction = reduction;
        this.logTarget = logTarget;
        this.targets = targets;
        this.edges = edges;
    }

    /**
     * This case with edge values in its inputs (the same inputs otherwise); those of row 0 where it has more than 2
     * columns. Logits (and the forward logits of the log-softmax backward): row 0 holds -inf, +1000 and -1000, row 1
     * is all -inf, row 2 holds a NaN. kl_div's log-probability input: row 0 holds -inf (a zero probability) and -2000,
     * row 1 is all NaN (a log-softmax of an all -inf row), row 2 holds a NaN; its target: row 0 holds an exact zero
     * (-inf as a log-target). NaNs make whole-tensor reductions NaN: the clean case is the other half.
     */
    public OpCase withEdges() {
        return new OpCase(op, shape, reduction, logTarget, targets, true);
    }

    /**
     * This case with its inputs not made yet: a suite whose cases JUnit keeps to the end of the class runs copies, so
     * that only the running case's inputs are held (the CUDA contract's add up to gigabytes).
     */
    public OpCase copy() {
        return new OpCase(op, shape, reduction, logTarget, targets, edges);
    }

    /** An op without options. */
    public static OpCase of(Op op, Shape shape) {
        if (op.kl()) {
            throw new IllegalArgumentException(op + " takes a reduction: use OpCase.kl");
        }
        return new OpCase(op, shape, null, false, null, false);
    }

    /** kl_div or its backward; log-probability targets are always DENSE. */
    public static OpCase kl(Op op, Shape shape, Reduction reduction, boolean logTarget, Targets targets) {
        if (!op.kl() || logTarget && targets != Targets.DENSE) {
            throw new IllegalArgumentException(op + " logTarget=" + logTarget + " " + targets);
        }
        return new OpCase(op, shape, reduction, logTarget, targets, false);
    }

    /**
     * Every op on every shape; kl_div and its backward with every reduction and each kind of target (probabilities,
     * probabilities with zeros, log-probabilities).
     */
    public static List<OpCase> catalog(List<Shape> shapes) {
        List<OpCase> out = new ArrayList<>();
        for (Shape s : shapes) {
            for (Op op : Op.values()) {
                if (!op.kl()) {
                    out.add(of(op, s));
                    continue;
                }
                for (Reduction r : Reduction.values()) {
                    out.add(kl(op, s, r, false, Targets.DENSE));
                    out.add(kl(op, s, r, false, Targets.WITH_ZEROS));
                    out.add(kl(op, s, r, true, Targets.DENSE));
                }
            }
        }
        return out;
    }

    @Override
    public String toString() {
        String s = op.api + " " + shape;
        s = op.kl() ? s + " " + reduction + " logTarget=" + logTarget + " " + targets : s;
        return edges ? s + " edges" : s;
    }

    // ---- inputs ----------------------------------------------------------------------------------------

    /** The seed's key: the description's parts. */
    private Random random() {
        return op.kl() ? Data.random(op.api, shape, reduction, logTarget, targets) : Data.random(op.api, shape);
    }

    /**
     * The tensor arguments in the order of {@link Op#arguments}, made on first use: N(0, 3) logits; for the backward of
     * log-softmax, N(0, 1) gradients and PyTorch's own log_softmax of logits (so its autograd and the device's backward
     * see the same forward output), those logits last; for kl_div, log-probabilities, the {@link Targets}, and for its backward a gradOutput
     * of N(0, 1) values (NONE) or one value in [0.5, 1.5).
     */
    public synchronized float[][] inputs() {
        if (inputs == null) {
            Random rnd = random();
            switch (op) {
                case LOG_SOFTMAX_BACKWARD: {
                    float[] x = edgeLogits(Data.logits(rnd, shape));
                    float[] g = Data.normal(rnd, shape);
                    inputs = new float[][] {g, TorchOracle.logSoftmax(x, shape.rows(), shape.cols()), x};
                    break;
                }
                case KL_DIV:
                    inputs = new float[][] {edgeLogProbs(Data.logProbs(rnd, shape)), target(rnd)};
                    break;
                case KL_DIV_BACKWARD: {
                    float[] input = edgeLogProbs(Data.logProbs(rnd, shape));
                    float[] target = target(rnd);
                    float[] g = reduction == Reduction.NONE ? Data.normal(rnd, shape)
                            : new float[] {(float) (0.5 + rnd.nextDouble())};
                    inputs = new float[][] {g, input, target};
                    break;
                }
                default:
                    inputs = new float[][] {edgeLogits(Data.logits(rnd, shape))};
                    break;
            }
        }
        return inputs;
    }

    /** Whether {@link #edges} plants values in row 0: it needs more than 2 columns. */
    private boolean inRow0() {
        return edges && shape.cols() > 2;
    }

    private float[] edgeLogits(float[] x) {
        plantRows(x, Float.NEGATIVE_INFINITY);
        if (inRow0()) {
            x[1] = -1000f;
            x[shape.cols() - 1] = 1000f;
        }
        return x;
    }

    private float[] edgeLogProbs(float[] x) {
        plantRows(x, Float.NaN);
        if (inRow0()) {
            x[1] = -2000f;
        }
        return x;
    }

    /** With edges: row 0 a -inf in the middle (more than 2 columns), row 1 all {@code row1}, row 2 a NaN mid-row. */
    private void plantRows(float[] x, float row1) {
        int rows = shape.rows();
        int cols = shape.cols();
        if (inRow0()) {
            x[cols / 2] = Float.NEGATIVE_INFINITY;
        }
        if (edges && rows > 1) {
            Arrays.fill(x, cols, 2 * cols, row1);
        }
        if (edges && rows > 2) {
            x[2 * cols + cols / 2] = Float.NaN;
        }
    }

    /** This case with every input rounded to nearest even in {@code type}, so every side sees the same values. */
    public OpCase roundedTo(DType type) {
        OpCase c = new OpCase(op, shape, reduction, logTarget, targets, edges);
        float[][] in = inputs();
        c.inputs = new float[in.length][];
        for (int i = 0; i < in.length; i++) {
            c.inputs[i] = HalfCase.rounded(type, in[i]);
        }
        return c;
    }

    private float[] target(Random rnd) {
        float[] t = logTarget ? Data.logProbs(rnd, shape)
                : Data.probs(rnd, shape, targets == Targets.WITH_ZEROS ? 0.25 : 0);
        if (inRow0()) {
            t[shape.cols() / 3] = logTarget ? Float.NEGATIVE_INFINITY : 0f;  // an exact zero in row 0
        }
        return t;
    }

    /** The logits whose log-softmax is the backward's output (LOG_SOFTMAX_BACKWARD only). */
    public float[] forwardLogits() {
        return inputs()[2];
    }

    /** The shape of tensor argument {@code i}: a reduced kl_div's gradOutput is [1, 1], every other the case's. */
    public Shape argumentShape(int i) {
        return op == Op.KL_DIV_BACKWARD && i == 0 && reduction != Reduction.NONE ? new Shape(1, 1) : shape;
    }

    /** The shape of the result. */
    public Shape resultShape() {
        switch (op) {
            case KL_DIV:
                return reduction == Reduction.NONE ? shape : new Shape(1, 1);
            case SUM:
            case MEAN:
                return new Shape(1, 1);
            case ROW_SUM:
                return new Shape(shape.rows(), 1);
            default:
                return shape;
        }
    }

    // ---- the three ways to run it ----------------------------------------------------------------------

    /** Runs the case on {@code d}, checks the result's shape and copies it back. */
    public float[] run(Device d) {
        float[][] in = inputs();
        try (Scope sc = new Scope()) {
            List<Tensor> t = new ArrayList<>();
            for (int i = 0; i < op.arguments.size(); i++) {
                t.add(sc.upload(d, in[i], argumentShape(i)));
            }
            Tensor y = sc.add(call(d, t, null));
            Shape want = resultShape();
            assertEquals(want.toString(), "[" + y.rows() + ", " + y.cols() + "]", this + ": result shape");
            return y.toArray();
        }
    }

    /** The call on tensors {@code t} (in the order of {@link Op#arguments}), into {@code out} unless it is null. */
    public Tensor call(Device d, List<Tensor> t, Tensor out) {
        boolean into = out != null;
        switch (op) {
            case LOG_SOFTMAX:
                return into ? d.logSoftmax(t.get(0), out) : d.logSoftmax(t.get(0));
            case SOFTMAX:
                return into ? d.softmax(t.get(0), out) : d.softmax(t.get(0));
            case LOG_SOFTMAX_BACKWARD:
                return into ? d.logSoftmaxBackward(t.get(0), t.get(1), out) : d.logSoftmaxBackward(t.get(0), t.get(1));
            case KL_DIV:
                return into ? d.klDiv(t.get(0), t.get(1), reduction, logTarget, out)
                        : d.klDiv(t.get(0), t.get(1), reduction, logTarget);
            case KL_DIV_BACKWARD:
                return into ? d.klDivBackward(t.get(0), t.get(1), t.get(2), reduction, logTarget, out)
                        : d.klDivBackward(t.get(0), t.get(1), t.get(2), reduction, logTarget);
            case SUM:
                return into ? d.sum(t.get(0), out) : d.sum(t.get(0));
            case MEAN:
                return into ? d.mean(t.get(0), out) : d.mean(t.get(0));
            case ROW_SUM:
                return into ? d.rowSum(t.get(0), out) : d.rowSum(t.get(0));
            default:
                throw new AssertionError(op);
        }
    }

    /** PyTorch's answer. */
    public float[] torch() {
        float[][] in = inputs();
        int rows = shape.rows();
        int cols = shape.cols();
        switch (op) {
            case LOG_SOFTMAX:
                return TorchOracle.logSoftmax(in[0], rows, cols);
            case SOFTMAX:
                return TorchOracle.softmax(in[0], rows, cols);
            case LOG_SOFTMAX_BACKWARD:
                return TorchOracle.logSoftmaxBackward(in[0], forwardLogits(), rows, cols);
            case KL_DIV:
                return TorchOracle.klDiv(in[0], in[1], rows, cols, reduction, logTarget);
            case KL_DIV_BACKWARD:
                return TorchOracle.klDivBackward(in[0], in[1], in[2], rows, cols, reduction, logTarget);
            case SUM:
                return new float[] {TorchOracle.sum(in[0], rows, cols)};
            case MEAN:
                return new float[] {TorchOracle.mean(in[0], rows, cols)};
            case ROW_SUM:
                return TorchOracle.rowSum(in[0], rows, cols);
            default:
                throw new AssertionError(op);
        }
    }

    /** The float64 reference. */
    public double[] reference() {
        float[][] in = inputs();
        int rows = shape.rows();
        int cols = shape.cols();
        switch (op) {
            case LOG_SOFTMAX:
                return Reference.logSoftmax(in[0], rows, cols);
            case SOFTMAX:
                return Reference.softmax(in[0], rows, cols);
            case LOG_SOFTMAX_BACKWARD:
                return Reference.logSoftmaxBackward(in[0], in[1], rows, cols);
            case KL_DIV:
                return reduction == Reduction.NONE ? Reference.klDiv(in[0], in[1], logTarget)
                        : new double[] {Reference.klDiv(in[0], in[1], rows, cols, reduction, logTarget)};
            case KL_DIV_BACKWARD:
                return Reference.klDivBackward(in[0], in[2], rows, cols, reduction, logTarget);
            case SUM:
                return new double[] {Reference.sum(in[0])};
            case MEAN:
                return new double[] {Reference.mean(in[0])};
            case ROW_SUM:
                return Reference.rowSum(in[0], rows, cols);
            default:
                throw new AssertionError(op);
        }
    }

    // ---- comparison --------------------------------------------------------------------------------------

    /**
     * Asserts that {@code actual} matches {@code expected} (PyTorch's float32 answer, or the float64 reference rounded):
     * elementwise results within 1e-5 ({@link Approx#REL}) of themselves, and where a value is a difference of larger
     * terms (kl_div pointwise, the log-softmax backward) of those terms' magnitude; reductions within 1e-5 of themselves
     * plus 1e-6 (about 8 float32 ulps) of the sum of the magnitudes of what they add up, divided like the result, which
     * is what float32 summation in any order can differ by. Where {@code expected} is not normalized (PyTorch's float32
     * row sums are off by up to ~1e-5 on long rows), that defect, computed in double, is allowed on top.
     */
    public void assertMatches(String what, float[] expected, float[] actual) {
        Approx.assertClose(what, expected, actual, resultShape().cols(), tolerance(expected));
    }

    /** Per element of the result, the tolerance of {@link #assertMatches} around {@code expected}. */
    double[] tolerance(float[] expected) {
        float[][] in = inputs();
        int rows = shape.rows();
        int cols = shape.cols();
        double[] tol = new double[expected.length];
        switch (op) {
            case LOG_SOFTMAX: {
                double[] defect = Reference.normalizationDefect(expected, rows, cols, true);
                for (int i = 0; i < tol.length; i++) {
                    tol[i] = Approx.REL * Math.abs(expected[i]) + 1e-6 + defect[i / cols];
                }
                return tol;
            }
            case SOFTMAX: {
                double[] defect = Reference.normalizationDefect(expected, rows, cols, false);
                for (int i = 0; i < tol.length; i++) {
                    tol[i] = (Approx.REL + defect[i / cols]) * Math.abs(expected[i]) + 1e-38;
                }
                return tol;
            }
            case LOG_SOFTMAX_BACKWARD: {
                // gradIn = g - exp(y) * rowsum(g): each value is within 1e-5 of the terms it is the difference of
                float[] g = in[0];
                float[] y = in[1];
                double[] sums = Reference.rowSum(g, rows, cols);
                double[] l1 = Reference.rowSumAbs(g, rows, cols);
                for (int i = 0; i < tol.length; i++) {
                    double p = Math.exp(y[i]);
                    int r = i / cols;
                    tol[i] = Approx.REL * (Math.abs(expected[i]) + Math.abs(g[i]) + p * Math.abs(sums[r]))
                            + 1e-6 * p * l1[r] + 1e-30;
                }
                return tol;
            }
            case KL_DIV: {
                double[] scale = Reference.klDivScale(in[0], in[1], logTarget);
                if (reduction == Reduction.NONE) {
                    for (int i = 0; i < tol.length; i++) {
                        tol[i] = Approx.REL * Math.max(scale[i], Math.abs(expected[i])) + 1e-30;
                    }
                } else {
                    tol[0] = Approx.REL * Math.abs(expected[0])
                            + 1e-6 * Reference.sum(scale) / Reference.divisor(reduction, rows, cols) + 1e-30;
                }
                return tol;
            }
            case KL_DIV_BACKWARD:
                for (int i = 0; i < tol.length; i++) {
                    tol[i] = Double.isFinite(expected[i]) ? Approx.REL * Math.abs(expected[i]) + 1e-30 : 0;
                }
                return tol;
            case SUM:
            case MEAN:
                tol[0] = Approx.REL * Math.abs(expected[0])
                        + 1e-6 * Reference.sumAbs(in[0]) / (op == Op.MEAN ? shape.size() : 1);
                return tol;
            case ROW_SUM: {
                double[] l1 = Reference.rowSumAbs(in[0], rows, cols);
                for (int r = 0; r < rows; r++) {
                    tol[r] = Approx.REL * Math.abs(expected[r]) + 1e-6 * l1[r];
                }
                return tol;
            }
            default:
                throw new AssertionError(op);
        }
    }
}
