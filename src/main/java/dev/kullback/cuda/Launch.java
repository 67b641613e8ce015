package dev.kullback.cuda;

/** Launch shapes shared by the kernel families; kernels/README.md gives the contract they meet. */
final class Launch {
    /** Rows up to this many columns get one warp each; longer rows get a block each. */
    private static final int WARP_ROW_MAX_COLS = 1024;
    /** Warps per block for the warp-per-row kernels. */
    private static final int ROWS_PER_BLOCK = 4;
    private static final int WARP_ROW_BLOCK = 32 * ROWS_PER_BLOCK;
    /** Threads per block of the flat (pointwise and partial-sum) kernels. */
    static final int FLAT_BLOCK = 256;
    /** Elements each thread of a partial-sum kernel covers at least, before another block is added. */
    private static final int ELEMENTS_PER_THREAD = 8;
    /** Upper bound on partial sums, so one block can finish them. */
    static final int MAX_PARTIALS = 1024;
    /** Upper bound on the grid of a grid-stride pointwise kernel. */
    private static final int MAX_FLAT_GRID = 65535;
    /**
     * Tests only: a lower cap on the grids of the flat kernels (pointwise and partial sums), so that their grid-stride
     * loops take many passes at test sizes (at {@link #MAX_FLAT_GRID} a pointwise kernel takes a second pass only
     * above ~67M elements). 0: no cap. Set by the tests of this package, or {@code -Dkullback.cuda.flatGridCap=N}.
     */
    private static volatile int flatGridCap = Integer.getInteger("kullback.cuda.flatGridCap", 0);

    private Launch() {
    }

    /** Launches a row-wise kernel pair: one warp per short row, one block per long row. */
    static void rowwise(Gpu gpu, Gpu.Function warpPerRow, Gpu.Function blockPerRow, int rows, int cols,
                        Object... args) {
        if (cols <= WARP_ROW_MAX_COLS) {
            gpu.launch(warpPerRow, (rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK, WARP_ROW_BLOCK, 0, args);
        } else {
            gpu.launch(blockPerRow, rows, rowBlock(cols), 0, args);
        }
    }

    /** Threads per block for a block-per-row kernel: enough for float4 loads to cover the row a few times. */
    private static int rowBlock(int cols) {
        return cols <= 8192 ? 256 : cols <= 65536 ? 512 : 1024;
    }

    /** Grid of a grid-stride pointwise kernel: 16 elements (four float4s) a thread, so its setup is amortized. */
    static int flatGrid(long n) {
        return capped((int) Math.min(MAX_FLAT_GRID, Math.max(1, (n + FLAT_BLOCK * 16L - 1) / (FLAT_BLOCK * 16L))));
    }

    /** Tests only (see {@link #flatGridCap}); returns the cap it replaces. */
    static int flatGridCap(int cap) {
        if (cap < 0) {
            throw new IllegalArgumentException("flat grid cap " + cap + " < 0");
        }
        int old = flatGridCap;
        flatGridCap = cap;
        return old;
    }

    private static int capped(int grid) {
        int cap = flatGridCap;
        return cap > 0 ? Math.min(cap, grid) : grid;
    }

    /**
     * How many partial sums a reduction over n elements uses: a function of n alone, never of the GPU,
     * so the order of additions and with it the result is the same on every device.
     */
    static int partials(long n) {
        long perBlock = (long) FLAT_BLOCK * ELEMENTS_PER_THREAD;
        return capped((int) Math.min(MAX_PARTIALS, Math.max(1, (n + perBlock - 1) / perBlock)));
    }
}
