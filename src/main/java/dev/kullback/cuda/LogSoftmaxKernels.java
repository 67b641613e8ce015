package dev.kullback.cuda;

/**
 * Launches the kernels of {@code kernels/log_softmax.cu}. float32 rows with cols % 4 == 0 take the kernels that read
 * each row from memory once ({@link RowTiles} picks the shape); the others (half types, cols % 4 != 0) take the two-pass
 * {@code *_warp} / {@code *_block} kernels of their element type ({@link TypedRows}). The choice depends on the type
 * and shape only: every kernel takes row strides and any address, so a view gives the bits of its contiguous copy.
 */
final class LogSoftmaxKernels {
    private static final String MODULE = "log_softmax";

    private final Gpu gpu;
    private final MemoryPool pool;
    private final TypedRows rows;
    private final TypedRows backward;
    private final Gpu.Function rowsWarpCached1;
    private final Gpu.Function rowsWarpCached8;
    private final Gpu.Function rowsBlockCached;
    private final Gpu.Function chunkStats;
    private final Gpu.Function chunkWrite;
    private final Gpu.Function backwardWarpCached1;
    private final Gpu.Function backwardWarpCached8;
    private final Gpu.Function backwardBlockCached;
    private final Gpu.Function backwardChunkSums;
    private final Gpu.Function backwardChunkWrite;

    LogSoftmaxKernels(Gpu gpu, MemoryPool pool) {
        this.gpu = gpu;
        this.pool = pool;
        rows = new TypedRows(gpu, MODULE, "softmax_rows");
        backward = new TypedRows(gpu, MODULE, "log_softmax_backward");
        rowsWarpCached1 = gpu.function(MODULE, "softmax_rows_warp_cached1");
        rowsWarpCached8 = gpu.function(MODULE, "softmax_rows_warp_cached8");
        rowsBlockCached = gpu.function(MODULE, "softmax_rows_block_cached");
        chunkStats = gpu.function(MODULE, "softmax_chunk_stats");
        chunkWrite = gpu.function(MODULE, "softmax_chunk_write");
        backwardWarpCached1 = gpu.function(MODULE, "log_softmax_backward_warp_cached1");
        backwardWarpCached8 = gpu.function(MODULE, "log_softmax_backward_warp_cached8");
        backwardBlockCached = gpu.function(MODULE, "log_softmax_backward_block_cached");
        backwardChunkSums = gpu.function(MODULE, "log_softmax_backward_chunk_sums");
        backwardChunkWrite = gpu.function(MODULE, "log_softmax_backward_chunk_write");
    }

    void softmax(CudaTensor x, CudaTensor y, boolean log) {
        int rows = x.rows();
        int cols = x.cols();
        int mode = log ? 1 : 0;
        if (!RowTiles.takes(x.dtype(), cols)) {
            this.rows.launch(x.dtype(), rows, cols, x.address(), x.rowStride(), y.address(), y.rowStride(), rows, cols,
                    mode);
            return;
        }
        long xa = x.address();
        long xs = x.rowStride();
        long ya = y.address();
        long ys = y.rowStride();
        RowTiles t = RowTiles.of(rows, cols);
        switch (t.kind) {
            case WARP1 -> gpu.launch(rowsWarpCached1, t.grid, t.threads, 0, xa, xs, ya, ys, rows, cols, mode);
            case WARP8 -> gpu.launch(rowsWarpCached8, t.grid, t.threads, 0, xa, xs, ya, ys, rows, cols, mode);
            case BLOCK -> gpu.launch(rowsBlockCached, t.grid, t.threads, 0, xa, xs, ya, ys, rows, cols, mode);
            case CHUNKS -> {
                long bytes = 8L * t.grid;
                long partials = pool.acquire(bytes);
                try {
                    gpu.launch(chunkStats, t.grid, t.threads, 0, xa, xs, partials, rows, cols, t.chunks, t.chunk4);
                    gpu.launch(chunkWrite, t.grid, t.threads, 0, xa, xs, partials, ya, ys, rows, cols, t.chunks,
                            t.chunk4, mode);
                } finally {
                    pool.release(partials, bytes);  // later users of this memory queue behind these kernels
                }
            }
        }
    }

    void logSoftmaxBackward(CudaTensor gradOutput, CudaTensor output, CudaTensor gradInput) {
        int rows = output.rows();
        int cols = output.cols();
        long g = gradOutput.address();
        long o = output.address();
        long d = gradInput.address();
        long gs = gradOutput.rowStride();
        long os = output.rowStride();
        long ds = gradInput.rowStride();
        if (!RowTiles.takes(output.dtype(), cols)) {
            backward.launch(output.dtype(), rows, cols, g, gs, o, os, d, ds, rows, cols);
            return;
        }
        RowTiles t = RowTiles.of(rows, cols);
        switch (t.kind) {
            case WARP1 -> gpu.launch(backwardWarpCached1, t.grid, t.threads, 0, g, gs, o, os, d, ds, rows, cols);
            case WARP8 -> gpu.launch(backwardWarpCached8, t.grid, t.threads, 0, g, gs, o, os, d, ds, rows, cols);
            case BLOCK -> gpu.launch(backwardBlockCached, t.grid, t.threads, 0, g, gs, o, os, d, ds, rows, cols);
            case CHUNKS -> {
                long bytes = 4L * t.grid;
                long partials = pool.acquire(bytes);
                try {
                    gpu.launch(backwardChunkSums, t.grid, t.threads, 0, g, gs, partials, rows, cols, t.chunks, t.chunk4);
                    gpu.launch(backwardChunkWrite, t.grid, t.threads, 0, g, gs, o, os, partials, d, ds, rows, cols,
                            t.chunks, t.chunk4);
                } finally {
                    pool.release(partials, bytes);
                }
            }
        }
    }
}
