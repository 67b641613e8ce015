package dev.kullback.cuda;

/**
 * Launches the kernels of {@code kernels/cross_entropy.cu}. Class-index rows without label smoothing whose logits and
 * gradient are float32 with cols % 4 == 0 take the kernels that read each row once ({@link RowTiles} picks the shape);
 * the others (smoothing, half types, cols % 4 != 0) take the two-pass {@code ce_rows_warp} / {@code ce_rows_block} of
 * their element type ({@link TypedRows}); logits, soft targets and gradient share one type, class weights are float32.
 * The choice depends on types, shape and options only (every kernel takes row strides and any address).
 */
final class CrossEntropyKernels {
    private static final String MODULE = "cross_entropy";
    private static final int DIVISORS_BLOCK = 256;

    private final Gpu gpu;
    private final MemoryPool pool;
    private final Gpu.Function divisors;
    private final TypedRows rowsTyped;
    private final TypedRows softRows;
    private final Gpu.Function rowsWarpCached1;
    private final Gpu.Function rowsWarpCached8;
    private final Gpu.Function rowsBlockCached;
    private final Gpu.Function chunkStats;
    private final Gpu.Function chunkWrite;

    CrossEntropyKernels(Gpu gpu, MemoryPool pool) {
        this.gpu = gpu;
        this.pool = pool;
        rowsWarpCached1 = gpu.function(MODULE, "ce_rows_warp_cached1");
        rowsWarpCached8 = gpu.function(MODULE, "ce_rows_warp_cached8");
        rowsBlockCached = gpu.function(MODULE, "ce_rows_block_cached");
        chunkStats = gpu.function(MODULE, "ce_chunk_stats");
        chunkWrite = gpu.function(MODULE, "ce_chunk_write");
        divisors = gpu.function(MODULE, "ce_divisors");
        rowsTyped = new TypedRows(gpu, MODULE, "ce_rows", true);
        softRows = new TypedRows(gpu, MODULE, "soft_ce_rows", true);
    }

    /** out[0] = W (sum of the counted rows' class weights), out[1] = N (counted rows); weights: 0 for none. */
    void divisors(CudaLabels labels, long weights, int rows, int cols, int ignoreIndex, long out) {
        gpu.launch(divisors, 1, DIVISORS_BLOCK, 0, labels.address(), weights, rows, cols, ignoreIndex, out);
    }

    /** divisors: 0 (NONE, SUM), or the output of {@link #divisors} (MEAN: rowLoss is then already divided). */
    void rows(CudaTensor logits, CudaLabels labels, long weights, CudaTensor grad, long rowLoss, int ignoreIndex,
              float smoothing, float zLoss, long divisors) {
        int rows = logits.rows();
        int cols = logits.cols();
        if (smoothing == 0f && RowTiles.takes(logits.dtype(), cols) && grad.dtype() == logits.dtype()) {
            tiles(logits, labels, weights, grad, rowLoss, ignoreIndex, zLoss, divisors, rows, cols);
            return;
        }
        rowsTyped.launch(logits.dtype(), grad.dtype(), rows, cols, logits.address(), logits.rowStride(), labels.address(), weights,
                grad.address(), grad.rowStride(), rowLoss, rows, cols, ignoreIndex, smoothing, zLoss, divisors);
    }

    void softRows(CudaTensor logits, CudaTensor target, long weights, CudaTensor grad, long rowLoss, float smoothing,
                  float zLoss, float gradDivisor) {
        softRows.launch(logits.dtype(), grad.dtype(), logits.rows(), logits.cols(), logits.address(), logits.rowStride(),
                target.address(), target.rowStride(), weights, grad.address(), grad.rowStride(), rowLoss, logits.rows(),
                logits.cols(), smoothing, zLoss, gradDivisor);
    }

    private void tiles(CudaTensor logits, CudaLabels labels, long weights, CudaTensor grad, long rowLoss, int ignoreIndex,
                       float zLoss, long divisors, int rows, int cols) {
        RowTiles t = RowTiles.of(rows, cols);
        long x = logits.address();
        long xs = logits.rowStride();
        long y = labels.address();
        long g = grad.address();
        long gs = grad.rowStride();
        switch (t.kind) {
            case WARP1 -> gpu.launch(rowsWarpCached1, t.grid, t.threads, 0, x, xs, y, weights, g, gs, rowLoss, rows,
                    cols, ignoreIndex, zLoss, divisors);
            case WARP8 -> gpu.launch(rowsWarpCached8, t.grid, t.threads, 0, x, xs, y, weights, g, gs, rowLoss, rows,
                    cols, ignoreIndex, zLoss, divisors);
            case BLOCK -> gpu.launch(rowsBlockCached, t.grid, t.threads, 0, x, xs, y, weights, g, gs, rowLoss, rows,
                    cols, ignoreIndex, zLoss, divisors);
            case CHUNKS -> {
                long bytes = 8L * t.grid;
                long partials = pool.acquire(bytes);
                try {
                    gpu.launch(chunkStats, t.grid, t.threads, 0, x, xs, partials, rows, cols, t.chunks, t.chunk4);
                    gpu.launch(chunkWrite, t.grid, t.threads, 0, x, xs, y, weights, partials, g, gs, rowLoss, rows,
                            cols, ignoreIndex, zLoss, divisors, t.chunks, t.chunk4);
                } finally {
                    pool.release(partials, bytes);  // later users of this memory queue behind these kernels
                }
            }
        }
    }
}
