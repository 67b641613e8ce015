package dev.kullback.cpu;

import dev.kullback.internal.RowReduction;
import java.util.Arrays;

/**
 * Total variation distance on the CPU, ½ Σ |P - Q| per row of P = softmax(teacher), Q = softmax(student), and the
 * gradients of both logits: with s = sign(P - Q) (sign(0) = 0, as PyTorch's abs backward), A = Σ P s and B = Σ Q s,
 * d teacher = ½ P (s - A) and d student = -½ Q (s - B). Per chunk: softmax's statistics of both (the exps stored in
 * the gradients); a second pass that turns them into probabilities, in place, and sums |P - Q|, P s and Q s; the
 * write over the stored probabilities. Rows whose label is the ignore index give 0. In place (both gradients over
 * their logits) it runs unchanged: the statistics read each logit once, before storing its exp at the same index
 * (SoftmaxStats.store), and the later passes read only what the gradients hold.
 */
final class CpuTvd {
    private final Kernels kernels;
    private final RowSchedule schedule;

    CpuTvd(Kernels kernels, RowSchedule schedule) {
        this.kernels = kernels;
        this.schedule = schedule;
    }

    void run(CpuDevice device, CpuTensor student, CpuTensor teacher, CpuLabels labels, int ignoreIndex,
             RowReduction reduction, CpuTensor value, CpuTensor gradStudent, CpuTensor gradTeacher) {
        try (CpuStaging s = new CpuStaging(device)) {
            run(s.in(student).data(), s.in(teacher).data(), labels == null ? null : labels.data(), ignoreIndex,
                    reduction, s.out(value).data(), s.out(gradStudent).data(), s.out(gradTeacher).data(),
                    student.rows(), student.cols());
        }
    }

    void run(float[] s, float[] t, int[] labels, int ignoreIndex, RowReduction reduction, float[] value, float[] gs,
             float[] gt, int rows, int cols) {
        double[] loss = new double[rows];
        float k = 0.5f / reduction.divisor();
        schedule.run(rows, cols, (slots, rowSlots, whole) -> new Phases(s, t, labels, ignoreIndex, k, gs, gt, loss,
                slots, rowSlots));
        CpuReductions.writeLoss(value, loss, reduction);
    }

    /** sign(d), 0 at 0, NaN kept: Math.signum, written out so C2 sees a branch-free select. */
    private static float sign(float d) {
        return d > 0f ? 1f : d < 0f ? -1f : d;
    }

    private final class Phases implements RowPhases {
        final float[] s;
        final float[] t;
        final int[] labels;
        final int ignoreIndex;
        final float k;
        final float[] gs;
        final float[] gt;
        final double[] loss;
        final SoftmaxStats sp;
        final SoftmaxStats sq;
        /** Per chunk: Σ |P - Q|, Σ P s, Σ Q s at 3i, 3i + 1, 3i + 2. */
        final double[] sums;
        final float[] rowMp;
        final float[] rowMq;
        final double[] rowSp;
        final double[] rowSq;
        final float[] rowA;
        final float[] rowB;

        Phases(float[] s, float[] t, int[] labels, int ignoreIndex, float k, float[] gs, float[] gt, double[] loss,
               int slots, int rowSlots) {
            this.s = s;
            this.t = t;
            this.labels = labels;
            this.ignoreIndex = ignoreIndex;
            this.k = k;
            this.gs = gs;
            this.gt = gt;
            this.loss = loss;
            sp = new SoftmaxStats(slots);
            sq = new SoftmaxStats(slots);
            sums = new double[3 * slots];
            rowMp = new float[rowSlots];
            rowMq = new float[rowSlots];
            rowSp = new double[rowSlots];
            rowSq = new double[rowSlots];
            rowA = new float[rowSlots];
            rowB = new float[rowSlots];
        }

        private boolean ignored(int r) {
            return labels != null && labels[r] == ignoreIndex;
        }

        @Override
        public void stats(int r, int i, int from, int to) {
            if (ignored(r)) {
                Arrays.fill(gs, from, to, 0f);
                Arrays.fill(gt, from, to, 0f);
                return;
            }
            sp.store(kernels, t, gt, from, to, i);
            sq.store(kernels, s, gs, from, to, i);
        }

        @Override
        public void combine(int r, int first, int chunks, int rowSlot) {
            if (ignored(r)) {
                return;
            }
            float mp = sp.rowMax(first, chunks);
            float mq = sq.rowMax(first, chunks);
            rowMp[rowSlot] = mp;
            rowMq[rowSlot] = mq;
            boolean finite = Float.isFinite(mp) && Float.isFinite(mq);
            rowSp[rowSlot] = finite ? sp.rowSum(first, chunks, mp, 1f) : Double.NaN;
            rowSq[rowSlot] = finite ? sq.rowSum(first, chunks, mq, 1f) : Double.NaN;
            if (!finite) {
                loss[r] = Double.NaN;
            }
        }

        @Override
        public boolean hasSecondPass() {
            return true;
        }

        /** The chunk's probabilities, in place of its exps, and its three sums. */
        @Override
        public void secondPass(int r, int c, int rowSlot, int from, int to) {
            if (ignored(r) || Double.isNaN(rowSp[rowSlot])) {
                return;
            }
            float scP = sp.scale(c, rowMp[rowSlot], rowSp[rowSlot], 1f);
            float scQ = sq.scale(c, rowMq[rowSlot], rowSq[rowSlot], 1f);
            kernels.scale(gt, from, to, scP);
            kernels.scale(gs, from, to, scQ);
            double dist = 0;
            double a = 0;
            double b = 0;
            for (int i = from; i < to; i++) {
                float p = gt[i];
                float q = gs[i];
                float d = p - q;
                float sg = sign(d);
                dist += Math.abs(d);
                a += p * sg;
                b += q * sg;
            }
            sums[3 * c] = dist;
            sums[3 * c + 1] = a;
            sums[3 * c + 2] = b;
        }

        @Override
        public void secondCombine(int r, int first, int chunks, int rowSlot) {
            if (ignored(r) || Double.isNaN(rowSp[rowSlot])) {
                return;
            }
            double dist = 0;
            double a = 0;
            double b = 0;
            for (int c = first; c < first + chunks; c++) {
                dist += sums[3 * c];
                a += sums[3 * c + 1];
                b += sums[3 * c + 2];
            }
            loss[r] = 0.5 * dist;
            rowA[rowSlot] = (float) a;
            rowB[rowSlot] = (float) b;
        }

        /** d teacher = k P (s - A), d student = -k Q (s - B), k = ½ / divisor, over the stored probabilities. */
        @Override
        public void write(int r, int c, int rowSlot, int from, int to) {
            if (ignored(r)) {
                return;
            }
            if (Double.isNaN(rowSp[rowSlot])) {
                Arrays.fill(gs, from, to, Float.NaN);
                Arrays.fill(gt, from, to, Float.NaN);
                return;
            }
            float a = rowA[rowSlot];
            float b = rowB[rowSlot];
            for (int i = from; i < to; i++) {
                float p = gt[i];
                float q = gs[i];
                float sg = sign(p - q);
                gt[i] = k * p * (sg - a);
                gs[i] = -k * q * (sg - b);
            }
        }
    }
}
