package dev.kullback;

import java.util.Objects;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The authority: PyTorch's own CPU kernels (libtorch 2.10 through org.bytedeco:pytorch), float32,
 * on the same {@code float[]} data the device under test gets. Every call runs in its own
 * {@link PointerScope}, so the native tensors it makes are freed before it returns; results come
 * back as fresh Java arrays.
 *
 * <p>What each method computes, in PyTorch terms ({@code x} is a [rows, cols] float32 tensor):
 * <ul>
 * <li>{@link #logSoftmax}: {@code torch.log_softmax(x, dim=1)}; {@link #softmax}: {@code torch.softmax(x, dim=1)}.
 * <li>{@link #logSoftmaxBackward}: {@code x.requires_grad_(); torch.log_softmax(x, 1).backward(gradOutput); x.grad},
 *     so autograd runs PyTorch's {@code _log_softmax_backward_data}.
 * <li>{@link #klDiv}: {@code torch.nn.functional.kl_div(input, target, reduction, log_target)}, which calls
 *     ATen's {@code torch.kl_div} with None/Mean/Sum and, for {@code batchmean}, divides the Sum by
 *     {@code input.size(0)} (the rows) exactly as the Python function does.
 * <li>{@link #klDivBackward}: the same forward with {@code requires_grad} on {@code input}, then
 *     {@code loss.backward(gradOutput)} and {@code input.grad}.
 * <li>{@link #sum}, {@link #mean}: {@code torch.sum(x)}, {@code torch.mean(x)}; {@link #rowSum}: {@code x.sum(dim=1)}.
 * </ul>
 * libtorch runs on a fixed single intra-op thread, so its float32 summation order, and hence every
 * value here, is the same on every run and every machine.
 */
public final class TorchOracle {
    private static final Object LOCK = new Object();

    static {
        torch.set_num_threads(1);
    }

    private TorchOracle() {
    }

    /** The type inputs are converted to in {@link #inType} and {@link #inFloat64}; null for float32. */
    private static ScalarType computeType;

    /**
     * Runs {@code call} with every input tensor of this oracle converted to {@code type} (exactly, for data already
     * rounded to it), so PyTorch runs its own bf16/fp16 CPU kernels; results are read back widened to float32.
     */
    public static <R> R inType(dev.kullback.DType type, java.util.function.Supplier<R> call) {
        return computing(type == dev.kullback.DType.BFLOAT16 ? ScalarType.BFloat16
                : type == dev.kullback.DType.FLOAT16 ? ScalarType.Half : null, call);
    }

    /**
     * Runs {@code call} on the float32 inputs widened to float64, each result rounded to float32 once: PyTorch's
     * formulas without its float32 kernels' rounding, which depends on the machine (ATen dispatches AVX2 or AVX-512
     * kernels) and in long rows exceeds the parity tolerances: on an AVX2 machine, autograd's float32 row sum in
     * log_softmax's backward (262,144 equal smoothing terms) is off by 6.5e-4 relative, which the float64 reference
     * and every device are not. Inside {@link #inType} the half type stays.
     */
    public static <R> R inFloat64(java.util.function.Supplier<R> call) {
        synchronized (LOCK) {
            return computeType != null ? call.get() : computing(ScalarType.Double, call);
        }
    }

    private static <R> R computing(ScalarType type, java.util.function.Supplier<R> call) {
        synchronized (LOCK) {
            ScalarType before = computeType;
            computeType = type;
            try {
                return call.get();
            } finally {
                computeType = before;
            }
        }
    }

    public static float[] logSoftmax(float[] x, int rows, int cols) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                return read(torch.log_softmax(tensor(x, rows, cols), 1));
            }
        }
    }

    public static float[] softmax(float[] x, int rows, int cols) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                return read(torch.softmax(tensor(x, rows, cols), 1));
            }
        }
    }

    /** dL/dx for y = log_softmax(x, dim=1), given dL/dy = gradOutput, through PyTorch's autograd. */
    public static float[] logSoftmaxBackward(float[] gradOutput, float[] x, int rows, int cols) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor in = tensor(x, rows, cols);
                in.set_requires_grad(true);
                Tensor y = torch.log_softmax(in, 1);
                backward(y, tensor(gradOutput, rows, cols));
                return read(in.grad());
            }
        }
    }

    /** {@code F.kl_div(input, target, reduction, log_target)}: [rows * cols] values for NONE, else one value. */
    public static float[] klDiv(float[] input, float[] target, int rows, int cols, Reduction reduction,
                                boolean logTarget) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                return read(klDivForward(tensor(input, rows, cols), tensor(target, rows, cols), reduction, logTarget));
            }
        }
    }

    /** One value of a reduced {@code F.kl_div}. */
    public static float klDivReduced(float[] input, float[] target, int rows, int cols, Reduction reduction,
                                     boolean logTarget) {
        if (reduction == Reduction.NONE) {
            throw new IllegalArgumentException("klDivReduced needs a reduction, got NONE");
        }
        return klDiv(input, target, rows, cols, reduction, logTarget)[0];
    }

    /**
     * d(F.kl_div(input, target, reduction, log_target))/d(input) by autograd, given gradOutput
     * ([rows * cols] values for NONE, one value otherwise).
     */
    public static float[] klDivBackward(float[] gradOutput, float[] input, float[] target, int rows, int cols,
                                        Reduction reduction, boolean logTarget) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor in = tensor(input, rows, cols);
                in.set_requires_grad(true);
                Tensor loss = klDivForward(in, tensor(target, rows, cols), reduction, logTarget);
                Tensor grad;
                if (reduction == Reduction.NONE) {
                    grad = tensor(gradOutput, rows, cols);
                } else {
                    if (gradOutput.length != 1) {
                        throw new IllegalArgumentException("a reduced kl_div has a scalar gradient, got "
                                + gradOutput.length + " values");
                    }
                    grad = torch.empty(new long[0], options(), new MemoryFormatOptional());   // a 0-dim tensor, like the loss
                    grad.data_ptr_float().put(gradOutput[0]);
                }
                backward(loss, grad);
                return read(in.grad());
            }
        }
    }

    public static float sum(float[] x, int rows, int cols) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                return read(torch.sum(tensor(x, rows, cols)))[0];
            }
        }
    }

    public static float mean(float[] x, int rows, int cols) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                return read(torch.mean(tensor(x, rows, cols)))[0];
            }
        }
    }

    /** {@code x.sum(dim=1)}: one value per row. */
    public static float[] rowSum(float[] x, int rows, int cols) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                return read(tensor(x, rows, cols).sum(new long[] {1}, false, new ScalarTypeOptional()));
            }
        }
    }

    // ---- losses: forward by composition of PyTorch ops, gradients by autograd ----------------------------

    /**
     * A loss as PyTorch computes it: {@code value} is one value per row for NONE, else one value; {@code grads[i]}
     * is the gradient of the value (of the sum of the rows' values for NONE) with respect to input i.
     */
    public record LossOut(float[] value, float[][] grads) {
    }

    /**
     * Distillation: {@code T*T*kl_div(log_softmax(s/T, 1), softmax(t/T, 1), 'none')} (reverse: {@code
     * T*T*kl_div(log_softmax(t/T), log_softmax(s/T), log_target=True)}), summed over each row; rows whose label is
     * {@code ignoreIndex} are left out with {@code index_select} (so their gradient is 0). NONE gives each row's
     * sum (0 for a left-out row); SUM the sum; BATCHMEAN the sum / counted rows; MEAN the sum / (counted * cols).
     * Gradient with respect to the student only.
     */
    public static LossOut distillation(float[] s, float[] t, int rows, int cols, float temperature, boolean reverse,
                                       Reduction reduction, int[] labels, int ignoreIndex) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor student = tensor(s, rows, cols);
                student.set_requires_grad(true);
                Tensor teacher = tensor(t, rows, cols);
                Scalar temp = new Scalar((double) temperature);
                Tensor ls = torch.log_softmax(student.div(temp), 1);
                Tensor lt = torch.log_softmax(teacher.div(temp), 1);
                Tensor pointwise = reverse
                        ? torch.kl_div(lt, ls, torch.Reduction.None.value, true)
                        : torch.kl_div(ls, torch.softmax(teacher.div(temp), 1), torch.Reduction.None.value, false);
                Tensor rowLoss = pointwise.sum(new long[] {1}, false, new ScalarTypeOptional())
                        .mul(new Scalar((double) temperature * temperature));
                long[] kept = kept(labels, rows, ignoreIndex);
                Tensor value;
                if (reduction == Reduction.NONE) {
                    value = rowLoss.mul(mask(labels, rows, ignoreIndex));
                } else {
                    Tensor sum = rowLoss.index_select(0, longs(kept)).sum();
                    double divisor = reduction == Reduction.MEAN ? (double) kept.length * cols
                            : reduction == Reduction.BATCHMEAN ? kept.length : 1;
                    value = sum.div(new Scalar(divisor));
                }
                return finish(value, student);
            }
        }
    }

    /**
     * {@code F.cross_entropy(x, labels, weight, ignore_index, reduction, label_smoothing)} with class indices
     * (ATen's {@code cross_entropy_loss}), plus {@code zLoss * logsumexp(x, 1)^2} over the counted rows (per row for
     * NONE, summed for SUM, averaged over the counted rows for MEAN). {@code weights} is null or one per class.
     */
    public static LossOut crossEntropy(float[] x, int rows, int cols, int[] labels, float[] weights,
                                       Reduction reduction, int ignoreIndex, float labelSmoothing, float zLoss) {
        if (reduction == Reduction.BATCHMEAN) {
            throw new IllegalArgumentException("cross_entropy has no batchmean");
        }
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor logits = tensor(x, rows, cols);
                logits.set_requires_grad(true);
                long[] target = new long[rows];
                for (int i = 0; i < rows; i++) {
                    target[i] = labels[i];
                }
                Tensor value = torch.cross_entropy_loss(logits, longs(target), weightsOf(weights, cols),
                        ceReduction(reduction), ignoreIndex, labelSmoothing);
                if (zLoss != 0) {
                    value = value.add(zTerm(logits, rows, reduction, kept(labels, rows, ignoreIndex),
                            mask(labels, rows, ignoreIndex), zLoss));
                }
                return finish(value, logits);
            }
        }
    }

    /** {@code F.cross_entropy(x, target_probabilities, weight, reduction, label_smoothing)} plus the z-loss of every row. */
    public static LossOut softCrossEntropy(float[] x, float[] target, int rows, int cols, float[] weights,
                                           Reduction reduction, float labelSmoothing, float zLoss) {
        if (reduction == Reduction.BATCHMEAN) {
            throw new IllegalArgumentException("cross_entropy has no batchmean");
        }
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor logits = tensor(x, rows, cols);
                logits.set_requires_grad(true);
                Tensor value = torch.cross_entropy_loss(logits, tensor(target, rows, cols), weightsOf(weights, cols),
                        ceReduction(reduction), -100, labelSmoothing);
                if (zLoss != 0) {
                    long[] all = kept(null, rows, 0);
                    value = value.add(zTerm(logits, rows, reduction, all, mask(null, rows, 0), zLoss));
                }
                return finish(value, logits);
            }
        }
    }

    /**
     * Liger-Kernel's generalized JSD (its torch reference): P = softmax(teacher), Q = softmax(student); beta 0:
     * {@code kl_div(log_q, log_p, log_target=True)} (KL(P||Q)); beta 1: {@code kl_div(log_p, log_q, log_target=True)};
     * else {@code log_m = logsumexp(stack([log_p + log(beta), log_q + log(1-beta)]), 0)} and
     * {@code beta * kl_div(log_m, log_p) + (1-beta) * kl_div(log_m, log_q)} (log targets); rows summed, reduced like
     * kl_div. Gradients: student, teacher.
     */
    public static LossOut jsd(float[] s, float[] t, int rows, int cols, float beta, Reduction reduction) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor student = tensor(s, rows, cols);
                Tensor teacher = tensor(t, rows, cols);
                student.set_requires_grad(true);
                teacher.set_requires_grad(true);
                Tensor logQ = torch.log_softmax(student, 1);
                Tensor logP = torch.log_softmax(teacher, 1);
                long none = torch.Reduction.None.value;
                Tensor pointwise;
                if (beta == 0) {
                    pointwise = torch.kl_div(logQ, logP, none, true);
                } else if (beta == 1) {
                    pointwise = torch.kl_div(logP, logQ, none, true);
                } else {
                    Tensor logM = torch.logsumexp(torch.stack(new TensorVector(logP.add(new Scalar(Math.log(beta))),
                            logQ.add(new Scalar(Math.log(1 - (double) beta))))), new long[] {0}, false);
                    pointwise = torch.kl_div(logM, logP, none, true).mul(new Scalar((double) beta))
                            .add(torch.kl_div(logM, logQ, none, true).mul(new Scalar(1 - (double) beta)));
                }
                return finish(reduceRows(pointwise, rows, cols, reduction), student, teacher);
            }
        }
    }

    /**
     * Total variation distance as PyTorch users write it: {@code 0.5 * (softmax(teacher) - softmax(student)).abs()
     * .sum(1)}, ignored rows masked out and not counted (as distillation), autograd for both logits.
     */
    public static LossOut tvd(float[] s, float[] t, int rows, int cols, Reduction reduction, int[] labels,
                              int ignoreIndex) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor student = tensor(s, rows, cols);
                Tensor teacher = tensor(t, rows, cols);
                student.set_requires_grad(true);
                teacher.set_requires_grad(true);
                Tensor rowLoss = torch.softmax(teacher, 1).sub(torch.softmax(student, 1)).abs()
                        .sum(new long[] {1}, false, new ScalarTypeOptional()).mul(new Scalar(0.5));
                long[] kept = kept(labels, rows, ignoreIndex);
                Tensor value;
                if (reduction == Reduction.NONE) {
                    value = rowLoss.mul(mask(labels, rows, ignoreIndex));
                } else {
                    Tensor sum = rowLoss.index_select(0, longs(kept)).sum();
                    double divisor = reduction == Reduction.MEAN ? (double) kept.length * cols
                            : reduction == Reduction.BATCHMEAN ? kept.length : 1;
                    value = sum.div(new Scalar(divisor));
                }
                return finish(value, student, teacher);
            }
        }
    }

    /** {@code kl_div(log_q, log_p, log_target=True) + kl_div(log_p, log_q, log_target=True)}, rows summed, reduced like kl_div. */
    public static LossOut symmetricKl(float[] p, float[] q, int rows, int cols, Reduction reduction) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor a = tensor(p, rows, cols);
                Tensor b = tensor(q, rows, cols);
                a.set_requires_grad(true);
                b.set_requires_grad(true);
                Tensor logP = torch.log_softmax(a, 1);
                Tensor logQ = torch.log_softmax(b, 1);
                long none = torch.Reduction.None.value;
                Tensor pointwise = torch.kl_div(logQ, logP, none, true).add(torch.kl_div(logP, logQ, none, true));
                return finish(reduceRows(pointwise, rows, cols, reduction), a, b);
            }
        }
    }

    /** {@code -(softmax(x) * log_softmax(x)).sum(1)}; NONE per row, SUM, MEAN and BATCHMEAN the mean over rows. */
    public static LossOut entropy(float[] x, int rows, int cols, Reduction reduction) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor logits = tensor(x, rows, cols);
                logits.set_requires_grad(true);
                Tensor rowH = torch.softmax(logits, 1).mul(torch.log_softmax(logits, 1))
                        .sum(new long[] {1}, false, new ScalarTypeOptional()).neg();
                Tensor value = reduction == Reduction.NONE ? rowH
                        : reduction == Reduction.SUM ? rowH.sum() : rowH.sum().div(new Scalar((long) rows));
                return finish(value, logits);
            }
        }
    }

    /**
     * tf.keras.losses.KLDivergence: {@code t = clamp(yTrue, 1e-7, 1); q = clamp(yPred, 1e-7, 1); (t * log(t / q))}
     * (divided by ln 2 for bits), rows summed, reduced like kl_div. Gradient with respect to yPred.
     */
    public static LossOut kerasKl(float[] yTrue, float[] yPred, int rows, int cols, Reduction reduction, boolean bits) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor truth = tensor(yTrue, rows, cols);
                Tensor pred = tensor(yPred, rows, cols);
                pred.set_requires_grad(true);
                ScalarOptional lo = new ScalarOptional(new Scalar(1e-7));
                ScalarOptional hi = new ScalarOptional(new Scalar(1.0));
                Tensor t = torch.clamp(truth, lo, hi);
                Tensor q = torch.clamp(pred, lo, hi);
                Tensor pointwise = t.mul(t.div(q).log());
                if (bits) {
                    pointwise = pointwise.div(new Scalar(Math.log(2)));
                }
                return finish(reduceRows(pointwise, rows, cols, reduction), pred);
            }
        }
    }

    /**
     * {@code 0.5 * (lv2 - lv1 + (exp(lv1) + (mu1 - mu2)^2) / exp(lv2) - 1)} elementwise with torch ops (mu2, lv2
     * null: the standard normal, {@code 0.5 * (exp(lv1) + mu1^2 - 1 - lv1)}), rows summed, reduced like kl_div.
     * Gradients: mu1, lv1 (, mu2, lv2).
     */
    public static LossOut gaussianKl(float[] mu1, float[] lv1, float[] mu2, float[] lv2, int rows, int cols,
                                     Reduction reduction) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor m1 = tensor(mu1, rows, cols);
                Tensor v1 = tensor(lv1, rows, cols);
                m1.set_requires_grad(true);
                v1.set_requires_grad(true);
                Tensor pointwise;
                Scalar half = new Scalar(0.5);
                Scalar one = new Scalar(1.0);
                Scalar two = new Scalar(2.0);
                if (mu2 == null) {
                    pointwise = v1.exp().add(m1.pow(two)).sub(one).sub(v1).mul(half);
                    return finish(reduceRows(pointwise, rows, cols, reduction), m1, v1);
                }
                Tensor m2 = tensor(mu2, rows, cols);
                Tensor v2 = tensor(lv2, rows, cols);
                m2.set_requires_grad(true);
                v2.set_requires_grad(true);
                pointwise = v2.sub(v1).add(v1.exp().add(m1.sub(m2).pow(two)).div(v2.exp())).sub(one).mul(half);
                return finish(reduceRows(pointwise, rows, cols, reduction), m1, v1, m2, v2);
            }
        }
    }

    /** Row sums of a [rows, cols] pointwise loss: NONE per row, SUM, MEAN / (rows * cols), BATCHMEAN / rows. */
    private static Tensor reduceRows(Tensor pointwise, int rows, int cols, Reduction reduction) {
        Tensor rowLoss = pointwise.sum(new long[] {1}, false, new ScalarTypeOptional());
        switch (reduction) {
            case NONE:
                return rowLoss;
            case SUM:
                return rowLoss.sum();
            case MEAN:
                return rowLoss.sum().div(new Scalar((long) rows * cols));
            case BATCHMEAN:
                return rowLoss.sum().div(new Scalar((long) rows));
            default:
                throw new AssertionError(reduction);
        }
    }

    private static Tensor zTerm(Tensor logits, int rows, Reduction reduction, long[] kept, Tensor mask, float zLoss) {
        Tensor lse = torch.logsumexp(logits, new long[] {1}, false);
        Tensor z = lse.pow(new Scalar(2.0)).mul(new Scalar((double) zLoss));
        if (reduction == Reduction.NONE) {
            return z.mul(mask);
        }
        Tensor sum = z.index_select(0, longs(kept)).sum();
        return reduction == Reduction.SUM ? sum : sum.div(new Scalar((long) kept.length));
    }

    private static long ceReduction(Reduction reduction) {
        switch (reduction) {
            case NONE:
                return torch.Reduction.None.value;
            case SUM:
                return torch.Reduction.Sum.value;
            case MEAN:
                return torch.Reduction.Mean.value;
            default:
                throw new AssertionError(reduction);
        }
    }

    private static TensorOptional weightsOf(float[] weights, int cols) {
        return weights == null ? new TensorOptional() : new TensorOptional(tensor(weights, 1, cols).view(cols));
    }

    /** The rows whose label is not the ignore index (every row when labels is null). */
    private static long[] kept(int[] labels, int rows, int ignoreIndex) {
        return java.util.stream.IntStream.range(0, rows).filter(r -> labels == null || labels[r] != ignoreIndex)
                .asLongStream().toArray();
    }

    /** [rows] float32: 1 for a counted row, 0 for an ignored one. */
    private static Tensor mask(int[] labels, int rows, int ignoreIndex) {
        float[] m = new float[rows];
        for (int r = 0; r < rows; r++) {
            m[r] = labels == null || labels[r] != ignoreIndex ? 1 : 0;
        }
        return tensor(m, 1, rows).view(rows);
    }

    private static Tensor longs(long[] values) {
        Tensor t = torch.empty(new long[] {values.length}, new TensorOptions(torch.ScalarType.Long),
                new MemoryFormatOptional());
        if (values.length > 0) {
            t.data_ptr_long().put(values, 0, values.length);
        }
        return t;
    }

    /** Backward of the value (of its sum when it has one value per row), and the gradients of the inputs. */
    private static LossOut finish(Tensor value, Tensor... inputs) {
        Tensor scalar = value.dim() == 0 ? value : value.sum();
        scalar.backward();
        float[][] grads = new float[inputs.length][];
        for (int i = 0; i < inputs.length; i++) {
            Tensor g = inputs[i].grad();
            grads[i] = g.defined() ? read(g) : new float[Math.toIntExact(inputs[i].numel())];
        }
        return new LossOut(read(value), grads);
    }

    // ---- plumbing ----------------------------------------------------------------------------

    private static Tensor klDivForward(Tensor input, Tensor target, Reduction reduction, boolean logTarget) {
        Objects.requireNonNull(reduction, "reduction");
        switch (reduction) {
            case NONE:
                return torch.kl_div(input, target, torch.Reduction.None.value, logTarget);
            case SUM:
                return torch.kl_div(input, target, torch.Reduction.Sum.value, logTarget);
            case MEAN:
                return torch.kl_div(input, target, torch.Reduction.Mean.value, logTarget);
            case BATCHMEAN:
                // torch/nn/functional.py: reduction_enum = Sum; reduced = reduced / input.size()[0]
                return torch.kl_div(input, target, torch.Reduction.Sum.value, logTarget)
                        .div(new Scalar(input.size(0)));
            default:
                throw new AssertionError(reduction);
        }
    }

    private static void backward(Tensor output, Tensor gradient) {
        output.backward(gradient, new BoolOptional(), false, new TensorArrayRefOptional());
    }

    private static TensorOptions options() {
        return new TensorOptions(torch.ScalarType.Float);
    }

    /** A fresh [rows, cols] float32 libtorch tensor holding a copy of data. */
    private static Tensor tensor(float[] data, int rows, int cols) {
        Objects.requireNonNull(data, "data");
        if ((long) rows * cols != data.length) {
            throw new IllegalArgumentException(data.length + " values for [" + rows + ", " + cols + "]");
        }
        Tensor t = torch.empty(new long[] {rows, cols}, options(), new MemoryFormatOptional());
        t.data_ptr_float().put(data, 0, data.length);
        return computeType == null ? t : t.to(computeType);
    }

    private static float[] read(Tensor t) {
        Tensor c = t.detach();
        if (c.scalar_type() != ScalarType.Float) {
            c = c.to(ScalarType.Float);
        }
        c = c.contiguous();
        long n = c.numel();
        float[] out = new float[Math.toIntExact(n)];
        c.data_ptr_float().get(out, 0, out.length);
        return out;
    }
}
