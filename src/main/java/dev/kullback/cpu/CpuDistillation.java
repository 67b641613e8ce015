package dev.kullback.cpu;

import dev.kullback.internal.RowReduction;
import java.util.Arrays;

/**
 * Distillation KL on the CPU: T² · KL(P || Q) per row, P = softmax(teacher / T), Q = softmax(student / T) (reverse:
 * KL(Q || P)), and its gradient with respect to the student. F is the distribution that weights the KL (stored as
 * exps in the gradient), G the other; per chunk: both maxima, the sums of exp at 1/T, and Σ e_F (f̃ - g̃) (xlogy: a
 * column -inf in both contributes 0); the forward gradient k (Q - P) also reads G's exps, stored in a scratch row.
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

    void run(float[] s, float[] t, int[] labels, int ignoreIndex, float temperature, boolean reverse,
             RowReduction reduction, float[] value, float[] o, int rows, int cols) {
        double[] loss = new double[rows];
        if (Kernels.shortRows(cols) && !reverse && o != s && o != t) { // in place: the phases below
            DistillationShortRows.run(kernels, schedule, s, t, labels, ignoreIndex, temperature, reduction.divisor(), o,
                    loss, rows, cols);
            CpuReductions.writeLoss(value, loss, reduction);
            return;
        }
        schedule.run(rows, cols, (slots, rowSlots, whole) -> new Phases(s, t, labels, ignoreIndex, temperature,
                reverse, reduction.divisor(), o, cols, loss, slots, rowSlots, whole));
        CpuReductions.writeLoss(value, loss, reduction);
    }

    private final class Phases implements RowPhases {
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
               float[] o, int cols, double[] loss, int slots, int rowSlots, boolean whole) {
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
            ge = reverse ? null : whole ? arrays.take(rowSlots * cols) : Scratch.row(cols);
        }

        private boolean ignored(int r) {
            return labels != null && labels[r] == ignoreIndex;
        }

        /** G's exps of entry i are at ge[i - geOff]. */
        private int geOff(int r) {
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
                sg.sum()[i] = kernels.sumExpScaledStore(g, from, to, mg, invT, ge, geOff(r));
            } else {
                sg.sum()[i] = 0;
                int off = geOff(r);
                Arrays.fill(ge, from - off, to - off, 0f); // its scale is 0 (or the row is NaN): no stale NaN
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
            float scale = sf.scale(c, rowMf[rowSlot], rowSf[rowSlot], invT);
            if (reverse) {
                double c0 = Math.log(rowSg[rowSlot]) - Math.log(rowSf[rowSlot]) - rowKl[rowSlot];
                kernels.xlogyGrad(s, rowMf[rowSlot], t, rowMg[rowSlot], from, to, invT, (float) c0, scale, k, o);
            } else {
                kernels.scaledDiffWrite(ge, geOff(r), from, to, sg.scale(c, rowMg[rowSlot], rowSg[rowSlot], invT),
                        scale, k, o);
            }
        }

        @Override
        public void release() {
            if (ge != null && whole) {
                arrays.give(ge);
            }
        }
    }
}
