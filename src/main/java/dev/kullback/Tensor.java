package dev.kullback;

/**
 * A row-major [rows, cols] float32 matrix that lives on one {@link Device}.
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

    /** A row-major copy of the values, back on the host. */
    float[] toArray();

    /** The value of a [1, 1] tensor; any other shape is an {@link IllegalArgumentException}. */
    float item();

    /** Whether {@link #close()} has been called. */
    boolean isClosed();

    /** Frees the tensor's memory (on a GPU, returns it to the device's pool). Idempotent. */
    @Override
    void close();
}
