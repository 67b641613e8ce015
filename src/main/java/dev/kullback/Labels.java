package dev.kullback;

/**
 * Integer class labels on a device, one per row of the logits they go with: the targets of
 * {@link Device#crossEntropy}, and a row mask (rows labelled with the ignore index are left out) for the
 * distillation loss. Made by {@link Device#uploadLabels(int[])}.
 */
public interface Labels extends AutoCloseable {
    /** How many labels (rows). */
    int size();

    Device device();

    /** A copy of the labels, back on the host. */
    int[] toArray();

    boolean isClosed();

    /** Frees the labels' memory. Idempotent. */
    @Override
    void close();
}
