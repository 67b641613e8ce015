package dev.kullback.cpu;

/**
 * How the CPU device cuts an operation into work for its threads, and the only owner of the sizes that fix its bits.
 *
 * <p>A row-wise operation runs its rows in parallel; when there are fewer rows than about four per thread, each row
 * is also cut into chunks of {@value #CHUNK} values run in parallel, then combined per row in chunk order (so a single
 * [1, 262144] row still uses every core). Chunks depend on the row length only, and every partial is combined in
 * double in a fixed order, so results do not depend on the thread count. Whole-tensor reductions use blocks of
 * {@value #BLOCK} values of the flattened tensor, their partials added in block order.
 *
 * <p>A loss family gives its phases as {@link RowPhases}; {@link #run} decides where they run. The phases are called
 * through an interface that every family implements, so C2 compiles each family's phases on their own (inlining the
 * family's kernels there) rather than several families' loops into one compilation (see Kernels).
 */
final class RowSchedule {
    /** Row chunk: the unit of row-wise max and sum partials. */
    static final int CHUNK = 4096;
    /** Block of the flattened tensor: the unit of whole-tensor sum partials. */
    static final int BLOCK = 4096;
    /** The least work (values) worth handing to another thread. */
    private static final int GRAIN = 32768;

    private final Workers workers;

    RowSchedule(Workers workers) {
        this.workers = workers;
    }

    int threads() {
        return workers.threads();
    }

    static int chunks(int cols) {
        return (cols + CHUNK - 1) / CHUNK;
    }

    /** Chunks in parallel when rows alone cannot keep every thread busy. */
    boolean byChunks(int rows, int cols) {
        return chunks(cols) > 1 && workers.threads() > 1 && rows < 4 * workers.threads();
    }

    /** Ranges of rows in parallel. */
    void rows(int rows, int cols, Workers.Body body) {
        workers.forEach(rows, workers.grain(rows, (GRAIN + cols - 1) / cols), body);
    }

    /** Ranges of chunks in parallel, chunk {@code u} being chunk {@code u % chunks} of row {@code u / chunks}. */
    void units(int rows, int cols, Workers.Body body) {
        int units = rows * chunks(cols);
        workers.forEach(units, unitGrain(units, CHUNK), body);
    }

    /** Ranges of elements in parallel (pointwise operations: any split gives the same bits). */
    void elements(int n, Workers.Body body) {
        workers.forEach(n, workers.grain(n, GRAIN), body);
    }

    /** Ranges of blocks in parallel; block {@code b} is [b · BLOCK, blockEnd(b, n)). */
    void blocks(int n, Workers.Body body) {
        int blocks = blocks(n);
        workers.forEach(blocks, unitGrain(blocks, BLOCK), body);
    }

    private int unitGrain(int units, int unitSize) {
        return workers.grain(units, Math.max(1, GRAIN / unitSize));
    }

    static int blocks(int n) {
        return (int) ((n + (long) BLOCK - 1) / BLOCK);
    }

    static int blockEnd(int b, int n) {
        return (int) Math.min(n, (long) b * BLOCK + BLOCK);
    }

    /** Where chunk {@code u} (row u / chunks, chunk u % chunks) starts in the flattened tensor. */
    static int chunkStart(int u, int chunks, int cols) {
        int r = u / chunks;
        return r * cols + (u - r * chunks) * CHUNK;
    }

    static int chunkEnd(int u, int chunks, int cols, int from) {
        return from + Math.min(CHUNK, (u / chunks) * cols + cols - from); // no overflow near 2^31 values
    }

    /** Partials added in double, in order. */
    static double sum(double[] s, int off, int count) {
        double sum = 0;
        for (int i = off; i < off + count; i++) {
            sum += s[i];
        }
        return sum;
    }

    /**
     * Runs a row-wise family over [rows, cols]: per row, its statistics over each chunk, the row's combine, then (when
     * it has one) a second pass over the chunks and its combine, then the write over the chunks. Rows in parallel, each
     * by one thread with phases sized for one row; or few long rows by chunks in parallel, one phase at a time over
     * every chunk, with the combines in row order in between.
     */
    void run(int rows, int cols, RowPhases.Family family) {
        int chunks = chunks(cols);
        if (!byChunks(rows, cols)) {
            rows(rows, cols, (r0, r1) -> {
                RowPhases p = family.phases(chunks, 1, false);
                for (int r = r0; r < r1; r++) {
                    int base = r * cols;
                    int end = base + cols;
                    for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                        p.stats(r, c, from, Math.min(from + CHUNK, end));
                    }
                    p.combine(r, 0, chunks, 0);
                    if (p.hasSecondPass()) {
                        for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                            p.secondPass(r, c, 0, from, Math.min(from + CHUNK, end));
                        }
                        p.secondCombine(r, 0, chunks, 0);
                    }
                    for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                        p.write(r, c, 0, from, Math.min(from + CHUNK, end));
                    }
                }
            });
            return;
        }
        RowPhases p = family.phases(rows * chunks, rows, true);
        try {
            units(rows, cols, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int from = chunkStart(u, chunks, cols);
                    p.stats(u / chunks, u, from, chunkEnd(u, chunks, cols, from));
                }
            });
            for (int r = 0; r < rows; r++) {
                p.combine(r, r * chunks, chunks, r);
            }
            if (p.hasSecondPass()) {
                units(rows, cols, (u0, u1) -> {
                    for (int u = u0; u < u1; u++) {
                        int from = chunkStart(u, chunks, cols);
                        p.secondPass(u / chunks, u, u / chunks, from, chunkEnd(u, chunks, cols, from));
                    }
                });
                for (int r = 0; r < rows; r++) {
                    p.secondCombine(r, r * chunks, chunks, r);
                }
            }
            units(rows, cols, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int from = chunkStart(u, chunks, cols);
                    p.write(u / chunks, u, u / chunks, from, chunkEnd(u, chunks, cols, from));
                }
            });
        } finally {
            p.release();
        }
    }
}
