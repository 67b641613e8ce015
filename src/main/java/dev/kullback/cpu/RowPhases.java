package dev.kullback.cpu;

/**
 * The phases of one row-wise operation, which {@link RowSchedule#run} calls: each chunk's statistics into a slot, a
 * row's combine of its chunks' slots (in chunk order) into a row slot, optionally a second pass and combine, then the
 * write over each chunk. Slots and row slots index the phases' own state: sized for one row when rows run in
 * parallel (slot = chunk of the row, row slot 0), or for the whole tensor when chunks do (slot = r · chunks + chunk,
 * row slot = r). Results per row (the losses) are written by row index {@code r}.
 */
interface RowPhases {
    /** Makes phases with state for {@code slots} chunks and {@code rowSlots} rows. */
    interface Family {
        /** {@code wholeTensor}: one instance serves every row (chunks in parallel), else one thread's rows. */
        RowPhases phases(int slots, int rowSlots, boolean wholeTensor);
    }

    /** Statistics of chunk [from, to) of row r into slot. */
    void stats(int r, int slot, int from, int to);

    /** Combines row r's slots [first, first + chunks) into rowSlot. */
    void combine(int r, int first, int chunks, int rowSlot);

    default boolean hasSecondPass() {
        return false;
    }

    default void secondPass(int r, int slot, int rowSlot, int from, int to) {
    }

    default void secondCombine(int r, int first, int chunks, int rowSlot) {
    }

    /** Writes chunk [from, to) of row r (the gradient, the output). */
    void write(int r, int slot, int rowSlot, int from, int to);

    /** Returns borrowed scratch (whole-tensor phases, after the write). */
    default void release() {
    }
}
