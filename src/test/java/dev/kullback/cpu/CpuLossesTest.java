package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.Approx;
import dev.kullback.CrossEntropy;
import dev.kullback.Distillation;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.LossCase;
import dev.kullback.Reduction;
import dev.kullback.Reference;
import dev.kullback.Tensor;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import java.util.ArrayList;
import java.util.List;

/** The CPU losses against the float64 {@link Reference}, on both kernel sets, narrow and wide rows, 1 and 2 threads. */
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

    /**
     * The loss's value and every gradient match the float64 {@link Reference} within {@link LossCase#assertMatches}'s
     * tolerances, relative to each quantity's scale (no absolute floor: a MEAN near 1/(rows·cols) is held as tightly
     * as a SUM).
     */
    static void assertMatches(String what, Reference.Result ref, Loss l, int cols, double valueTol, double gradTol) {
        float[][] grads = new float[l.gradientCount()][];
        for (int i = 0; i < grads.length; i++) {
            grads[i] = l.gradient(i).toArray();
        }
        // never looser than this class's earlier bounds: tol * max(1, |e|) for a reduced value, tol * max(|e|, 1% of
        // the largest |e|) for a per-row value or a gradient
        double[] largest = new double[grads.length + 1];
        largest[0] = maxAbs(ref.value());
        for (int k = 0; k < grads.length; k++) {
            largest[k + 1] = maxAbs(ref.grads()[k]);
        }
        boolean scalar = ref.value().length == 1;
        LossCase.assertMatches(what, LossCase.toFloat(ref), new LossCase.Out(l.value().toArray(), grads), ref, cols,
                (output, e) -> output == 0 && scalar ? valueTol * Math.max(1, Math.abs(e))
                        : (output == 0 ? valueTol : gradTol) * Math.max(Math.abs(e), 1e-2 * largest[output]) + 1e-12);
    }

    static void assertMatches(String what, Reference.Result ref, Loss l, int cols) {
        assertMatches(what, ref, l, cols, 1e-4, 1e-3);
    }

    private static double maxAbs(double[] x) {
        double max = 0;
        for (double v : x) {
            max = Double.isFinite(v) ? Math.max(max, Math.abs(v)) : max;
        }
        return max;
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
                            Reference.Result ref = Reference.distillation(s, t, rows, cols, temp, reverse, reduction, y,
                                    -100);
                            Distillation options = Distillation.options().temperature(temp).reverse(reverse)
                                    .reduction(reduction);
                            if (labels != null) {
                                options = options.ignore(labels, -100);
                            }
                            String what = which + " " + threads + " reverse=" + reverse + " T=" + temp + " "
                                    + reduction + " ignore=" + ignore;
                            try (Loss l = device.distillationKl(st, tt, options)) {
                                assertMatches(what, ref, l, cols);
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
                            Reference.Result ref = Reference.crossEntropy(z, rows, cols, y, weighted ? w : null,
                                    reduction, -100, eps, zl);
                            CrossEntropy options = CrossEntropy.options().reduction(reduction).labelSmoothing(eps)
                                    .zLoss(zl);
                            if (weighted) {
                                options = options.weights(wt);
                            }
                            String what = which + " " + threads + " " + reduction + " w=" + weighted + " eps=" + eps
                                    + " z=" + zl;
                            try (Loss l = device.crossEntropy(x, labels, options)) {
                                assertMatches(what, ref, l, cols);
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
                Reference.Result ref = Reference.entropy(z, rows, cols, reduction);
                try (Loss l = device.entropy(x, reduction)) {
                    assertMatches(which + " " + threads + " " + reduction, ref, l, cols);
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
                            Reference.Result ref = Reference.softCrossEntropy(z, t, rows, cols, weighted ? w : null,
                                    reduction, eps, zl);
                            CrossEntropy options = CrossEntropy.options().reduction(reduction).labelSmoothing(eps)
                                    .zLoss(zl);
                            if (weighted) {
                                options = options.weights(wt);
                            }
                            String what = which + " " + threads + " " + reduction + " w=" + weighted + " eps=" + eps
                                    + " z=" + zl;
                            try (Loss l = device.crossEntropy(x, tt, options)) {
                                assertMatches(what, ref, l, cols);
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
                    try (Loss l = device.kerasKl(tt, qt, reduction, bits)) {
                        assertMatches(which + " " + threads + " " + reduction + " bits=" + bits,
                                Reference.kerasKl(t, q, rows, cols, reduction, bits), l, cols, 1e-4, 1e-4);
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
                for (boolean standard : new boolean[] {false, true}) {
                    try (Loss l = standard ? device.gaussianKl(a, b, reduction)
                            : device.gaussianKl(a, b, c2, d, reduction)) {
                        assertMatches(which + " " + threads + " " + reduction + " standard=" + standard,
                                Reference.gaussianKl(m1, v1, standard ? null : m2, standard ? null : v2, rows, cols,
                                        reduction), l, cols, 1e-5, 1e-5);
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
                Reference.Result ref = Reference.distillation(s, t, rows, cols, 1, reverse, Reduction.NONE, null,
                        -100);
                Tensor st = device.upload(s, rows, cols);
                Tensor tt = device.upload(t, rows, cols);
                try (Loss l = device.distillationKl(st, tt, Distillation.options().reverse(reverse)
                        .reduction(Reduction.NONE))) {
                    assertMatches("±1000 reverse=" + reverse, ref, l, cols);
                    float[] g = l.gradient().toArray();
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

    // ---- jsd and symmetric KL ----

    /** beta < 0: symmetric KL. */
    static Reference.Result pairReference(float[] s, float[] t, int rows, int cols, double beta, Reduction reduction) {
        return beta < 0 ? Reference.symmetricKl(s, t, rows, cols, reduction)
                : Reference.jsd(s, t, rows, cols, beta, reduction);
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
        try (CpuDevice device = CpuTesting.device(which, threads)) {
            Tensor st = device.upload(s, rows, cols);
            Tensor tt = device.upload(t, rows, cols);
            for (double beta : new double[] {0, 0.1f, 0.5, 0.9f, 1, -1}) {
                boolean symmetric = beta < 0;
                for (Reduction reduction : Reduction.values()) {
                    String what = which + " " + threads + (symmetric ? " symmetricKl " : " jsd beta=" + beta + " ")
                            + reduction;
                    try (Loss l = pairLoss(device, st, tt, beta, symmetric, reduction)) {
                        assertMatches(what, pairReference(s, t, rows, cols, beta, reduction), l, cols);
                        float[] g0 = l.gradient(0).toArray();
                        float[] g1 = l.gradient(1).toArray();
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

    /**
     * The gradients of both logits against a central finite difference of the float64 reference. The step h = 2^-14
     * is exact in float32 for these inputs (|x| < 2^9), so the reference sees exactly the perturbed inputs.
     */
    @ParameterizedTest
    @MethodSource("cases")
    void jsdAndSymmetricKlFiniteDifference(String which, int threads, int ignoredRows, int ignoredCols) {
        int rows = 3;
        int cols = 7;
        Random random = new Random(77);
        float[] s = CpuTesting.logits(random, rows * cols, 2);
        float[] t = CpuTesting.logits(random, rows * cols, 2);
        s[4] = t[4] = Float.NEGATIVE_INFINITY;
        float h = 0x1p-14f;
        try (CpuDevice device = CpuTesting.device(which, threads)) {
            Tensor st = device.upload(s, rows, cols);
            Tensor tt = device.upload(t, rows, cols);
            for (double beta : new double[] {0, 0.3f, 1, -1}) {
                boolean symmetric = beta < 0;
                for (Reduction reduction : new Reduction[] {Reduction.NONE, Reduction.MEAN}) {
                    String what = which + (symmetric ? " symmetricKl " : " jsd beta=" + beta + " ") + reduction;
                    try (Loss l = pairLoss(device, st, tt, beta, symmetric, reduction)) {
                        for (int input = 0; input < 2; input++) {
                            float[] g = l.gradient(input).toArray();
                            float[] fd = new float[rows * cols];
                            for (int i = 0; i < rows * cols; i++) {
                                float[] x = input == 0 ? s : t;
                                if (x[i] == Float.NEGATIVE_INFINITY) {
                                    continue; // a masked column stays masked: derivative 0
                                }
                                float x0 = x[i];
                                x[i] = x0 + h;
                                double up = pairReference(s, t, rows, cols, beta, reduction).total();
                                x[i] = x0 - h;
                                double down = pairReference(s, t, rows, cols, beta, reduction).total();
                                x[i] = x0;
                                fd[i] = (float) ((up - down) / (2 * h));
                            }
                            // 2e-3 of each element as before (the quotient's h^2 error), plus 1e-5 of its row's
                            // largest: relative to the gradient's scale, which MEAN divides by rows * cols
                            double[] tol = new double[rows * cols];
                            for (int i = 0; i < rows * cols; i++) {
                                tol[i] = 2e-3 * Math.abs(fd[i]) + 1e-5 * rowMax(fd, i / cols, cols);
                            }
                            Approx.assertClose(what + " finite difference, input " + input, fd, g, cols, tol);
                        }
                    }
                }
            }
        }
    }

    private static double rowMax(float[] x, int row, int cols) {
        double max = 0;
        for (int c = 0; c < cols; c++) {
            max = Math.max(max, Math.abs(x[row * cols + c]));
        }
        return max;
    }
}
