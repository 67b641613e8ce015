package dev.kullback.internal;

import dev.kullback.Device;
import dev.kullback.Reduction;
import dev.kullback.Tensor;

/**
 * The one place where arguments are checked and results allocated. A device implementation supplies
 * memory and the raw operations on tensors it owns; everything a caller can get wrong is caught here,
 * before any kernel runs, so no device ever sees a bad shape.
 */
public abstract class AbstractDevice<T extends AbstractTensor> implements Device {
    private final Class<T> tensorType;
    private volatile boolean closed;
    private volatile boolean processWide;

    protected AbstractDevice(Class<T> tensorType) {
        this.tensorType = tensorType;
    }

    // ---- what an implementation supplies ------------------------------------------------------

    /** A tensor of that shape with unspecified contents. */
    protected abstract T allocate(int rows, int cols);

    protected abstract T allocateZeros(int rows, int cols);

    protected abstract T copyOf(float[] data, int rows, int cols);

    /** out = logSoftmax(x) row-wise, or softmax(x) when {@code log} is false. */
    protected abstract void softmaxInto(T x, T out, boolean log);

    /** gradInput = gradOutput - exp(output) * rowSum(gradOutput). */
    protected abstract void logSoftmaxBackwardInto(T gradOutput, T output, T gradInput);

    /** out = pointwise kl_div(input, target). */
    protected abstract void klDivPointwiseInto(T input, T target, T out, boolean logTarget);

    /** out[0, 0] = sum of pointwise kl_div(input, target) / divisor. */
    protected abstract void klDivSumInto(T input, T target, T out, boolean logTarget, float divisor);

    /**
     * gradInput = -(g * w) with w = target, or exp(target) when {@code logTarget}; g = gradOutput[0, 0] / divisor
     * when {@code scalarGrad}, else gradOutput elementwise (divisor is then 1).
     */
    protected abstract void klDivBackwardInto(T gradOutput, T target, T gradInput, boolean logTarget,
                                              boolean scalarGrad, float divisor);

    /** out[0, 0] = sum(x) / divisor. */
    protected abstract void sumInto(T x, T out, float divisor);

    /** out[r, 0] = sum of row r of x. */
    protected abstract void rowSumInto(T x, T out);

    /** Frees the device's own resources; called exactly once. */
    protected abstract void release();

    // ---- the public API, checked -------------------------------------------------------------

    @Override
    public final Tensor upload(float[] data, int rows, int cols) {
        requireOpen();
        Shapes.requireValid(rows, cols);
        if (data == null) {
            throw new IllegalArgumentException("data is null");
        }
        if (data.length != (long) rows * cols) {
            throw new IllegalArgumentException("data has " + data.length + " values, but shape [" + rows + ", " + cols
                    + "] needs rows * cols = " + (long) rows * cols);
        }
        return copyOf(data, rows, cols);
    }

    @Override
    public final Tensor zeros(int rows, int cols) {
        requireOpen();
        Shapes.requireValid(rows, cols);
        return allocateZeros(rows, cols);
    }

    @Override
    public final Tensor logSoftmax(Tensor logits) {
        return softmax(logits, true);
    }

    @Override
    public final Tensor softmax(Tensor logits) {
        return softmax(logits, false);
    }

    private Tensor softmax(Tensor logits, boolean log) {
        T x = own(logits, "logits");
        T out = allocate(x.rows(), x.cols());
        return run(out, () -> softmaxInto(x, out, log));
    }

    @Override
    public final Tensor logSoftmaxBackward(Tensor gradOutput, Tensor output) {
        T g = own(gradOutput, "gradOutput");
        T y = own(output, "output");
        Shapes.requireSame("gradOutput", g, "output", y);
        T out = allocate(y.rows(), y.cols());
        return run(out, () -> logSoftmaxBackwardInto(g, y, out));
    }

    @Override
    public final Tensor klDiv(Tensor input, Tensor target, Reduction reduction, boolean logTarget) {
        T x = own(input, "input");
        T t = own(target, "target");
        Shapes.requireSame("input", x, "target", t);
        if (reduction == null) {
            throw new IllegalArgumentException("reduction is null; use Reduction.NONE for no reduction");
        }
        if (reduction == Reduction.NONE) {
            T out = allocate(x.rows(), x.cols());
            return run(out, () -> klDivPointwiseInto(x, t, out, logTarget));
        }
        T out = allocate(1, 1);
        return run(out, () -> klDivSumInto(x, t, out, logTarget, divisor(reduction, x)));
    }

    @Override
    public final Tensor klDivBackward(Tensor gradOutput, Tensor input, Tensor target, Reduction reduction,
                                      boolean logTarget) {
        T g = own(gradOutput, "gradOutput");
        T x = own(input, "input");
        T t = own(target, "target");
        Shapes.requireSame("input", x, "target", t);
        if (reduction == null) {
            throw new IllegalArgumentException("reduction is null; use Reduction.NONE for no reduction");
        }
        boolean scalarGrad = reduction != Reduction.NONE;
        if (scalarGrad && (g.rows() != 1 || g.cols() != 1)) {
            throw new IllegalArgumentException("gradOutput must be [1, 1] for reduction " + reduction + ", got "
                    + g.shape());
        }
        if (!scalarGrad) {
            Shapes.requireSame("gradOutput", g, "input", x);
        }
        T out = allocate(x.rows(), x.cols());
        float divisor = scalarGrad ? divisor(reduction, x) : 1f;
        return run(out, () -> klDivBackwardInto(g, t, out, logTarget, scalarGrad, divisor));
    }

    @Override
    public final Tensor sum(Tensor x) {
        T in = own(x, "x");
        T out = allocate(1, 1);
        return run(out, () -> sumInto(in, out, 1f));
    }

    @Override
    public final Tensor mean(Tensor x) {
        T in = own(x, "x");
        T out = allocate(1, 1);
        return run(out, () -> sumInto(in, out, (float) in.size()));
    }

    @Override
    public final Tensor rowSum(Tensor x) {
        T in = own(x, "x");
        T out = allocate(in.rows(), 1);
        return run(out, () -> rowSumInto(in, out));
    }

    /**
     * Closes the device, unless it is one of the process-wide instances that {@code Devices} hands out:
     * those are shared by every caller, so one caller's try-with-resources must not close them for all.
     */
    @Override
    public final void close() {
        if (processWide) {
            return;
        }
        if (!closed) {
            synchronized (this) {
                if (!closed) {
                    closed = true;
                    release();
                }
            }
        }
    }

    public final boolean isClosed() {
        return closed;
    }

    /** Makes {@link #close()} a no-op: for the shared instances of {@code dev.kullback.Devices}. */
    public final void makeProcessWide() {
        processWide = true;
    }

    @Override
    public String toString() {
        return name();
    }

    // ---- checks ---------------------------------------------------------------------------------

    /** PyTorch's divisors: MEAN by every element, BATCHMEAN by the rows, SUM by nothing. */
    private static float divisor(Reduction reduction, AbstractTensor x) {
        switch (reduction) {
            case MEAN:
                return (float) x.size();
            case BATCHMEAN:
                return x.rows();
            default:
                return 1f;
        }
    }

    /** Runs an operation into a fresh result, and frees the result if the operation fails. */
    private Tensor run(T out, Runnable op) {
        try {
            op.run();
            return out;
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    protected final void requireOpen() {
        if (closed) {
            throw new IllegalStateException("device " + name() + " is closed");
        }
    }

    /** Throws unless {@code tensor} is an open tensor of this open device. */
    final void requireUsable(AbstractTensor tensor, String argument) {
        requireOpen();
        if (tensor.isClosed()) {
            throw new IllegalStateException(argument + " " + tensor.shape() + " is closed");
        }
    }

    /** "[rows, cols]" of any Tensor implementation, for messages; never throws. */
    private static String describe(Tensor tensor) {
        try {
            return "[" + tensor.rows() + ", " + tensor.cols() + "]";
        } catch (RuntimeException e) {
            return "(shape unknown)";
        }
    }

    /** The argument as this device's own tensor, or a clear exception. */
    protected final T own(Tensor tensor, String argument) {
        requireOpen();
        if (tensor == null) {
            throw new IllegalArgumentException(argument + " is null");
        }
        Device owner = tensor.device();
        if (owner != this) {
            throw new IllegalStateException(argument + " " + describe(tensor) + " lives on "
                    + (owner == null ? "no device" : owner.name()) + ", not on " + name()
                    + "; copy it with toArray() and upload()");
        }
        if (!tensorType.isInstance(tensor)) {
            throw new IllegalStateException(argument + " is a " + tensor.getClass().getName() + ", not a tensor made by "
                    + name());
        }
        T own = tensorType.cast(tensor);
        if (own.isClosed()) {
            throw new IllegalStateException(argument + " " + own.shape() + " is closed");
        }
        return own;
    }
}
