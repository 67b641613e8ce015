package dev.kullback;

import java.util.Objects;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

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
        return t;
    }

    private static float[] read(Tensor t) {
        Tensor c = t.detach().contiguous();
        long n = c.numel();
        float[] out = new float[Math.toIntExact(n)];
        c.data_ptr_float().get(out, 0, out.length);
        return out;
    }
}
