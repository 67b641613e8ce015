package dev.kullback;

/**
 * Where tensors live and losses run: a CUDA GPU or the CPU. Both implement the same operations with
 * PyTorch's semantics; results are bitwise reproducible on the same device.
 *
 * <p>Every method validates its arguments: wrong shapes or lengths throw {@link IllegalArgumentException},
 * closed tensors or devices and tensors of another device throw {@link IllegalStateException}; the message
 * names the argument and the shapes or values involved.
 */
public interface Device extends AutoCloseable {
    /** Human readable, e.g. "cpu (AVX-512, 2 threads)" or "cuda:0 NVIDIA H100 (sm_90)". */
    String name();

    boolean isGpu();

    /** Copies row-major host data (exactly rows * cols values) onto the device. */
    Tensor upload(float[] data, int rows, int cols);

    Tensor zeros(int rows, int cols);

    /** Row-wise log-softmax over the last dimension; stable for any finite input, NaN for an all -inf row. */
    Tensor logSoftmax(Tensor logits);

    /** Row-wise softmax over the last dimension. */
    Tensor softmax(Tensor logits);

    /** The gradient dL/dx of log-softmax, given dL/dy ({@code gradOutput}) and y = logSoftmax(x) ({@code output}). */
    Tensor logSoftmaxBackward(Tensor gradOutput, Tensor output);

    /**
     * {@code torch.nn.functional.kl_div(input, target, reduction, log_target)}: {@code input} holds
     * log-probabilities, {@code target} probabilities (log-probabilities when {@code logTarget}).
     * Pointwise {@code xlogy(t, t) - t * x}, or {@code exp(t) * (t - x)} when {@code logTarget}.
     * NONE returns [rows, cols]; SUM, MEAN and BATCHMEAN return a [1, 1] tensor that stays on the device.
     */
    Tensor klDiv(Tensor input, Tensor target, Reduction reduction, boolean logTarget);

    /**
     * The gradient of {@link #klDiv} with respect to {@code input}; {@code gradOutput} is [1, 1] for a
     * reduction and [rows, cols] for NONE.
     */
    Tensor klDivBackward(Tensor gradOutput, Tensor input, Tensor target, Reduction reduction, boolean logTarget);

    /** Sum of every element, as a [1, 1] tensor. */
    Tensor sum(Tensor x);

    /** Mean of every element, as a [1, 1] tensor. */
    Tensor mean(Tensor x);

    /** Sum of each row, as a [rows, 1] tensor. */
    Tensor rowSum(Tensor x);

    /** Releases the device's resources; tensors of a closed device may no longer be used. Idempotent. */
    @Override
    void close();
}
