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

    // Each op also writes into a caller's tensor of the result's shape ({@code out}, which must be none of the
    // inputs) and returns it: a training loop that reuses its outputs allocates nothing.

    /** {@link #logSoftmax(Tensor)} into {@code out}. */
    Tensor logSoftmax(Tensor logits, Tensor out);

    /** {@link #softmax(Tensor)} into {@code out}. */
    Tensor softmax(Tensor logits, Tensor out);

    /** The gradient dL/dx of log-softmax, given dL/dy ({@code gradOutput}) and y = logSoftmax(x) ({@code output}). */
    Tensor logSoftmaxBackward(Tensor gradOutput, Tensor output);

    /** {@link #logSoftmaxBackward(Tensor, Tensor)} into {@code out}. */
    Tensor logSoftmaxBackward(Tensor gradOutput, Tensor output, Tensor out);

    /**
     * {@code torch.nn.functional.kl_div(input, target, reduction, log_target)}: {@code input} holds
     * log-probabilities, {@code target} probabilities (log-probabilities when {@code logTarget}).
     * Pointwise {@code xlogy(t, t) - t * x}, or {@code exp(t) * (t - x)} when {@code logTarget}.
     * NONE returns [rows, cols]; SUM, MEAN and BATCHMEAN return a [1, 1] tensor that stays on the device.
     */
    Tensor klDiv(Tensor input, Tensor target, Reduction reduction, boolean logTarget);

    /** {@link #klDiv(Tensor, Tensor, Reduction, boolean)} into {@code out} ([1, 1] for a reduction). */
    Tensor klDiv(Tensor input, Tensor target, Reduction reduction, boolean logTarget, Tensor out);

    /**
     * The gradient of {@link #klDiv} with respect to {@code input}; {@code gradOutput} is [1, 1] for a
     * reduction and [rows, cols] for NONE.
     */
    Tensor klDivBackward(Tensor gradOutput, Tensor input, Tensor target, Reduction reduction, boolean logTarget);

    /** {@link #klDivBackward(Tensor, Tensor, Tensor, Reduction, boolean)} into {@code out}. */
    Tensor klDivBackward(Tensor gradOutput, Tensor input, Tensor target, Reduction reduction, boolean logTarget,
                         Tensor out);

    /** Sum of every element, as a [1, 1] tensor. */
    Tensor sum(Tensor x);

    /** Mean of every element, as a [1, 1] tensor. */
    Tensor mean(Tensor x);

    /** Sum of each row, as a [rows, 1] tensor. */
    Tensor rowSum(Tensor x);

    /** {@link #sum(Tensor)} into a [1, 1] {@code out}. */
    Tensor sum(Tensor x, Tensor out);

    /** {@link #mean(Tensor)} into a [1, 1] {@code out}. */
    Tensor mean(Tensor x, Tensor out);

    /** {@link #rowSum(Tensor)} into a [rows, 1] {@code out}. */
    Tensor rowSum(Tensor x, Tensor out);

    // ---- losses from logits, each fused with its gradient ------------------------------------------------

    /** Integer class labels on this device, one per row: targets for cross-entropy, a row mask for distillation. */
    Labels uploadLabels(int[] labels);

    /**
     * Knowledge distillation: {@code T² · KL(softmax(teacher / T) || softmax(student / T))} (or KL(student ||
     * teacher) when {@link Distillation#reverse}), with the gradient with respect to the student's logits, from
     * one fused pass over both logits; the [rows, cols] probabilities are never stored. Vocabulary entries that
     * are -inf in both logits (masked) add 0 to the loss and 0 to the gradient, where PyTorch's composition
     * {@code kl_div(log_softmax(s / T), softmax(t / T))} gives NaN.
     */
    Loss distillationKl(Tensor studentLogits, Tensor teacherLogits, Distillation options);

    /** {@link #distillationKl(Tensor, Tensor, Distillation)} at {@code temperature}, BATCHMEAN, every row counted. */
    default Loss distillationKl(Tensor studentLogits, Tensor teacherLogits, float temperature) {
        return distillationKl(studentLogits, teacherLogits, Distillation.options().temperature(temperature));
    }

    /**
     * {@code torch.nn.functional.cross_entropy(logits, labels, weight, ignore_index, reduction, label_smoothing)}
     * with class-index labels, plus the optional z-loss, and its gradient with respect to the logits, in one fused
     * pass. A label outside [0, cols) that is not the ignore index is an {@link IllegalArgumentException}.
     */
    Loss crossEntropy(Tensor logits, Labels labels, CrossEntropy options);

    /** {@link #crossEntropy(Tensor, Labels, CrossEntropy)} with PyTorch's defaults: MEAN, ignore index -100. */
    default Loss crossEntropy(Tensor logits, Labels labels) {
        return crossEntropy(logits, labels, CrossEntropy.options());
    }

    /**
     * Cross-entropy against soft targets (probabilities, [rows, cols]), as PyTorch computes it for a
     * floating-point target: MEAN divides by rows, whatever the weights. The ignore index does not apply.
     */
    Loss crossEntropy(Tensor logits, Tensor targetProbabilities, CrossEntropy options);

    /**
     * Liger-Kernel's generalized Jensen-Shannon divergence of P = softmax(teacher) and Q = softmax(student):
     * {@code beta · KL(P || M) + (1 - beta) · KL(Q || M)} with {@code M = beta · P + (1 - beta) · Q}; beta = 0 is
     * the forward KL(P || Q) and beta = 1 the reverse KL(Q || P) (as Liger defines them), 0.5 the symmetric JSD.
     * Gradients with respect to both logits: input 0 the student, input 1 the teacher.
     */
    Loss jsd(Tensor studentLogits, Tensor teacherLogits, float beta, Reduction reduction);

    /**
     * KL(P || Q) + KL(Q || P) of P = softmax(logitsP) and Q = softmax(logitsQ) (R-Drop's consistency loss), with
     * the gradients with respect to both logits.
     */
    Loss symmetricKl(Tensor logitsP, Tensor logitsQ, Reduction reduction);

    /**
     * The entropy H(softmax(logits)) of each row, with its gradient. NONE gives each row's entropy; SUM their sum;
     * MEAN and BATCHMEAN their mean over rows.
     */
    Loss entropy(Tensor logits, Reduction reduction);

    /**
     * {@code tf.keras.losses.KLDivergence}: both inputs clipped to [1e-7, 1], {@code Σ yTrue · log(yTrue / yPred)}
     * over each row, reduced (Keras's default, the mean over the batch, is BATCHMEAN); in bits rather than nats
     * when {@code bits}. The gradient is with respect to {@code yPred} (0 where it was clipped).
     */
    Loss kerasKl(Tensor yTrue, Tensor yPred, Reduction reduction, boolean bits);

    /**
     * KL(N(mu1, exp(logvar1)) || N(mu2, exp(logvar2))) of diagonal Gaussians given as [rows, dims]:
     * {@code 0.5 · (logvar2 - logvar1 + (exp(logvar1) + (mu1 - mu2)²) / exp(logvar2) - 1)} per dimension, reduced
     * like kl_div (NONE sums each row); gradients for mu1, logvar1, mu2, logvar2, in that order.
     */
    Loss gaussianKl(Tensor mu1, Tensor logvar1, Tensor mu2, Tensor logvar2, Reduction reduction);

    /**
     * The VAE form, KL(N(mu, exp(logvar)) || N(0, I)) = {@code -0.5 · Σ (1 + logvar - mu² - exp(logvar))};
     * gradients for mu and logvar.
     */
    Loss gaussianKl(Tensor mu, Tensor logvar, Reduction reduction);

    // ---- vocabulary-parallel losses: the classifier split across ranks by vocabulary (issue 12) ----------------

    /**
     * {@link #crossEntropy(Tensor, Labels, CrossEntropy)} when this rank holds only the columns {@code shard} of
     * the logits: {@code localLogits} is [rows, localVocab], local column c is class {@code shard.offset() + c}, and
     * every rank calls this with its own shard, the same labels (classes of the full vocabulary) and options, and an
     * {@code allReduce} joining the ranks. The value (on every rank) is the unsharded loss; the gradient is this
     * shard's columns of the unsharded gradient (0 in padding columns). Per row, the ranks exchange one float by
     * all-reduce MAX, then two by all-reduce SUM (three with label smoothing, whose sum over the whole vocabulary
     * is exchanged, not computed from the local columns alone). Class weights are not supported; a label in this
     * shard's padding columns is an {@link IllegalArgumentException}.
     */
    Loss crossEntropy(Tensor localLogits, Labels labels, VocabShard shard, AllReduce allReduce, CrossEntropy options);

    /**
     * {@link #distillationKl(Tensor, Tensor, Distillation)} over the columns {@code shard} of both logits (the same
     * columns of each); MEAN divides by the kept rows times the full vocabulary. Per row, two floats by all-reduce
     * MAX, then three by SUM.
     */
    Loss distillationKl(Tensor localStudent, Tensor localTeacher, VocabShard shard, AllReduce allReduce,
                        Distillation options);

    /** {@link #entropy(Tensor, Reduction)} over the columns {@code shard}: per row one float by MAX, two by SUM. */
    Loss entropy(Tensor localLogits, VocabShard shard, AllReduce allReduce, Reduction reduction);

    // ---- total variation distance -------------------------------------------------------------------------

    /**
     * The total variation distance {@code ½ Σ |P - Q|} of P = softmax(teacher) and Q = softmax(student) over each row
     * (Liger-Kernel's {@code tvd}), with the gradients with respect to both logits (input 0 the student, input 1 the
     * teacher), the subgradient of |x| at 0 being 0 (as PyTorch's abs backward). NONE gives each row's distance
     * ([rows, 1]); SUM their sum; BATCHMEAN their sum / rows; MEAN their sum / (rows · cols), as Liger's and
     * kl_div's MEAN. A row holding NaN or +inf, or only -inf, in either logits gives NaN.
     */
    default Loss tvd(Tensor studentLogits, Tensor teacherLogits, Reduction reduction) {
        return tvd(studentLogits, teacherLogits, reduction, null, -100);
    }

    /**
     * {@link #tvd(Tensor, Tensor, Reduction)} where the rows whose label is {@code ignoreIndex} count for nothing:
     * their distance and gradients are 0, and MEAN and BATCHMEAN divide by the counted rows only (as Liger's
     * {@code shift_labels}). {@code labels} null counts every row.
     */
    Loss tvd(Tensor studentLogits, Tensor teacherLogits, Reduction reduction, Labels labels, int ignoreIndex);

    // ---- fused linear losses: the classifier's matrix product and the loss, chunk by chunk ----------------------

    /**
     * {@code cross_entropy(hidden @ weight.T + bias, labels, ...)} with every option of {@link #crossEntropy(Tensor,
     * Labels, CrossEntropy)}, without ever holding the [rows, vocabulary] logits: rows are taken {@code chunking}
     * at a time, each chunk's logits computed by one matrix product, turned into the chunk's losses and logit gradient
     * by the fused cross-entropy (the gradient written over the logits), and folded back into the gradients at once.
     * {@code hidden} is [rows, hidden], {@code weight} [vocabulary, hidden] (PyTorch's Linear layout), {@code bias}
     * [1, vocabulary] or null. The loss's gradients: 0 for {@code hidden}, 1 for {@code weight}, 2 for {@code bias}
     * (when there is one). Results are bitwise repeatable on one device with one chunking. Extra memory: one chunk
     * of logits plus O(rows + vocabulary) (on the CPU also a native copy of the weight and of its gradient, see
     * the README).
     */
    Loss linearCrossEntropy(Tensor hidden, Tensor weight, Tensor bias, Labels labels, CrossEntropy options,
                            Chunking chunking);

    /** {@link #linearCrossEntropy(Tensor, Tensor, Tensor, Labels, CrossEntropy, Chunking)} with {@link Chunking#auto()}. */
    default Loss linearCrossEntropy(Tensor hidden, Tensor weight, Tensor bias, Labels labels, CrossEntropy options) {
        return linearCrossEntropy(hidden, weight, bias, labels, options, Chunking.auto());
    }

    /**
     * {@link #distillationKl(Tensor, Tensor, Distillation)} of the student logits {@code studentHidden @
     * studentWeight.T} and the teacher logits {@code teacherHidden @ teacherWeight.T}, chunk by chunk, never holding
     * either [rows, vocabulary] logits. Student and teacher share rows and vocabulary; their hidden sizes may differ.
     * Gradients: 0 for {@code studentHidden}, 1 for {@code studentWeight} (the teacher gets none).
     */
    Loss linearDistillationKl(Tensor studentHidden, Tensor studentWeight, Tensor teacherHidden, Tensor teacherWeight,
                              Distillation options, Chunking chunking);

    /** {@link #linearDistillationKl(Tensor, Tensor, Tensor, Tensor, Distillation, Chunking)}, {@link Chunking#auto()}. */
    default Loss linearDistillationKl(Tensor studentHidden, Tensor studentWeight, Tensor teacherHidden,
                                      Tensor teacherWeight, Distillation options) {
        return linearDistillationKl(studentHidden, studentWeight, teacherHidden, teacherWeight, options,
                Chunking.auto());
    }

    // ---- half precision and strided views (issue 10) ------------------------------------------------------------
    // Every op and loss takes BFLOAT16 / FLOAT16 tensors and computes in float32, rounding a half result once to
    // nearest even. Result types follow PyTorch: logSoftmax, softmax, logSoftmaxBackward, klDiv(NONE) and klDivBackward
    // return the input's type; reductions (sum, mean, rowSum, a reduced klDiv) and loss values are FLOAT32; each
    // gradient has its input's type (FLOAT32 with CrossEntropy / Distillation float32Gradients(true)). The tensors of
    // one call share one type (labels aside; class weights and the fused linear losses' data are FLOAT32 only); an
    // out must have the result's type. Details: docs/losses.md.

    /**
     * Copies row-major 16-bit patterns ({@code rows * cols} of them, as DJL and ND4J hold half tensors on the host) onto
     * the device as a tensor of {@code type}, which must be BFLOAT16 or FLOAT16.
     */
    Tensor upload(short[] bits, int rows, int cols, DType type);

    /** Copies row-major floats onto the device as {@code type}, each rounded to nearest even for a half type. */
    Tensor upload(float[] data, int rows, int cols, DType type);

    /** A [rows, cols] tensor of {@code type} holding zeros. */
    Tensor zeros(int rows, int cols, DType type);

    /**
     * Rows [firstRow, firstRow + rows) and columns [firstCol, firstCol + cols) of {@code base} as a tensor sharing its
     * memory: same dtype, {@code rowStride()} = base's row stride; a view of a view composes. Views are valid inputs and
     * outputs ({@code out}) of every op and loss, with exactly the results of the same data copied contiguous.
     * Closing a view frees nothing; a view of a closed tensor is closed too ({@link IllegalStateException} on use).
     */
    Tensor view(Tensor base, int firstRow, int rows, int firstCol, int cols);

    /** Releases the device's resources; tensors of a closed device may no longer be used. Idempotent. */
    @Override
    void close();
}
