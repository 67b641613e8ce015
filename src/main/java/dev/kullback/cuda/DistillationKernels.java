package dev.kullback.cuda;

/**
 * Launches the kernels of {@code kernels/distillation.cu}. The forward KL on float32 rows with cols % 4 == 0 takes the
 * kernels that read both rows once ({@link RowTiles} with 4 float4s a thread of each); the reverse KL, half types and
 * cols % 4 != 0 take the two-pass {@code distillation_rows_warp} / {@code _block} of their element type
 * ({@link TypedRows}: student, teacher and gradient share one). The choice depends on types, shape and options only
 * (every kernel takes row strides and any address).
 */
final class DistillationKernels {
    private static final String MODULE = "distillation";
    private static final int TILE_K = 4;

    private final Gpu gpu;
    private final MemoryPool pool;
    private final TypedRows rowsTyped;
    private final Gpu.Function rowsWarpCached1;
    private final Gpu.Function rowsBlockCached;
    private final Gpu.Function chunkStats;
    private final Gpu.Function chunkWrite;
    private final Gpu.Function chunkLosses;

    DistillationKernels(Gpu gpu, MemoryPool pool) {
        this.gpu = gpu;
        this.pool = pool;
        rowsWarpCached1 = gpu.function(MODULE, "distillation_rows_warp_cached1");
        rowsBlockCached = gpu.function(MODULE, "distillation_rows_block_cached");
        chunkStats = gpu.function(MODULE, "distillation_chunk_stats");
        chunkWrite = gpu.function(MODULE, "distillation_chunk_write");
        chunkLosses = gpu.function(MODULE, "distillation_chunk_losses");
        rowsTyped = new TypedRows(gpu, MODULE, "distillation_rows", true);
    }

    /** rowLoss[r] = row r's loss; grad = the student gradient of the row sum / gradDivisor. labels: 0 for none. */
    void rows(CudaTensor student, CudaTensor teacher, CudaTensor grad, long rowLoss, long labels, int ignoreIndex,
              float temperature, boolean reverse, float gradDivisor) {
        int rows = student.rows();
        int cols = student.cols();
        if (!reverse && RowTiles.takes(student.dtype(), cols) && grad.dtype() == student.dtype()) {
            tiles(student, teacher, grad, rowLoss, labels, ignoreIndex, temperature, gradDivisor, rows, cols);
            return;
        }
        rowsTyped.launch(student.dtype(), grad.dtype(), rows, cols, student.address(), student.rowStride(), teacher.address(),
                teacher.rowStride(), grad.address(), grad.rowStride(), rowLoss, rows, cols, labels, ignoreIndex,
                temperature, reverse ? 1 : 0, gradDivisor);
    }

    private void tiles(CudaTensor student, CudaTensor teacher, CudaTensor grad, long rowLoss, long labels,
                       int ignoreIndex, float temperature, float gradDivisor, int rows, int cols) {
        long s = student.address();
        long ss = student.rowStride();
        long t = teacher.address();
        long ts = teacher.rowStride();
        long g = grad.address();
        long gs = grad.rowStride();
        RowTiles tiles = RowTiles.of(rows, cols, TILE_K);
        switch (tiles.kind) {
            case WARP1 -> gpu.launch(rowsWarpCached1, tiles.grid, tiles.threads, 0, s, ss, t, ts, g, gs, rowLoss, rows,
                    cols, labels, ignoreIndex, temperature, gradDivisor);
            case BLOCK -> gpu.launch(rowsBlockCached, tiles.grid, tiles.threads, 0, s, ss, t, ts, g, gs, rowLoss, rows,
                    cols, labels, ignoreIndex, temperature, gradDivisor);
            case CHUNKS -> {
                long bytes = 20L * tiles.grid;  // 4 statistics and 1 loss share per chunk
                long partials = pool.acquire(bytes);
                long chunkLoss = partials + 16L * tiles.grid;
                try {
                    gpu.launch(chunkStats, tiles.grid, tiles.threads, 0, s, ss, t, ts, partials, rows, cols,
                            tiles.chunks, tiles.chunk4, temperature);
                    gpu.launch(chunkWrite, tiles.grid, tiles.threads, 0, s, ss, t, ts, partials, g, gs, chunkLoss, rows,
                            cols, tiles.chunks, tiles.chunk4, labels, ignoreIndex, temperature, gradDivisor);
                    gpu.launch(chunkLosses, (rows + Launch.FLAT_BLOCK - 1) / Launch.FLAT_BLOCK, Launch.FLAT_BLOCK, 0,
                            chunkLoss, rowLoss, rows, tiles.chunks);
                } finally {
                    pool.release(partials, bytes);  // later users of this memory queue behind these kernels
                }
            }
            default -> throw new IllegalStateException("no " + tiles.kind + " kernel for two-input rows");
        }
    }
}
