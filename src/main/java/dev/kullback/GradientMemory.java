package dev.kullback;

/**
 * Where a loss writes its gradients, for the losses whose {@link Device} methods take no options object (the others
 * say it with {@link CrossEntropy#inPlace} and {@link Distillation#inPlace}).
 */
public enum GradientMemory {
    /** Each gradient in a new tensor, shaped like its input; the inputs are left as they were. */
    ALLOCATED,
    /**
     * Each gradient written over its own input's memory (Liger-Kernel does the same): no [rows, cols] tensor is
     * allocated, the inputs that have a gradient are consumed, and the loss's {@code gradient(i)} IS that input tensor,
     * so closing the loss closes it (closing it again is harmless: a tensor's close is idempotent). Inputs without a
     * gradient (Keras's {@code yTrue}) are left as they were. Every input must be a tensor of its own: two arguments
     * that are one tensor (or share memory) are an {@link IllegalArgumentException}. Results are bitwise those of
     * {@link #ALLOCATED} on the same device.
     */
    IN_PLACE
}
