package dev.kullback.cpu;

/**
 * The loops of {@link RowSchedule#run}. {@link RowSchedule} runs each family in its own copy of this class (a hidden
 * class defined from these bytes), so this class refers to no other class of its own making: no lambdas, no nested
 * classes, only itself (which in a copy means the copy).
 *
 * <p>An instance made by the no-argument constructor starts operations; each operation's bodies for {@link Workers}
 * are instances of the same class holding the pass they run.
 */
final class RowLoop implements RowSchedule.Loops, Workers.Body {
    private static final int ROWS = 0;
    private static final int STATS = 1;
    private static final int SECOND_PASS = 2;
    private static final int WRITE = 3;

    private final RowPhases.Family family;
    private final int cols;
    private final int chunks;
    private final int pass;
    /** The whole tensor's phases, for the passes by chunks. */
    private final RowPhases whole;

    RowLoop() {
        this(null, 0, ROWS, null);
    }

    private RowLoop(RowPhases.Family family, int cols, int pass, RowPhases whole) {
        this.family = family;
        this.cols = cols;
        this.chunks = RowSchedule.chunks(cols);
        this.pass = pass;
        this.whole = whole;
    }

    @Override
    public void run(RowSchedule schedule, int rows, int cols, RowPhases.Family family) {
        if (!schedule.byChunks(rows, cols)) {
            schedule.rows(rows, cols, new RowLoop(family, cols, ROWS, null));
            return;
        }
        int chunks = RowSchedule.chunks(cols);
        RowPhases p = family.phases(rows * chunks, rows, true);
        try {
            schedule.units(rows, cols, new RowLoop(family, cols, STATS, p));
            for (int r = 0; r < rows; r++) {
                p.combine(r, r * chunks, chunks, r);
            }
            if (p.hasSecondPass()) {
                schedule.units(rows, cols, new RowLoop(family, cols, SECOND_PASS, p));
                for (int r = 0; r < rows; r++) {
                    p.secondCombine(r, r * chunks, chunks, r);
                }
            }
            schedule.units(rows, cols, new RowLoop(family, cols, WRITE, p));
        } finally {
            p.release();
        }
    }

    /** Rows [from, to), or chunks [from, to) of one pass. */
    @Override
    public void run(int from, int to) {
        if (pass == ROWS) {
            rows(from, to);
            return;
        }
        for (int u = from; u < to; u++) {
            int start = RowSchedule.chunkStart(u, chunks, cols);
            int end = RowSchedule.chunkEnd(u, chunks, cols, start);
            int r = u / chunks;
            switch (pass) {
                case STATS -> whole.stats(r, u, start, end);
                case SECOND_PASS -> whole.secondPass(r, u, r, start, end);
                default -> whole.write(r, u, r, start, end);
            }
        }
    }

    /** Whole rows, each by this thread with phases sized for one row. */
    private void rows(int r0, int r1) {
        RowPhases p = family.phases(chunks, 1, false);
        for (int r = r0; r < r1; r++) {
            int base = r * cols;
            int end = base + cols;
            for (int c = 0, from = base; c < chunks; c++, from += RowSchedule.CHUNK) {
                p.stats(r, c, from, Math.min(from + RowSchedule.CHUNK, end));
            }
            p.combine(r, 0, chunks, 0);
            if (p.hasSecondPass()) {
                for (int c = 0, from = base; c < chunks; c++, from += RowSchedule.CHUNK) {
                    p.secondPass(r, c, 0, from, Math.min(from + RowSchedule.CHUNK, end));
                }
                p.secondCombine(r, 0, chunks, 0);
            }
            for (int c = 0, from = base; c < chunks; c++, from += RowSchedule.CHUNK) {
                p.write(r, c, 0, from, Math.min(from + RowSchedule.CHUNK, end));
            }
        }
    }
}
