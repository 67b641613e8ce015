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

    @ParameterizedTest
    @MethodSource("cases")
    void softCrossEntropy(String which, int threads, int rows, int cols) {
        Random random = new Random(rows * 13 + cols);
        float[] z = CpuTesting.logits(random, rows * cols, 3);
        float[] t = CpuTesting.probabilities(random, rows, cols, 0.2);
        float[] w = new float[cols];
        for (int c = 0; c < cols; c++) {
            w[c] = 0.5f + random.nextFloat();
        }
        try (CpuDevice device = CpuTesting.device(which, threads)) {
            Tensor x = device.upload(z, rows, cols);
            Tensor tt = device.upload(t, rows, cols);
            Tensor wt = device.upload(w, 1, cols);
            for (Reduction reduction : new Reduction[] {Reduction.NONE, Reduction.SUM, Reduction.MEAN}) {
                for (boolean weighted : new boolean[] {false, true}) {
                    for (float eps : new float[] {0f, 0.1f}) {
                        for (float zl : new float[] {0f, 1e-3f}) {
                            double k = reduction == Reduction.MEAN ? 1.0 / rows : 1;
                            double[] loss = new double[rows];
                            double[] grad = new double[rows * cols];
                            double total = 0;
                            for (int r = 0; r < rows; r++) {
                                double[] lp = logSoftmax(z, r * cols, cols, 1);
                                double lse = z[r * cols] - lp[0];
                                double l = 0;
                                double swt = 0;
                                for (int c = 0; c < cols; c++) {
                                    double tp = (1 - eps) * t[r * cols + c] + eps / cols;
                                    double wc = weighted ? w[c] : 1;
                                    l -= wc * tp * lp[c];
                                    swt += wc * tp;
                                }
                                l += zl * lse * lse;
                                loss[r] = l;
                                total += l;
                                for (int c = 0; c < cols; c++) {
                                    double tp = (1 - eps) * t[r * cols + c] + eps / cols;
                                    double wc = weighted ? w[c] : 1;
                                    double p = Math.exp(lp[c]);
                                    grad[r * cols + c] = k * (p * swt - wc * tp) + k * 2 * zl * lse * p;
                                }
                            }
                            CrossEntropy options = CrossEntropy.options().reduction(reduction).labelSmoothing(eps)
                                    .zLoss(zl);
                            if (weighted) {
                                options = options.weights(wt);
                            }
                            String what = which + " " + threads + " " + reduction + " w=" + weighted + " eps=" + eps
                                    + " z=" + zl;
                            try (Loss l = device.crossEntropy(x, tt, options)) {
                                float[] v = l.value().toArray();
                                if (reduction == Reduction.NONE) {
                                    close(loss, v, 1e-4, what + " value");
                                } else {
                                    close(total * k, v[0], 1e-4, what + " value");
                                }
                                close(grad, l.gradient().toArray(), 1e-3, what + " grad");
                            }
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void kerasKl(String which, int threads, int rows, int cols) {
        Random random = new Random(rows * 11 + cols);
        float[] t = CpuTesting.probabilities(random, rows, cols, 0.2);
        float[] q = CpuTesting.probabilities(random, rows, cols, 0.1);
        q[1] = 1.5f; // out of the clip range: gradient 0
        try (CpuDevice device = CpuTesting.device(which, threads)) {
            Tensor tt = device.upload(t, rows, cols);
            Tensor qt = device.upload(q, rows, cols);
            for (Reduction reduction : Reduction.values()) {
                for (boolean bits : new boolean[] {false, true}) {
                    double divisor = reduction == Reduction.MEAN ? (double) rows * cols
                            : reduction == Reduction.BATCHMEAN ? rows : 1;
                    double unit = bits ? Math.log(2) : 1;
                    double[] loss = new double[rows];
                    double[] grad = new double[rows * cols];
                    double total = 0;
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < cols; c++) {
                            int i = r * cols + c;
                            double tc = Math.min(Math.max(t[i], 1e-7f), 1);
                            double qc = Math.min(Math.max(q[i], 1e-7f), 1);
                            loss[r] += tc * Math.log(tc / qc) / unit;
                            grad[i] = q[i] >= 1e-7f && q[i] <= 1 ? -tc / qc / unit / divisor : 0;
                        }
                        total += loss[r];
                    }
                    try (Loss l = device.kerasKl(tt, qt, reduction, bits)) {
                        float[] v = l.value().toArray();
                        if (reduction == Reduction.NONE) {
                            close(loss, v, 1e-4, which + " " + reduction);
                        } else {
                            close(total / divisor, v[0], 1e-4, which + " " + reduction);
                        }
                        close(grad, l.gradient().toArray(), 1e-4, which + " " + reduction + " grad");
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void gaussianKl(String which, int threads, int rows, int cols) {
        Random random = new Random(rows * 5 + cols);
        float[] m1 = CpuTesting.logits(random, rows * cols, 1);
        float[] v1 = CpuTesting.logits(random, rows * cols, 1);
        float[] m2 = CpuTesting.logits(random, rows * cols, 1);
        float[] v2 = CpuTesting.logits(random, rows * cols, 1);
        try (CpuDevice device = CpuTesting.device(which, threads)) {
            Tensor a = device.upload(m1, rows, cols);
            Tensor b = device.upload(v1, rows, cols);
            Tensor c2 = device.upload(m2, rows, cols);
            Tensor d = device.upload(v2, rows, cols);
            for (Reduction reduction : Reduction.values()) {
                double divisor = reduction == Reduction.MEAN ? (double) rows * cols
                        : reduction == Reduction.BATCHMEAN ? rows : 1;
                for (boolean standard : new boolean[] {false, true}) {
                    double[] loss = new double[rows];
                    double[][] g = new double[4][rows * cols];
                    double total = 0;
                    for (int i = 0; i < rows * cols; i++) {
                        double mu2 = standard ? 0 : m2[i];
                        double lv2 = standard ? 0 : v2[i];
                        double diff = m1[i] - mu2;
                        double e = 0.5 * (lv2 - v1[i] + (Math.exp(v1[i]) + diff * diff) / Math.exp(lv2) - 1);
                        loss[i / cols] += e;
                        total += e;
                        g[0][i] = diff * Math.exp(-lv2) / divisor;
                        g[1][i] = 0.5 * (Math.exp(v1[i] - lv2) - 1) / divisor;
                        g[2][i] = -g[0][i];
                        g[3][i] = 0.5 * (1 - (Math.exp(v1[i]) + diff * diff) * Math.exp(-lv2)) / divisor;
                    }
                    try (Loss l = standard ? device.gaussianKl(a, b, reduction)
                            : device.gaussianKl(a, b, c2, d, reduction)) {
                        float[] v = l.value().toArray();
                        if (reduction == Reduction.NONE) {
                            close(loss, v, 1e-5, which + " " + reduction);
                        } else {
                            close(total / divisor, v[0], 1e-5, which + " " + reduction);
                        }
                        for (int i = 0; i < l.gradientCount(); i++) {
                            close(g[i], l.gradient(i).toArray(), 1e-5, which + " " + reduction + " grad " + i);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void distillationEdges(String which, int threads, int rows, int cols) {
        Random random = new Random(3);
        float[] s = new float[rows * cols];
        float[] t = new float[rows * cols];
        for (int i = 0; i < s.length; i++) {
            s[i] = random.nextBoolean() ? 1000f : -1000f + random.nextFloat();
            t[i] = random.nextBoolean() ? 1000f : -1000f + random.nextFloat();
        }
        for (int c = 0; c < cols; c += 3) { // masked vocabulary in row 0
            s[c] = t[c] = Float.NEGATIVE_INFINITY;
        }
        try (CpuDevice device = CpuTesting.device(which, threads)) {
            for (boolean reverse : new boolean[] {false, true}) {
                double[] grad = new double[rows * cols];
                double[] loss = distillation(s, t, rows, cols, 1, reverse, null, 1, grad);
                Tensor st = device.upload(s, rows, cols);
                Tensor tt = device.upload(t, rows, cols);
                try (Loss l = device.distillationKl(st, tt, Distillation.options().reverse(reverse)
                        .reduction(Reduction.NONE))) {
                    close(loss, l.value().toArray(), 1e-4, "±1000 " + reverse);
                    float[] g = l.gradient().toArray();
                    close(grad, g, 1e-3, "±1000 grad " + reverse);
                    for (int c = 0; c < cols; c += 3) {
                        assertEquals(0f, g[c], "masked column gradient");
                    }
                }
                // a NaN logit: NaN loss for its row only
                float[] s2 = s.clone();
                s2[cols + 1] = Float.NaN;
                Tensor st2 = device.upload(s2, rows, cols);
                try (Loss l = device.distillationKl(st2, tt, Distillation.options().reverse(reverse)
                        .reduction(Reduction.NONE))) {
                    float[] v = l.value().toArray();
                    assertTrue(Float.isNaN(v[1]));
                    assertTrue(Float.isFinite(v[0]));
                }
                // every row ignored: NaN value, zero gradient
                int[] y = new int[rows];
                java.util.Arrays.fill(y, -100);
                Labels labels = device.uploadLabels(y);
                try (Loss l = device.distillationKl(st, tt, Distillation.options().ignore(labels, -100))) {
                    assertTrue(Float.isNaN(l.value().toArray()[0]));
                    for (float g : l.gradient().toArray()) {
                        assertEquals(0f, g);
                    }
                }
                labels.close();
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void deterministicAcrossThreads(String which, int threads, int rows, int cols) {
        Random random = new Random(9);
        float[] s = CpuTesting.logits(random, rows * cols, 4);
        float[] t = CpuTesting.logits(random, rows * cols, 4);
        int[] y = labels(random, rows, cols, true);
        float[][] results = new float[2][];
        for (int run = 0; run < 2; run++) {
            try (CpuDevice device = CpuTesting.device(which, run == 0 ? 1 : threads + 1)) {
                Tensor st = device.upload(s, rows, cols);
                Tensor tt = device.upload(t, rows, cols);
                Labels labels = device.uploadLabels(y);
                List<Float> all = new ArrayList<>();
                for (Loss l : new Loss[] {device.distillationKl(st, tt, 2f),
                        device.distillationKl(st, tt, Distillation.options().reverse(true)),
                        device.crossEntropy(st, labels, CrossEntropy.options().labelSmoothing(0.1f).zLoss(1e-4f)),
                        device.entropy(st, Reduction.MEAN), device.jsd(st, tt, 0.3f, Reduction.NONE),
                        device.jsd(st, tt, 1f, Reduction.BATCHMEAN), device.symmetricKl(st, tt, Reduction.SUM)}) {
                    for (float f : l.value().toArray()) {
                        all.add(f);
                    }
                    for (float f : l.gradient().toArray()) {
                        all.add(f);
                    }
                    if (l.gradientCount() > 1) {
                        for (float f : l.gradient(1).toArray()) {
                            all.add(f);
                        }
                    }
                    l.close();
                }
                results[run] = new float[all.size()];
                for (int i = 0; i < all.size(); i++) {
                    results[run][i] = all.get(i);
                }
            }
        }
        assertTrue(CpuTesting.sameBits(results[0], results[1]), "results differ with the thread count");
    }

    // ---- jsd and symmetric KL: double references, analytic gradients, and a finite-difference check ----

    static double[] logSoftmax(double[] x, int base, int cols) {
        double m = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < cols; c++) {
            m = Math.max(m, x[base + c]);
        }
        double s = 0;
        for (int c = 0; c < cols; c++) {
            s += Math.exp(x[base + c] - m);
        }
        double lse = m + Math.log(s);
        double[] y = new double[cols];
        for (int c = 0; c < cols; c++) {
            y[c] = x[base + c] - lse;
        }
        return y;
    }

    static double[] widen(float[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i];
        }
        return y;
    }

    /** p log(p / q) with xlogy's 0 for p == 0, from log-probabilities. */
    static double xlog(double p, double lp, double lq) {
        return p == 0 ? 0 : p * (lp - lq);
    }

    /**
     * Row losses of Liger's generalized JSD (P = softmax(t), Q = softmax(s)) when {@code symmetric} is false, else of
     * KL(A || B) + KL(B || A) with A = softmax(s), B = softmax(t); the gradients of Σ rows / divisor into gs and gt
     * (when not null).
     */
    static double[] pairLoss(double[] s, double[] t, int rows, int cols, double beta, boolean symmetric,
                             double divisor, double[] gs, double[] gt) {
        double[] loss = new double[rows];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            double[] lq = logSoftmax(s, base, cols);
            double[] lp = logSoftmax(t, base, cols);
            double[] q = new double[cols];
            double[] p = new double[cols];
            double[] lm = new double[cols];
            for (int c = 0; c < cols; c++) {
                q[c] = Math.exp(lq[c]);
                p[c] = Math.exp(lp[c]);
                lm[c] = Math.log(beta * p[c] + (1 - beta) * q[c]);
            }
            // gq, gp: dL/dlog Q, dL/dlog P (then d/dz = g - prob * Σ g)
            double[] gq = new double[cols];
            double[] gp = new double[cols];
            double l = 0;
            for (int c = 0; c < cols; c++) {
                if (symmetric) {
                    double d = lq[c] - lp[c];
                    l += xlog(q[c], lq[c], lp[c]) + xlog(p[c], lp[c], lq[c]);
                    gq[c] = xlog(q[c], lq[c], lp[c]) + q[c] - p[c];
                    gp[c] = xlog(p[c], lp[c], lq[c]) + p[c] - q[c];
                } else if (beta == 0) {
                    l += xlog(p[c], lp[c], lq[c]);
                    gq[c] = -p[c];
                    gp[c] = xlog(p[c], lp[c], lq[c]) + p[c];
                } else if (beta == 1) {
                    l += xlog(q[c], lq[c], lp[c]);
                    gp[c] = -q[c];
                    gq[c] = xlog(q[c], lq[c], lp[c]) + q[c];
                } else {
                    l += beta * xlog(p[c], lp[c], lm[c]) + (1 - beta) * xlog(q[c], lq[c], lm[c]);
                    gp[c] = beta * xlog(p[c], lp[c], lm[c]);
                    gq[c] = (1 - beta) * xlog(q[c], lq[c], lm[c]);
                }
            }
            loss[r] = l;
            if (gs != null) {
                double sq = 0;
                double sp = 0;
                for (int c = 0; c < cols; c++) {
                    sq += gq[c];
                    sp += gp[c];
                }
                for (int c = 0; c < cols; c++) {
                    gs[base + c] = (gq[c] - q[c] * sq) / divisor;
                    gt[base + c] = (gp[c] - p[c] * sp) / divisor;
                }
            }
        }
        return loss;
    }

    static double total(double[] loss) {
        double sum = 0;
        for (double d : loss) {
            sum += d;
        }
        return sum;
    }

    static double divisor(Reduction reduction, int rows, int cols) {
        return reduction == Reduction.MEAN ? (double) rows * cols : reduction == Reduction.BATCHMEAN ? rows : 1;
    }

    static Loss pairLoss(CpuDevice device, Tensor st, Tensor tt, double beta, boolean symmetric, Reduction reduction) {
        return symmetric ? device.symmetricKl(st, tt, reduction) : device.jsd(st, tt, (float) beta, reduction);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void jsdAndSymmetricKl(String which, int threads, int rows, int cols) {
        Random random = new Random(rows * 13 + cols);
        float[] s = CpuTesting.logits(random, rows * cols, 3);
        float[] t = CpuTesting.logits(random, rows * cols, 3);
        s[5] = t[5] = Float.NEGATIVE_INFINITY; // a masked column
        s[cols + 2] = t[cols + 2] = Float.NEGATIVE_INFINITY;
        double[] sd = widen(s);
        double[] td = widen(t);
        try (CpuDevice device = CpuTesting.device(which, threads)) {
            Tensor st = device.upload(s, rows, cols);
            Tensor tt = device.upload(t, rows, cols);
            for (double beta : new double[] {0, 0.1f, 0.5, 0.9f, 1, -1}) {
                boolean symmetric = beta < 0;
                for (Reduction reduction : Reduction.values()) {
                    double divisor = divisor(reduction, rows, cols);
                    double[] gs = new double[rows * cols];
                    double[] gt = new double[rows * cols];
                    double[] loss = pairLoss(sd, td, rows, cols, beta, symmetric, divisor, gs, gt);
                    String what = which + " " + threads + (symmetric ? " symmetricKl " : " jsd beta=" + beta + " ")
                            + reduction;
                    try (Loss l = pairLoss(device, st, tt, beta, symmetric, reduction)) {
                        float[] v = l.value().toArray();
                        if (reduction == Reduction.NONE) {
                            close(loss, v, 1e-4, what + " value");
                        } else {
                            close(total(loss) / divisor, v[0], 1e-4, what + " value");
                        }
                        float[] g0 = l.gradient(0).toArray();
                        float[] g1 = l.gradient(1).toArray();
                        close(gs, g0, 1e-3, what + " grad 0");
                        close(gt, g1, 1e-3, what + " grad 1");
                        for (int i : new int[] {5, cols + 2}) {
                            assertEquals(0f, g0[i], what + " masked column gradient 0");
                            assertEquals(0f, g1[i], what + " masked column gradient 1");
                        }
                    }
                }
            }
            // a NaN logit: NaN loss for its row only
            float[] s2 = s.clone();
            s2[cols + 1] = Float.NaN;
            Tensor st2 = device.upload(s2, rows, cols);
            for (double beta : new double[] {0, 0.5, 1, -1}) {
                try (Loss l = pairLoss(device, st2, tt, beta, beta < 0, Reduction.NONE)) {
                    float[] v = l.value().toArray();
                    assertTrue(Float.isNaN(v[1]), "NaN row, beta " + beta);
                    assertTrue(Float.isFinite(v[0]), "finite row, beta " + beta);
                }
            }
        }
    }

    /** The gradients of both logits against a central finite difference of the double reference. */
    @ParameterizedTest
    @MethodSource("cases")
    void jsdAndSymmetricKlFiniteDifference(String which, int threads, int ignoredRows, int ignoredCols) {
        int rows = 3;
        int cols = 7;
        Random random = new Random(77);
        float[] s = CpuTesting.logits(random, rows * cols, 2);
        float[] t = CpuTesting.logits(random, rows * cols, 2);
        s[4] = t[4] = Float.NEGATIVE_INFINITY;
        double h = 1e-4;
        try (CpuDevice device = CpuTesting.device(which, threads)) {
            Tensor st = device.upload(s, rows, cols);
            Tensor tt = device.upload(t, rows, cols);
            for (double beta : new double[] {0, 0.3f, 1, -1}) {
                boolean symmetric = beta < 0;
                for (Reduction reduction : new Reduction[] {Reduction.NONE, Reduction.MEAN}) {
                    double divisor = divisor(reduction, rows, cols);
                    String what = which + (symmetric ? " symmetricKl " : " jsd beta=" + beta + " ") + reduction;
                    try (Loss l = pairLoss(device, st, tt, beta, symmetric, reduction)) {
                        for (int input = 0; input < 2; input++) {
                            float[] g = l.gradient(input).toArray();
                            double[] fd = new double[rows * cols];
                            for (int i = 0; i < rows * cols; i++) {
                                double[] sd = widen(s);
                                double[] td = widen(t);
                                double[] x = input == 0 ? sd : td;
                                if (x[i] == Double.NEGATIVE_INFINITY) {
                                    continue; // a masked column stays masked: derivative 0
                                }
                                x[i] += h;
                                double up = total(pairLoss(sd, td, rows, cols, beta, symmetric, 1, null, null));
                                x[i] -= 2 * h;
                                double down = total(pairLoss(sd, td, rows, cols, beta, symmetric, 1, null, null));
                                fd[i] = (up - down) / (2 * h) / divisor;
                            }
                            close(fd, g, 2e-3, what + " finite difference, input " + input);
                        }
                    }
                }
            }
        }
    }
}
