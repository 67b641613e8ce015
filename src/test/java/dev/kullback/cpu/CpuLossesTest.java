package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.CrossEntropy;
import dev.kullback.Distillation;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import java.util.ArrayList;
import java.util.List;

/** The CPU losses against double-precision references written here, on both kernel sets, narrow and wide rows. */
class CpuLossesTest {

    static List<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String which : new String[] {"vector", "scalar"}) {
            for (int threads : new int[] {1, 2}) {
                out.add(Arguments.of(which, threads, 6, 37));
                out.add(Arguments.of(which, threads, 2, 9001)); // few long rows: by chunks with 2 threads
            }
        }
        return out;
    }

    // ---- references, in double ----

    static double[] logSoftmax(float[] x, int base, int cols, double invT) {
        double m = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < cols; c++) {
            m = Math.max(m, x[base + c] * invT);
        }
        double s = 0;
        for (int c = 0; c < cols; c++) {
            s += Math.exp(x[base + c] * invT - m);
        }
        double lse = m + Math.log(s);
        double[] y = new double[cols];
        for (int c = 0; c < cols; c++) {
            y[c] = x[base + c] * invT - lse;
        }
        return y;
    }

    /** Row losses (ignored: 0) in [0, rows), gradient of Σ rows / divisor in grad. */
    static double[] distillation(float[] s, float[] t, int rows, int cols, double temp, boolean reverse, int[] y,
                                 double divisor, double[] grad) {
        double[] loss = new double[rows];
        for (int r = 0; r < rows; r++) {
            if (y != null && y[r] == -100) {
                continue;
            }
            double[] lq = logSoftmax(s, r * cols, cols, 1 / temp);
            double[] lp = logSoftmax(t, r * cols, cols, 1 / temp);
            double kl = 0;
            for (int c = 0; c < cols; c++) {
                double q = Math.exp(lq[c]);
                double p = Math.exp(lp[c]);
                kl += reverse ? (q == 0 ? 0 : q * (lq[c] - lp[c])) : (p == 0 ? 0 : p * (lp[c] - lq[c]));
            }
            loss[r] = temp * temp * kl;
            for (int c = 0; c < cols; c++) {
                double q = Math.exp(lq[c]);
                double p = Math.exp(lp[c]);
                grad[r * cols + c] = (reverse ? (q == 0 ? 0 : temp * q * ((lq[c] - lp[c]) - kl)) : temp * (q - p))
                        / divisor;
            }
        }
        return loss;
    }

    static void close(double expected, float actual, double tol, String what) {
        assertTrue(Math.abs(expected - actual) <= tol * Math.max(1, Math.abs(expected)),
                () -> what + ": expected " + expected + ", got " + actual);
    }

    static void close(double[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length);
        double scale = 0;
        for (double e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            float a = actual[i];
            int at = i;
            double sc = scale;
            assertTrue(Math.abs(e - a) <= tol * Math.max(Math.abs(e), sc * 1e-2) + 1e-12,
                    () -> what + "[" + at + "]: expected " + e + ", got " + a);
        }
    }

    static int[] labels(Random random, int rows, int cols, boolean ignore) {
        int[] y = new int[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = ignore && r % 3 == 1 ? -100 : random.nextInt(cols);
        }
        return y;
    }

    @ParameterizedTest
    @MethodSource("cases")
    void distillation(String which, int threads, int rows, int cols) {
        Random random = new Random(rows * 31 + cols);
        float[] s = CpuTesting.logits(random, rows * cols, 3);
        float[] t = CpuTesting.logits(random, rows * cols, 3);
        s[5] = t[5] = Float.NEGATIVE_INFINITY; // a masked column
        try (CpuDevice device = CpuTesting.device(which, threads)) {
            Tensor st = device.upload(s, rows, cols);
            Tensor tt = device.upload(t, rows, cols);
            for (boolean reverse : new boolean[] {false, true}) {
                for (float temp : new float[] {1f, 2.5f}) {
                    for (Reduction reduction : Reduction.values()) {
                        for (boolean ignore : new boolean[] {false, true}) {
                            int[] y = ignore ? labels(random, rows, cols, true) : null;
                            Labels labels = ignore ? device.uploadLabels(y) : null;
                            int counted = 0;
                            for (int r = 0; r < rows; r++) {
                                counted += y != null && y[r] == -100 ? 0 : 1;
                            }
                            double divisor = reduction == Reduction.MEAN ? (double) counted * cols
                                    : reduction == Reduction.BATCHMEAN ? counted : 1;
                            double[] grad = new double[rows * cols];
                            double[] loss = distillation(s, t, rows, cols, temp, reverse, y, divisor, grad);
                            Distillation options = Distillation.options().temperature(temp).reverse(reverse)
                                    .reduction(reduction);
                            if (labels != null) {
                                options = options.ignore(labels, -100);
                            }
                            String what = which + " " + threads + " reverse=" + reverse + " T=" + temp + " "
                                    + reduction + " ignore=" + ignore;
                            try (Loss l = device.distillationKl(st, tt, options)) {
                                float[] v = l.value().toArray();
                                if (reduction == Reduction.NONE) {
                                    close(loss, v, 1e-4, what + " value");
                                } else {
                                    double sum = 0;
                                    for (double d : loss) {
                                        sum += d;
                                    }
                                    close(sum / divisor, v[0], 1e-4, what + " value");
                                }
                                close(grad, l.gradient().toArray(), 1e-3, what + " grad");
                            }
                            if (labels != null) {
                                labels.close();
                            }
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void crossEntropy(String which, int threads, int rows, int cols) {
        Random random = new Random(rows * 17 + cols);
        float[] z = CpuTesting.logits(random, rows * cols, 3);
        float[] w = new float[cols];
        for (int c = 0; c < cols; c++) {
            w[c] = 0.5f + random.nextFloat();
        }
        try (CpuDevice device = CpuTesting.device(which, threads)) {
            Tensor x = device.upload(z, rows, cols);
            Tensor wt = device.upload(w, 1, cols);
            int[] y = labels(random, rows, cols, true);
            Labels labels = device.uploadLabels(y);
            for (Reduction reduction : new Reduction[] {Reduction.NONE, Reduction.SUM, Reduction.MEAN}) {
                for (boolean weighted : new boolean[] {false, true}) {
                    for (float eps : new float[] {0f, 0.1f}) {
                        for (float zl : new float[] {0f, 1e-3f}) {
                            double[] loss = new double[rows];
                            double[] grad = new double[rows * cols];
                            double wTotal = 0;
                            int counted = 0;
                            double wSum = 0;
                            for (int c = 0; c < cols; c++) {
                                wSum += weighted ? w[c] : 1;
                            }
                            for (int r = 0; r < rows; r++) {
                                if (y[r] != -100) {
                                    counted++;
                                    wTotal += weighted ? w[y[r]] : 1;
                                }
                            }
                            boolean mean = reduction == Reduction.MEAN;
                            double k = mean ? 1 / wTotal : 1;
                            double kz = mean ? 1.0 / counted : 1;
                            double ceSum = 0;
                            double zSum = 0;
                            for (int r = 0; r < rows; r++) {
                                if (y[r] == -100) {
                                    continue;
                                }
                                double[] lp = logSoftmax(z, r * cols, cols, 1);
                                double lse = z[r * cols] - lp[0];
                                double wy = weighted ? w[y[r]] : 1;
                                double smooth = 0;
                                for (int c = 0; c < cols; c++) {
                                    smooth -= (weighted ? w[c] : 1) * lp[c];
                                }
                                double ce = (1 - eps) * -wy * lp[y[r]] + eps / cols * smooth;
                                double zp = zl * lse * lse;
                                loss[r] = ce + zp;
                                ceSum += ce;
                                zSum += zp;
                                for (int c = 0; c < cols; c++) {
                                    double p = Math.exp(lp[c]);
                                    double wc = weighted ? w[c] : 1;
                                    grad[r * cols + c] = k * ((1 - eps) * wy * (p - (c == y[r] ? 1 : 0))
                                            + eps / cols * (p * wSum - wc)) + kz * 2 * zl * lse * p;
                                }
                            }
                            CrossEntropy options = CrossEntropy.options().reduction(reduction).labelSmoothing(eps)
                                    .zLoss(zl);
                            if (weighted) {
                                options = options.weights(wt);
                            }
                            String what = which + " " + threads + " " + reduction + " w=" + weighted + " eps=" + eps
                                    + " z=" + zl;
                            try (Loss l = device.crossEntropy(x, labels, options)) {
                                float[] v = l.value().toArray();
                                if (reduction == Reduction.NONE) {
                                    close(loss, v, 1e-4, what + " value");
                                } else if (reduction == Reduction.SUM) {
                                    close(ceSum + zSum, v[0], 1e-4, what + " value");
                                } else {
                                    close(ceSum / wTotal + zSum / counted, v[0], 1e-4, what + " value");
                                }
                                close(grad, l.gradient().toArray(), 1e-3, what + " grad");
                            }
                        }
                    }
                }
            }
            labels.close();
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void entropy(String which, int threads, int rows, int cols) {
        Random random = new Random(rows * 7 + cols);
        float[] z = CpuTesting.logits(random, rows * cols, 3);
        z[3] = Float.NEGATIVE_INFINITY;
        try (CpuDevice device = CpuTesting.device(which, threads)) {
            Tensor x = device.upload(z, rows, cols);
            for (Reduction reduction : Reduction.values()) {
                double divisor = reduction == Reduction.MEAN || reduction == Reduction.BATCHMEAN ? rows : 1;
                double[] loss = new double[rows];
                double[] grad = new double[rows * cols];
                double total = 0;
                for (int r = 0; r < rows; r++) {
                    double[] lp = logSoftmax(z, r * cols, cols, 1);
                    double h = 0;
                    for (int c = 0; c < cols; c++) {
                        double p = Math.exp(lp[c]);
                        h -= p == 0 ? 0 : p * lp[c];
                    }
                    loss[r] = h;
                    total += h;
                    for (int c = 0; c < cols; c++) {
                        double p = Math.exp(lp[c]);
                        grad[r * cols + c] = p == 0 ? 0 : -p * (lp[c] + h) / divisor;
                    }
                }
                try (Loss l = device.entropy(x, reduction)) {
                    float[] v = l.value().toArray();
                    if (reduction == Reduction.NONE) {
                        close(loss, v, 1e-4, which + " " + reduction);
                    } else {
                        close(total / divisor, v[0], 1e-4, which + " " + reduction);
                    }
                    close(grad, l.gradient().toArray(), 1e-3, which + " " + reduction + " grad");
                }
            }
        }
    }
}
