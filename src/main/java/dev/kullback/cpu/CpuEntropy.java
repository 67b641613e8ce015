package dev.kullback.cpu;

import dev.kullback.internal.RowReduction;
import java.util.Arrays;

/**
 * Entropy of softmax(logits) per row on the CPU, H = log S - Σ p (z - M), and its gradient -p (log p + H): per chunk
 * softmax's statistics (exps stored in the gradient) plus Σ e (z - m) over the entries with e != 0; the combine; the
 * gradient written over the stored exps. In place (the gradient over the logits) each phase runs on a copy of its
 * chunk ({@link ChunkScratch}) and the write recomputes the chunk's exps: the same kernels on the same relative ranges,
 * so the same bits.
 */
final class CpuEntropy {
    private final Kernels kernels;
    private final RowSchedule schedule;

    CpuEntropy(Kernels kernels, RowSchedule schedule) {
        this.kernels = kernels;
        this.schedule = schedule;
    }

    void run(CpuDevice device, CpuTensor logits, RowReduction reduction, CpuTensor value, CpuTensor grad) {
        try (CpuStaging s = new CpuStaging(device)) {
            run(s.in(logits).data(), reduction, s.out(value).data(), s.out(grad).data(), logits.rows(),
                    logits.cols());
        }
    }

    void run(float[] z, RowReduction reduction, float[] value, float[] o, int rows, int cols) {
        double[] loss = new double[rows];
        float k = -1f / reduction.divisor();
        if (o == z) { // its own family class, so its own copy of the row loops (see RowSchedule)
            schedule.run(rows, cols, (slots, rowSlots, whole) -> new InPlace(z, k, loss, slots, rowSlots));
        } else {
            schedule.run(rows, cols, (slots, rowSlots, whole) -> new Phases(z, o, k, loss, slots, rowSlots));
        }
        CpuReductions.writeLoss(value, loss, reduction);
    }

    private class Phases implements RowPhases {
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
            stats(z, o, i, from, to);
        }

        /** Chunk i's statistics from z[from, to), its exps stored in e. */
        final void stats(float[] z, float[] e, int i, int from, int to) {
            st.store(kernels, z, e, from, to, i);
            x[i] = Float.isFinite(st.max()[i]) ? kernels.weightedOffset(e, z, st.max()[i], from, to) : 0;
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
            write(z, o, c, rowSlot, from, to);
        }

        /** The gradient of z[from, to) over its stored exps e (chunk c). */
        final void write(float[] z, float[] e, int c, int rowSlot, int from, int to) {
            float c0 = (float) (rowH[rowSlot] - Math.log(rowSum[rowSlot]));
            kernels.xlogyGrad(z, rowMax[rowSlot], from, to, c0, st.scale(c, rowMax[rowSlot], rowSum[rowSlot], 1f), k,
                    e);
        }
    }

    /** The gradient written over the logits: each phase on a copy of its chunk, the exps recomputed by the write. */
    private final class InPlace extends Phases {
        InPlace(float[] z, float k, double[] loss, int slots, int rowSlots) {
            super(z, z, k, loss, slots, rowSlots);
        }

        @Override
        public void stats(int r, int i, int from, int to) {
            float[][] scratch = ChunkScratch.get();
            stats(ChunkScratch.copy(z, from, to - from, scratch[0]), scratch[1], i, 0, to - from);
        }

        @Override
        public void write(int r, int c, int rowSlot, int from, int to) {
            if (!Float.isFinite(rowMax[rowSlot])) {
                Arrays.fill(o, from, to, Float.NaN);
                return;
            }
            int n = to - from;
            float[][] scratch = ChunkScratch.get();
            float[] zc = ChunkScratch.copy(z, from, n, scratch[0]);
            float[] e = scratch[1];
            st.restore(kernels, zc, e, 0, n, c);
            write(zc, e, c, rowSlot, 0, n);
            System.arraycopy(e, 0, o, from, n);
        }
    }
}
