package dev.kullback.cuda;

import dev.kullback.DType;

/**
 * The launch shape of the row kernels that hold a row (or a fixed chunk of it) in registers
 * ({@code kernels/tiles.cuh}): a function of rows and cols only, never of the GPU, so the order of every
 * addition, and with it the result, is the same on every device.
 * <ul>
 *   <li>cols ≤ 128: one warp per row, one float4 per lane ({@code *_warp_cached1}); cols ≤ 1024: up to eight
 *       ({@code *_warp_cached8}, one-input kernels); four rows per block.</li>
 *   <li>longer rows: {@link #chunks(int, int)} chunks per row; one chunk is one block per row
 *       ({@code *_block_cached}), more are the two-kernel {@code *_chunk_*} pair.</li>
 * </ul>
 */
final class RowTiles {
    enum Kind { WARP1, WARP8, BLOCK, CHUNKS }

    /** float4s per thread of the block and chunk kernels ({@code kTileK}); 4 for two-input rows ({@code kDistillK}). */
    static final int TILE_K = 8;
    /** Rows are cut until there are at least this many blocks (enough for the SMs of any current GPU). */
    static final int MIN_BLOCKS = 256;
    /** ... but never into chunks smaller than this many float4s (a block of 128 threads at least). */
    static final int MIN_CHUNK4 = 1024;

    final Kind kind;
    final int grid;
    final int threads;
    final int chunks;
    final int chunk4;

    private RowTiles(Kind kind, int grid, int threads, int chunks, int chunk4) {
        this.kind = kind;
        this.grid = grid;
        this.threads = threads;
        this.chunks = chunks;
        this.chunk4 = chunk4;
    }

    /**
     * Whether rows of {@code type} and {@code cols} take the tile kernels: float32 with cols % 4 == 0, whatever the
     * tensors' strides and addresses (a choice by shape and type only, so a view and its contiguous copy take the same
     * kernel and the same order of additions; kernels/README.md, "Order by index, loads by alignment").
     */
    static boolean takes(DType type, int cols) {
        return type == DType.FLOAT32 && cols % 4 == 0;
    }

    /**
     * Whether the tile kernels read these tensors' rows as float4s (cols % 4 == 0, every row start 16-byte aligned);
     * else they read the same groups of four element by element. The kernels decide it themselves, per row pointer:
     * it changes how a row is loaded, never which kernel runs or the result.
     */
    static boolean aligned(int cols, long... addresses) {
        if (cols % 4 != 0) {
            return false;
        }
        for (long a : addresses) {
            if (a % 16 != 0) {
                return false;
            }
        }
        return true;
    }

    static RowTiles of(int rows, int cols) {
        return of(rows, cols, TILE_K);
    }

    /** The shape for kernels holding k float4s a thread of each input (8: one input, 4: two). */
    static RowTiles of(int rows, int cols, int k) {
        if (cols <= 128 || (cols <= 1024 && k == TILE_K)) {
            int grid = (rows + 3) / 4;
            return new RowTiles(cols <= 128 ? Kind.WARP1 : Kind.WARP8, grid, 128, 1, 0);
        }
        int n4 = cols / 4;
        int chunks = chunks(rows, cols, k);
        int chunk4 = (n4 + chunks - 1) / chunks;
        int threads = Math.min(1024, Math.max(64, roundUp32((chunk4 + k - 1) / k)));
        if (chunks == 1) {
            return new RowTiles(Kind.BLOCK, rows, threads, 1, n4);
        }
        long grid = (long) rows * chunks;
        if (grid > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("rows " + rows + " x " + chunks + " chunks exceed a grid");
        }
        return new RowTiles(Kind.CHUNKS, (int) grid, threads, chunks, chunk4);
    }

    /** Chunks per row of more than 1024 columns: enough that a chunk fits a block, and blocks for the SMs. */
    static int chunks(int rows, int cols) {
        return chunks(rows, cols, TILE_K);
    }

    static int chunks(int rows, int cols, int k) {
        int n4 = cols / 4;
        int maxChunk4 = 1024 * k;  // a 1024-thread block's registers
        int needed = (n4 + maxChunk4 - 1) / maxChunk4;
        int forBlocks = (MIN_BLOCKS + rows - 1) / rows;
        int most = Math.max(1, n4 / MIN_CHUNK4);
        return Math.max(needed, Math.min(forBlocks, most));
    }

    private static int roundUp32(int n) {
        return (n + 31) / 32 * 32;
    }
}
