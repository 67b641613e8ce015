package dev.kullback.cpu;

import java.util.Arrays;

/**
 * Forward distillation KL on short rows ({@link Kernels#shortRows}): T² · KL(P || Q), P = softmax(teacher / T),
 * Q = softmax(student / T), and its gradient k (Q - P). Each thread's rows go by blocks of {@link #BLOCK_VALUES} values:
 * the kernels' short-row softmax statistics of the teacher (exps stored in the gradient) and of the student (exps in a
 * scratch block), several rows per call with one vector log per group of rows; then per row
 * {@code KL = Σ e_P ((p̃ - q̃)) / (T S_P) + log(S_Q / S_P)} (the same formula as {@link CpuDistillation}'s phases) and
 * the gradient over both stored exps.
 */
final class DistillationShortRows {
    /** A block's scratch exps stay in L2. */
    private static final int BLOCK_VALUES = 16384;

    private DistillationShortRows() {
    }

    /** {@code labels} null, or rows whose label is {@code ignoreIndex} have loss 0 and gradient 0. */
    static void run(Kernels kernels, RowSchedule schedule, float[] s, float[] t, int[] labels, int ignoreIndex,
                    float temperature, float divisor, float[] o, double[] loss, int rows, int cols) {
        float invT = 1f / temperature;
        float k = temperature / divisor;
        double t2 = (double) temperature * temperature;
        ShortRowStats p = new ShortRowStats(rows);
        ShortRowStats q = new ShortRowStats(rows);
        int block = Math.max(1, BLOCK_VALUES / cols);
        schedule.rows(rows, cols, (r0, r1) -> {
            float[] qe = Scratch.row(Math.min(block, r1 - r0) * cols);
            for (int b0 = r0; b0 < r1; b0 += block) {
                int b1 = Math.min(r1, b0 + block);
                int off = b0 * cols;
                kernels.softmaxStatsShortRows(t, invT, o, 0, b0, b1, cols, p);
                kernels.softmaxStatsShortRows(s, invT, qe, off, b0, b1, cols, q);
                for (int r = b0; r < b1; r++) {
                    int from = r * cols;
                    int to = from + cols;
                    if (labels != null && labels[r] == ignoreIndex) {
                        Arrays.fill(o, from, to, 0f);
                        continue;
                    }
                    float mp = p.max()[r];
                    float mq = q.max()[r];
                    if (!Float.isFinite(mp) || !Float.isFinite(mq)) {
                        loss[r] = Double.NaN;
                        Arrays.fill(o, from, to, Float.NaN);
                        continue;
                    }
                    double sp = p.sum()[r];
                    double a = kernels.weightedDiff(o, t, mp, s, mq, from, to);
                    loss[r] = t2 * (a * invT / sp + Math.log(q.sum()[r] / sp));
                    kernels.scaledDiffWrite(qe, off, from, to, q.invSum()[r], p.invSum()[r], k, o);
                }
            }
        });
    }
}
