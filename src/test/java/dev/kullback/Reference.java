package dev.kullback;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Float64 reference implementations of every {@link Device} operation, with PyTorch's semantics, for tests of any
 * device. Inputs are the float32 values a device sees; results are doubles (compare them with {@link #assertClose}).
 *
 * <p>Edge semantics, as PyTorch: a row holding NaN or +inf, or only -inf, has an all-NaN (log-)softmax; -inf entries of
 * an otherwise finite row give -inf log-probabilities and 0 probabilities; kl_div uses {@code xlogy(t, t) - t * x}
 * (0 for t == 0 when x is finite, NaN when x == -inf), or {@code exp(t) * (t - x)} when logTarget.
 */
public final class Reference {
    private Reference() {
    }

    // ---- softmax ------------------------------------------------------------------------------------------

    /** Row-wise log-softmax (or softmax when {@code log} is false). */
    public static double[] softmax(float[] x, int rows, int cols, boolean log) {
        double[] out = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            double max = Double.NEGATIVE_INFINITY;
            boolean nan = false;
            for (int i = base; i < base + cols; i++) {
                nan |= Float.isNaN(x[i]);
                max = Math.max(max, x[i]);
            }
            if (nan || Double.isInfinite(max)) {
                java.util.Arrays.fill(out, base, base + cols, Double.NaN);
                continue;
            }
            double sum = 0;
            for (int i = base; i < base + cols; i++) {
                sum += Math.exp(x[i] - max);
            }
            double logSum = Math.log(sum);
            for (int i = base; i < base + cols; i++) {
                out[i] = log ? (x[i] - max) - logSum : Math.exp(x[i] - max) / sum;
            }
        }
        return out;
    }

    public static double[] logSoftmax(float[] x, int rows, int cols) {
        return softmax(x, rows, cols, true);
    }

    public static double[] softmax(float[] x, int rows, int cols) {
        return softmax(x, rows, cols, false);
    }

    /** gradInput = g - exp(y) * rowSum(g). */
    public static double[] logSoftmaxBackward(float[] g, float[] y, int rows, int cols) {
        double[] out = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            double sum = 0;
            for (int i = base; i < base + cols; i++) {
                sum += g[i];
            }
            for (int i = base; i < base + cols; i++) {
                out[i] = g[i] - Math.exp(y[i]) * sum;
            }
        }
        return out;
    }

    /** |g| + |exp(y) * rowSum(g)|: the size of the terms of the backward, for tolerances. */
    public static double[] logSoftmaxBackwardScale(float[] g, float[] y, int rows, int cols) {
        double[] out = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            double sum = 0;
            double abs = 0;
            for (int i = base; i < base + cols; i++) {
                sum += g[i];
                abs += Math.abs(g[i]);
            }
            for (int i = base; i < base + cols; i++) {
                out[i] = Math.abs(g[i]) + Math.exp(y[i]) * abs;
            }
        }
        return out;
    }

    // ---- kl_div -------------------------------------------------------------------------------------------

    /** Pointwise kl_div of one element. */
    public static double klDiv(float x, float t, boolean logTarget) {
        if (logTarget) {
            return Math.exp(t) * ((double) t - x);
        }
        double xlogy = Double.isNaN(t) ? Double.NaN : t == 0 ? 0 : t * Math.log(t);
        return xlogy - (double) t * x;
    }

    /** |xlogy(t, t)| + |t x| (or |exp(t) t| + |exp(t) x|): the size of the terms, for tolerances. */
    public static double klDivScale(float x, float t, boolean logTarget) {
        if (logTarget) {
            return Math.exp(t) * (Math.abs(t) + Math.abs(x));
        }
        return (t == 0 ? 0 : Math.abs(t * Math.log(t))) + Math.abs((double) t * x);
    }

    public static double[] klDiv(float[] x, float[] t, boolean logTarget) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = klDiv(x[i], t[i], logTarget);
        }
        return out;
    }

    public static double[] klDivScale(float[] x, float[] t, boolean logTarget) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = klDivScale(x[i], t[i], logTarget);
        }
        return out;
    }

    /** PyTorch's divisor of a reduction of a [rows, cols] tensor. */
    public static double divisor(Reduction reduction, int rows, int cols) {
        switch (reduction) {
            case MEAN:
                return (double) rows * cols;
            case BATCHMEAN:
                return rows;
            default:
                return 1;
        }
    }

    /** kl_div reduced by SUM, MEAN or BATCHMEAN. */
    public static double klDiv(float[] x, float[] t, int rows, int cols, Reduction reduction, boolean logTarget) {
        return sum(klDiv(x, t, logTarget)) / divisor(reduction, rows, cols);
    }

    /** The gradient of kl_div with respect to the input: -(g * w), w = t or exp(t). */
    public static double[] klDivBackward(float[] gradOutput, float[] t, int rows, int cols, Reduction reduction,
                                         boolean logTarget) {
        double[] out = new double[t.length];
        for (int i = 0; i < t.length; i++) {
            double g = reduction == Reduction.NONE ? gradOutput[i] : gradOutput[0] / divisor(reduction, rows, cols);
            double w = logTarget ? Math.exp(t[i]) : t[i];
            out[i] = -(g * w);
        }
        return out;
    }

    // ---- sums ---------------------------------------------------------------------------------------------

    public static double sum(double[] x) {
        double s = 0;
        for (double v : x) {
            s += v;
        }
        return s;
    }

    public static double sum(float[] x) {
        double s = 0;
        for (float v : x) {
            s += v;
        }
        return s;
    }

    public static double sumAbs(float[] x) {
        double s = 0;
        for (float v : x) {
            s += Math.abs(v);
        }
        return s;
    }

    public static double sumAbs(double[] x) {
        double s = 0;
        for (double v : x) {
            s += Math.abs(v);
        }
        return s;
    }

    public static double mean(float[] x) {
        return sum(x) / x.length;
    }

    public static double[] rowSum(float[] x, int rows, int cols) {
        double[] out = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int i = r * cols; i < (r + 1) * cols; i++) {
                s += x[i];
            }
            out[r] = s;
        }
        return out;
    }

    public static double[] rowSumAbs(float[] x, int rows, int cols) {
        double[] out = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int i = r * cols; i < (r + 1) * cols; i++) {
                s += Math.abs(x[i]);
            }
            out[r] = s;
        }
        return out;
    }

    // ---- comparison ---------------------------------------------------------------------------------------

    /**
     * Asserts {@code |actual - expected| <= abs + rel * scale} elementwise, where scale is {@code |expected|} when
     * {@code scale} is null; NaN must match NaN and infinities must match exactly. The message names the first
     * failing index, its values and the number of failures.
     */
    public static void assertClose(String what, double[] expected, float[] actual, double[] scale, double rel,
                                   double abs) {
        if (expected.length != actual.length) {
            fail(what + ": expected " + expected.length + " values, got " + actual.length);
        }
        int failures = 0;
        int first = -1;
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            float a = actual[i];
            boolean ok;
            if (Double.isNaN(e)) {
                ok = Float.isNaN(a);
            } else if (Double.isInfinite(e)) {
                ok = a == e;
            } else {
                double s = scale == null ? Math.abs(e) : scale[i];
                double err = Math.abs(a - e);
                ok = err <= abs + rel * s;
                if (ok && err > 0) {
                    worst = Math.max(worst, err / (abs + rel * s));
                }
            }
            if (!ok) {
                failures++;
                if (first < 0) {
                    first = i;
                }
            }
        }
        if (failures > 0) {
            double s = scale == null ? Math.abs(expected[first]) : scale[first];
            fail(what + ": " + failures + " of " + expected.length + " values off; first at " + first + ": expected "
                    + expected[first] + ", got " + actual[first] + " (tolerance " + (abs + rel * s) + ")");
        }
    }

    public static void assertClose(String what, double[] expected, float[] actual, double rel, double abs) {
        assertClose(what, expected, actual, null, rel, abs);
    }

    /** A scalar: {@code |actual - expected| <= abs + rel * scale}. */
    public static void assertClose(String what, double expected, float actual, double scale, double rel, double abs) {
        assertClose(what, new double[] {expected}, new float[] {actual}, new double[] {scale}, rel, abs);
    }
}
