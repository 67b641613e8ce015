package dev.kullback;

/**
 * A row-major [rows, cols] matrix of {@link #dtype()} elements that lives on one {@link Device}, either contiguous or a
 * view whose rows lie {@link #rowStride()} elements apart (see {@link Device#view}).
 * A PyTorch 1-D tensor of n elements is a [1, n] tensor here.
 */
public interface Tensor extends AutoCloseable {
    int rows();

    int cols();

    /** rows * cols. */
    default long size() {
        return (long) rows() * cols();
    }

    Device device();

    /** A row-major, packed copy of the values, back on the host (half values widened exactly). */
    float[] toArray();

    /** The value of a [1, 1] tensor; any other shape is an {@link IllegalArgumentException}. */
    float item();

    /** The element type; FLOAT32 unless made half by {@link Device#upload(short[], int, int, DType)} and its kin. */
    default DType dtype() {
        return DType.FLOAT32;
    }

    /** Elements between the starts of consecutive rows: {@code cols()} when contiguous, more for a view. */
    default long rowStride() {
        return cols();
    }

    /** Whether the rows lie back to back ({@code rowStride() == cols()}). */
    default boolean isContiguous() {
        return rowStride() == cols();
    }

    /**
     * A row-major, packed copy of a half tensor's raw 16-bit patterns, back on the host; an
     * {@link IllegalStateException} naming the type for a FLOAT32 tensor (use {@link #toArray()}).
     */
    default short[] toBits() {
        throw new IllegalStateException("toBits() needs a BFLOAT16 or FLOAT16 tensor, this one is " + dtype()
                + "; use toArray()");
    }

    /** Whether {@link #close()} has been called. */
    boolean isClosed();

    /** Frees the tensor's memory (on a GPU, returns it to the device's pool). Idempotent. */
    @Override
    void close();
}
