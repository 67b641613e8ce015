package dev.kullback.cpu;

import static dev.kullback.cpu.RowSchedule.CHUNK;

import java.util.Arrays;

/**
 * Softmax, log-softmax, the log-softmax backward and row sums on the CPU.
 *
 * <p>Log-softmax reads each row from memory once for its statistics: one loop per chunk keeps, per vector lane, a
 * reference and Σ exp(x - reference), rescaled only when a value passes the reference by more than 16 nats
 * ({@link Kernels#logStats}); the chunks combine as {@code S = Σ s_c exp(m_c - M)}. The same loop also writes the
 * previous row, {@code (x - M) - log S}, from cache, so the write's memory traffic overlaps the exps, which are what
 * limits this op. Softmax, whose output is the exps themselves: per chunk a max pass, then a pass that stores
 * exp(x - chunk max) in the output and adds them, while the chunk is still in L1; then the stored values are scaled by
 * {@code exp(m_c - M) / S}. PyTorch's edge semantics: a row holding NaN or +inf, or only -inf, is all NaN; -inf
 * entries of an otherwise finite row give -inf (log-softmax) and 0 (softmax).
 *
 * <p>The log and the plain softmax have separate loops (not one loop with a flag), so that no compilation holds both
 * sumExp and sumExpStore: see Kernels on C2's node budget.
 */
final class CpuSoftmax {
    private final Kernels kernels;
    private final RowSchedule schedule;
    private final Bf16LogSoftmax bf16;

    CpuSoftmax(Kernels kernels, RowSchedule schedule) {
        this.kernels = kernels;
        this.schedule = schedule;
        this.bf16 = new Bf16LogSoftmax(kernels, schedule);
    }

    /** Softmax (log: log-softmax) of x into out, any storage: long bf16 rows on their 16-bit storage, else by rows. */
    void softmax(CpuDevice device, CpuTensor x, CpuTensor out, boolean log) {
        if (log && Bf16LogSoftmax.applies(x, out)) {
            bf16.run(x, out);
            return;
        }
        int cols = x.cols();
        RowBlocks.runAny(device, new CpuTensor[] {x}, new CpuTensor[] {out}, x.rows(), cols, log
                ? (f, r, a, o, rows) -> f.softmax().logSoftmax(a[0], o[0], rows, cols)
                : (f, r, a, o, rows) -> f.softmax().softmax(a[0], o[0], rows, cols));
    }

    void logSoftmaxBackward(CpuDevice device, CpuTensor gradOutput, CpuTensor output, CpuTensor gradInput) {
        int cols = output.cols();
        RowBlocks.runAny(device, new CpuTensor[] {gradOutput, output}, new CpuTensor[] {gradInput}, output.rows(),
                cols, (f, r, a, o, rows) -> f.softmax().logSoftmaxBackward(a[0], a[1], o[0], rows, cols));
    }

    void rowSum(CpuDevice device, CpuTensor x, CpuTensor out) {
        try (CpuStaging s = new CpuStaging(device)) {
            rowSum(s.in(x).data(), s.out(out).data(), x.rows(), x.cols());
        }
    }

    void softmax(float[] a, float[] o, int rows, int cols) {
        if (Kernels.shortRows(cols)) {
            schedule.rows(rows, cols, (r0, r1) -> kernels.softmaxShortRows(a, o, r0, r1, cols));
            return;
        }
        schedule.run(rows, cols, (slots, rowSlots, whole) -> new Softmax(a, o, slots, rowSlots));
    }

    /** Chunk statistics storing the exps in the output; combine; scale the stored exps. */
    private final class Softmax implements RowPhases {
        final float[] a;
        final float[] o;
        final SoftmaxStats st;
        final float[] rowMax;
        final double[] rowSum;

        Softmax(float[] a, float[] o, int slots, int rowSlots) {
            this.a = a;
            this.o = o;
            st = new SoftmaxStats(slots);
            rowMax = new float[rowSlots];
            rowSum = new double[rowSlots];
        }

        @Override
        public void stats(int r, int slot, int from, int to) {
            st.store(kernels, a, o, from, to, slot);
        }

        @Override
        public void combine(int r, int first, int chunks, int rowSlot) {
            rowMax[rowSlot] = st.rowMax(first, chunks);
            rowSum[rowSlot] = st.rowSum(first, chunks, rowMax[rowSlot], 1f);
        }

        @Override
        public void write(int r, int slot, int rowSlot, int from, int to) {
            float m = rowMax[rowSlot];
            if (!Float.isFinite(m)) {
                Arrays.fill(o, from, to, Float.NaN);
            } else if (st.max()[slot] != Float.NEGATIVE_INFINITY) {
                kernels.scale(o, from, to, st.scale(slot, m, rowSum[rowSlot], 1f));
            }
        }
    }

    void logSoftmax(float[] a, float[] o, int rows, int cols) {
        if (Kernels.shortRows(cols)) {
            schedule.rows(rows, cols, (r0, r1) -> kernels.logSoftmaxShortRows(a, o, r0, r1, cols));
            return;
        }
        if (!schedule.byChunks(rows, cols)) {
            schedule.rows(rows, cols, (r0, r1) -> logSoftmaxRows(a, o, r0, r1, cols));
            return;
        }
        // few long rows: chunk statistics in parallel, a short sequential combine per row, then chunk writes
        int chunks = RowSchedule.chunks(cols);
        SoftmaxStats st = new SoftmaxStats(rows * chunks);
        schedule.units(rows, cols, (u0, u1) -> {
            for (int u = u0; u < u1; u++) {
                int from = RowSchedule.chunkStart(u, chunks, cols);
                kernels.logStats(a, from, RowSchedule.chunkEnd(u, chunks, cols, from), st.max(), st.sum(), u);
            }
        });
        float[] rowMax = new float[rows];
        float[] rowLogSum = new float[rows];
        st.rowLogSums(rows, chunks, rowMax, rowLogSum);
        schedule.units(rows, cols, (u0, u1) -> {
            for (int u = u0; u < u1; u++) {
                int r = u / chunks;
                int from = RowSchedule.chunkStart(u, chunks, cols);
                kernels.logSoftmaxWrite(a, from, RowSchedule.chunkEnd(u, chunks, cols, from), rowMax[r], rowLogSum[r],
                        o);
            }
        });
    }

    /**
     * Rows [r0, r1) of a log-softmax: the first row's statistics, then each row's write in one loop with the next
     * row's statistics (chunk by chunk: rows have equal chunks), so that the write's memory traffic overlaps the
     * exps. Each row is read from memory once (its write reads it again from cache). A row holding NaN or +inf, or only
     * -inf, has a log-sum of NaN, so its write is NaN throughout, as in PyTorch.
     */
    private void logSoftmaxRows(float[] a, float[] o, int r0, int r1, int cols) {
        int chunks = RowSchedule.chunks(cols);
        SoftmaxStats st = new SoftmaxStats(chunks);
        SoftmaxStats next = new SoftmaxStats(chunks);
        for (int c = 0, from = r0 * cols; c < chunks; c++, from += CHUNK) {
            kernels.logStats(a, from, from + Math.min(CHUNK, cols - c * CHUNK), st.max(), st.sum(), c);
        }
        for (int r = r0; r < r1; r++) {
            int base = r * cols;
            float rowMax = st.rowMax(0, chunks);
            float logSum = (float) Math.log(st.rowSum(0, chunks, rowMax, 1f));
            if (r + 1 == r1) {
                kernels.logSoftmaxWrite(a, base, base + cols, rowMax, logSum, o);
                break;
            }
            for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                kernels.logSoftmaxWriteAndStats(a, o, from, rowMax, logSum, from + cols,
                        Math.min(CHUNK, cols - c * CHUNK), next.max(), next.sum(), c);
            }
            SoftmaxStats t = st;
            st = next;
            next = t;
        }
    }

    /** o = g - exp(y) · Σ_row g. */
    void logSoftmaxBackward(float[] g, float[] y, float[] o, int rows, int cols) {
        if (Kernels.shortRows(cols)) {
            schedule.rows(rows, cols, (r0, r1) -> kernels.logSoftmaxBackwardShortRows(g, y, o, r0, r1, cols));
            return;
        }
        schedule.run(rows, cols, (slots, rowSlots, whole) -> new RowSums(g, y, o, slots, rowSlots));
    }

    /** o[r] = Σ_row x. */
    void rowSum(float[] x, float[] o, int rows, int cols) {
        schedule.run(rows, cols, (slots, rowSlots, whole) -> new RowSums(x, null, o, slots, rowSlots));
    }

    /** Chunk sums of g; their row sum; then the backward's write, or (y == null) the row sum itself. */
    private final class RowSums implements RowPhases {
        final float[] g;
        final float[] y;
        final float[] o;
        final double[] s;
        final float[] rowSum;

        RowSums(float[] g, float[] y, float[] o, int slots, int rowSlots) {
            this.g = g;
            this.y = y;
            this.o = o;
            s = new double[slots];
            rowSum = new float[rowSlots];
        }

        @Override
        public void stats(int r, int slot, int from, int to) {
            s[slot] = kernels.sum(g, from, to);
        }

        @Override
        public void combine(int r, int first, int chunks, int rowSlot) {
            rowSum[rowSlot] = (float) RowSchedule.sum(s, first, chunks);
            if (y == null) {
                o[r] = rowSum[rowSlot];
            }
        }

        @Override
        public void write(int r, int slot, int rowSlot, int from, int to) {
            if (y != null) {
                kernels.logSoftmaxBackward(g, y, from, to, rowSum[rowSlot], o);
            }
        }
    }
}
