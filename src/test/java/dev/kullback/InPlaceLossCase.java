package dev.kullback;

import java.util.List;
import java.util.Random;

/**
 * One fused loss with one set of options, run out of place or in place ({@link InPlaceLossesTest}): how to make its
 * inputs, how to call it, and which input each of its gradients overwrites in place.
 */
record InPlaceLossCase(String name, Inputs inputs, Call call, int[] overwritten) {
    /** The inputs' values for [rows, cols] (every input is [rows, cols]). */
    interface Inputs {
        float[][] make(Random random, int rows, int cols);
    }

    /** The loss of {@code x} on {@code device}, in place or not; {@code labels} one per row (some ignored). */
    interface Call {
        Loss run(Device device, Tensor[] x, Labels labels, boolean inPlace);
    }

    @Override
    public String toString() {
        return name;
    }

    static GradientMemory memory(boolean inPlace) {
        return inPlace ? GradientMemory.IN_PLACE : GradientMemory.ALLOCATED;
    }

    /** Labels with every third row the ignore index -100, the others classes spread over the row (0 and the end). */
    static int[] labels(int rows, int cols, Random random) {
        int[] y = new int[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = r % 3 == 1 ? -100 : r % 3 == 0 ? (r % 2 == 0 ? 0 : cols - 1) : random.nextInt(cols);
        }
        return y;
    }

    /** Logits: Gaussian, with a few -inf entries (masked classes) in the same places of every input. */
    static Inputs logits(int count, float scale) {
        return logits(count, scale, true);
    }

    /**
     * Logits: Gaussian, with (when {@code masked}) a few -inf entries in the same places of every input; unmasked for
     * cross-entropy, whose smoothed or soft-target loss is +inf with any -inf logit, and would hide a wrong row loss.
     */
    static Inputs logits(int count, float scale, boolean masked) {
        return (random, rows, cols) -> {
            float[][] x = new float[count][rows * cols];
            for (float[] a : x) {
                for (int i = 0; i < a.length; i++) {
                    a[i] = (float) (random.nextGaussian() * scale);
                }
            }
            for (int r = 0; masked && r < rows; r += 2) {
                int c = (r * 7919) % cols;
                if (cols > 1) {
                    for (float[] a : x) {
                        a[r * cols + c] = Float.NEGATIVE_INFINITY;
                    }
                }
            }
            return x;
        };
    }

    /**
     * {@code inputs} with edge rows where there are at least 6: row 4 holds a NaN in the first input, row 5 is all -inf
     * in every input (NaN rows on the logits-based losses, the NaN-fill write paths). For reductions NONE only: a NaN
     * row makes a reduced value NaN, which would hide a wrong value elsewhere.
     */
    static Inputs withEdgeRows(Inputs inputs) {
        return (random, rows, cols) -> {
            float[][] x = inputs.make(random, rows, cols);
            if (rows >= 6) {
                x[0][4 * cols + Math.min(3, cols - 1)] = Float.NaN;
                for (float[] a : x) {
                    java.util.Arrays.fill(a, 5 * cols, 6 * cols, Float.NEGATIVE_INFINITY);
                }
            }
            return x;
        };
    }

    /** Logits, then probability targets (each row a softmax of Gaussians, with exact zeros). */
    static Inputs logitsAndTargets() {
        return (random, rows, cols) -> {
            float[] z = logits(1, 3f, false).make(random, rows, cols)[0];
            float[] t = new float[rows * cols];
            for (int r = 0; r < rows; r++) {
                double sum = 0;
                for (int c = 0; c < cols; c++) {
                    double e = c % 5 == 3 ? 0 : Math.exp(random.nextGaussian());
                    t[r * cols + c] = (float) e;
                    sum += e;
                }
                for (int c = 0; c < cols; c++) {
                    t[r * cols + c] = (float) (t[r * cols + c] / sum);
                }
            }
            return new float[][] {z, t};
        };
    }

    /** Keras's inputs: yTrue, yPred in [0, 1] with some outside (clipped: a zero gradient). */
    static Inputs probabilities() {
        return (random, rows, cols) -> {
            float[][] x = new float[2][rows * cols];
            for (float[] a : x) {
                for (int i = 0; i < a.length; i++) {
                    a[i] = i % 11 == 5 ? 1.5f : i % 13 == 2 ? -0.25f : random.nextFloat();
                }
            }
            return x;
        };
    }

    static List<InPlaceLossCase> all() {
        int[] first = {0};
        int[] both = {0, 1};
        return List.of(
                new InPlaceLossCase("entropy MEAN", logits(1, 3f),
                        (d, x, y, in) -> d.entropy(x[0], Reduction.MEAN, memory(in)), first),
                new InPlaceLossCase("entropy NONE", withEdgeRows(logits(1, 3f)),
                        (d, x, y, in) -> d.entropy(x[0], Reduction.NONE, memory(in)), first),
                new InPlaceLossCase("distillation T=2 BATCHMEAN", logits(2, 3f), (d, x, y, in) -> d.distillationKl(x[0],
                        x[1], Distillation.options().temperature(2f).inPlace(in)), first),
                new InPlaceLossCase("distillation reverse SUM ignore", logits(2, 3f), (d, x, y, in) ->
                        d.distillationKl(x[0], x[1], Distillation.options().reverse(true).reduction(Reduction.SUM)
                                .ignore(y, -100).inPlace(in)), first),
                new InPlaceLossCase("distillation NONE ignore", withEdgeRows(logits(2, 3f)), (d, x, y, in) -> d.distillationKl(x[0],
                        x[1], Distillation.options().reduction(Reduction.NONE).ignore(y, -100).inPlace(in)), first),
                new InPlaceLossCase("distillation soft cap MEAN", logits(2, 3f), (d, x, y, in) -> d.distillationKl(x[0],
                        x[1], Distillation.options().reduction(Reduction.MEAN).softCap(5f).inPlace(in)), first),
                new InPlaceLossCase("cross-entropy labels smoothing z-loss MEAN", logits(1, 3f, false),
                        (d, x, y, in) -> d.crossEntropy(x[0], y, CrossEntropy.options().labelSmoothing(0.1f)
                                .zLoss(1e-3f).inPlace(in)), first),
                new InPlaceLossCase("cross-entropy labels NONE", withEdgeRows(logits(1, 3f, false)), (d, x, y, in) ->
                        d.crossEntropy(x[0], y, CrossEntropy.options().reduction(Reduction.NONE).inPlace(in)), first),
                new InPlaceLossCase("cross-entropy probabilities smoothing z-loss MEAN", logitsAndTargets(),
                        (d, x, y, in) -> d.crossEntropy(x[0], x[1], CrossEntropy.options().labelSmoothing(0.1f)
                                .zLoss(1e-3f).inPlace(in)), first),
                new InPlaceLossCase("cross-entropy probabilities NONE", withEdgeRows(logitsAndTargets()), (d, x, y, in) ->
                        d.crossEntropy(x[0], x[1], CrossEntropy.options().reduction(Reduction.NONE).inPlace(in)),
                        first),
                new InPlaceLossCase("jsd beta 0.5 BATCHMEAN", logits(2, 2f),
                        (d, x, y, in) -> d.jsd(x[0], x[1], 0.5f, Reduction.BATCHMEAN, memory(in)), both),
                new InPlaceLossCase("jsd beta 0 SUM", logits(2, 2f),
                        (d, x, y, in) -> d.jsd(x[0], x[1], 0f, Reduction.SUM, memory(in)), both),
                new InPlaceLossCase("jsd beta 1 NONE", withEdgeRows(logits(2, 2f)),
                        (d, x, y, in) -> d.jsd(x[0], x[1], 1f, Reduction.NONE, memory(in)), both),
                new InPlaceLossCase("symmetric KL MEAN", logits(2, 2f),
                        (d, x, y, in) -> d.symmetricKl(x[0], x[1], Reduction.MEAN, memory(in)), both),
                new InPlaceLossCase("tvd BATCHMEAN ignore", logits(2, 2f),
                        (d, x, y, in) -> d.tvd(x[0], x[1], Reduction.BATCHMEAN, y, -100, memory(in)), both),
                new InPlaceLossCase("keras KL bits BATCHMEAN", probabilities(),
                        (d, x, y, in) -> d.kerasKl(x[0], x[1], Reduction.BATCHMEAN, true, memory(in)), new int[] {1}),
                new InPlaceLossCase("gaussian KL SUM", logits(4, 1f), (d, x, y, in) -> d.gaussianKl(x[0], x[1], x[2],
                        x[3], Reduction.SUM, memory(in)), new int[] {0, 1, 2, 3}),
                new InPlaceLossCase("gaussian KL standard NONE", withEdgeRows(logits(2, 1f)),
                        (d, x, y, in) -> d.gaussianKl(x[0], x[1], Reduction.NONE, memory(in)), both));
    }
}
