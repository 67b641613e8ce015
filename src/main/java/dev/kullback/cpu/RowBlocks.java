package dev.kullback.cpu;

/**
 * Row-separable operations on half tensors and views without a full float32 copy: each thread takes its rows a block
 * at a time (about {@value #BLOCK_VALUES} values, whole rows), widens the block's inputs into float32 scratch of its
 * own, runs the family's float32 code on the block (on a one-thread schedule, {@link RowFamilies#inline}: the thread
 * is already one of the operation's), and narrows the block's outputs back, while the scratch is still in the core's cache. So a bf16 op
 * moves 2 bytes per element through memory where float32 moves 4. Each row's results depend on that row alone (the
 * chunking of a row depends on its length only, see {@link RowSchedule}), so blocks give exactly the bits of the whole
 * tensor staged at once ({@link CpuStaging}), whatever the thread count.
 */
final class RowBlocks {
    /**
     * Values per block (whole rows, at least one): a few such float arrays stay in a core's L1/L2. Of 4096, 16384 and
     * 65536, 4096 was fastest for bf16 logSoftmax at [8192, 128] and [1024, 32768] (2 loaded cores, noisy); blocks
     * beat staging the whole tensor for every op and shape of half-precision.md but one, within the noise there.
     */
    static final int BLOCK_VALUES = RowSchedule.CHUNK;

    /**
     * The family's float32 code (of {@code families}) on the block of {@code rows} rows from {@code firstRow}:
     * {@code in} and {@code out} hold rows × cols values.
     */
    interface Op {
        void run(RowFamilies families, int firstRow, float[][] in, float[][] out, int rows);
    }

    private RowBlocks() {
    }

    /**
     * Whether a loss runs by blocks: one whose reduced value (and gradient scale) spans every row: only for half inputs, whose
     * results blocks may round differently from a float32 run (the sum of the rows' float losses; a gradient divided
     * after the row's kernel), while a FLOAT32 view must give exactly the bits of its contiguous copy.
     */
    static boolean appliesToLoss(CpuTensor input) {
        return input.dtype().isHalf();
    }

    /**
     * Whether {@link #run} applies: some tensor is not plain. Whether it does may not depend on the thread count (a loss
     * run by blocks rounds its value differently from one staged whole).
     */
    static boolean applies(CpuTensor... tensors) {
        for (CpuTensor t : tensors) {
            if (t != null && !t.isPlain()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Runs {@code op} block by block over [rows, cols] tensors; {@code out} are written after their block is read, so
     * one may be an input (an in-place gradient).
     */
    static void run(CpuDevice device, CpuTensor[] in, CpuTensor[] out, int rows, int cols, Op op) {
        RowSchedule schedule = device.schedule();
        RowCopies copies = device.copies();
        int blockRows = Math.max(1, BLOCK_VALUES / cols);
        boolean sequential = schedule.byChunks(rows, cols);
        // blocks across the threads: each block on its thread's inline families (see RowFamilies)
        RowFamilies families = device.families(!sequential);
        Workers.Body blocks = (r0, r1) -> {
            float[][] a = new float[in.length][];
            float[][] o = new float[out.length][];
            for (int r = r0; r < r1; r += blockRows) {
                int n = Math.min(blockRows, r1 - r);
                int values = n * cols;
                for (int i = 0; i < a.length; i++) {
                    a[i] = sized(a[i], values);
                    copies.widenRows(in[i], r, n, a[i]);
                }
                for (int i = 0; i < o.length; i++) {
                    o[i] = sized(o[i], values);
                }
                op.run(families, r, a, o, n);
                for (int i = 0; i < o.length; i++) {
                    copies.narrowRows(o[i], out[i], r, n);
                }
            }
        };
        if (sequential) {
            blocks.run(0, rows); // few long rows: one block after another, each cut into chunks across the threads
        } else {
            schedule.rows(rows, cols, blocks);
        }
    }

    /**
     * A row-separable operation whatever its tensors' storage: by blocks when {@link #applies}, else (every tensor
     * plain, nothing to stage) once over the whole arrays on the device's own families.
     */
    static void runAny(CpuDevice device, CpuTensor[] in, CpuTensor[] out, int rows, int cols, Op op) {
        if (applies(in) || applies(out)) {
            run(device, in, out, rows, cols, op);
            return;
        }
        float[][] a = new float[in.length][];
        float[][] o = new float[out.length][];
        for (int i = 0; i < a.length; i++) {
            a[i] = in[i].data();
        }
        for (int i = 0; i < o.length; i++) {
            o[i] = out[i].data();
        }
        op.run(device.families(false), 0, a, o, rows);
    }

    /** value = the row losses, or their sum (in double, in row order) / divisor: a loss run by blocks. */
    static void writeRowLosses(float[] rowLoss, boolean perRow, double divisor, float[] value) {
        if (perRow) {
            System.arraycopy(rowLoss, 0, value, 0, rowLoss.length);
            return;
        }
        double total = 0;
        for (float v : rowLoss) {
            total += v;
        }
        value[0] = (float) (total / divisor);
    }

    /** The kernels size some loops by the array's length: blocks get arrays of exactly their values. */
    private static float[] sized(float[] a, int values) {
        return a != null && a.length == values ? a : new float[values];
    }
}
