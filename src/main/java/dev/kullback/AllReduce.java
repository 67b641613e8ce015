package dev.kullback;

/**
 * The collective the vocabulary-parallel losses need: an element-wise all-reduce, in place, over a float32 tensor
 * that every rank passes with the same shape at the same point of the same call. Training code passes the
 * communicator it already has: {@code dev.kullback.cuda.NcclAllReduce} wraps an NCCL communicator; an adapter
 * of a framework's process group is a few lines.
 *
 * <p>On a GPU the buffer is device memory and the reduction must be ordered on the device's stream (NCCL's
 * {@code ncclAllReduce} on that stream is), so that the loss's next kernel reads the reduced values; on the CPU the
 * reduction must be complete when the method returns. Every rank must get the same result, bit for bit: the
 * losses of all ranks then agree exactly.
 */
public interface AllReduce {
    /** buffer = the element-wise maximum of every rank's buffer. */
    void max(Tensor buffer);

    /** buffer = the element-wise sum of every rank's buffer. */
    void sum(Tensor buffer);
}
