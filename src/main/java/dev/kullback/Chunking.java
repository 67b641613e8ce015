package dev.kullback;

/**
 * How many rows of a fused linear loss ({@link Device#linearCrossEntropy}, {@link Device#linearDistillationKl}) are
 * turned into logits at once. The logits of one chunk, [chunk rows, vocabulary], are the only [rows, vocabulary]
 * memory such a loss holds; the [rows, vocabulary] logits themselves are never stored. Fewer rows per chunk use less
 * memory and more, smaller matrix products. Immutable.
 */
public final class Chunking {
    private static final Chunking AUTO = new Chunking(0, 0L);

    private final int rows;
    private final long bytes;

    private Chunking(int rows, long bytes) {
        this.rows = rows;
        this.bytes = bytes;
    }

    /**
     * Liger-Kernel's rule: one chunk's logits about as large as the hidden states, {@code ceil(rows / ceil(vocabulary
     * / hidden))} rows per chunk, so the loss's extra memory is about that of its input.
     */
    public static Chunking auto() {
        return AUTO;
    }

    /** Exactly {@code rows} rows per chunk (the last chunk may have fewer), at least 1. */
    public static Chunking rows(int rows) {
        if (rows < 1) {
            throw new IllegalArgumentException("chunk rows must be at least 1, got " + rows);
        }
        return new Chunking(rows, 0L);
    }

    /**
     * As many rows per chunk as fit one chunk's logits (4 bytes per value) in {@code bytes}, at least one row; the loss's
     * other memory is O(rows + vocabulary) besides.
     */
    public static Chunking memoryBudget(long bytes) {
        if (bytes < 4) {
            throw new IllegalArgumentException("memory budget must be at least 4 bytes (one float), got " + bytes);
        }
        return new Chunking(0, bytes);
    }

    /** The rows per chunk for [rows, hidden] hidden states and a [vocabulary, hidden] weight: in [1, rows]. */
    public int rowsPerChunk(int rows, int hidden, int vocabulary) {
        long chunk;
        if (this.rows > 0) {
            chunk = this.rows;
        } else if (bytes > 0) {
            chunk = bytes / (4L * vocabulary);
        } else {
            long chunks = (vocabulary + (long) hidden - 1) / hidden;
            chunk = (rows + chunks - 1) / chunks;
        }
        return (int) Math.max(1, Math.min(rows, chunk));
    }

    @Override
    public String toString() {
        return rows > 0 ? "Chunking.rows(" + rows + ")" : bytes > 0 ? "Chunking.memoryBudget(" + bytes + ")"
                : "Chunking.auto()";
    }
}
