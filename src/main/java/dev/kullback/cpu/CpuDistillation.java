package dev.kullback.cpu;

import dev.kullback.internal.RowReduction;
import java.util.Arrays;

/**
 * Distillation KL on the CPU: T² · KL(P || Q) per row, P = softmax(teacher / T), Q = softmax(student / T) (reverse:
 * KL(Q || P)), and its gradient with respect to the student. F is the distribution that weights the KL (stored as
 * exps in the gradient), G the other; per chunk: both maxima, the sums of exp at 1/T, and Σ e_F (f̃ - g̃) (xlogy: a
 * column -inf in both contributes 0); the forward gradient k (Q - P) also reads G's exps, stored in a scratch row.
 * In place (the gradient over the student's logits) each phase runs on copies of its chunk ({@link ChunkScratch}) and
 * the write recomputes the chunk's exps: the same kernels on the same relative ranges, so the same bits.
 */
final class CpuDistillation {
    private final Kernels kernels;
    private final RowSchedule schedule;
    private final ArrayPool arrays;

    CpuDistillation(Kernels kernels, RowSchedule schedule, ArrayPool arrays) {
        this.kernels = kernels;
        this.schedule = schedule;
        this.arrays = arrays;
    }

    /**
     * Any storage: half inputs by blocks ({@link RowBlocks}), each block per row, its gradient already divided as the
     * reduced value's (the kernels scale the gradient by T / reduction.divisor()); otherwise staged whole.
     */
    void run(CpuDevice device, CpuTensor student, CpuTensor teacher, CpuLabels labels, int ignoreIndex,
             float temperature, boolean reverse, RowReduction reduction, CpuTensor value, CpuTensor grad) {
        if (RowBlocks.appliesToLoss(student)) {
            int[] y = labels == null ? null : labels.data();
            int rows = student.rows();
            int cols = student.cols();
            float[] rowLoss = new float[rows];
            RowReduction perRow = new RowReduction(true, reduction.divisor());
            RowBlocks.run(device, new CpuTensor[] {student, teacher}, new CpuTensor[] {grad}, rows, cols,
                    (f, r, a, o, n) -> {
                        float[] v = new float[n];
                        f.distillation().run(a[0], a[1], y == null ? null : Arrays.copyOfRange(y, r, r + n),
                                ignoreIndex, temperature, reverse, perRow, v, o[0], n, cols);
                        System.arraycopy(v, 0, rowLoss, r, n);
                    });
            RowBlocks.writeRowLosses(rowLoss, reduction.perRow(), reduction.divisor(), value.data());
            return;
        }
        try (CpuStaging s = new CpuStaging(device)) {
            run(s.in(student).data(), s.in(teacher).data(), labels == null ? null : labels.data(), ignoreIndex,
                    temperature, reverse, reduction, s.out(value).data(), s.out(grad).data(), student.rows(),
                    student.cols());
        }
    }

    void run(float[] s, float[] t, int[] labels, int ignoreIndex, float temperature, boolean reverse,
             RowReduction reduction, float[] value, float[] o, int rows, int cols) {
        double[] loss = new double[rows];
        if (Kernels.shortRows(cols) && !reverse && o != t) { // o == s: in place
            DistillationShortRows.run(kernels, schedule, s, t, labels, ignoreIndex, temperature, reduction.divisor(), o,
                    loss, rows, cols);
            CpuReductions.writeLoss(value, loss, reduction);
            return;
        }
        if (o == s) { // its own family class, so its own copy of the row loops (see RowSchedule)
            schedule.run(rows, cols, (slots, rowSlots, whole) -> new InPlace(s, t, labels, ignoreIndex, temperature,
                    reverse, reduction.divisor(), cols, loss, slots, rowSlots, whole));
        } else {
            schedule.run(rows, cols, (slots, rowSlots, whole) -> new Phases(s, t, labels, ignoreIndex, temperature,
                    reverse, reduction.divisor(), o, cols, loss, slots, rowSlots, whole, false));
        }
        CpuReductions.writeLoss(value, loss, reduction);
    }

    private class Phases implements RowPhases {
        final float[] s;
        final float[] t;
        final float[] f;
        final float[] g;
        final int[] labels;
        final int ignoreIndex;
        final boolean reverse;
        final float invT;
        final float k;
        final double t2;
        final float[] o;
        final int cols;
        final double[] loss;
        final SoftmaxStats sf;
        final SoftmaxStats sg;
        final double[] a;
        final float[] rowMf;
        final float[] rowMg;
        final double[] rowSf;
        final double[] rowSg;
        final double[] rowKl;
        /** The exps of G (forward only): of one row from its start, or of every row (whole tensor). */
        final float[] ge;
        final boolean whole;

        Phases(float[] s, float[] t, int[] labels, int ignoreIndex, float temperature, boolean reverse, float divisor,
               float[] o, int cols, double[] loss, int slots, int rowSlots, boolean whole, boolean inPlace) {
            this.s = s;
            this.t = t;
            this.f = reverse ? s : t;
            this.g = reverse ? t : s;
            this.labels = labels;
            this.ignoreIndex = ignoreIndex;
            this.reverse = reverse;
            this.invT = 1f / temperature;
            this.k = temperature / divisor;
            this.t2 = (double) temperature * temperature;
            this.o = o;
            this.cols = cols;
            this.loss = loss;
            this.whole = whole;
            sf = new SoftmaxStats(slots);
            sg = new SoftmaxStats(slots);
            a = new double[slots];
            rowMf = new float[rowSlots];
            rowMg = new float[rowSlots];
            rowSf = new double[rowSlots];
            rowSg = new double[rowSlots];
            rowKl = new double[rowSlots];
            ge = reverse || inPlace ? null : whole ? arrays.take(rowSlots * cols) : Scratch.row(cols);
        }

        final boolean ignored(int r) {
            return labels != null && labels[r] == ignoreIndex;
        }

        /** G's exps of entry i are at ge[i - geOff]. */
        final int geOff(int r) {
            return whole ? 0 : r * cols;
        }

        /**
         * Maxima (two max passes: a fused one made this compilation, which inlines every kernel it calls, pass C2's
         * node budget and box weightedDiff's loads), Σ exp((f - mf) / T) (the exps stored in o), Σ exp((g - mg) / T)
         * (stored in ge for the forward gradient), and Σ e_f ((f - mf) - (g - mg)) over the entries with e_f != 0.
         */
        @Override
        public void stats(int r, int i, int from, int to) {
            if (ignored(r)) {
                Arrays.fill(o, from, to, 0f);
                return;
            }
            stats(f, g, o, ge, ge == null ? 0 : geOff(r), i, from, to);
        }

        /** Chunk i's statistics of f[from, to) and g[from, to): F's exps stored in e, G's in ge (when not null). */
        final void stats(float[] f, float[] g, float[] e, float[] ge, int geOff, int i, int from, int to) {
            float[] o = e;
            float mf = kernels.max(f, from, to);
            float mg = kernels.max(g, from, to);
            sf.max()[i] = mf;
            sg.max()[i] = mg;
            if (Float.isFinite(mf)) {
                sf.sum()[i] = kernels.sumExpScaledStore(f, from, to, mf, invT, o, 0);
                a[i] = Float.isFinite(mg) ? kernels.weightedDiff(o, f, mf, g, mg, from, to)
                        : mg == Float.NEGATIVE_INFINITY ? Double.POSITIVE_INFINITY : Double.NaN;
            } else {
                sf.sum()[i] = 0;
                a[i] = 0;
                Arrays.fill(o, from, to, 0f);
            }
            if (ge == null) {
                sg.sum()[i] = Float.isFinite(mg) ? kernels.sumExpScaled(g, from, to, mg, invT) : 0;
            } else if (Float.isFinite(mg)) {
                sg.sum()[i] = kernels.sumExpScaledStore(g, from, to, mg, invT, ge, geOff);
            } else {
                sg.sum()[i] = 0;
                Arrays.fill(ge, from - geOff, to - geOff, 0f); // its scale is 0 (or the row is NaN): no stale NaN
            }
        }

        /** The row's maxima, sums of exp (NaN when not finite) and KL(F || G) at 1/T. */
        @Override
        public void combine(int r, int first, int chunks, int rowSlot) {
            if (ignored(r)) {
                return;
            }
            float mf = sf.rowMax(first, chunks);
            float mg = sg.rowMax(first, chunks);
            rowMf[rowSlot] = mf;
            rowMg[rowSlot] = mg;
            if (!Float.isFinite(mf) || !Float.isFinite(mg)) {
                rowSf[rowSlot] = Double.NaN;
                rowSg[rowSlot] = Double.NaN;
                rowKl[rowSlot] = Double.NaN;
            } else {
                double sumF = 0;
                double x = 0;
                for (int c = first; c < first + chunks; c++) {
                    if (sf.max()[c] != Float.NEGATIVE_INFINITY) {
                        double df = (double) sf.max()[c] - mf;
                        double w = sf.weight(c, mf, invT);
                        sumF += w * sf.sum()[c];
                        x += w * (a[c] + (df - ((double) sg.max()[c] - mg)) * sf.sum()[c]);
                    }
                }
                double sumG = sg.rowSum(first, chunks, mg, invT);
                rowSf[rowSlot] = sumF;
                rowSg[rowSlot] = sumG;
                rowKl[rowSlot] = x * invT / sumF - Math.log(sumF) + Math.log(sumG);
            }
            loss[r] = t2 * rowKl[rowSlot];
        }

        /**
         * Forward (F = teacher P, G = student Q): k (Q - P) over the stored exps of both; reverse (F = student Q,
         * G = teacher P): k Q ((log Q - log P) - KL) over the stored exps; k = T / divisor.
         */
        @Override
        public void write(int r, int c, int rowSlot, int from, int to) {
            if (ignored(r)) {
                return;
            }
            if (Double.isNaN(rowSf[rowSlot])) {
                Arrays.fill(o, from, to, Float.NaN);
                return;
            }
            write(s, t, o, ge, reverse ? 0 : geOff(r), c, rowSlot, from, to);
        }

        /** The gradient of chunk c of s[from, to) (and t) over F's exps stored in e (and G's in ge, forward). */
        final void write(float[] s, float[] t, float[] e, float[] ge, int geOff, int c, int rowSlot, int from, int to) {
            float scale = sf.scale(c, rowMf[rowSlot], rowSf[rowSlot], invT);
            if (reverse) {
                double c0 = Math.log(rowSg[rowSlot]) - Math.log(rowSf[rowSlot]) - rowKl[rowSlot];
                kernels.xlogyGrad(s, rowMf[rowSlot], t, rowMg[rowSlot], from, to, invT, (float) c0, scale, k, e);
            } else {
                kernels.scaledDiffWrite(ge, geOff, from, to, sg.scale(c, rowMg[rowSlot], rowSg[rowSlot], invT),
                        scale, k, e);
            }
        }

        /** Stats' stored exps of chunk c, again: of a[from, to) into e[from - eOff, to - eOff). */
        final void restore(SoftmaxStats stats, float[] a, float[] e, int eOff, int c, int from, int to) {
            float m = stats.max()[c];
            if (Float.isFinite(m)) {
                kernels.sumExpScaledStore(a, from, to, m, invT, e, eOff);
            } else {
                Arrays.fill(e, from - eOff, to - eOff, 0f);
            }
        }

        @Override
        public void release() {
            if (ge != null && whole) {
                arrays.give(ge);
            }
        }
    }

    /** The student's gradient written over its logits: each phase on copies of its chunk, the exps recomputed. */
    private final class InPlace extends Phases {
        InPlace(float[] s, float[] t, int[] labels, int ignoreIndex, float temperature, boolean reverse, float divisor,
                int cols, double[] loss, int slots, int rowSlots, boolean whole) {
            super(s, t, labels, ignoreIndex, temperature, reverse, divisor, s, cols, loss, slots, rowSlots, whole, true);
        }

        @Override
        public void stats(int r, int i, int from, int to) {
            if (ignored(r)) {
                Arrays.fill(o, from, to, 0f); // the row's gradient; nothing reads this row again
                return;
            }
            int n = to - from;
            float[][] scratch = ChunkScratch.get();
            float[] sc = ChunkScratch.copy(s, from, n, scratch[0]);
            float[] tc = ChunkScratch.copy(t, from, n, scratch[1]);
            stats(reverse ? sc : tc, reverse ? tc : sc, scratch[2], reverse ? null : scratch[3], 0, i, 0, n);
        }

        @Override
        public void write(int r, int c, int rowSlot, int from, int to) {
            if (ignored(r)) {
                return;
            }
            if (Double.isNaN(rowSf[rowSlot])) {
                Arrays.fill(o, from, to, Float.NaN);
                return;
            }
            int n = to - from;
            float[][] scratch = ChunkScratch.get();
            float[] sc = ChunkScratch.copy(s, from, n, scratch[0]);
            float[] tc = ChunkScratch.copy(t, from, n, scratch[1]);
            float[] e = scratch[2];
            float[] ge = reverse ? null : scratch[3];
            restore(sf, reverse ? sc : tc, e, 0, c, 0, n);
            if (ge != null) {
                restore(sg, sc, ge, 0, c, 0, n);
            }
            write(sc, tc, e, ge, 0, c, rowSlot, 0, n);
            System.arraycopy(e, 0, o, from, n);
        }
    }
}
