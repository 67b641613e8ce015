package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kullback.CrossEntropy;
import dev.kullback.Device;
import dev.kullback.Devices;
import dev.kullback.Distillation;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every loss of the CUDA device (value and every gradient), every option, on a grid of shapes that reaches every
 * launch branch (warp per row and block per row with each block size, float4 bodies and scalar tails), against a
 * double-precision reference written from notes/losses-spec.md, and against the CPU device where it implements the
 * loss. Edge data (rows = 3): a column that is -inf in both logits (a masked vocabulary entry) and +-1000 logits.
 * A subclass supplies the CUDA device: a real GPU, or the host simulator.
 */
abstract class LossParityContract {
    static final int[] COLS = {1, 2, 31, 33, 1000, 4097, 32000, 262147};
    static final int IGNORE = -100;

    /** The CUDA device under test; the same instance for the whole class. */
    abstract CudaDevice cuda();

    static int[] rowsFor(int cols) {
        return cols >= 262147 ? new int[] {1, 2} : cols >= 32000 ? new int[] {1, 3} : new int[] {1, 3, 65};
    }

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (int cols : COLS) {
            for (int rows : rowsFor(cols)) {
                for (Case c : Case.values()) {
                    if (cols >= 32000 && !c.wide) {
                        continue;  // the widest shapes run one case of each kernel, to keep the simulated time short
                    }
                    cases.add(Arguments.of(c, rows, cols, false));
                    if (rows == 3 || (rows == 2 && c.wide)) {
                        cases.add(Arguments.of(c, rows, cols, true));
                    }
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} [{1}, {2}] edge values {3}")
    @MethodSource("cases")
    void matchesReference(Case c, int rows, int cols, boolean edges) {
        Inputs in = new Inputs(rows, cols, edges);
        String what = c + " [" + rows + ", " + cols + "]" + (edges ? " with edge values" : "");
        List<float[]> actual = run(cuda(), c, in);
        double[][] expected = c.reference.apply(in);
        assertEquals(expected.length, actual.size(), what + ": number of outputs");
        for (int i = 0; i < expected.length; i++) {
            float[] e = new float[expected[i].length];
            for (int j = 0; j < e.length; j++) {
                e[j] = (float) expected[i][j];
            }
            double tolerance = i == 0 ? 1e-4 * Math.sqrt(cols) + 1e-4 : 1e-4;
            CudaParityContract.assertClose(what + (i == 0 ? " value" : " gradient " + (i - 1)), e, actual.get(i), tolerance);
        }
        List<float[]> cpu;
        try {
            cpu = run(Devices.cpu(), c, in);
        } catch (UnsupportedOperationException notYet) {
            return;  // the CPU device does not implement this loss (yet): the reference above is the check
        }
        for (int i = 0; i < cpu.size(); i++) {
            CudaParityContract.assertClose(what + " vs CPU " + (i == 0 ? "value" : "gradient " + (i - 1)), cpu.get(i),
                    actual.get(i), i == 0 ? 1e-4 * Math.sqrt(cols) + 1e-4 : 1e-4);
        }
    }

    static List<float[]> run(Device device, Case c, Inputs in) {
        try (Uploaded up = new Uploaded(device, in); Loss loss = c.call.apply(device, up)) {
            List<float[]> out = new ArrayList<>();
            out.add(loss.value().toArray());
            for (int i = 0; i < loss.gradientCount(); i++) {
                out.add(loss.gradient(i).toArray());
            }
            return out;
        }
    }

    enum Case {
        DISTILL_BATCHMEAN(true, (d, u) -> d.distillationKl(u.a, u.b, 1f), in -> Ref.distill(in, null, 1, false, Reduction.BATCHMEAN)),
        DISTILL_NONE_T2(false, (d, u) -> d.distillationKl(u.a, u.b, Distillation.options().temperature(2f).reduction(Reduction.NONE)),
                in -> Ref.distill(in, null, 2, false, Reduction.NONE)),
        DISTILL_MEAN_IGNORE(false, (d, u) -> d.distillationKl(u.a, u.b, Distillation.options().temperature(0.5f)
                .reduction(Reduction.MEAN).ignore(u.labels, IGNORE)), in -> Ref.distill(in, in.labels, 0.5, false, Reduction.MEAN)),
        DISTILL_REVERSE_BATCHMEAN_IGNORE(true, (d, u) -> d.distillationKl(u.a, u.b, Distillation.options().temperature(2f)
                .reverse(true).ignore(u.labels, IGNORE)), in -> Ref.distill(in, in.labels, 2, true, Reduction.BATCHMEAN)),
        DISTILL_REVERSE_SUM(false, (d, u) -> d.distillationKl(u.a, u.b, Distillation.options().reverse(true).reduction(Reduction.SUM)),
                in -> Ref.distill(in, null, 1, true, Reduction.SUM)),
        DISTILL_NONE_ALL_IGNORED(false, (d, u) -> d.distillationKl(u.a, u.b, Distillation.options().reduction(Reduction.NONE)
                .ignore(u.allIgnored, IGNORE)), in -> Ref.distill(in, in.allIgnored, 1, false, Reduction.NONE)),
        DISTILL_BATCHMEAN_ALL_IGNORED(false, (d, u) -> d.distillationKl(u.a, u.b, Distillation.options().ignore(u.allIgnored, IGNORE)),
                in -> Ref.distill(in, in.allIgnored, 1, false, Reduction.BATCHMEAN)),
        CE_MEAN(true, (d, u) -> d.crossEntropy(u.a, u.labels), in -> Ref.ce(in, in.labels, false, Reduction.MEAN, 0, 0)),
        CE_NONE(false, (d, u) -> d.crossEntropy(u.a, u.labels, CrossEntropy.options().reduction(Reduction.NONE)),
                in -> Ref.ce(in, in.labels, false, Reduction.NONE, 0, 0)),
        CE_SUM_WEIGHTS_SMOOTHING(false, (d, u) -> d.crossEntropy(u.a, u.labels, CrossEntropy.options().reduction(Reduction.SUM)
                .weights(u.weights).labelSmoothing(0.1f)), in -> Ref.ce(in, in.labels, true, Reduction.SUM, 0.1, 0)),
        CE_MEAN_WEIGHTS_SMOOTHING_ZLOSS(true, (d, u) -> d.crossEntropy(u.a, u.labels, CrossEntropy.options().weights(u.weights)
                .labelSmoothing(0.2f).zLoss(1e-3f)), in -> Ref.ce(in, in.labels, true, Reduction.MEAN, 0.2, 1e-3)),
        CE_NONE_SMOOTHING_ZLOSS(false, (d, u) -> d.crossEntropy(u.a, u.labels, CrossEntropy.options().reduction(Reduction.NONE)
                .labelSmoothing(0.3f).zLoss(1e-2f)), in -> Ref.ce(in, in.labels, false, Reduction.NONE, 0.3, 1e-2)),
        CE_MEAN_ALL_IGNORED(false, (d, u) -> d.crossEntropy(u.a, u.allIgnored, CrossEntropy.options().weights(u.weights)),
                in -> Ref.ce(in, in.allIgnored, true, Reduction.MEAN, 0, 0)),
        SOFT_CE_MEAN(true, (d, u) -> d.crossEntropy(u.a, u.probs, CrossEntropy.options()),
                in -> Ref.softCe(in, false, Reduction.MEAN, 0, 0)),
        SOFT_CE_NONE_WEIGHTS_SMOOTHING_ZLOSS(false, (d, u) -> d.crossEntropy(u.a, u.probs, CrossEntropy.options()
                .reduction(Reduction.NONE).weights(u.weights).labelSmoothing(0.1f).zLoss(1e-3f)),
                in -> Ref.softCe(in, true, Reduction.NONE, 0.1, 1e-3)),
        SOFT_CE_SUM_WEIGHTS(false, (d, u) -> d.crossEntropy(u.a, u.probs, CrossEntropy.options().reduction(Reduction.SUM)
                .weights(u.weights)), in -> Ref.softCe(in, true, Reduction.SUM, 0, 0)),
        JSD_HALF_BATCHMEAN(true, (d, u) -> d.jsd(u.a, u.b, 0.5f, Reduction.BATCHMEAN), in -> Ref.jsd(in, 0.5, false, Reduction.BATCHMEAN)),
        JSD_0_NONE(false, (d, u) -> d.jsd(u.a, u.b, 0f, Reduction.NONE), in -> Ref.jsd(in, 0, false, Reduction.NONE)),
        JSD_1_SUM(false, (d, u) -> d.jsd(u.a, u.b, 1f, Reduction.SUM), in -> Ref.jsd(in, 1, false, Reduction.SUM)),
        JSD_03_MEAN(false, (d, u) -> d.jsd(u.a, u.b, 0.3f, Reduction.MEAN), in -> Ref.jsd(in, 0.3f, false, Reduction.MEAN)),
        SYMMETRIC_KL_BATCHMEAN(true, (d, u) -> d.symmetricKl(u.b, u.a, Reduction.BATCHMEAN), in -> Ref.jsd(in, 0, true, Reduction.BATCHMEAN)),
        SYMMETRIC_KL_NONE(false, (d, u) -> d.symmetricKl(u.b, u.a, Reduction.NONE), in -> Ref.jsd(in, 0, true, Reduction.NONE)),
        ENTROPY_MEAN(true, (d, u) -> d.entropy(u.a, Reduction.MEAN), in -> Ref.entropy(in, Reduction.MEAN)),
        ENTROPY_NONE(false, (d, u) -> d.entropy(u.a, Reduction.NONE), in -> Ref.entropy(in, Reduction.NONE)),
        ENTROPY_SUM(false, (d, u) -> d.entropy(u.a, Reduction.SUM), in -> Ref.entropy(in, Reduction.SUM)),
        KERAS_KL_BATCHMEAN(true, (d, u) -> d.kerasKl(u.probs, u.pred, Reduction.BATCHMEAN, false),
                in -> Ref.kerasKl(in, false, Reduction.BATCHMEAN)),
        KERAS_KL_NONE_BITS(false, (d, u) -> d.kerasKl(u.probs, u.pred, Reduction.NONE, true), in -> Ref.kerasKl(in, true, Reduction.NONE)),
        KERAS_KL_MEAN_BITS(false, (d, u) -> d.kerasKl(u.probs, u.pred, Reduction.MEAN, true), in -> Ref.kerasKl(in, true, Reduction.MEAN)),
        GAUSSIAN_KL_SUM(true, (d, u) -> d.gaussianKl(u.a, u.d, u.c, u.b, Reduction.SUM), in -> Ref.gaussian(in, true, Reduction.SUM)),
        GAUSSIAN_KL_NONE(false, (d, u) -> d.gaussianKl(u.a, u.d, u.c, u.b, Reduction.NONE), in -> Ref.gaussian(in, true, Reduction.NONE)),
        GAUSSIAN_KL_STANDARD_BATCHMEAN(true, (d, u) -> d.gaussianKl(u.c, u.d, Reduction.BATCHMEAN),
                in -> Ref.gaussian(in, false, Reduction.BATCHMEAN)),
        GAUSSIAN_KL_STANDARD_MEAN(false, (d, u) -> d.gaussianKl(u.c, u.d, Reduction.MEAN), in -> Ref.gaussian(in, false, Reduction.MEAN));

        final boolean wide;
        final BiFunction<Device, Uploaded, Loss> call;
        final Function<Inputs, double[][]> reference;

        Case(boolean wide, BiFunction<Device, Uploaded, Loss> call, Function<Inputs, double[][]> reference) {
            this.wide = wide;
            this.call = call;
            this.reference = reference;
        }
    }

    /** Host data for one shape. */
    static final class Inputs {
        final int rows;
        final int cols;
        final float[] a;        // student logits / logits / P logits / mu1
        final float[] b;        // teacher logits / Q logits / logvar1
        final float[] c;        // mu2
        final float[] d;        // logvar2
        final float[] probs;    // soft targets / yTrue (rows sum to 1)
        final float[] pred;     // yPred: probabilities, some out of [1e-7, 1] with edges
        final float[] weights;  // [1, cols], positive
        final int[] labels;     // classes, row 1 (and every 7th) ignored
        final int[] allIgnored;

        Inputs(int rows, int cols, boolean edges) {
            this.rows = rows;
            this.cols = cols;
            Random random = new Random(17L * rows + cols + (edges ? 1 : 0));
            int n = rows * cols;
            a = new float[n];
            b = new float[n];
            c = new float[n];
            d = new float[n];
            pred = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) (random.nextGaussian() * 3);
                b[i] = (float) (random.nextGaussian() * 2);
                c[i] = (float) random.nextGaussian();
                d[i] = (float) (random.nextGaussian() * 0.5);
            }
            weights = new float[cols];
            for (int j = 0; j < cols; j++) {
                weights[j] = 0.25f + random.nextFloat();
            }
            labels = new int[rows];
            allIgnored = new int[rows];
            for (int r = 0; r < rows; r++) {
                labels[r] = (r == 1 || r % 7 == 6) ? IGNORE : random.nextInt(cols);
                allIgnored[r] = IGNORE;
            }
            probs = new float[n];
            for (int r = 0; r < rows; r++) {
                double[] p = Ref.softmax(b, r * cols, cols);
                for (int j = 0; j < cols; j++) {
                    probs[r * cols + j] = (float) p[j];
                    pred[r * cols + j] = (float) (random.nextDouble() * 2.0 / cols);
                }
            }
            if (edges && cols > 2) {
                for (int r = 0; r < rows; r++) {
                    if (r == 1) {
                        continue;
                    }
                    int o = r * cols;
                    a[o + cols / 2] = Float.NEGATIVE_INFINITY;  // masked in both
                    b[o + cols / 2] = Float.NEGATIVE_INFINITY;
                    probs[o + cols / 2] = 0f;
                    a[o + cols - 1] = 1000f;
                    b[o + 1] = -1000f;
                    a[o + 1] = r == 0 ? -1000f : a[o + 1];
                    pred[o] = 0f;
                    pred[o + 1] = 1.5f;
                    pred[o + cols / 2] = -0.25f;
                    b[o] = r == 2 ? 5f : b[o];
                    d[o + cols - 1] = 8f;
                    d[o + 1] = -8f;
                    if (labels[r] == cols / 2) {
                        labels[r] = 0;
                    }
                }
            }
        }
    }

    static final class Uploaded implements AutoCloseable {
        final Tensor a;
        final Tensor b;
        final Tensor c;
        final Tensor d;
        final Tensor probs;
        final Tensor pred;
        final Tensor weights;
        final Labels labels;
        final Labels allIgnored;

        Uploaded(Device device, Inputs in) {
            a = device.upload(in.a, in.rows, in.cols);
            b = device.upload(in.b, in.rows, in.cols);
            c = device.upload(in.c, in.rows, in.cols);
            d = device.upload(in.d, in.rows, in.cols);
            probs = device.upload(in.probs, in.rows, in.cols);
            pred = device.upload(in.pred, in.rows, in.cols);
            weights = device.upload(in.weights, 1, in.cols);
            labels = device.uploadLabels(in.labels);
            allIgnored = device.uploadLabels(in.allIgnored);
        }

        @Override
        public void close() {
            for (Tensor t : new Tensor[] {a, b, c, d, probs, pred, weights}) {
                t.close();
            }
            labels.close();
            allIgnored.close();
        }
    }

    /** The losses in double precision, straight from notes/losses-spec.md. Each returns {value, gradients...}. */
    static final class Ref {
        static double[] logSoftmax(float[] x, int offset, int n, double scale) {
            double m = Double.NEGATIVE_INFINITY;
            boolean nan = false;
            for (int i = 0; i < n; i++) {
                double v = x[offset + i] / scale;
                nan |= Double.isNaN(v);
                m = Math.max(m, v);
            }
            double s = 0;
            for (int i = 0; i < n; i++) {
                s += Math.exp(x[offset + i] / scale - m);
            }
            double[] out = new double[n];
            for (int i = 0; i < n; i++) {
                out[i] = nan || m == Double.NEGATIVE_INFINITY ? Double.NaN : (x[offset + i] / scale - m) - Math.log(s);
            }
            return out;
        }

        static double[] softmax(float[] x, int offset, int n) {
            double[] l = logSoftmax(x, offset, n, 1);
            for (int i = 0; i < n; i++) {
                l[i] = Math.exp(l[i]);
            }
            return l;
        }

        static double klTerm(double p, double logp, double logq) {
            return p == 0 ? 0 : p * (logp - logq);
        }

        /** PyTorch's divisors for kl_div-style reductions; NONE: per row (1). */
        static double divisor(Reduction r, Inputs in) {
            return r == Reduction.MEAN ? (double) in.rows * in.cols : r == Reduction.BATCHMEAN ? in.rows : 1;
        }

        static double[] reduce(double[] rowLoss, Reduction r, double divisor) {
            if (r == Reduction.NONE) {
                return rowLoss;
            }
            double sum = 0;
            for (double v : rowLoss) {
                sum += v;
            }
            return new double[] {sum / divisor};
        }

        static double[][] distill(Inputs in, int[] labels, double t, boolean reverse, Reduction r) {
            int rows = in.rows;
            int cols = in.cols;
            int counted = 0;
            for (int i = 0; i < rows; i++) {
                counted += labels == null || labels[i] != IGNORE ? 1 : 0;
            }
            double divisor = r == Reduction.MEAN ? (double) counted * cols : r == Reduction.BATCHMEAN ? counted : 1;
            double gdiv = r == Reduction.NONE ? 1 : divisor;
            double[] loss = new double[rows];
            double[] grad = new double[rows * cols];
            for (int i = 0; i < rows; i++) {
                if (labels != null && labels[i] == IGNORE) {
                    continue;
                }
                double[] lq = logSoftmax(in.a, i * cols, cols, t);
                double[] lp = logSoftmax(in.b, i * cols, cols, t);
                double kl = 0;
                for (int j = 0; j < cols; j++) {
                    kl += reverse ? klTerm(Math.exp(lq[j]), lq[j], lp[j]) : klTerm(Math.exp(lp[j]), lp[j], lq[j]);
                }
                loss[i] = t * t * kl;
                for (int j = 0; j < cols; j++) {
                    double q = Math.exp(lq[j]);
                    grad[i * cols + j] = reverse ? (q == 0 ? 0 : t * q * ((lq[j] - lp[j]) - kl) / gdiv)
                            : t * (q - Math.exp(lp[j])) / gdiv;
                }
            }
            return new double[][] {reduce(loss, r, divisor), grad};
        }

        static double[][] ce(Inputs in, int[] labels, boolean weighted, Reduction r, double eps, double z) {
            int rows = in.rows;
            int cols = in.cols;
            double[] w = new double[cols];
            double sumW = 0;
            for (int j = 0; j < cols; j++) {
                w[j] = weighted ? in.weights[j] : 1;
                sumW += w[j];
            }
            double bigW = 0;
            int n = 0;
            for (int label : labels) {
                if (label != IGNORE) {
                    bigW += w[label];
                    n++;
                }
            }
            double k = r == Reduction.MEAN ? 1 / bigW : 1;
            double kz = r == Reduction.MEAN ? 1.0 / n : 1;
            double[] loss = new double[rows];
            double[] grad = new double[rows * cols];
            double ceSum = 0;
            double zSum = 0;
            for (int i = 0; i < rows; i++) {
                int y = labels[i];
                if (y == IGNORE) {
                    continue;
                }
                double[] lp = logSoftmax(in.a, i * cols, cols, 1);
                double lse = in.a[i * cols] - lp[0];
                double smooth = 0;
                for (int j = 0; j < cols; j++) {
                    smooth -= w[j] * lp[j];
                }
                double ce = (1 - eps) * -w[y] * lp[y] + (eps == 0 ? 0 : eps / cols * smooth);
                ceSum += ce;
                zSum += z * lse * lse;
                loss[i] = ce + z * lse * lse;
                for (int j = 0; j < cols; j++) {
                    double p = Math.exp(lp[j]);
                    double d = (1 - eps) * w[y] * (p - (j == y ? 1 : 0)) + (eps == 0 ? 0 : eps / cols * (p * sumW - w[j]));
                    grad[i * cols + j] = k * d + kz * 2 * z * lse * p;
                }
            }
            double[] value = r == Reduction.NONE ? loss : r == Reduction.SUM ? reduce(loss, r, 1)
                    : new double[] {ceSum / bigW + zSum / n};
            return new double[][] {value, grad};
        }

        static double[][] softCe(Inputs in, boolean weighted, Reduction r, double eps, double z) {
            int rows = in.rows;
            int cols = in.cols;
            double k = r == Reduction.MEAN ? 1.0 / rows : 1;
            double[] loss = new double[rows];
            double[] grad = new double[rows * cols];
            for (int i = 0; i < rows; i++) {
                double[] lp = logSoftmax(in.a, i * cols, cols, 1);
                double lse = in.a[i * cols] - lp[0];
                double[] wt = new double[cols];
                double sumWt = 0;
                double l = 0;
                for (int j = 0; j < cols; j++) {
                    wt[j] = (weighted ? in.weights[j] : 1) * ((1 - eps) * in.probs[i * cols + j] + eps / cols);
                    sumWt += wt[j];
                    l -= wt[j] * lp[j];
                }
                loss[i] = l + z * lse * lse;
                for (int j = 0; j < cols; j++) {
                    double p = Math.exp(lp[j]);
                    grad[i * cols + j] = k * (p * sumWt - wt[j]) + k * 2 * z * lse * p;
                }
            }
            return new double[][] {reduce(loss, r, r == Reduction.MEAN ? rows : 1), grad};
        }

        /** Generalized JSD of P = softmax(b), Q = softmax(a); symmetric: KL(P||Q) + KL(Q||P). {value, dA, dB}. */
        static double[][] jsd(Inputs in, double beta, boolean symmetric, Reduction r) {
            int rows = in.rows;
            int cols = in.cols;
            double divisor = divisor(r, in);
            double gdiv = r == Reduction.NONE ? 1 : divisor;
            double[] loss = new double[rows];
            double[] ga = new double[rows * cols];
            double[] gb = new double[rows * cols];
            for (int i = 0; i < rows; i++) {
                double[] lq = logSoftmax(in.a, i * cols, cols, 1);
                double[] lp = logSoftmax(in.b, i * cols, cols, 1);
                double[] gP = new double[cols];
                double[] gQ = new double[cols];
                double sp = 0;
                double sq = 0;
                for (int j = 0; j < cols; j++) {
                    double q = Math.exp(lq[j]);
                    double p = Math.exp(lp[j]);
                    if (symmetric || beta == 0 || beta == 1) {
                        gP[j] = symmetric || beta == 0 ? klTerm(p, lp[j], lq[j]) : 0;
                        gQ[j] = symmetric || beta == 1 ? klTerm(q, lq[j], lp[j]) : 0;
                    } else {
                        double logM = Math.log(beta * p + (1 - beta) * q);
                        gP[j] = beta * klTerm(p, lp[j], logM);
                        gQ[j] = (1 - beta) * klTerm(q, lq[j], logM);
                    }
                    sp += gP[j];
                    sq += gQ[j];
                }
                loss[i] = sp + sq;
                double cs = symmetric || beta == 0 ? 1 : 0;
                double ct = symmetric || beta == 1 ? 1 : 0;
                for (int j = 0; j < cols; j++) {
                    double q = Math.exp(lq[j]);
                    double p = Math.exp(lp[j]);
                    ga[i * cols + j] = (gQ[j] - q * sq + cs * (q - p)) / gdiv;
                    gb[i * cols + j] = (gP[j] - p * sp + ct * (p - q)) / gdiv;
                }
            }
            // symmetricKl(b, a): gradients in the order (P = b, Q = a)
            return symmetric ? new double[][] {reduce(loss, r, divisor), gb, ga} : new double[][] {reduce(loss, r, divisor), ga, gb};
        }

        static double[][] entropy(Inputs in, Reduction r) {
            int rows = in.rows;
            int cols = in.cols;
            double divisor = r == Reduction.SUM ? 1 : rows;
            double gdiv = r == Reduction.NONE ? 1 : divisor;
            double[] loss = new double[rows];
            double[] grad = new double[rows * cols];
            for (int i = 0; i < rows; i++) {
                double[] lp = logSoftmax(in.a, i * cols, cols, 1);
                double h = 0;
                for (int j = 0; j < cols; j++) {
                    h -= klTerm(Math.exp(lp[j]), lp[j], 0);
                }
                loss[i] = h;
                for (int j = 0; j < cols; j++) {
                    double p = Math.exp(lp[j]);
                    grad[i * cols + j] = p == 0 ? 0 : -p * (lp[j] + h) / gdiv;
                }
            }
            return new double[][] {reduce(loss, r, divisor), grad};
        }

        static double clip(double v) {
            return v < 1e-7f ? 1e-7f : v > 1 ? 1 : v;
        }

        static double[][] kerasKl(Inputs in, boolean bits, Reduction r) {
            int rows = in.rows;
            int cols = in.cols;
            double unit = bits ? Math.log(2) : 1;
            double divisor = divisor(r, in);
            double gdiv = r == Reduction.NONE ? 1 : divisor;
            double[] loss = new double[rows];
            double[] grad = new double[rows * cols];
            for (int k = 0; k < rows * cols; k++) {
                double t = clip(in.probs[k]);
                double q = clip(in.pred[k]);
                loss[k / cols] += t * Math.log(t / q) / unit;
                grad[k] = in.pred[k] >= 1e-7f && in.pred[k] <= 1 ? -t / q / unit / gdiv : 0;
            }
            return new double[][] {reduce(loss, r, divisor), grad};
        }

        /** full: mu1 = a, logvar1 = d, mu2 = c, logvar2 = b; standard: mu = c, logvar = d. */
        static double[][] gaussian(Inputs in, boolean full, Reduction r) {
            int rows = in.rows;
            int cols = in.cols;
            double divisor = divisor(r, in);
            double gdiv = r == Reduction.NONE ? 1 : divisor;
            double[] loss = new double[rows];
            int n = rows * cols;
            double[] gm1 = new double[n];
            double[] gv1 = new double[n];
            double[] gm2 = new double[n];
            double[] gv2 = new double[n];
            for (int k = 0; k < n; k++) {
                double m1 = full ? in.a[k] : in.c[k];
                double v1 = in.d[k];
                double m2 = full ? in.c[k] : 0;
                double v2 = full ? in.b[k] : 0;
                double dm = m1 - m2;
                loss[k / cols] += 0.5 * (v2 - v1 + (Math.exp(v1) + dm * dm) / Math.exp(v2) - 1);
                gm1[k] = dm * Math.exp(-v2) / gdiv;
                gv1[k] = 0.5 * (Math.exp(v1 - v2) - 1) / gdiv;
                gm2[k] = -gm1[k];
                gv2[k] = 0.5 * (1 - (Math.exp(v1) + dm * dm) * Math.exp(-v2)) / gdiv;
            }
            double[] value = reduce(loss, r, divisor);
            return full ? new double[][] {value, gm1, gv1, gm2, gv2} : new double[][] {value, gm1, gv1};
        }
    }
}
