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

    /**
     * {@code labels} null, or rows whose label is {@code ignoreIndex} have loss 0 and gradient 0. In place
     * ({@code o == s}) each block runs on copies of its rows in the thread's {@link ChunkScratch} (the teacher's exps
     * would otherwise overwrite student logits that the loss still reads): a row's results depend on that row alone,
     * so the bits are those of the out-of-place run.
     */
    static void run(Kernels kernels, RowSchedule schedule, float[] s, float[] t, int[] labels, int ignoreIndex,
                    float temperature, float divisor, float[] o, double[] loss, int rows, int cols) {
        Rows r = new Rows(kernels, labels, ignoreIndex, 1f / temperature, temperature / divisor,
                (double) temperature * temperature, loss, cols);
        if (o == s) {
            int block = Math.max(1, RowSchedule.CHUNK / cols);
            schedule.rows(rows, cols, (r0, r1) -> {
                float[][] scratch = ChunkScratch.get();
                ShortRowStats p = new ShortRowStats(block);
                ShortRowStats q = new ShortRowStats(block);
                for (int b0 = r0; b0 < r1; b0 += block) {
                    int n = (Math.min(r1, b0 + block) - b0) * cols;
                    float[] sc = ChunkScratch.copy(s, b0 * cols, n, scratch[0]);
                    float[] tc = ChunkScratch.copy(t, b0 * cols, n, scratch[1]);
                    r.block(sc, tc, scratch[2], scratch[3], 0, 0, n / cols, b0, p, q);
                    System.arraycopy(scratch[2], 0, o, b0 * cols, n);
                }
            });
            return;
        }
        ShortRowStats p = new ShortRowStats(rows);
        ShortRowStats q = new ShortRowStats(rows);
        int block = Math.max(1, BLOCK_VALUES / cols);
        schedule.rows(rows, cols, (r0, r1) -> {
            float[] qe = Scratch.row(Math.min(block, r1 - r0) * cols);
            for (int b0 = r0; b0 < r1; b0 += block) {
                r.block(s, t, o, qe, b0 * cols, b0, Math.min(r1, b0 + block), 0, p, q);
            }
        });
    }

    /** One call's constants and the work on a block of rows. */
    private record Rows(Kernels kernels, int[] labels, int ignoreIndex, float invT, float k, double t2, double[] loss,
                        int cols) {
        /**
         * Rows [a0, a1) of the arrays (row a at a · cols; the student's exps into qe at a · cols - off), which are
         * rows a + shift of the loss and labels; p and q indexed by a.
         */
        void block(float[] s, float[] t, float[] o, float[] qe, int off, int a0, int a1, int shift, ShortRowStats p,
                   ShortRowStats q) {
            kernels.softmaxStatsShortRows(t, invT, o, 0, a0, a1, cols, p);
            kernels.softmaxStatsShortRows(s, invT, qe, off, a0, a1, cols, q);
            for (int a = a0; a < a1; a++) {
                int row = a + shift;
                int from = a * cols;
                int to = from + cols;
                if (labels != null && labels[row] == ignoreIndex) {
                    Arrays.fill(o, from, to, 0f);
                    continue;
                }
                float mp = p.max()[a];
                float mq = q.max()[a];
                if (!Float.isFinite(mp) || !Float.isFinite(mq)) {
                    loss[row] = Double.NaN;
                    Arrays.fill(o, from, to, Float.NaN);
                    continue;
                }
                double sp = p.sum()[a];
                double w = kernels.weightedDiff(o, t, mp, s, mq, from, to);
                loss[row] = t2 * (w * invT / sp + Math.log(q.sum()[a] / sp));
                kernels.scaledDiffWrite(qe, off, from, to, q.invSum()[a], p.invSum()[a], k, o);
            }
        }
    }
}
