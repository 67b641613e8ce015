package dev.kullback.cpu;

import dev.kullback.Reduction;
import java.util.Arrays;

/**
 * Cross-entropy on the CPU, with class labels or with target probabilities: per chunk softmax's statistics (the exps
 * stored in the gradient as scratch) plus the sums label smoothing and soft targets need, a combine per row into its
 * log-sum-exp and loss, then the gradient written over the stored exps. Reductions as PyTorch's: MEAN with labels
 * divides by the total weight of the counted rows (the z-loss by their number), with probabilities by the rows.
 */
final class CpuCrossEntropy {
    private final Kernels kernels;
    private final RowSchedule schedule;

    CpuCrossEntropy(Kernels kernels, RowSchedule schedule) {
        this.kernels = kernels;
        this.schedule = schedule;
    }

    /** Class labels, any storage: half logits by blocks where {@link #blocked} takes them, otherwise staged whole. */
    void labels(CpuDevice device, CpuTensor logits, CpuLabels labels, CpuTensor weights, Reduction reduction,
                int ignoreIndex, float labelSmoothing, float zLoss, CpuTensor value, CpuTensor grad) {
        if (RowBlocks.appliesToLoss(logits)
                && (weights == null || weights.isPlain()) && (reduction != Reduction.MEAN || weights == null
                || zLoss == 0) && blocked(device, logits, labels.data(), weights == null ? null : weights.data(),
                reduction, ignoreIndex, labelSmoothing, zLoss, value.data(), grad)) {
            return;
        }
        try (CpuStaging s = new CpuStaging(device)) {
            labels(s.in(logits).data(), labels.data(), weights == null ? null : s.in(weights).data(), reduction,
                    ignoreIndex, labelSmoothing, zLoss, s.out(value).data(), s.out(grad).data(), logits.rows(),
                    logits.cols());
        }
    }

    /**
     * Class labels block by block ({@link RowBlocks}): each block per row (NONE), its gradient then divided as the
     * reduced value's (MEAN: by the counted rows' total weight; with class weights only without a z-loss, whose mean
     * divides by the counted rows instead). False (nothing done) for MEAN over no counted row.
     */
    private boolean blocked(CpuDevice device, CpuTensor logits, int[] y, float[] w, Reduction reduction,
                            int ignoreIndex, float labelSmoothing, float zLoss, float[] value, CpuTensor grad) {
        int rows = logits.rows();
        int cols = logits.cols();
        double weightTotal = 0;
        for (int r = 0; r < rows; r++) {
            if (y[r] != ignoreIndex) {
                weightTotal += w == null ? 1.0 : w[y[r]];
            }
        }
        if (reduction == Reduction.MEAN && weightTotal == 0) {
            return false;
        }
        float k = reduction == Reduction.MEAN ? (float) (1.0 / weightTotal) : 1f;
        float[] rowLoss = new float[rows];
        RowBlocks.run(device, new CpuTensor[] {logits}, new CpuTensor[] {grad}, rows, cols, (f, r, a, o, n) -> {
            float[] v = new float[n];
            f.crossEntropy().labels(a[0], Arrays.copyOfRange(y, r, r + n), w, Reduction.NONE, ignoreIndex,
                    labelSmoothing, zLoss, v, o[0], n, cols);
            System.arraycopy(v, 0, rowLoss, r, n);
            if (k != 1f) {
                kernels.scale(o[0], 0, n * cols, k);
            }
        });
        RowBlocks.writeRowLosses(rowLoss, reduction == Reduction.NONE, reduction == Reduction.MEAN ? weightTotal : 1,
                value);
        return true;
    }

    /** Target probabilities, any storage: staged whole. */
    void probabilities(CpuDevice device, CpuTensor logits, CpuTensor target, CpuTensor weights, Reduction reduction,
                       float labelSmoothing, float zLoss, CpuTensor value, CpuTensor grad) {
        try (CpuStaging s = new CpuStaging(device)) {
            probabilities(s.in(logits).data(), s.in(target).data(), weights == null ? null : s.in(weights).data(),
                    reduction, labelSmoothing, zLoss, s.out(value).data(), s.out(grad).data(), logits.rows(),
                    logits.cols());
        }
    }

    void labels(float[] z, int[] y, float[] w, Reduction reduction, int ignoreIndex, float labelSmoothing,
                float zLoss, float[] value, float[] o, int rows, int cols) {
        double wSum = 0;
        if (w == null) {
            wSum = cols;
        } else {
            for (float wc : w) {
                wSum += wc;
            }
        }
        double weightTotal = 0;
        int counted = 0;
        for (int r = 0; r < rows; r++) {
            if (y[r] != ignoreIndex) {
                counted++;
                weightTotal += w == null ? 1.0 : w[y[r]];
            }
        }
        boolean mean = reduction == Reduction.MEAN;
        double[] ce = new double[rows];
        double[] zl = new double[rows];
        double k = mean ? 1.0 / weightTotal : 1.0;
        double kz = mean ? 1.0 / counted : 1.0;
        double ws = wSum;
        // each row's target logit, read before any gradient is written: o may be z itself (an in-place gradient)
        float[] zy = new float[rows];
        for (int r = 0; r < rows; r++) {
            zy[r] = y[r] == ignoreIndex ? 0f : z[r * cols + y[r]];
        }
        if (Kernels.shortRows(cols) && labelSmoothing == 0) {
            CrossEntropyShortRows.run(kernels, schedule, z, zy, y, w, ignoreIndex, zLoss, k, kz, o, ce, zl, rows, cols);
        } else { // the row statistics only here: the short rows' kernels keep their own
            RowStats rowStats = new RowStats(new float[rows], new double[rows], new double[rows]);
            schedule.run(rows, cols, (slots, rowSlots, whole) -> new Hard(z, zy, y, w, ignoreIndex, cols, labelSmoothing,
                    zLoss, ws, k, kz, o, ce, zl, rowStats, slots));
        }
        if (reduction == Reduction.NONE) {
            for (int r = 0; r < rows; r++) {
                value[r] = (float) (ce[r] + zl[r]);
            }
        } else if (reduction == Reduction.SUM) {
            double total = 0;
            for (int r = 0; r < rows; r++) {
                total += ce[r] + zl[r];
            }
            value[0] = (float) total;
        } else {
            double total = RowSchedule.sum(ce, 0, rows) / weightTotal;
            if (zLoss != 0) {
                total += RowSchedule.sum(zl, 0, rows) / counted;
            }
            value[0] = counted == 0 ? Float.NaN : (float) total;
        }
    }

    /** A row's maximum, sum of exp and log-sum-exp, by row index (rows are shared by every thread's phases). */
    private record RowStats(float[] max, double[] sum, double[] lse) {
    }

    /** Hard labels: chunk statistics of their own, row results by row index. */
    private final class Hard implements RowPhases {
        final float[] z;
        /** Each row's target logit. */
        final float[] zy;
        final int[] y;
        final float[] w;
        final int ignoreIndex;
        final int cols;
        final float eps;
        final float zScale;
        final double wSum;
        final double k;
        final double kz;
        final boolean smoothing;
        final float[] o;
        final double[] ce;
        final double[] zl;
        final float[] rowMax;
        final double[] rowSum;
        final double[] rowLse;
        final SoftmaxStats st;
        final double[] x;

        Hard(float[] z, float[] zy, int[] y, float[] w, int ignoreIndex, int cols, float eps, float zScale, double wSum, double k,
             double kz, float[] o, double[] ce, double[] zl, RowStats rows, int slots) {
            this.z = z;
            this.zy = zy;
            this.y = y;
            this.w = w;
            this.ignoreIndex = ignoreIndex;
            this.cols = cols;
            this.eps = eps;
            this.zScale = zScale;
            this.wSum = wSum;
            this.k = k;
            this.kz = kz;
            this.smoothing = eps > 0;
            this.o = o;
            this.ce = ce;
            this.zl = zl;
            rowMax = rows.max();
            rowSum = rows.sum();
            rowLse = rows.lse();
            st = new SoftmaxStats(slots);
            x = new double[slots];
        }

        /** Softmax's statistics, plus Σ w z (or Σ z without weights) when smoothing. */
        @Override
        public void stats(int r, int i, int from, int to) {
            if (y[r] == ignoreIndex) {
                Arrays.fill(o, from, to, 0f);
                return;
            }
            // the logits' own sums first: o may be z (an in-place gradient), and store writes exps into o
            x[i] = !smoothing ? 0 : w == null ? kernels.sum(z, from, to) : kernels.dotOffset(w, r * cols, z, from, to);
            st.store(kernels, z, o, from, to, i);
        }

        @Override
        public void combine(int r, int first, int chunks, int rowSlot) {
            if (y[r] == ignoreIndex) {
                return;
            }
            float m = st.rowMax(first, chunks);
            double sum = st.rowSum(first, chunks, m, 1f);
            rowMax[r] = m;
            rowSum[r] = sum;
            double lse = m + Math.log(sum);
            rowLse[r] = lse;
            int yr = y[r];
            double wy = w == null ? 1.0 : w[yr];
            double nll = -wy * (zy[r] - lse);
            double loss = (1 - (double) eps) * nll;
            if (smoothing) {
                double wz = 0;
                for (int c = first; c < first + chunks; c++) {
                    wz += x[c];
                }
                loss += (double) eps / cols * -(wz - lse * wSum);
            }
            ce[r] = Double.isFinite(m) ? loss : Double.NaN;
            zl[r] = zScale == 0 ? 0 : Double.isFinite(m) ? zScale * lse * lse : Double.NaN;
        }

        @Override
        public void write(int r, int c, int rowSlot, int from, int to) {
            if (y[r] == ignoreIndex) {
                return;
            }
            if (!Float.isFinite(rowMax[r])) {
                Arrays.fill(o, from, to, Float.NaN);
                return;
            }
            int base = r * cols;
            int yr = y[r];
            double wy = w == null ? 1.0 : w[yr];
            double lse = rowLse[r];
            double e = eps;
            double a = k * ((1 - e) * wy + e / cols * wSum) + kz * 2 * zScale * lse;
            float scale = st.scale(c, rowMax[r], rowSum[r], 1f);
            float b = (float) (k * e / cols);
            float pa = (float) (a * scale);
            if (w == null) {
                kernels.scaleSub(o, from, to, pa, b);
            } else {
                kernels.scaleSubWeighted(w, base, from, to, pa, b, o);
            }
            int yi = base + yr;
            if (yi >= from && yi < to) {
                o[yi] -= (float) (k * (1 - e) * wy);
            }
        }
    }

    void probabilities(float[] z, float[] t, float[] weights, Reduction reduction, float labelSmoothing, float zLoss,
                       float[] value, float[] o, int rows, int cols) {
        float[] w;
        if (weights == null) {
            w = new float[cols];
            Arrays.fill(w, 1f);
        } else {
            w = weights;
        }
        double wSum = 0;
        for (float wc : w) {
            wSum += wc;
        }
        double k = reduction == Reduction.MEAN ? 1.0 / rows : 1.0;
        double[] loss = new double[rows];
        double ws = wSum;
        if (o == z) { // its own family class, so its own copy of the row loops (see RowSchedule)
            schedule.run(rows, cols, (slots, rowSlots, whole) -> new SoftInPlace(z, t, w, cols, labelSmoothing, zLoss,
                    ws, k, loss, slots, rowSlots));
        } else {
            schedule.run(rows, cols, (slots, rowSlots, whole) -> new Soft(z, t, w, o, cols, labelSmoothing, zLoss, ws,
                    k, loss, slots, rowSlots));
        }
        if (reduction == Reduction.NONE) {
            for (int r = 0; r < rows; r++) {
                value[r] = (float) loss[r];
            }
        } else {
            value[0] = (float) (RowSchedule.sum(loss, 0, rows) * k);
        }
    }

    /** Soft targets: softmax's statistics, plus Σ w t z, Σ w t, and Σ w z when smoothing. */
    private class Soft implements RowPhases {
        final float[] z;
        final float[] t;
        final float[] w;
        final float[] o;
        final int cols;
        final double eps;
        final boolean smoothing;
        final float zLoss;
        final double wSum;
        final double k;
        final double[] loss;
        final SoftmaxStats st;
        final double[] wtz;
        final double[] wt;
        final double[] wz;
        final float[] rowMax;
        final double[] rowSum;
        final double[] rowLse;
        final double[] rowWt;

        Soft(float[] z, float[] t, float[] w, float[] o, int cols, float labelSmoothing, float zLoss, double wSum,
             double k, double[] loss, int slots, int rowSlots) {
            this.z = z;
            this.t = t;
            this.w = w;
            this.o = o;
            this.cols = cols;
            this.eps = labelSmoothing;
            this.smoothing = labelSmoothing > 0;
            this.zLoss = zLoss;
            this.wSum = wSum;
            this.k = k;
            this.loss = loss;
            st = new SoftmaxStats(slots);
            wtz = new double[slots];
            wt = new double[slots];
            wz = new double[smoothing ? slots : 0];
            rowMax = new float[rowSlots];
            rowSum = new double[rowSlots];
            rowLse = new double[rowSlots];
            rowWt = new double[rowSlots];
        }

        @Override
        public void stats(int r, int i, int from, int to) {
            st.store(kernels, z, o, from, to, i);
            sums(r, i, from, to);
        }

        /** Chunk i's Σ w t z, Σ w t (and Σ w z), which read the logits. */
        final void sums(int r, int i, int from, int to) {
            int base = r * cols;
            wtz[i] = kernels.dot3Offset(w, base, t, z, from, to);
            wt[i] = kernels.dotOffset(w, base, t, from, to);
            if (smoothing) {
                wz[i] = kernels.dotOffset(w, base, z, from, to);
            }
        }

        @Override
        public void combine(int r, int first, int chunks, int rowSlot) {
            float m = st.rowMax(first, chunks);
            double sum = st.rowSum(first, chunks, m, 1f);
            double lse = m + Math.log(sum);
            rowMax[rowSlot] = m;
            rowSum[rowSlot] = sum;
            rowLse[rowSlot] = lse;
            double wtzSum = 0;
            double wtSum = 0;
            double wzSum = 0;
            for (int c = first; c < first + chunks; c++) {
                wtzSum += wtz[c];
                wtSum += wt[c];
                if (smoothing) {
                    wzSum += wz[c];
                }
            }
            // t' = (1 - eps) t + eps / C: Σ w t' z and Σ w t'
            double a = (1 - eps) * wtzSum + (smoothing ? eps / cols * wzSum : 0);
            double b = (1 - eps) * wtSum + eps / cols * wSum;
            rowWt[rowSlot] = b;
            double l = -(a - lse * b);
            if (Double.isNaN(l) && Float.isFinite(m)) {
                l = termByTerm(r * cols, lse);
            }
            if (zLoss != 0) {
                l += zLoss * lse * lse;
            }
            loss[r] = Float.isFinite(m) ? l : Double.NaN;
        }

        @Override
        public void write(int r, int c, int rowSlot, int from, int to) {
            if (!Float.isFinite(rowMax[rowSlot])) {
                Arrays.fill(o, from, to, Float.NaN);
                return;
            }
            writeOverExps(r, c, rowSlot, from, to);
        }

        /** The gradient of chunk c, over the exps stored in o; reads no logit. */
        final void writeOverExps(int r, int c, int rowSlot, int from, int to) {
            double a = k * rowWt[rowSlot] + k * 2 * zLoss * rowLse[rowSlot];
            kernels.softTargetWrite(w, r * cols, t, from, to,
                    (float) (a * st.scale(c, rowMax[rowSlot], rowSum[rowSlot], 1f)), (float) k, (float) (1 - eps),
                    (float) (eps / cols), o);
        }

        /**
         * One row summed term by term, {@code -Σ (z - lse) t' w}, as PyTorch composes it: the slow path for a row
         * whose fused sums came out NaN from a {@code 0 · -inf} (a -inf logit where the target is 0), which is +inf
         * once label smoothing makes every target positive, and NaN without smoothing.
         */
        private double termByTerm(int off, double lse) {
            double sum = 0;
            for (int c = 0; c < cols; c++) {
                float smoothed = (float) ((1 - eps) * t[off + c] + eps / cols);
                sum += ((double) z[off + c] - lse) * smoothed * w[c];
            }
            return -sum;
        }
    }

    /**
     * Soft targets with the gradient written over the logits: the statistics store their exps in scratch (the logits
     * stay intact until the write, for the sums and the term-by-term slow path), and the write recomputes each chunk's
     * exps over its logits (each element read, then written) before writing the gradient over them: the same kernels on
     * the same values, so the same bits.
     */
    private final class SoftInPlace extends Soft {
        SoftInPlace(float[] z, float[] t, float[] w, int cols, float labelSmoothing, float zLoss, double wSum, double k,
                    double[] loss, int slots, int rowSlots) {
            super(z, t, w, z, cols, labelSmoothing, zLoss, wSum, k, loss, slots, rowSlots);
        }

        @Override
        public void stats(int r, int i, int from, int to) {
            float[][] scratch = ChunkScratch.get();
            st.store(kernels, ChunkScratch.copy(z, from, to - from, scratch[0]), scratch[1], 0, to - from, i);
            sums(r, i, from, to);
        }

        @Override
        public void write(int r, int c, int rowSlot, int from, int to) {
            if (!Float.isFinite(rowMax[rowSlot])) {
                Arrays.fill(o, from, to, Float.NaN);
                return;
            }
            st.restore(kernels, z, o, from, to, c);
            writeOverExps(r, c, rowSlot, from, to);
        }
    }
}
