package dev.kullback.cpu;

import dev.kullback.internal.RowReduction;
import java.util.Arrays;

/**
 * Entropy of softmax(logits) per row on the CPU, H = log S - Σ p (z - M), and its gradient -p (log p + H): per chunk
 * softmax's statistics (exps stored in the gradient) plus Σ e (z - m) over the entries with e != 0; the combine; the
 * gradient written over the stored exps.
 */
final class CpuEntropy {
    private final Kernels kernels;
    private final RowSchedule schedule;

    CpuEntropy(Kernels kernels, RowSchedule schedule) {
        this.kernels = kernels;
        this.schedule = schedule;
    }

    void run(float[] z, RowReduction reduction, float[] value, float[] o, int rows, int cols) {
        double[] loss = new double[rows];
        float k = -1f / reduction.divisor();
        schedule.run(rows, cols, (slots, rowSlots, whole) -> new Phases(z, o, k, loss, slots, rowSlots));
        CpuReductions.writeLoss(value, loss, reduction);
    }

    private final class Phases implements RowPhases {
        final float[] z;
        final float[] o;
        final float k;
        final double[] loss;
        final SoftmaxStats st;
        final double[] x;
        final float[] rowMax;
        final double[] rowSum;
        final double[] rowH;

        Phases(float[] z, float[] o, float k, double[] loss, int slots, int rowSlots) {
            this.z = z;
            this.o = o;
            this.k = k;
            this.loss = loss;
            st = new SoftmaxStats(slots);
            x = new double[slots];
            rowMax = new float[rowSlots];
            rowSum = new double[rowSlots];
            rowH = new double[rowSlots];
        }

        @Override
        public void stats(int r, int i, int from, int to) {
            st.store(kernels, z, o, from, to, i);
            x[i] = Float.isFinite(st.max()[i]) ? kernels.weightedOffset(o, z, st.max()[i], from, to) : 0;
        }

        /** H = log S - Σ p (z - M) (NaN when the max is not finite). */
        @Override
        public void combine(int r, int first, int chunks, int rowSlot) {
            float m = st.rowMax(first, chunks);
            double sum = st.rowSum(first, chunks, m, 1f);
            rowMax[rowSlot] = m;
            rowSum[rowSlot] = sum;
            if (!Float.isFinite(m)) {
                rowH[rowSlot] = Double.NaN;
            } else {
                double a = 0;
                for (int c = first; c < first + chunks; c++) {
                    if (st.max()[c] != Float.NEGATIVE_INFINITY) {
                        double d = (double) st.max()[c] - m;
                        a += st.weight(c, m, 1f) * (x[c] + d * st.sum()[c]);
                    }
                }
                rowH[rowSlot] = Math.log(sum) - a / sum;
            }
            loss[r] = rowH[rowSlot];
        }

        /** dH/dz = -p (log p + H), scaled by 1 / divisor. */
        @Override
        public void write(int r, int c, int rowSlot, int from, int to) {
            if (!Float.isFinite(rowMax[rowSlot])) {
                Arrays.fill(o, from, to, Float.NaN);
                return;
            }
            float c0 = (float) (rowH[rowSlot] - Math.log(rowSum[rowSlot]));
            kernels.xlogyGrad(z, rowMax[rowSlot], from, to, c0, st.scale(c, rowMax[rowSlot], rowSum[rowSlot], 1f), k,
                    o);
        }
    }
}
