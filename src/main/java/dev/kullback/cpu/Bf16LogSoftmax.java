package dev.kullback.cpu;

import static dev.kullback.cpu.RowSchedule.CHUNK;

import dev.kullback.DType;

/**
 * Log-softmax of long bf16 rows on their 16-bit storage (issue 10): {@link CpuSoftmax}'s long-row schedule (rows in
 * parallel, or few long rows by chunks in parallel) with the bf16 kernels of {@link Kernels}, which convert in their
 * loops: each value is read as 2 bytes twice and written as 2 bytes once, and no float32 copy goes through memory. The chunks, the kernels' arithmetic and the combines are
 * CpuSoftmax's, so the result is, bit for bit, the float32 log-softmax of the widened values rounded once, as
 * {@link RowBlocks} computes it; views go row by row through their row starts, so they give their copy's bits.
 */
final class Bf16LogSoftmax {
    private final Kernels kernels;
    private final RowSchedule schedule;

    Bf16LogSoftmax(Kernels kernels, RowSchedule schedule) {
        this.kernels = kernels;
        this.schedule = schedule;
    }

    /**
     * Whether {@link #run} takes x into out: both bf16, rows longer than the short-row kernels take, and out either x
     * itself or not in x's array (a row is read whole before its write, but not before another row's).
     */
    static boolean applies(CpuTensor x, CpuTensor out) {
        return x.dtype() == DType.BFLOAT16 && out.dtype() == DType.BFLOAT16 && !Kernels.shortRows(x.cols())
                && (out == x || out.halfBits() != x.halfBits());
    }

    void run(CpuTensor x, CpuTensor out) {
        int rows = x.rows();
        int cols = x.cols();
        short[] a = x.halfBits();
        short[] o = out.halfBits();
        if (!schedule.byChunks(rows, cols)) {
            schedule.rows(rows, cols, (r0, r1) -> rows(a, x, o, out, r0, r1, cols));
            return;
        }
        // few long rows: chunk statistics in parallel, a short sequential combine per row, then chunk writes
        int chunks = RowSchedule.chunks(cols);
        SoftmaxStats st = new SoftmaxStats(rows * chunks);
        schedule.units(rows, cols, (u0, u1) -> {
            for (int u = u0; u < u1; u++) {
                int r = u / chunks;
                int c = (u - r * chunks) * CHUNK;
                int from = x.rowStart(r) + c;
                kernels.logStatsBf16(a, from, from + Math.min(CHUNK, cols - c), st.max(), st.sum(), u);
            }
        });
        float[] rowMax = new float[rows];
        float[] rowLogSum = new float[rows];
        st.rowLogSums(rows, chunks, rowMax, rowLogSum);
        schedule.units(rows, cols, (u0, u1) -> {
            for (int u = u0; u < u1; u++) {
                int r = u / chunks;
                int c = (u - r * chunks) * CHUNK;
                kernels.logSoftmaxWriteBf16(a, x.rowStart(r) + c, o, out.rowStart(r) + c, Math.min(CHUNK, cols - c),
                        rowMax[r], rowLogSum[r]);
            }
        });
    }

    /**
     * Rows [r0, r1), each its statistics then its write (a row of 2-byte values is still in L2 for the write). Not
     * CpuSoftmax's fused loop (a row's write with the next row's statistics): with the conversions in it, measured
     * slower than the two loops one after the other (HalfPhaseProfile kernels: 1.3 vs 1.1 ns per value in L1).
     */
    private void rows(short[] a, CpuTensor x, short[] o, CpuTensor out, int r0, int r1, int cols) {
        int chunks = RowSchedule.chunks(cols);
        SoftmaxStats st = new SoftmaxStats(chunks);
        for (int r = r0; r < r1; r++) {
            int in = x.rowStart(r);
            for (int c = 0; c < chunks; c++) {
                int from = in + c * CHUNK;
                kernels.logStatsBf16(a, from, from + Math.min(CHUNK, cols - c * CHUNK), st.max(), st.sum(), c);
            }
            float rowMax = st.rowMax(0, chunks);
            float logSum = (float) Math.log(st.rowSum(0, chunks, rowMax, 1f));
            int to = out.rowStart(r);
            for (int c = 0; c < chunks; c++) {
                int off = c * CHUNK;
                kernels.logSoftmaxWriteBf16(a, in + off, o, to + off, Math.min(CHUNK, cols - off), rowMax, logSum);
            }
        }
    }
}
