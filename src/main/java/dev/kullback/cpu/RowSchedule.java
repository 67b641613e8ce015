package dev.kullback.cpu;

import java.io.IOException;
import java.io.InputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * How the CPU device cuts an operation into work for its threads, and the only owner of the sizes that fix its bits.
 *
 * <p>A row-wise operation runs its rows in parallel; when there are fewer rows than about four per thread, each row
 * is also cut into chunks of {@value #CHUNK} values run in parallel, then combined per row in chunk order (so a single
 * [1, 262144] row still uses every core). Chunks depend on the row length only, and every partial is combined in
 * double in a fixed order, so results do not depend on the thread count. Whole-tensor reductions use blocks of
 * {@value #BLOCK} values of the flattened tensor, their partials added in block order.
 *
 * <p>A loss family gives its phases as {@link RowPhases}; {@link #run} decides where they run, in {@link RowLoop}'s
 * loops, of which each family has its own copy so that C2 compiles each family's loops with its phases and kernels
 * alone.
 */
final class RowSchedule {
    /** Row chunk: the unit of row-wise max and sum partials. */
    static final int CHUNK = 4096;
    /** Block of the flattened tensor: the unit of whole-tensor sum partials. */
    static final int BLOCK = 4096;
    /** The least work (values) worth handing to another thread. */
    private static final int GRAIN = 32768;

    private final Workers workers;

    /** {@link #run}'s loops; {@link RowLoop} and its per-family copies implement them. */
    interface Loops {
        void run(RowSchedule schedule, int rows, int cols, RowPhases.Family family);
    }

    /*
     * One copy of RowLoop per family class. C2 profiles each call site of a method, so if every family ran through one
     * loop, a workload that alternates two families (a training step's two losses) would make the loop's phase calls
     * bimorphic: C2 then inlines both families' phases and kernels into one compilation, runs out of its node budget
     * (NodeCountInliningCutoff) and leaves Vector API helpers out of line, which boxes their vectors, ten times slower
     * (VectorInliningTest, workload "alternate"). A copy is a hidden class defined from RowLoop's bytes: its calls
     * see one family, so C2 compiles each family's loops with that family's phases only. Should the bytes not be
     * readable, every family shares RowLoop itself: the same results, with the old risk.
     */
    private static final Loops SHARED = new RowLoop();
    private static final byte[] LOOP_BYTES = loopBytes();
    private static final ClassValue<Loops> LOOPS = new ClassValue<>() {
        @Override
        protected Loops computeValue(Class<?> family) {
            return copyOfLoops();
        }
    };

    private static byte[] loopBytes() {
        try (InputStream in = RowLoop.class.getResourceAsStream("RowLoop.class")) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            return null;
        }
    }

    private static Loops copyOfLoops() {
        if (LOOP_BYTES == null) {
            return SHARED;
        }
        try {
            MethodHandles.Lookup copy = MethodHandles.lookup().defineHiddenClass(LOOP_BYTES, true);
            return (Loops) copy.findConstructor(copy.lookupClass(), MethodType.methodType(void.class)).invoke();
        } catch (Throwable e) {
            return SHARED;
        }
    }

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
     * every chunk, with the combines in row order in between. The loops are {@link RowLoop}'s, in the copy that
     * belongs to the family's class.
     */
    void run(int rows, int cols, RowPhases.Family family) {
        loops(family).run(this, rows, cols, family);
    }

    /** The copy of {@link RowLoop} that runs this family's class. */
    static Loops loops(RowPhases.Family family) {
        return LOOPS.get(family.getClass());
    }
}
