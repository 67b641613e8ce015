package dev.kullback;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The float64 reference of every {@link Device} operation and loss (the only one: every suite compares with it),
 * with PyTorch's semantics, for tests of any device. Inputs are the float32 values a device sees; results are doubles (compare them with {@link #assertClose}).
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

    /**
     * Per row, how far a float32 (log-)softmax {@code y} is from normalized: |sum(y) - 1| for probabilities,
     * |log(sum(exp(y)))| for log-probabilities, computed in double: the float32 error of the row sum that made it.
     */
    public static double[] normalizationDefect(float[] y, int rows, int cols, boolean log) {
        double[] defect = new double[rows];
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int c = 0; c < cols; c++) {
                float v = y[r * cols + c];
                sum += log ? Math.exp(v) : v;
            }
            defect[r] = Math.abs(log ? Math.log(sum) : sum - 1);
        }
        return defect;
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

    // ==== the losses ======================================================================================
    // Written straight from docs/losses.md (one plain loop per row, no fusion, no cleverness), so that they can be
    // read against the spec and checked by finite differences (ReferenceTest). Each returns a Result: the value (one
    // per row for NONE, else one), the gradient of the value (of the sum of the rows' values for NONE) with respect
    // to each input, and the magnitude of what the value adds up (valueMagnitude: for each value, the sum of the
    // absolute values of its terms, scaled like the value; gradMagnitude: the same for each gradient element), which
    // tests use to size float32 tolerances relative to each quantity's scale.

    /** value: [rows] for NONE, else [1]; grads[i]: like input i; valueMagnitude: like value. */
    public record Result(double[] value, double[][] grads, double[] valueMagnitude, double[][] gradMagnitude) {
        public Result(double[] value, double[][] grads, double[] valueMagnitude) {
            this(value, grads, valueMagnitude, null);
        }

        public Result withGradMagnitude(double[]... m) {
            return new Result(value, grads, valueMagnitude, m);
        }

        /** The sum of the values: what the gradients are the gradient of. */
        public double total() {
            double s = 0;
            for (double v : value) {
                s += v;
            }
            return s;
        }
    }

    // ---- loss row helpers -----------------------------------------------------------------------------------

    /** log-softmax of row r of x (optionally divided by t); -inf entries give -inf; an all -inf row gives NaN. */
    static double[] rowLogSoftmax(float[] x, int r, int cols, double t) {
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < cols; c++) {
            max = Math.max(max, x[r * cols + c] / t);
        }
        double sum = 0;
        for (int c = 0; c < cols; c++) {
            sum += Math.exp(x[r * cols + c] / t - max);
        }
        double lse = max + Math.log(sum);
        double[] out = new double[cols];
        for (int c = 0; c < cols; c++) {
            out[c] = x[r * cols + c] / t - lse;
        }
        return out;
    }

    static double logSumExp(float[] x, int r, int cols) {
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < cols; c++) {
            max = Math.max(max, x[r * cols + c]);
        }
        double sum = 0;
        for (int c = 0; c < cols; c++) {
            sum += Math.exp(x[r * cols + c] - max);
        }
        return max + Math.log(sum);
    }

    static double[] exp(double[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = Math.exp(x[i]);
        }
        return out;
    }

    /** p (log p - log q), 0 where p == 0. */
    static double xlog(double p, double logP, double logQ) {
        return p == 0 ? 0 : p * (logP - logQ);
    }

    /** Value and magnitude from per-row losses: per row for NONE, else the sum / divisor. */
    static Result finish(Reduction reduction, double[] rowLoss, double[] rowMag, double divisor, double[]... grads) {
        if (reduction == Reduction.NONE) {
            return new Result(rowLoss, grads, rowMag);
        }
        double s = 0;
        double m = 0;
        for (int r = 0; r < rowLoss.length; r++) {
            s += rowLoss[r];
            m += rowMag[r];
        }
        return new Result(new double[] {s / divisor}, grads, new double[] {m / divisor});
    }

    // ---- the losses ------------------------------------------------------------------------------------

    /** Spec 1. labels null: every row counted. */
    public static Result distillation(float[] s, float[] t, int rows, int cols, double temperature, boolean reverse,
                                      Reduction reduction, int[] labels, int ignoreIndex) {
        int counted = 0;
        for (int r = 0; r < rows; r++) {
            counted += labels == null || labels[r] != ignoreIndex ? 1 : 0;
        }
        double divisor = reduction == Reduction.MEAN ? (double) counted * cols
                : reduction == Reduction.BATCHMEAN ? counted : 1;
        double gdiv = reduction == Reduction.NONE ? 1 : divisor;
        double t2 = temperature * temperature;
        double[] rowLoss = new double[rows];
        double[] rowMag = new double[rows];
        double[] grad = new double[rows * cols];
        double[] gmag = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            if (labels != null && labels[r] == ignoreIndex) {
                continue;
            }
            double[] logQ = rowLogSoftmax(s, r, cols, temperature);
            double[] logP = rowLogSoftmax(t, r, cols, temperature);
            double[] q = exp(logQ);
            double[] p = exp(logP);
            double kl = 0;
            double mag = 0;
            for (int c = 0; c < cols; c++) {
                double term = reverse ? xlog(q[c], logQ[c], logP[c]) : xlog(p[c], logP[c], logQ[c]);
                kl += term;
                mag += Math.abs(term);
            }
            rowLoss[r] = t2 * kl;
            rowMag[r] = t2 * (mag + 1);
            for (int c = 0; c < cols; c++) {
                double g;
                if (reverse) {
                    g = q[c] == 0 ? 0 : temperature * q[c] * ((logQ[c] - logP[c]) - kl);
                } else {
                    g = temperature * (q[c] - p[c]);
                }
                grad[r * cols + c] = g / gdiv;
                gmag[r * cols + c] = temperature * (q[c] + p[c]) * (1 + (reverse && q[c] != 0
                        ? Math.abs(logQ[c]) + Math.abs(logP[c]) + Math.abs(kl) : 0)) / gdiv;
            }
        }
        return finish(reduction, rowLoss, rowMag, divisor, grad).withGradMagnitude(gmag);
    }

    /** Spec 2, class indices. weights null: all 1. */
    public static Result crossEntropy(float[] x, int rows, int cols, int[] labels, float[] weights,
                                      Reduction reduction, int ignoreIndex, double eps, double zLoss) {
        double wSum = 0;
        for (int c = 0; c < cols; c++) {
            wSum += weights == null ? 1 : weights[c];
        }
        double totalW = 0;
        int counted = 0;
        double[] nll = new double[rows];
        double[] smooth = new double[rows];
        double[] z = new double[rows];
        double[] rowMag = new double[rows];
        double[][] logps = new double[rows][];
        double[] lses = new double[rows];
        for (int r = 0; r < rows; r++) {
            int y = labels[r];
            if (y == ignoreIndex) {
                continue;
            }
            counted++;
            double wy = weights == null ? 1 : weights[y];
            totalW += wy;
            double[] logp = rowLogSoftmax(x, r, cols, 1);
            logps[r] = logp;
            lses[r] = logSumExp(x, r, cols);
            nll[r] = -wy * logp[y];
            double sm = 0;
            for (int c = 0; c < cols; c++) {
                sm -= (weights == null ? 1 : weights[c]) * logp[c];
            }
            smooth[r] = sm;
            z[r] = zLoss * lses[r] * lses[r];
            rowMag[r] = (1 - eps) * Math.abs(nll[r]) + eps / cols * Math.abs(sm) + z[r] + wy;
        }
        double kCe = reduction == Reduction.MEAN ? 1 / totalW : 1;
        double kZ = reduction == Reduction.MEAN ? 1.0 / counted : 1;
        double[] grad = new double[rows * cols];
        double[] gmag = new double[rows * cols];
        double[] rowLoss = new double[rows];
        double sumCe = 0;
        double sumZ = 0;
        double magCe = 0;
        double magZ = 0;
        for (int r = 0; r < rows; r++) {
            int y = labels[r];
            if (y == ignoreIndex) {
                continue;
            }
            double ce = (1 - eps) * nll[r] + eps / cols * smooth[r];
            rowLoss[r] = ce + z[r];
            sumCe += ce;
            sumZ += z[r];
            magCe += rowMag[r] - z[r];
            magZ += z[r];
            double wy = weights == null ? 1 : weights[y];
            for (int c = 0; c < cols; c++) {
                double p = Math.exp(logps[r][c]);
                double wc = weights == null ? 1 : weights[c];
                double g = kCe * ((1 - eps) * wy * (p - (c == y ? 1 : 0)) + eps / cols * (p * wSum - wc))
                        + kZ * 2 * zLoss * lses[r] * p;
                grad[r * cols + c] = g;
                gmag[r * cols + c] = kCe * ((1 - eps) * wy * (p + (c == y ? 1 : 0)) + eps / cols * (p * wSum + wc))
                        + kZ * 2 * zLoss * Math.abs(lses[r]) * p * (1 + Math.abs(lses[r]));
            }
        }
        if (reduction == Reduction.NONE) {
            return new Result(rowLoss, new double[][] {grad}, rowMag, new double[][] {gmag});
        }
        if (reduction == Reduction.SUM) {
            return new Result(new double[] {sumCe + sumZ}, new double[][] {grad}, new double[] {magCe + magZ},
                    new double[][] {gmag});
        }
        double value = sumCe / totalW + (zLoss == 0 ? 0 : sumZ / counted);
        return new Result(new double[] {value}, new double[][] {grad},
                new double[] {magCe / totalW + (zLoss == 0 ? 0 : magZ / counted)}, new double[][] {gmag});
    }

    /** Spec 2, probability targets. */
    public static Result softCrossEntropy(float[] x, float[] target, int rows, int cols, float[] weights,
                                          Reduction reduction, double eps, double zLoss) {
        double k = reduction == Reduction.MEAN ? 1.0 / rows : 1;
        double[] rowLoss = new double[rows];
        double[] rowMag = new double[rows];
        double[] grad = new double[rows * cols];
        double[] gmag = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double[] logp = rowLogSoftmax(x, r, cols, 1);
            double lse = logSumExp(x, r, cols);
            double loss = 0;
            double mag = 0;
            double wt = 0;
            double[] tp = new double[cols];
            for (int c = 0; c < cols; c++) {
                double wc = weights == null ? 1 : weights[c];
                tp[c] = (1 - eps) * target[r * cols + c] + eps / cols;
                double term = -wc * tp[c] * logp[c];
                if (tp[c] != 0) {
                    loss += term;
                    mag += Math.abs(term);
                }
                wt += wc * tp[c];
            }
            double zr = zLoss * lse * lse;
            rowLoss[r] = loss + zr;
            rowMag[r] = mag + zr + wt;
            for (int c = 0; c < cols; c++) {
                double p = Math.exp(logp[c]);
                double wc = weights == null ? 1 : weights[c];
                grad[r * cols + c] = k * (p * wt - wc * tp[c]) + k * 2 * zLoss * lse * p;
                gmag[r * cols + c] = k * (p * Math.abs(wt) + wc * tp[c]) + k * 2 * zLoss * Math.abs(lse) * p
                        * (1 + Math.abs(lse));
            }
        }
        return finish(reduction, rowLoss, rowMag, reduction == Reduction.MEAN ? rows : 1, grad)
                .withGradMagnitude(gmag);
    }

    /** Spec 3: Liger's generalized JSD; grads: student, teacher. */
    public static Result jsd(float[] s, float[] t, int rows, int cols, double beta, Reduction reduction) {
        double divisor = divisor(reduction, rows, cols);
        double gdiv = reduction == Reduction.NONE ? 1 : divisor;
        double[] rowLoss = new double[rows];
        double[] rowMag = new double[rows];
        double[] gs = new double[rows * cols];
        double[] gt = new double[rows * cols];
        double[] ms = new double[rows * cols];
        double[] mt = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double[] logQ = rowLogSoftmax(s, r, cols, 1);
            double[] logP = rowLogSoftmax(t, r, cols, 1);
            double[] q = exp(logQ);
            double[] p = exp(logP);
            double loss = 0;
            double mag = 0;
            double[] gQ = new double[cols];
            double[] gP = new double[cols];
            for (int c = 0; c < cols; c++) {
                double term;
                if (beta == 0) {
                    term = xlog(p[c], logP[c], logQ[c]);
                } else if (beta == 1) {
                    term = xlog(q[c], logQ[c], logP[c]);
                } else {
                    double m = beta * p[c] + (1 - beta) * q[c];
                    double logM = Math.log(m);
                    double a = beta * xlog(p[c], logP[c], logM);
                    double b = (1 - beta) * xlog(q[c], logQ[c], logM);
                    term = a + b;
                    gP[c] = a;
                    gQ[c] = b;
                }
                loss += term;
                mag += Math.abs(term);
            }
            rowLoss[r] = loss;
            rowMag[r] = mag + 1;
            if (beta == 0) {
                for (int c = 0; c < cols; c++) {
                    gQ[c] = -p[c];                                  // dL/dlogQ = -P
                    gP[c] = xlog(p[c], logP[c], logQ[c]);           // dL/dlogP = P (log P - log Q) (+P, cancels)
                }
            } else if (beta == 1) {
                for (int c = 0; c < cols; c++) {
                    gQ[c] = xlog(q[c], logQ[c], logP[c]);
                    gP[c] = -q[c];
                }
            }
            double sq = 0;
            double sp = 0;
            for (int c = 0; c < cols; c++) {
                sq += gQ[c];
                sp += gP[c];
            }
            for (int c = 0; c < cols; c++) {
                gs[r * cols + c] = (gQ[c] - q[c] * sq) / gdiv;
                gt[r * cols + c] = (gP[c] - p[c] * sp) / gdiv;
                double m = (p[c] + q[c]) * (1 + mag + (p[c] == 0 ? 0 : Math.abs(logP[c]))
                        + (q[c] == 0 ? 0 : Math.abs(logQ[c]))) / gdiv;
                ms[r * cols + c] = m;
                mt[r * cols + c] = m;
            }
        }
        return finish(reduction, rowLoss, rowMag, divisor, gs, gt).withGradMagnitude(ms, mt);
    }

    /** Spec 4: KL(P||Q) + KL(Q||P); grads: p logits, q logits. */
    public static Result symmetricKl(float[] a, float[] b, int rows, int cols, Reduction reduction) {
        double divisor = divisor(reduction, rows, cols);
        double gdiv = reduction == Reduction.NONE ? 1 : divisor;
        double[] rowLoss = new double[rows];
        double[] rowMag = new double[rows];
        double[] ga = new double[rows * cols];
        double[] gb = new double[rows * cols];
        double[] ms = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double[] logP = rowLogSoftmax(a, r, cols, 1);
            double[] logQ = rowLogSoftmax(b, r, cols, 1);
            double[] p = exp(logP);
            double[] q = exp(logQ);
            double klPQ = 0;
            double klQP = 0;
            double mag = 0;
            for (int c = 0; c < cols; c++) {
                double u = xlog(p[c], logP[c], logQ[c]);
                double v = xlog(q[c], logQ[c], logP[c]);
                klPQ += u;
                klQP += v;
                mag += Math.abs(u) + Math.abs(v);
            }
            rowLoss[r] = klPQ + klQP;
            rowMag[r] = mag + 1;
            for (int c = 0; c < cols; c++) {
                ga[r * cols + c] = (xlog(p[c], logP[c], logQ[c]) + p[c] - q[c] - p[c] * klPQ) / gdiv;
                gb[r * cols + c] = (xlog(q[c], logQ[c], logP[c]) + q[c] - p[c] - q[c] * klQP) / gdiv;
                ms[r * cols + c] = (p[c] + q[c]) * (1 + mag + (p[c] == 0 ? 0 : Math.abs(logP[c]))
                        + (q[c] == 0 ? 0 : Math.abs(logQ[c]))) / gdiv;   // a masked column (both 0): 0, not NaN
            }
        }
        return finish(reduction, rowLoss, rowMag, divisor, ga, gb).withGradMagnitude(ms, ms);
    }

    /** Spec 5. */
    public static Result entropy(float[] x, int rows, int cols, Reduction reduction) {
        double divisor = reduction == Reduction.MEAN || reduction == Reduction.BATCHMEAN ? rows : 1;
        double[] rowLoss = new double[rows];
        double[] rowMag = new double[rows];
        double[] grad = new double[rows * cols];
        double[] gmag = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double[] logp = rowLogSoftmax(x, r, cols, 1);
            double[] p = exp(logp);
            double h = 0;
            for (int c = 0; c < cols; c++) {
                h -= p[c] == 0 ? 0 : p[c] * logp[c];
            }
            rowLoss[r] = h;
            rowMag[r] = h + 1;
            for (int c = 0; c < cols; c++) {
                grad[r * cols + c] = p[c] == 0 ? 0 : -p[c] * (logp[c] + h) / divisor;
                gmag[r * cols + c] = p[c] == 0 ? 0 : p[c] * (1 + Math.abs(logp[c]) + h) / divisor;
            }
        }
        return finish(reduction, rowLoss, rowMag, divisor, grad).withGradMagnitude(gmag);
    }

    /** Spec 6: Keras's clipped KL; grad: yPred. */
    public static Result kerasKl(float[] yTrue, float[] yPred, int rows, int cols, Reduction reduction, boolean bits) {
        double divisor = divisor(reduction, rows, cols);
        double gdiv = reduction == Reduction.NONE ? 1 : divisor;
        double unit = bits ? Math.log(2) : 1;
        double lo = 1e-7;
        double[] rowLoss = new double[rows];
        double[] rowMag = new double[rows];
        double[] grad = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double loss = 0;
            double mag = 0;
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                double t = Math.min(Math.max(yTrue[i], lo), 1);
                double q = Math.min(Math.max(yPred[i], lo), 1);
                double term = t * Math.log(t / q) / unit;
                loss += term;
                mag += Math.abs(term) + t;
                grad[i] = yPred[i] >= lo && yPred[i] <= 1 ? -t / q / unit / gdiv : 0;
            }
            rowLoss[r] = loss;
            rowMag[r] = mag;
        }
        return finish(reduction, rowLoss, rowMag, divisor, grad);
    }

    /** Spec 7; mu2 and lv2 null: the standard normal (grads mu1, lv1), else grads mu1, lv1, mu2, lv2. */
    public static Result gaussianKl(float[] mu1, float[] lv1, float[] mu2, float[] lv2, int rows, int cols,
                                    Reduction reduction) {
        double divisor = divisor(reduction, rows, cols);
        double gdiv = reduction == Reduction.NONE ? 1 : divisor;
        boolean standard = mu2 == null;
        double[] rowLoss = new double[rows];
        double[] rowMag = new double[rows];
        double[] gm1 = new double[rows * cols];
        double[] gv1 = new double[rows * cols];
        double[] gm2 = new double[rows * cols];
        double[] gv2 = new double[rows * cols];
        double[] mm = new double[rows * cols];
        double[] mv1 = new double[rows * cols];
        double[] mv2 = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double loss = 0;
            double mag = 0;
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                double m1 = mu1[i];
                double v1 = lv1[i];
                double m2 = standard ? 0 : mu2[i];
                double v2 = standard ? 0 : lv2[i];
                double d = m1 - m2;
                double term = 0.5 * (v2 - v1 + (Math.exp(v1) + d * d) / Math.exp(v2) - 1);
                loss += term;
                mag += 0.5 * (Math.abs(v2) + Math.abs(v1) + (Math.exp(v1) + d * d) / Math.exp(v2) + 1);
                gm1[i] = d * Math.exp(-v2) / gdiv;
                gv1[i] = 0.5 * (Math.exp(v1 - v2) - 1) / gdiv;
                gm2[i] = -d * Math.exp(-v2) / gdiv;
                gv2[i] = 0.5 * (1 - (Math.exp(v1) + d * d) * Math.exp(-v2)) / gdiv;
                // the logvar gradients are differences of terms of about 1: their size, for tolerances
                mm[i] = 0;   // a product (no cancellation): held to its own size and its row's
                mv1[i] = 0.5 * (Math.exp(v1 - v2) + 1) / gdiv;
                mv2[i] = 0.5 * (1 + (Math.exp(v1) + d * d) * Math.exp(-v2)) / gdiv;
            }
            rowLoss[r] = loss;
            rowMag[r] = mag;
        }
        return standard ? finish(reduction, rowLoss, rowMag, divisor, gm1, gv1).withGradMagnitude(mm, mv1)
                : finish(reduction, rowLoss, rowMag, divisor, gm1, gv1, gm2, gv2).withGradMagnitude(mm, mv1, mm, mv2);
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

    /**
     * Total variation distance, ½ Σ |P - Q| of P = softmax(t), Q = softmax(s), ignored rows 0 and not counted;
     * grads: student, teacher. With sign(0) = 0: dL/dP = ½ sign(P - Q), dL/dQ = -½ sign(P - Q), through the softmaxes.
     */
    public static Result tvd(float[] s, float[] t, int rows, int cols, Reduction reduction, int[] labels,
                             int ignoreIndex) {
        int counted = 0;
        for (int r = 0; r < rows; r++) {
            counted += labels == null || labels[r] != ignoreIndex ? 1 : 0;
        }
        double divisor = reduction == Reduction.MEAN ? (double) counted * cols
                : reduction == Reduction.BATCHMEAN ? counted : 1;
        double gdiv = reduction == Reduction.NONE ? 1 : divisor;
        double[] rowLoss = new double[rows];
        double[] rowMag = new double[rows];
        double[] gs = new double[rows * cols];
        double[] gt = new double[rows * cols];
        double[] ms = new double[rows * cols];
        double[] mt = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            if (labels != null && labels[r] == ignoreIndex) {
                continue;
            }
            double[] q = exp(rowLogSoftmax(s, r, cols, 1));
            double[] p = exp(rowLogSoftmax(t, r, cols, 1));
            double loss = 0;
            double a = 0;
            double b = 0;
            for (int c = 0; c < cols; c++) {
                double sign = Math.signum(p[c] - q[c]);
                loss += Math.abs(p[c] - q[c]);
                a += p[c] * sign;
                b += q[c] * sign;
            }
            rowLoss[r] = 0.5 * loss;
            rowMag[r] = 0.5 * loss + 1e-3;
            // a near-tie P ≈ Q (within float32 rounding) may take either sign in float32: the subgradient is
            // ambiguous there, and its flip moves A and B by up to 2 P_i, 2 Q_i; the magnitudes allow for it
            double tieP = 0;
            double tieQ = 0;
            for (int c = 0; c < cols; c++) {
                if (tie(p[c], q[c])) {
                    tieP += p[c];
                    tieQ += q[c];
                }
            }
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                double sign = Math.signum(p[c] - q[c]);
                gt[i] = 0.5 * p[c] * (sign - a) / gdiv;
                gs[i] = -0.5 * q[c] * (sign - b) / gdiv;
                // the terms: ½ P s and ½ P A (whose difference cancels when A ≈ s), and the flips
                double own = tie(p[c], q[c]) ? 1 : 0;
                mt[i] = (0.5 * p[c] * (1 + Math.abs(a)) + p[c] * (tieP + own) / LossCase.OF_TERMS) / gdiv;
                ms[i] = (0.5 * q[c] * (1 + Math.abs(b)) + q[c] * (tieQ + own) / LossCase.OF_TERMS) / gdiv;
            }
        }
        return finish(reduction, rowLoss, rowMag, divisor, gs, gt).withGradMagnitude(ms, mt);
    }

    private static boolean tie(double p, double q) {
        return Math.abs(p - q) <= 1e-5 * (p + q);
    }
}
