package dev.kullback.cpu;

import dev.kullback.internal.Divergence;
import dev.kullback.internal.RowReduction;
import java.util.Arrays;

/**
 * Liger's generalized JSD and the symmetric KL on the CPU, F = softmax(f), G = softmax(g); the gradients of both
 * logits are written, their outputs holding the exps of F and G in between. A KL: one statistics pass (maxima, Σ exp
 * stored, Σ e_F (f̃ - g̃)), then one pass that writes both gradients. Symmetric KL: the same, plus Σ e_G (g̃ - f̃).
 * Generalized JSD: a statistics pass (maxima, Σ exp stored), a second pass that turns the stored exps into
 * probabilities and stores log M in a scratch row (the only log per element), then sums F log(F/M) and G log(G/M),
 * then the write pass. The later passes read what the earlier ones wrote for the same row, from cache while a row
 * fits in L2. In place (both gradients over their logits) each phase runs on copies of its chunk ({@link ChunkScratch})
 * and recomputes the exps (and log M) the earlier phases stored: the same kernels on the same relative ranges, so the
 * same bits.
 */
final class CpuJsd {
    private final Kernels kernels;
    private final RowSchedule schedule;
    private final ArrayPool arrays;

    CpuJsd(Kernels kernels, RowSchedule schedule, ArrayPool arrays) {
        this.kernels = kernels;
        this.schedule = schedule;
        this.arrays = arrays;
    }

    void jsd(CpuDevice device, CpuTensor student, CpuTensor teacher, float beta, RowReduction reduction,
             CpuTensor value, CpuTensor gradStudent, CpuTensor gradTeacher) {
        try (CpuStaging s = new CpuStaging(device)) {
            jsd(s.in(student).data(), s.in(teacher).data(), beta, reduction, s.out(value).data(),
                    s.out(gradStudent).data(), s.out(gradTeacher).data(), student.rows(), student.cols());
        }
    }

    void symmetricKl(CpuDevice device, CpuTensor p, CpuTensor q, RowReduction reduction, CpuTensor value,
                     CpuTensor gradP, CpuTensor gradQ) {
        try (CpuStaging s = new CpuStaging(device)) {
            symmetricKl(s.in(p).data(), s.in(q).data(), reduction, s.out(value).data(), s.out(gradP).data(),
                    s.out(gradQ).data(), p.rows(), p.cols());
        }
    }

    /** P = softmax(teacher), Q = softmax(student); KL_QP weights by Q, so Q is F there, P everywhere else. */
    void jsd(float[] s, float[] t, float beta, RowReduction reduction, float[] value, float[] gs, float[] gt, int rows,
             int cols) {
        Divergence mode = Divergence.ofBeta(beta);
        if (mode == Divergence.KL_QP) {
            run(s, t, gs, gt, rows, cols, mode, beta, reduction, value);
        } else {
            run(t, s, gt, gs, rows, cols, mode, beta, reduction, value);
        }
    }

    void symmetricKl(float[] p, float[] q, RowReduction reduction, float[] value, float[] gp, float[] gq, int rows,
                     int cols) {
        run(p, q, gp, gq, rows, cols, Divergence.SYMMETRIC_KL, 0f, reduction, value);
    }

    private void run(float[] f, float[] g, float[] of, float[] og, int rows, int cols, Divergence mode, float beta,
                     RowReduction reduction, float[] value) {
        double[] loss = new double[rows];
        float k = 1f / reduction.divisor();
        if (of == f && og == g) { // its own family class, so its own copy of the row loops (see RowSchedule)
            schedule.run(rows, cols, (slots, rowSlots, whole) -> new InPlace(f, g, cols, mode, beta, k, loss, slots,
                    rowSlots, whole));
        } else {
            schedule.run(rows, cols, (slots, rowSlots, whole) -> new Phases(f, g, of, og, cols, mode, beta, k, loss,
                    slots, rowSlots, whole, false));
        }
        CpuReductions.writeLoss(value, loss, reduction);
    }

    private class Phases implements RowPhases {
        final float[] f;
        final float[] g;
        final float[] of;
        final float[] og;
        final int cols;
        final Divergence mode;
        final boolean jsd;
        final float beta;
        final float k;
        final double[] loss;
        final SoftmaxStats sf;
        final SoftmaxStats sg;
        /** Two more sums per chunk: a = ab[2i], b = ab[2i + 1]. */
        final double[] ab;
        final float[] rowMf;
        final float[] rowMg;
        final double[] rowSf;
        final double[] rowSg;
        final double[] rowKf;
        final double[] rowKg;
        /** JSD: log M of one row from its start, or of every row (whole tensor). */
        final float[] lm;
        final boolean whole;

        Phases(float[] f, float[] g, float[] of, float[] og, int cols, Divergence mode, float beta, float k,
               double[] loss, int slots, int rowSlots, boolean whole, boolean inPlace) {
            this.f = f;
            this.g = g;
            this.of = of;
            this.og = og;
            this.cols = cols;
            this.mode = mode;
            this.jsd = mode == Divergence.JSD;
            this.beta = beta;
            this.k = k;
            this.loss = loss;
            this.whole = whole;
            sf = new SoftmaxStats(slots);
            sg = new SoftmaxStats(slots);
            ab = new double[2 * slots];
            rowMf = new float[rowSlots];
            rowMg = new float[rowSlots];
            rowSf = new double[rowSlots];
            rowSg = new double[rowSlots];
            rowKf = new double[rowSlots];
            rowKg = new double[rowSlots];
            lm = !jsd || inPlace ? null : whole ? arrays.take(rowSlots * cols) : new float[cols];
        }

        private int lmOff(int r) {
            return whole ? 0 : r * cols;
        }

        /** Σ e_a ((a - ma) - (b - mb)) over a chunk whose exps of a are in w (0 when a is all -inf there). */
        private double chunkDiff(float[] w, float[] a, float ma, float[] b, float mb, int from, int to) {
            if (!Float.isFinite(ma)) {
                return 0;
            }
            return Float.isFinite(mb) ? kernels.weightedDiff(w, a, ma, b, mb, from, to)
                    : mb == Float.NEGATIVE_INFINITY ? Double.POSITIVE_INFINITY : Double.NaN;
        }

        /** Maxima, exps stored in of and og with their sums, and (the KLs) the weighted differences. */
        @Override
        public void stats(int r, int i, int from, int to) {
            stats(f, g, of, og, i, from, to);
        }

        /** Chunk i's statistics of f[from, to) and g[from, to), their exps stored in of and og. */
        final void stats(float[] f, float[] g, float[] of, float[] og, int i, int from, int to) {
            sf.store(kernels, f, of, from, to, i);
            sg.store(kernels, g, og, from, to, i);
            float mf = sf.max()[i];
            float mg = sg.max()[i];
            if (!jsd) {
                ab[2 * i] = chunkDiff(of, f, mf, g, mg, from, to);
                if (mode == Divergence.SYMMETRIC_KL) {
                    ab[2 * i + 1] = chunkDiff(og, g, mg, f, mf, from, to);
                }
            }
        }

        /** Maxima, sums (NaN when a maximum is not finite), and (the KLs) KL(F || G), KL(G || F). */
        @Override
        public void combine(int r, int first, int chunks, int rowSlot) {
            float mf = sf.rowMax(first, chunks);
            float mg = sg.rowMax(first, chunks);
            rowMf[rowSlot] = mf;
            rowMg[rowSlot] = mg;
            if (!Float.isFinite(mf) || !Float.isFinite(mg)) {
                rowSf[rowSlot] = Double.NaN;
                rowSg[rowSlot] = Double.NaN;
                rowKf[rowSlot] = Double.NaN;
                rowKg[rowSlot] = Double.NaN;
                loss[r] = Double.NaN;
                return;
            }
            double a = 0;
            double b = 0;
            for (int c = first; c < first + chunks; c++) {
                double df = (double) sf.max()[c] - mf;
                double dg = (double) sg.max()[c] - mg;
                if (!jsd && sf.max()[c] != Float.NEGATIVE_INFINITY) {
                    a += sf.weight(c, mf, 1f) * (ab[2 * c] + (df - dg) * sf.sum()[c]);
                }
                if (mode == Divergence.SYMMETRIC_KL && sg.max()[c] != Float.NEGATIVE_INFINITY) {
                    b += sg.weight(c, mg, 1f) * (ab[2 * c + 1] + (dg - df) * sg.sum()[c]);
                }
            }
            double sumF = sf.rowSum(first, chunks, mf, 1f);
            double sumG = sg.rowSum(first, chunks, mg, 1f);
            rowSf[rowSlot] = sumF;
            rowSg[rowSlot] = sumG;
            double lf = Math.log(sumF);
            double lg = Math.log(sumG);
            rowKf[rowSlot] = a / sumF - lf + lg;
            rowKg[rowSlot] = b / sumG - lg + lf;
            loss[r] = mode == Divergence.SYMMETRIC_KL ? rowKf[rowSlot] + rowKg[rowSlot] : rowKf[rowSlot];
        }

        @Override
        public boolean hasSecondPass() {
            return jsd;
        }

        /**
         * JSD: chunk c's probabilities stored, log M into lm, its sums F log(F/M), G log(G/M) into ab. Two kernels:
         * one loop with the log and one with the sums would not fit one C2 compilation (see Kernels).
         */
        @Override
        public void secondPass(int r, int c, int rowSlot, int from, int to) {
            if (Double.isNaN(rowSf[rowSlot])) {
                return;
            }
            secondPass(f, g, of, og, lm, lmOff(r), c, rowSlot, from, to);
        }

        /** Chunk c's sums over the exps stored in of and og; log M into lm (from lmOff). */
        final void secondPass(float[] f, float[] g, float[] of, float[] og, float[] lm, int lmOff, int c, int rowSlot,
                              int from, int to) {
            mix(of, og, lm, lmOff, c, rowSlot, from, to);
            kernels.jsdSums(f, rowMf[rowSlot], (float) Math.log(rowSf[rowSlot]), g, rowMg[rowSlot],
                    (float) Math.log(rowSg[rowSlot]), from, to, lm, lmOff, of, og, ab, 2 * c);
        }

        /** JSD: the stored exps of chunk c turned into probabilities, and log M into lm. */
        final void mix(float[] of, float[] og, float[] lm, int lmOff, int c, int rowSlot, int from, int to) {
            kernels.jsdMix(from, to, sf.scale(c, rowMf[rowSlot], rowSf[rowSlot], 1f),
                    sg.scale(c, rowMg[rowSlot], rowSg[rowSlot], 1f), beta, 1f - beta, of, og, lm, lmOff);
        }

        /** JSD: the row's KL(P || M) and KL(Q || M) from its chunks' sums, in chunk order. */
        @Override
        public void secondCombine(int r, int first, int chunks, int rowSlot) {
            if (Double.isNaN(rowSf[rowSlot])) {
                return;
            }
            double a = 0;
            double b = 0;
            for (int c = first; c < first + chunks; c++) {
                a += ab[2 * c];
                b += ab[2 * c + 1];
            }
            rowKf[rowSlot] = a;
            rowKg[rowSlot] = b;
            loss[r] = beta * a + (1 - (double) beta) * b;
        }

        /** Both gradients of one chunk (k = 1 / divisor). */
        @Override
        public void write(int r, int c, int rowSlot, int from, int to) {
            if (Double.isNaN(rowSf[rowSlot])) {
                Arrays.fill(of, from, to, Float.NaN);
                Arrays.fill(og, from, to, Float.NaN);
                return;
            }
            write(f, g, of, og, lm, jsd ? lmOff(r) : 0, c, rowSlot, from, to);
        }

        /** Both gradients of chunk c over what the earlier phases stored in of and og (and lm). */
        final void write(float[] f, float[] g, float[] of, float[] og, float[] lm, int lmOff, int c, int rowSlot,
                         int from, int to) {
            double lf = Math.log(rowSf[rowSlot]);
            double lg = Math.log(rowSg[rowSlot]);
            float mf = rowMf[rowSlot];
            float mg = rowMg[rowSlot];
            if (jsd) {
                kernels.jsdWrite(f, mf, (float) lf, g, mg, (float) lg, from, to, lm, lmOff, k * beta,
                        (float) rowKf[rowSlot], k * (1f - beta), (float) rowKg[rowSlot], of, og);
                return;
            }
            float scF = sf.scale(c, mf, rowSf[rowSlot], 1f);
            float scG = sg.scale(c, mg, rowSg[rowSlot], 1f);
            if (mode == Divergence.SYMMETRIC_KL) {
                kernels.symKlWrite(f, mf, g, mg, from, to, (float) (lg - lf), scF, scG, (float) (1 - rowKf[rowSlot]),
                        (float) (1 - rowKg[rowSlot]), k, of, og);
            } else {
                kernels.klPairWrite(f, mf, g, mg, from, to, (float) (lg - lf - rowKf[rowSlot]), scF, scG, k, k, of,
                        og);
            }
        }

        @Override
        public void release() {
            if (lm != null && whole) {
                arrays.give(lm);
            }
        }
    }

    /** Both gradients written over their logits: each phase on copies of its chunk, the stored values recomputed. */
    private final class InPlace extends Phases {
        InPlace(float[] f, float[] g, int cols, Divergence mode, float beta, float k, double[] loss, int slots,
                int rowSlots, boolean whole) {
            super(f, g, f, g, cols, mode, beta, k, loss, slots, rowSlots, whole, true);
        }

        @Override
        public void stats(int r, int i, int from, int to) {
            int n = to - from;
            float[][] scratch = ChunkScratch.get();
            stats(ChunkScratch.copy(f, from, n, scratch[0]), ChunkScratch.copy(g, from, n, scratch[1]), scratch[2],
                    scratch[3], i, 0, n);
        }

        /** The chunk's copies in scratch[0, 1] and its exps, as stats stored them, in scratch[2, 3]. */
        private float[][] restore(int c, int from, int n) {
            float[][] scratch = ChunkScratch.get();
            sf.restore(kernels, ChunkScratch.copy(f, from, n, scratch[0]), scratch[2], 0, n, c);
            sg.restore(kernels, ChunkScratch.copy(g, from, n, scratch[1]), scratch[3], 0, n, c);
            return scratch;
        }

        @Override
        public void secondPass(int r, int c, int rowSlot, int from, int to) {
            if (Double.isNaN(rowSf[rowSlot])) {
                return;
            }
            float[][] x = restore(c, from, to - from);
            secondPass(x[0], x[1], x[2], x[3], x[4], 0, c, rowSlot, 0, to - from);
        }

        @Override
        public void write(int r, int c, int rowSlot, int from, int to) {
            if (Double.isNaN(rowSf[rowSlot])) {
                Arrays.fill(of, from, to, Float.NaN);
                Arrays.fill(og, from, to, Float.NaN);
                return;
            }
            int n = to - from;
            float[][] x = restore(c, from, n);
            if (jsd) {
                mix(x[2], x[3], x[4], 0, c, rowSlot, 0, n);
            }
            write(x[0], x[1], x[2], x[3], x[4], 0, c, rowSlot, 0, n);
            System.arraycopy(x[2], 0, of, from, n);
            System.arraycopy(x[3], 0, og, from, n);
        }
    }
}
