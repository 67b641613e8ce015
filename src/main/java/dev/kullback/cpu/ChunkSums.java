package dev.kullback.cpu;

/**
 * Phases of a loss whose row value is a plain sum over its elements (Keras's KL, the Gaussian KL): each chunk's sum,
 * which also writes that chunk's gradients, then the row's sum of them in chunk order.
 */
final class ChunkSums implements RowPhases {
    /** A sum over a chunk that also writes that chunk's gradients. */
    interface Op {
        double apply(int from, int to);
    }

    private final Op op;
    private final double[] loss;
    private final double[] partials;

    ChunkSums(Op op, double[] loss, int slots) {
        this.op = op;
        this.loss = loss;
        this.partials = new double[slots];
    }

    @Override
    public void stats(int r, int slot, int from, int to) {
        partials[slot] = op.apply(from, to);
    }

    @Override
    public void combine(int r, int first, int chunks, int rowSlot) {
        loss[r] = RowSchedule.sum(partials, first, chunks);
    }

    @Override
    public void write(int r, int slot, int rowSlot, int from, int to) {
    }
}
