package dev.kullback.cpu;

import dev.kullback.DType;

/**
 * Rows between tensors of any storage (float32 or half, packed or a view): widened to float32, narrowed to nearest
 * even, gathered and scattered by row starts. The one place where {@link RowBlocks} and {@link CpuStaging} convert.
 */
final class RowCopies {
    private final HalfConverter halfs;
    private final RowSchedule schedule;

    RowCopies(HalfConverter halfs, RowSchedule schedule) {
        this.halfs = halfs;
        this.schedule = schedule;
    }

    /** dst[0, n · cols) = rows [r, r + n) of t, widened to float32. */
    void widenRows(CpuTensor t, int r, int n, float[] dst) {
        int cols = t.cols();
        if (t.dtype() != DType.FLOAT32 && t.rowStride() == cols) { // packed rows: one call, no per-row tails
            halfs.widen(t.dtype(), t.halfBits(), t.rowStart(r), dst, 0, n * cols);
            return;
        }
        for (int i = 0; i < n; i++) {
            if (t.dtype() == DType.FLOAT32) {
                System.arraycopy(t.floats(), t.rowStart(r + i), dst, i * cols, cols);
            } else {
                halfs.widen(t.dtype(), t.halfBits(), t.rowStart(r + i), dst, i * cols, cols);
            }
        }
    }

    /** Rows [r, r + n) of t = src[0, n · cols), rounded to nearest even for a half t. */
    void narrowRows(float[] src, CpuTensor t, int r, int n) {
        int cols = t.cols();
        if (t.dtype() != DType.FLOAT32 && t.rowStride() == cols) {
            halfs.narrow(t.dtype(), src, 0, t.halfBits(), t.rowStart(r), n * cols);
            return;
        }
        for (int i = 0; i < n; i++) {
            if (t.dtype() == DType.FLOAT32) {
                System.arraycopy(src, i * cols, t.floats(), t.rowStart(r + i), cols);
            } else {
                halfs.narrow(t.dtype(), src, i * cols, t.halfBits(), t.rowStart(r + i), cols);
            }
        }
    }

    /** to = from elementwise, converting and gathering/scattering rows; rows in parallel. */
    void copy(CpuTensor from, CpuTensor to) {
        int rows = from.rows();
        int cols = from.cols();
        DType in = from.dtype();
        DType out = to.dtype();
        schedule.rows(rows, cols, (r0, r1) -> {
            float[] row = in != DType.FLOAT32 && out != DType.FLOAT32 && in != out ? new float[cols] : null;
            for (int r = r0; r < r1; r++) {
                int s = from.rowStart(r);
                int d = to.rowStart(r);
                if (in == out) {
                    if (in == DType.FLOAT32) {
                        System.arraycopy(from.floats(), s, to.floats(), d, cols);
                    } else {
                        System.arraycopy(from.halfBits(), s, to.halfBits(), d, cols);
                    }
                } else if (in == DType.FLOAT32) {
                    halfs.narrow(out, from.floats(), s, to.halfBits(), d, cols);
                } else if (out == DType.FLOAT32) {
                    halfs.widen(in, from.halfBits(), s, to.floats(), d, cols);
                } else {
                    halfs.widen(in, from.halfBits(), s, row, 0, cols);
                    halfs.narrow(out, row, 0, to.halfBits(), d, cols);
                }
            }
        });
    }
}
