package dev.kullback.cpu;

import java.util.Arrays;

/**
 * Cross-entropy with class labels on short rows ({@link Kernels#shortRows}) and no label smoothing: for each thread's
 * range of rows, the kernels' short-row softmax statistics (exps stored in the gradient, each row's max, log Σ and
 * 1 / Σ, several rows per call, one vector log per group of rows), then per row its loss and the gradient
 * {@code o = a · exp(z - max) / Σ} with {@code k · w_y} taken off at the label. The same formulas as
 * {@link CpuCrossEntropy}'s row phases with ε = 0, without their per-row phase calls and chunk bookkeeping.
 */
final class CrossEntropyShortRows {
    private CrossEntropyShortRows() {
    }

    /**
     * Fills {@code ce[r]} and {@code zl[r]} (0 for an ignored row) and the gradient rows; {@code zy[r]} is row r's
     * label logit, read before any gradient was written (o may be z).
     */
    static void run(Kernels kernels, RowSchedule schedule, float[] z, float[] zy, int[] y, float[] w, int ignoreIndex,
                    float zScale, double k, double kz, float[] o, double[] ce, double[] zl, int rows, int cols) {
        ShortRowStats stats = new ShortRowStats(rows);
        float[] max = stats.max();
        float[] logSum = stats.logSum();
        float[] invSum = stats.invSum();
        schedule.rows(rows, cols, (r0, r1) -> {
            kernels.softmaxStatsShortRows(z, 1f, o, 0, r0, r1, cols, stats);
            for (int r = r0; r < r1; r++) {
                int from = r * cols;
                int to = from + cols;
                int yr = y[r];
                if (yr == ignoreIndex) {
                    Arrays.fill(o, from, to, 0f);
                    continue;
                }
                float m = max[r];
                if (!Float.isFinite(m)) {
                    ce[r] = Double.NaN;
                    zl[r] = zScale == 0 ? 0 : Double.NaN;
                    Arrays.fill(o, from, to, Float.NaN);
                    continue;
                }
                double lse = m + (double) logSum[r];
                double wy = w == null ? 1.0 : w[yr];
                ce[r] = -wy * (zy[r] - lse);
                zl[r] = zScale == 0 ? 0 : zScale * lse * lse;
                double a = k * wy + kz * 2 * zScale * lse;
                kernels.scaleSub(o, from, to, (float) (a * invSum[r]), 0f);
                o[from + yr] -= (float) (k * wy);
            }
        });
    }
}
