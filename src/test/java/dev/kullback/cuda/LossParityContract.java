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
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every loss of the CUDA device (value and every gradient), every option, on a grid of shapes that reaches every
 * launch branch (warp per row and block per row with each block size, float4 bodies and scalar tails), against the
 * CPU device (which LossTorchParityTest holds to PyTorch and to the float64 LossReference). Edge data (rows = 3): a column that is -inf in both logits (a masked vocabulary entry) and +-1000 logits.
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
    void matchesCpu(Case c, int rows, int cols, boolean edges) {
        assertMatchesCpu(cuda(), c, rows, cols, edges);
    }

    /** Every output (value and gradients) of {@code c} on {@code cuda} equals the CPU device's, within tolerance. */
    static void assertMatchesCpu(CudaDevice cuda, Case c, int rows, int cols, boolean edges) {
        Inputs in = new Inputs(rows, cols, edges);
        String what = c + " [" + rows + ", " + cols + "]" + (edges ? " with edge values" : "");
        List<float[]> expected = run(Devices.cpu(), c, in);
        List<float[]> actual = run(cuda, c, in);
        assertEquals(expected.size(), actual.size(), what + ": number of outputs");
        for (int i = 0; i < expected.size(); i++) {
            CudaParityContract.assertClose(what + (i == 0 ? " value" : " gradient " + (i - 1)), expected.get(i),
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
        DISTILL_BATCHMEAN(true, (d, u) -> d.distillationKl(u.a, u.b, 1f)),
        DISTILL_NONE_T2(false, (d, u) -> d.distillationKl(u.a, u.b, Distillation.options().temperature(2f).reduction(Reduction.NONE))),
        DISTILL_MEAN_IGNORE(false, (d, u) -> d.distillationKl(u.a, u.b, Distillation.options().temperature(0.5f)
                .reduction(Reduction.MEAN).ignore(u.labels, IGNORE))),
        DISTILL_REVERSE_BATCHMEAN_IGNORE(true, (d, u) -> d.distillationKl(u.a, u.b, Distillation.options().temperature(2f)
                .reverse(true).ignore(u.labels, IGNORE))),
        DISTILL_REVERSE_SUM(false, (d, u) -> d.distillationKl(u.a, u.b, Distillation.options().reverse(true).reduction(Reduction.SUM))),
        DISTILL_NONE_ALL_IGNORED(false, (d, u) -> d.distillationKl(u.a, u.b, Distillation.options().reduction(Reduction.NONE)
                .ignore(u.allIgnored, IGNORE))),
        DISTILL_BATCHMEAN_ALL_IGNORED(false, (d, u) -> d.distillationKl(u.a, u.b, Distillation.options().ignore(u.allIgnored, IGNORE))),
        CE_MEAN(true, (d, u) -> d.crossEntropy(u.a, u.labels)),
        CE_NONE(false, (d, u) -> d.crossEntropy(u.a, u.labels, CrossEntropy.options().reduction(Reduction.NONE))),
        CE_SUM_WEIGHTS_SMOOTHING(false, (d, u) -> d.crossEntropy(u.a, u.labels, CrossEntropy.options().reduction(Reduction.SUM)
                .weights(u.weights).labelSmoothing(0.1f))),
        CE_MEAN_WEIGHTS_SMOOTHING_ZLOSS(true, (d, u) -> d.crossEntropy(u.a, u.labels, CrossEntropy.options().weights(u.weights)
                .labelSmoothing(0.2f).zLoss(1e-3f))),
        CE_NONE_SMOOTHING_ZLOSS(false, (d, u) -> d.crossEntropy(u.a, u.labels, CrossEntropy.options().reduction(Reduction.NONE)
                .labelSmoothing(0.3f).zLoss(1e-2f))),
        CE_MEAN_ALL_IGNORED(false, (d, u) -> d.crossEntropy(u.a, u.allIgnored, CrossEntropy.options().weights(u.weights))),
        SOFT_CE_MEAN(true, (d, u) -> d.crossEntropy(u.a, u.probs, CrossEntropy.options())),
        SOFT_CE_NONE_WEIGHTS_SMOOTHING_ZLOSS(false, (d, u) -> d.crossEntropy(u.a, u.probs, CrossEntropy.options()
                .reduction(Reduction.NONE).weights(u.weights).labelSmoothing(0.1f).zLoss(1e-3f))),
        SOFT_CE_SUM_WEIGHTS(false, (d, u) -> d.crossEntropy(u.a, u.probs, CrossEntropy.options().reduction(Reduction.SUM)
                .weights(u.weights))),
        JSD_HALF_BATCHMEAN(true, (d, u) -> d.jsd(u.a, u.b, 0.5f, Reduction.BATCHMEAN)),
        JSD_0_NONE(false, (d, u) -> d.jsd(u.a, u.b, 0f, Reduction.NONE)),
        JSD_1_SUM(false, (d, u) -> d.jsd(u.a, u.b, 1f, Reduction.SUM)),
        JSD_03_MEAN(false, (d, u) -> d.jsd(u.a, u.b, 0.3f, Reduction.MEAN)),
        SYMMETRIC_KL_BATCHMEAN(true, (d, u) -> d.symmetricKl(u.b, u.a, Reduction.BATCHMEAN)),
        SYMMETRIC_KL_NONE(false, (d, u) -> d.symmetricKl(u.b, u.a, Reduction.NONE)),
        ENTROPY_MEAN(true, (d, u) -> d.entropy(u.a, Reduction.MEAN)),
        ENTROPY_NONE(false, (d, u) -> d.entropy(u.a, Reduction.NONE)),
        ENTROPY_SUM(false, (d, u) -> d.entropy(u.a, Reduction.SUM)),
        KERAS_KL_BATCHMEAN(true, (d, u) -> d.kerasKl(u.probs, u.pred, Reduction.BATCHMEAN, false)),
        KERAS_KL_NONE_BITS(false, (d, u) -> d.kerasKl(u.probs, u.pred, Reduction.NONE, true)),
        KERAS_KL_MEAN_BITS(false, (d, u) -> d.kerasKl(u.probs, u.pred, Reduction.MEAN, true)),
        GAUSSIAN_KL_SUM(true, (d, u) -> d.gaussianKl(u.a, u.d, u.c, u.b, Reduction.SUM)),
        GAUSSIAN_KL_NONE(false, (d, u) -> d.gaussianKl(u.a, u.d, u.c, u.b, Reduction.NONE)),
        GAUSSIAN_KL_STANDARD_BATCHMEAN(true, (d, u) -> d.gaussianKl(u.c, u.d, Reduction.BATCHMEAN)),
        GAUSSIAN_KL_STANDARD_MEAN(false, (d, u) -> d.gaussianKl(u.c, u.d, Reduction.MEAN)),
        TVD_BATCHMEAN(true, (d, u) -> d.tvd(u.a, u.b, Reduction.BATCHMEAN)),
        TVD_NONE_IGNORE(false, (d, u) -> d.tvd(u.a, u.b, Reduction.NONE, u.labels, IGNORE)),
        TVD_MEAN_IGNORE(false, (d, u) -> d.tvd(u.a, u.b, Reduction.MEAN, u.labels, IGNORE)),
        TVD_SUM_ALL_IGNORED(false, (d, u) -> d.tvd(u.a, u.b, Reduction.SUM, u.allIgnored, IGNORE));

        final boolean wide;
        final BiFunction<Device, Uploaded, Loss> call;

        Case(boolean wide, BiFunction<Device, Uploaded, Loss> call) {
            this.wide = wide;
            this.call = call;
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
                double[] p = softmax(b, r * cols, cols);
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

        /** One row of softmax in double, for the soft targets. */
        private static double[] softmax(float[] x, int from, int cols) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < cols; j++) {
                max = Math.max(max, x[from + j]);
            }
            double sum = 0;
            double[] p = new double[cols];
            for (int j = 0; j < cols; j++) {
                p[j] = Math.exp(x[from + j] - max);
                sum += p[j];
            }
            for (int j = 0; j < cols; j++) {
                p[j] /= sum;
            }
            return p;
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
}
