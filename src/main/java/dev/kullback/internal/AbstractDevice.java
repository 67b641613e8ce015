package dev.kullback.internal;

import dev.kullback.AllReduce;
import dev.kullback.Chunking;
import dev.kullback.CrossEntropy;
import dev.kullback.DType;
import dev.kullback.Device;
import dev.kullback.Distillation;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import dev.kullback.VocabShard;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The one place where arguments are checked and results allocated. A device implementation supplies
 * memory and the raw operations on tensors it owns; everything a caller can get wrong is caught here,
 * before any kernel runs, so no device ever sees a bad shape.
 */
public abstract class AbstractDevice<T extends AbstractTensor, L extends AbstractLabels> implements Device {
    private final Class<T> tensorType;
    private final Class<L> labelsType;
    private volatile boolean closed;
    private volatile boolean processWide;

    protected AbstractDevice(Class<T> tensorType, Class<L> labelsType) {
        this.tensorType = tensorType;
        this.labelsType = labelsType;
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

    /** Labels holding a copy of {@code labels}. */
    protected abstract L labelsOf(int[] labels);

    /**
     * value = T² · the reduced KL of each counted row (per row into [rows, 1] for NONE; rows whose label is the
     * ignore index give 0); grad = its gradient with respect to the student. {@code divisor} is what the sum of
     * the counted rows' losses is divided by (1 for SUM and NONE); {@code labels} is null when every row counts.
     */
    protected abstract void distillationInto(T student, T teacher, L labels, int ignoreIndex, float temperature,
                                             boolean reverse, RowReduction reduction, T value, T grad);

    /**
     * PyTorch's cross_entropy with class indices (already checked to be classes or the ignore index), plus
     * {@code zLoss · lse²} per counted row; {@code weights} is [1, cols] or null. value is [rows, 1] for NONE.
     */
    protected abstract void crossEntropyInto(T logits, L labels, T weights, Reduction reduction, int ignoreIndex,
                                             float labelSmoothing, float zLoss, T value, T grad);

    /** PyTorch's cross_entropy with probability targets, plus the z-loss; value is [rows, 1] for NONE. */
    protected abstract void softCrossEntropyInto(T logits, T target, T weights, Reduction reduction,
                                                 float labelSmoothing, float zLoss, T value, T grad);

    /** Liger's generalized JSD of P = softmax(teacher), Q = softmax(student); row sums / divisor. */
    protected abstract void jsdInto(T student, T teacher, float beta, RowReduction reduction, T value,
                                    T gradStudent, T gradTeacher);

    /** KL(P || Q) + KL(Q || P) of P = softmax(p), Q = softmax(q); row sums / divisor. */
    protected abstract void symmetricKlInto(T p, T q, RowReduction reduction, T value, T gradP, T gradQ);

    /** H(softmax(logits)) per row; row sums / divisor. */
    protected abstract void entropyInto(T logits, RowReduction reduction, T value, T grad);

    /** Keras's clipped KL, in nats or bits; row sums / divisor. */
    protected abstract void kerasKlInto(T yTrue, T yPred, boolean bits, RowReduction reduction, T value,
                                        T gradPred);

    /**
     * Diagonal Gaussian KL per element, row sums / divisor. {@code mu2} and {@code logvar2} (and their gradients)
     * are null for the standard normal N(0, I).
     */
    protected abstract void gaussianKlInto(T mu1, T logvar1, T mu2, T logvar2, RowReduction reduction,
                                           T value, T gradMu1, T gradLogvar1, T gradMu2, T gradLogvar2);

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
        return logSoftmax(logits, null);
    }

    @Override
    public final Tensor logSoftmax(Tensor logits, Tensor out) {
        return softmax(logits, out, true);
    }

    @Override
    public final Tensor softmax(Tensor logits) {
        return softmax(logits, null);
    }

    @Override
    public final Tensor softmax(Tensor logits, Tensor out) {
        return softmax(logits, out, false);
    }

    private Tensor softmax(Tensor logits, Tensor out, boolean log) {
        T x = own(logits, "logits");
        return into(out, x.rows(), x.cols(), x.dtype(), List.of(x), y -> softmaxInto(x, y, log));
    }

    @Override
    public final Tensor logSoftmaxBackward(Tensor gradOutput, Tensor output) {
        return logSoftmaxBackward(gradOutput, output, null);
    }

    @Override
    public final Tensor logSoftmaxBackward(Tensor gradOutput, Tensor output, Tensor out) {
        T g = own(gradOutput, "gradOutput");
        T y = own(output, "output");
        Shapes.requireSame("gradOutput", g, "output", y);
        return into(out, y.rows(), y.cols(), y.dtype(), List.of(g, y), gx -> logSoftmaxBackwardInto(g, y, gx));
    }

    @Override
    public final Tensor klDiv(Tensor input, Tensor target, Reduction reduction, boolean logTarget) {
        return klDiv(input, target, reduction, logTarget, null);
    }

    @Override
    public final Tensor klDiv(Tensor input, Tensor target, Reduction reduction, boolean logTarget, Tensor out) {
        T x = own(input, "input");
        T t = own(target, "target");
        Shapes.requireSame("input", x, "target", t);
        if (reduction == null) {
            throw new IllegalArgumentException("reduction is null; use Reduction.NONE for no reduction");
        }
        if (reduction == Reduction.NONE) {
            return into(out, x.rows(), x.cols(), x.dtype(), List.of(x, t),
                    kl -> klDivPointwiseInto(x, t, kl, logTarget));
        }
        float divisor = divisor(reduction, x);
        return into(out, 1, 1, DType.FLOAT32, List.of(x, t), kl -> klDivSumInto(x, t, kl, logTarget, divisor));
    }

    @Override
    public final Tensor klDivBackward(Tensor gradOutput, Tensor input, Tensor target, Reduction reduction,
                                      boolean logTarget) {
        return klDivBackward(gradOutput, input, target, reduction, logTarget, null);
    }

    @Override
    public final Tensor klDivBackward(Tensor gradOutput, Tensor input, Tensor target, Reduction reduction,
                                      boolean logTarget, Tensor out) {
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
        } else if (g.dtype() != DType.FLOAT32) {
            Shapes.requireSameType("gradOutput", g, "input", x); // the reduced loss is FLOAT32; input's type also does
        }
        float divisor = scalarGrad ? divisor(reduction, x) : 1f;
        return into(out, x.rows(), x.cols(), x.dtype(), List.of(g, x, t),
                gx -> klDivBackwardInto(g, t, gx, logTarget, scalarGrad, divisor));
    }

    @Override
    public final Tensor sum(Tensor x) {
        return sum(x, null);
    }

    @Override
    public final Tensor sum(Tensor x, Tensor out) {
        T in = own(x, "x");
        return into(out, 1, 1, DType.FLOAT32, List.of(in), total -> sumInto(in, total, 1f));
    }

    @Override
    public final Tensor mean(Tensor x) {
        return mean(x, null);
    }

    @Override
    public final Tensor mean(Tensor x, Tensor out) {
        T in = own(x, "x");
        return into(out, 1, 1, DType.FLOAT32, List.of(in), total -> sumInto(in, total, (float) in.size()));
    }

    @Override
    public final Tensor rowSum(Tensor x) {
        return rowSum(x, null);
    }

    @Override
    public final Tensor rowSum(Tensor x, Tensor out) {
        T in = own(x, "x");
        return into(out, in.rows(), 1, DType.FLOAT32, List.of(in), sums -> rowSumInto(in, sums));
    }

    /**
     * Closes the device, unless it is one of the process-wide instances that {@code Devices} hands out:
     * those are shared by every caller, so one caller's try-with-resources must not close them for all.
     */
    // ---- losses, checked ----------------------------------------------------------------------------

    @Override
    public final Labels uploadLabels(int[] labels) {
        requireOpen();
        if (labels == null) {
            throw new IllegalArgumentException("labels is null");
        }
        if (labels.length == 0) {
            throw new IllegalArgumentException("labels is empty; there must be one label per row");
        }
        return labelsOf(labels);
    }

    @Override
    public final Loss distillationKl(Tensor studentLogits, Tensor teacherLogits, Distillation options) {
        T student = own(studentLogits, "studentLogits");
        T teacher = own(teacherLogits, "teacherLogits");
        Shapes.requireSame("studentLogits", student, "teacherLogits", teacher);
        requireNonNull(options, "options");
        float temperature = options.temperature();
        if (!(temperature > 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        Reduction reduction = requireNonNull(options.reduction(), "reduction");
        L labels = options.labels() == null ? null : ownLabels(options.labels(), "labels", student.rows());
        int counted = labels == null ? student.rows() : labels.counted(options.ignoreIndex());
        RowReduction rows = RowReduction.of(reduction, reduction == Reduction.MEAN
                ? (float) ((double) counted * student.cols()) : reduction == Reduction.BATCHMEAN ? counted : 1f);
        float cap = softCap(options.softCap());
        if (options.weightHard() != 0f || options.weightSoft() != 1f) {
            throw new IllegalArgumentException("hardLoss(" + options.weightHard() + ", " + options.weightSoft()
                    + ") applies to linearDistillationKl, not to distillationKl");
        }
        return loss(student.rows(), reduction, List.of(student), options.float32Gradients(), (value, grads) -> capped(cap,
                student, grads.get(0),
                s -> capped(cap, teacher, null, t -> distillationInto(s, t, labels, options.ignoreIndex(), temperature,
                        options.reverse(), rows, value, grads.get(0)))));
    }

    @Override
    public final Loss crossEntropy(Tensor logits, Labels labels, CrossEntropy options) {
        T x = own(logits, "logits");
        requireNonNull(options, "options");
        L y = ownLabels(labels, "labels", x.rows());
        y.requireInRange("labels", x.cols(), options.ignoreIndex());
        T weights = classWeights(options, x);
        Reduction reduction = crossEntropyReduction(options);
        float smoothing = labelSmoothing(options);
        float zLoss = zLoss(options);
        float cap = softCap(options.softCap());
        if (options.inPlace() && options.float32Gradients() && x.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException("inPlace writes the gradient over logits " + x.describe()
                    + ", in their type; float32Gradients(true) cannot apply");
        }
        return (options.inPlace() ? inPlace(x, reduction)
                : loss(x.rows(), reduction, List.of(x), options.float32Gradients()))
                .run((value, grads) -> capped(cap, x, grads.get(0), in -> crossEntropyInto(in, y, weights, reduction,
                        options.ignoreIndex(), smoothing, zLoss, value, grads.get(0))));
    }

    @Override
    public final Loss crossEntropy(Tensor logits, Tensor targetProbabilities, CrossEntropy options) {
        T x = own(logits, "logits");
        T target = own(targetProbabilities, "targetProbabilities");
        Shapes.requireSame("logits", x, "targetProbabilities", target);
        requireNonNull(options, "options");
        T weights = classWeights(options, x);
        Reduction reduction = crossEntropyReduction(options);
        float smoothing = labelSmoothing(options);
        float zLoss = zLoss(options);
        float cap = softCap(options.softCap());
        if (options.inPlace()) {
            throw new IllegalArgumentException("inPlace applies to cross-entropy with class-index labels, not to "
                    + "probability targets");
        }
        return loss(x.rows(), reduction, List.of(x), options.float32Gradients(), (value, grads) -> capped(cap, x,
                grads.get(0), in -> softCrossEntropyInto(in, target, weights, reduction, smoothing, zLoss, value, grads.get(0))));
    }

    @Override
    public final Loss jsd(Tensor studentLogits, Tensor teacherLogits, float beta, Reduction reduction) {
        T student = own(studentLogits, "studentLogits");
        T teacher = own(teacherLogits, "teacherLogits");
        Shapes.requireSame("studentLogits", student, "teacherLogits", teacher);
        if (!(beta >= 0 && beta <= 1)) {
            throw new IllegalArgumentException("beta must be in [0, 1], got " + beta);
        }
        RowReduction rows = RowReduction.of(requireNonNull(reduction, "reduction"), student);
        return loss(student.rows(), reduction, List.of(student, teacher), (value, grads) -> jsdInto(student, teacher,
                beta, rows, value, grads.get(0), grads.get(1)));
    }

    @Override
    public final Loss symmetricKl(Tensor logitsP, Tensor logitsQ, Reduction reduction) {
        T p = own(logitsP, "logitsP");
        T q = own(logitsQ, "logitsQ");
        Shapes.requireSame("logitsP", p, "logitsQ", q);
        RowReduction rows = RowReduction.of(requireNonNull(reduction, "reduction"), p);
        return loss(p.rows(), reduction, List.of(p, q), (value, grads) -> symmetricKlInto(p, q, rows, value,
                grads.get(0), grads.get(1)));
    }

    @Override
    public final Loss entropy(Tensor logits, Reduction reduction) {
        T x = own(logits, "logits");
        requireNonNull(reduction, "reduction");
        RowReduction rows = RowReduction.of(reduction,
                reduction == Reduction.MEAN || reduction == Reduction.BATCHMEAN ? x.rows() : 1f);
        return loss(x.rows(), reduction, List.of(x), (value, grads) -> entropyInto(x, rows, value, grads.get(0)));
    }

    @Override
    public final Loss kerasKl(Tensor yTrue, Tensor yPred, Reduction reduction, boolean bits) {
        T truth = own(yTrue, "yTrue");
        T pred = own(yPred, "yPred");
        Shapes.requireSame("yTrue", truth, "yPred", pred);
        RowReduction rows = RowReduction.of(requireNonNull(reduction, "reduction"), truth);
        return loss(truth.rows(), reduction, List.of(pred), (value, grads) -> kerasKlInto(truth, pred, bits, rows,
                value, grads.get(0)));
    }

    @Override
    public final Loss gaussianKl(Tensor mu1, Tensor logvar1, Tensor mu2, Tensor logvar2, Reduction reduction) {
        T m1 = own(mu1, "mu1");
        T v1 = own(logvar1, "logvar1");
        T m2 = own(mu2, "mu2");
        T v2 = own(logvar2, "logvar2");
        Shapes.requireSame("mu1", m1, "logvar1", v1);
        Shapes.requireSame("mu1", m1, "mu2", m2);
        Shapes.requireSame("mu1", m1, "logvar2", v2);
        RowReduction rows = RowReduction.of(requireNonNull(reduction, "reduction"), m1);
        return loss(m1.rows(), reduction, List.of(m1, v1, m2, v2), (value, grads) -> gaussianKlInto(m1, v1, m2, v2,
                rows, value, grads.get(0), grads.get(1), grads.get(2), grads.get(3)));
    }

    @Override
    public final Loss gaussianKl(Tensor mu, Tensor logvar, Reduction reduction) {
        T m = own(mu, "mu");
        T v = own(logvar, "logvar");
        Shapes.requireSame("mu", m, "logvar", v);
        RowReduction rows = RowReduction.of(requireNonNull(reduction, "reduction"), m);
        return loss(m.rows(), reduction, List.of(m, v), (value, grads) -> gaussianKlInto(m, v, null, null, rows,
                value, grads.get(0), grads.get(1), null, null));
    }

    /** A loss to run: {@link #run} allocates what it returns, runs the op into it, and frees it again on failure. */
    private interface Pending<T> {
        Loss run(BiConsumer<T, List<T>> op);
    }

    /** {@link #loss(int, Reduction, List, boolean, BiConsumer)}, to be run. */
    private Pending<T> loss(int rows, Reduction reduction, List<T> inputs, boolean float32Gradients) {
        return op -> loss(rows, reduction, inputs, float32Gradients, op);
    }

    /** A loss whose gradient is written over {@code x} itself: only the value is allocated. */
    private Pending<T> inPlace(T x, Reduction reduction) {
        return op -> {
            T value = allocate(reduction == Reduction.NONE ? x.rows() : 1, 1);
            try {
                op.accept(value, List.of(x));
                return new Loss(value, List.of(x));
            } catch (RuntimeException | Error e) {
                value.close();
                throw e;
            } finally {
                Reference.reachabilityFence(op);
            }
        };
    }

    /** {@link #loss(int, Reduction, List, boolean, BiConsumer)} with each gradient in its input's type. */
    private Loss loss(int rows, Reduction reduction, List<T> inputs, BiConsumer<T, List<T>> op) {
        return loss(rows, reduction, inputs, false, op);
    }

    /**
     * Allocates a loss's value (FLOAT32, [rows, 1] for NONE, else [1, 1]) and one gradient per input (in the input's
     * type, as autograd gives, or FLOAT32 when {@code float32Gradients}), runs, frees on failure.
     */
    private Loss loss(int rows, Reduction reduction, List<T> inputs, boolean float32Gradients,
                      BiConsumer<T, List<T>> op) {
        List<T> results = new ArrayList<>();
        try {
            T value = allocate(reduction == Reduction.NONE ? rows : 1, 1);
            results.add(value);
            for (T input : inputs) {
                results.add(allocate(input.rows(), input.cols(), float32Gradients ? DType.FLOAT32 : input.dtype()));
            }
            List<T> grads = results.subList(1, results.size());
            op.accept(value, grads);
            return new Loss(value, new ArrayList<>(grads));
        } catch (RuntimeException | Error e) {
            results.forEach(AbstractTensor::close);
            throw e;
        } finally {
            Reference.reachabilityFence(op); // see into()
        }
    }

    private T classWeights(CrossEntropy options, T logits) {
        if (options.weights() == null) {
            return null;
        }
        T weights = own(options.weights(), "weights");
        Shapes.requireFloat32("weights", weights, "cross-entropy's class weights (FLOAT32 whatever the logits' type)");
        if (weights.rows() != 1 || weights.cols() != logits.cols()) {
            throw new IllegalArgumentException("weights " + weights.shape() + " must be [1, " + logits.cols()
                    + "], one per class of logits " + logits.shape());
        }
        return weights;
    }

    private static Reduction crossEntropyReduction(CrossEntropy options) {
        Reduction reduction = requireNonNull(options.reduction(), "reduction");
        if (reduction == Reduction.BATCHMEAN) {
            throw new IllegalArgumentException("cross-entropy takes reduction NONE, SUM or MEAN, as PyTorch's does, "
                    + "not BATCHMEAN");
        }
        return reduction;
    }

    private static float labelSmoothing(CrossEntropy options) {
        float smoothing = options.labelSmoothing();
        if (!(smoothing >= 0 && smoothing <= 1)) {
            throw new IllegalArgumentException("labelSmoothing must be in [0, 1], got " + smoothing);
        }
        return smoothing;
    }

    private static float zLoss(CrossEntropy options) {
        float scale = options.zLoss();
        if (!(scale >= 0) || Float.isInfinite(scale)) {
            throw new IllegalArgumentException("zLoss must be finite and >= 0, got " + scale);
        }
        return scale;
    }

    private static float softCap(float cap) {
        if (!(cap >= 0) || Float.isInfinite(cap)) {
            throw new IllegalArgumentException("softCap must be 0 (none) or positive and finite, got " + cap);
        }
        return cap;
    }

    /**
     * Runs {@code loss} on {@code cap · tanh(x / cap)} (a temporary) and chains the soft cap into {@code grad} (none
     * when null: a teacher's logits); with cap 0 on {@code x} itself.
     */
    private void capped(float cap, T x, T grad, Consumer<T> loss) {
        if (cap == 0) {
            loss.accept(x);
            return;
        }
        T y = allocate(x.rows(), x.cols(), x.dtype()); // the capped logits in the logits' type, as PyTorch's tanh gives
        try {
            softCapInto(x, y, cap);
            loss.accept(y);
            if (grad != null) {
                softCapBackwardInto(y, grad, cap);
            }
        } finally {
            y.close();
        }
    }

    private static <V> V requireNonNull(V value, String argument) {
        if (value == null) {
            throw new IllegalArgumentException(argument + " is null");
        }
        return value;
    }

    /** The argument as this device's own labels, one per row, or a clear exception. */
    protected final L ownLabels(Labels labels, String argument, int rows) {
        requireOpen();
        if (labels == null) {
            throw new IllegalArgumentException(argument + " is null");
        }
        if (labels.device() != this || !labelsType.isInstance(labels)) {
            throw new IllegalStateException(argument + " live on " + (labels.device() == null ? "no device"
                    : labels.device().name()) + ", not on " + name());
        }
        L own = labelsType.cast(labels);
        if (own.isClosed()) {
            throw new IllegalStateException(argument + " [" + own.size() + "] are closed");
        }
        if (own.size() != rows) {
            throw new IllegalArgumentException(argument + " has " + own.size() + " labels, but the logits have "
                    + rows + " rows");
        }
        return own;
    }

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
        return RowReduction.of(reduction, x).divisor();
    }

    /**
     * Runs an operation into {@code out}, checked to be a [rows, cols] tensor of this device that is none of the
     * inputs (the kernels read and write through restrict pointers), or into a fresh result when {@code out} is
     * null, which is freed again if the operation fails.
     */
    private Tensor into(Tensor out, int rows, int cols, DType type, List<T> inputs, Consumer<T> op) {
        try {
            if (out == null) {
                T fresh = allocate(rows, cols, type);
                try {
                    op.accept(fresh);
                    return fresh;
                } catch (RuntimeException | Error e) {
                    fresh.close();
                    throw e;
                }
            }
            T given = own(out, "out");
            if (given.rows() != rows || given.cols() != cols) {
                throw new IllegalArgumentException("out " + given.shape() + " must be [" + rows + ", " + cols + "]");
            }
            if (given.dtype() != type) {
                throw new IllegalArgumentException("out is " + given.dtype() + " " + given.shape() + ", but this op "
                        + "returns " + type + " for its inputs of type " + inputs.get(0).dtype());
            }
            for (T input : inputs) {
                if (input == given) {
                    throw new IllegalArgumentException("out must be a tensor of its own, not one of the inputs");
                }
                requireDisjoint(given, input);
            }
            op.accept(given);
            return given;
        } finally {
            // no input may be garbage collected (and its memory reclaimed by a Cleaner) while the operation is still
            // using its address, even when the caller keeps no reference to it
            Reference.reachabilityFence(inputs);
            Reference.reachabilityFence(op);
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

    // ---- vocabulary-parallel losses (issue 12) ------------------------------------------------------------------

    /** maxes[r, i] = the maximum over the shard's classes of input i (a, then b) of row r (unscaled by 1 / T). */
    protected abstract void vocabMaxInto(VocabPass pass, T a, T b, T maxes);

    /**
     * sums[r, ...] = the shard's part of row r's sums, given the all-reduced maxes (see {@link VocabPass}); {@code grad}
     * may hold anything afterwards (e.g. exps the write pass reuses: the all-reduce changes only the normalizers).
     */
    protected abstract void vocabSumsInto(VocabPass pass, T a, T b, L labels, T maxes, T sums, T grad);

    /** grad = the shard's columns of the gradient of the row losses, rowLoss[r] = row r's loss, from the reduced sums. */
    protected abstract void vocabWriteInto(VocabPass pass, T a, T b, L labels, T maxes, T sums, T grad, T rowLoss);

    @Override
    public final Loss crossEntropy(Tensor localLogits, Labels labels, VocabShard shard, AllReduce allReduce,
                                   CrossEntropy options) {
        T x = own(localLogits, "localLogits");
        requireNonNull(options, "options");
        int classes = vocabShard(shard, allReduce, x);
        if (options.weights() != null) {
            throw new IllegalArgumentException("class weights are not supported by the vocabulary-parallel "
                    + "cross-entropy; use weights(null)");
        }
        L y = ownLabels(labels, "labels", x.rows());
        requireVocabLabels(y, shard, x, options.ignoreIndex());
        Reduction reduction = crossEntropyReduction(options);
        int counted = y.counted(options.ignoreIndex());
        float divisor = reduction == Reduction.MEAN ? counted : 1f;
        VocabPass pass = new VocabPass(VocabPass.Kind.CROSS_ENTROPY, shard.offset(), classes, shard.vocabSize(), 1f,
                options.ignoreIndex(), labelSmoothing(options), zLoss(options), 1f, 1f / divisor);
        return vocabParallel(pass, x, null, y, allReduce, reduction == Reduction.NONE, divisor);
    }

    @Override
    public final Loss distillationKl(Tensor localStudent, Tensor localTeacher, VocabShard shard, AllReduce allReduce,
                                     Distillation options) {
        T student = own(localStudent, "localStudent");
        T teacher = own(localTeacher, "localTeacher");
        Shapes.requireSame("localStudent", student, "localTeacher", teacher);
        requireNonNull(options, "options");
        int classes = vocabShard(shard, allReduce, student);
        float temperature = options.temperature();
        if (!(temperature > 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        Reduction reduction = requireNonNull(options.reduction(), "reduction");
        L labels = options.labels() == null ? null : ownLabels(options.labels(), "labels", student.rows());
        int counted = labels == null ? student.rows() : labels.counted(options.ignoreIndex());
        // MEAN is kl_div's mean over every element of the full [rows, vocabSize] logits, not of this shard
        float divisor = reduction == Reduction.MEAN ? (float) ((double) counted * shard.vocabSize())
                : reduction == Reduction.BATCHMEAN ? counted : 1f;
        VocabPass pass = new VocabPass(options.reverse() ? VocabPass.Kind.REVERSE_KL : VocabPass.Kind.FORWARD_KL,
                shard.offset(), classes, shard.vocabSize(), 1f / temperature, options.ignoreIndex(), 0f, 0f,
                temperature * temperature, temperature / divisor);
        return vocabParallel(pass, student, teacher, labels, allReduce, reduction == Reduction.NONE, divisor);
    }

    @Override
    public final Loss entropy(Tensor localLogits, VocabShard shard, AllReduce allReduce, Reduction reduction) {
        T x = own(localLogits, "localLogits");
        int classes = vocabShard(shard, allReduce, x);
        requireNonNull(reduction, "reduction");
        float divisor = reduction == Reduction.MEAN || reduction == Reduction.BATCHMEAN ? x.rows() : 1f;
        VocabPass pass = new VocabPass(VocabPass.Kind.ENTROPY, shard.offset(), classes, shard.vocabSize(), 1f, 0, 0f,
                0f, 1f, 1f / divisor);
        return vocabParallel(pass, x, null, null, allReduce, reduction == Reduction.NONE, divisor);
    }

    /**
     * The three passes with the two all-reduces between them: row maxima, MAX; the shard's sums, SUM; gradient
     * and row losses. The value is the row losses (perRow) or their fixed-order sum / divisor.
     */
    private Loss vocabParallel(VocabPass pass, T a, T b, L labels, AllReduce allReduce, boolean perRow,
                               float divisor) {
        int rows = a.rows();
        return loss(rows, perRow ? Reduction.NONE : Reduction.SUM, List.of(a), (value, grads) -> {
            List<T> scratch = new ArrayList<>(3);
            try {
                T maxes = allocate(rows, pass.maxWidth());
                scratch.add(maxes);
                T sums = allocate(rows, pass.sumWidth());
                scratch.add(sums);
                T rowLoss = value;
                if (!perRow) {
                    rowLoss = allocate(rows, 1);
                    scratch.add(rowLoss);
                }
                // the sums pass may leave exps in grad for the write pass: keep them float32 when grad is half
                T grad = grads.get(0);
                if (grad.dtype() != DType.FLOAT32) {
                    grad = allocate(rows, a.cols());
                    scratch.add(grad);
                }
                vocabMaxInto(pass, a, b, maxes);
                allReduce.max(maxes);
                vocabSumsInto(pass, a, b, labels, maxes, sums, grad);
                allReduce.sum(sums);
                vocabWriteInto(pass, a, b, labels, maxes, sums, grad, rowLoss);
                if (grad != grads.get(0)) {
                    copyInto(grad, grads.get(0));
                }
                if (!perRow) {
                    sumInto(rowLoss, value, divisor);
                }
            } finally {
                scratch.forEach(AbstractTensor::close);
            }
        });
    }

    /** Checks the shard against the local logits and returns how many of their columns are classes. */
    private int vocabShard(VocabShard shard, AllReduce allReduce, T local) {
        requireNonNull(shard, "shard");
        requireNonNull(allReduce, "allReduce");
        if (shard.vocabSize() < 1) {
            throw new IllegalArgumentException("shard vocabSize must be >= 1, got " + shard.vocabSize());
        }
        if (shard.offset() < 0 || (long) shard.offset() + local.cols() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("shard offset " + shard.offset() + " with " + local.cols()
                    + " local columns must lie in [0, 2^31 - 1]");
        }
        return shard.classesIn(local.cols());
    }

    /**
     * Labels are classes of the full vocabulary (or the ignore index); one in this shard's padding columns is
     * named as such: it would otherwise select a column no rank holds a logit for.
     */
    private void requireVocabLabels(L labels, VocabShard shard, T local, int ignoreIndex) {
        int[] host = labels.host();
        long end = (long) shard.offset() + local.cols();
        for (int i = 0; i < host.length; i++) {
            int label = host[i];
            if (label == ignoreIndex || (label >= 0 && label < shard.vocabSize())) {
                continue;
            }
            if (label >= shard.vocabSize() && label < end) {
                throw new IllegalArgumentException("labels[" + i + "] = " + label + " falls in the padding columns ["
                        + shard.vocabSize() + ", " + end + ") of this shard " + local.shape() + " at offset "
                        + shard.offset() + ": not a class of the vocabulary of " + shard.vocabSize());
            }
            throw new IllegalArgumentException("labels[" + i + "] = " + label + " is not a class in [0, "
                    + shard.vocabSize() + ") nor the ignore index " + ignoreIndex);
        }
    }

    // ---- total variation distance -----------------------------------------------------------------------

    /**
     * Total variation distance of P = softmax(teacher), Q = softmax(student) per row (0 for a row whose label is the
     * ignore index; labels may be null), reduced as {@code reduction}; the gradients of both logits.
     */
    protected abstract void tvdInto(T student, T teacher, L labels, int ignoreIndex, RowReduction reduction, T value,
                                    T gradStudent, T gradTeacher);

    @Override
    public final Loss tvd(Tensor studentLogits, Tensor teacherLogits, Reduction reduction, Labels labels,
                          int ignoreIndex) {
        T student = own(studentLogits, "studentLogits");
        T teacher = own(teacherLogits, "teacherLogits");
        Shapes.requireSame("studentLogits", student, "teacherLogits", teacher);
        requireNonNull(reduction, "reduction");
        L y = labels == null ? null : ownLabels(labels, "labels", student.rows());
        int counted = y == null ? student.rows() : y.counted(ignoreIndex);
        RowReduction rows = RowReduction.of(reduction, reduction == Reduction.MEAN
                ? (float) ((double) counted * student.cols()) : reduction == Reduction.BATCHMEAN ? counted : 1f);
        return loss(student.rows(), reduction, List.of(student, teacher), (value, grads) -> tvdInto(student, teacher,
                y, ignoreIndex, rows, value, grads.get(0), grads.get(1)));
    }

    // ---- fused linear losses (issue 11): hooks and checks ------------------------------------------------

    /** Matrix products with cuBLAS's contract over this device's tensors, for the span of one fused linear loss. */
    protected abstract Gemm<T> gemm();

    /**
     * The first {@code rows} rows of {@code t} as a tensor sharing its memory, for a loss hook to read and write; it is
     * never closed (closing {@code t} frees the memory).
     */
    protected abstract T leadingRows(T t, int rows);

    /** out = cap · tanh(x / cap) elementwise; out may be x. */
    protected abstract void softCapInto(T x, T out, float cap);

    /** grad *= 1 - (capped / cap)², the soft cap's chain factor, elementwise. */
    protected abstract void softCapBackwardInto(T capped, T grad, float cap);

    /** Rows [first, first + host.length) of {@code labels} as labels of this device (host: their values); closed after use. */
    protected abstract L labelRange(L labels, int first, int[] host);

    @Override
    public final Loss linearCrossEntropy(Tensor hidden, Tensor weight, Tensor bias, Labels labels, CrossEntropy options,
                                         Chunking chunking) {
        T h = own(hidden, "hidden");
        T w = own(weight, "weight");
        requireSameHiddenSize("hidden", h, "weight", w);
        T b = bias == null ? null : own(bias, "bias");
        requireFusedFloat32("hidden", h, "weight", w, "bias", b);
        if (b != null && (b.rows() != 1 || b.cols() != w.rows())) {
            throw new IllegalArgumentException("bias " + b.shape() + " must be [1, " + w.rows() + "], one per row of "
                    + "weight " + w.shape());
        }
        requireNonNull(options, "options");
        requireNonNull(chunking, "chunking");
        L y = ownLabels(labels, "labels", h.rows());
        y.requireInRange("labels", w.rows(), options.ignoreIndex());
        FusedLinear.CeOptions<T> o = new FusedLinear.CeOptions<>();
        o.classWeights = options.weights() == null ? null : own(options.weights(), "weights");
        requireFusedFloat32("weights", o.classWeights, "weights", null, "weights", null);
        if (o.classWeights != null && (o.classWeights.rows() != 1 || o.classWeights.cols() != w.rows())) {
            throw new IllegalArgumentException("weights " + o.classWeights.shape() + " must be [1, " + w.rows()
                    + "], one per class (row of weight " + w.shape() + ")");
        }
        o.reduction = crossEntropyReduction(options);
        o.smoothing = labelSmoothing(options);
        o.zLoss = zLoss(options);
        o.ignoreIndex = options.ignoreIndex();
        o.softCap = softCap(options.softCap());
        int chunkRows = chunking.rowsPerChunk(h.rows(), h.cols(), w.rows());
        List<T> inputs = b == null ? List.of(h, w) : List.of(h, w, b);
        return loss(h.rows(), o.reduction, inputs, (value, grads) -> contiguous(inputs, in -> new FusedLinear<>(this,
                o.reduction == Reduction.NONE).crossEntropy(in.get(0), in.get(1), b == null ? null : in.get(2), y, o,
                chunkRows, value, grads.get(0), grads.get(1), b == null ? null : grads.get(2))));
    }

    @Override
    public final Loss linearDistillationKl(Tensor studentHidden, Tensor studentWeight, Tensor teacherHidden,
                                           Tensor teacherWeight, Distillation options, Chunking chunking) {
        T sh = own(studentHidden, "studentHidden");
        T sw = own(studentWeight, "studentWeight");
        T th = own(teacherHidden, "teacherHidden");
        T tw = own(teacherWeight, "teacherWeight");
        requireSameHiddenSize("studentHidden", sh, "studentWeight", sw);
        requireSameHiddenSize("teacherHidden", th, "teacherWeight", tw);
        requireFusedFloat32("studentHidden", sh, "studentWeight", sw, "teacherHidden", th);
        requireFusedFloat32("teacherWeight", tw, "teacherWeight", null, "teacherWeight", null);
        if (th.rows() != sh.rows()) {
            throw new IllegalArgumentException("teacherHidden " + th.shape() + " and studentHidden " + sh.shape()
                    + " must have the same number of rows");
        }
        if (tw.rows() != sw.rows()) {
            throw new IllegalArgumentException("teacherWeight " + tw.shape() + " and studentWeight " + sw.shape()
                    + " must have the same number of rows (the vocabulary)");
        }
        requireNonNull(options, "options");
        requireNonNull(chunking, "chunking");
        float temperature = options.temperature();
        if (!(temperature > 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        Reduction reduction = requireNonNull(options.reduction(), "reduction");
        L labels = options.labels() == null ? null : ownLabels(options.labels(), "labels", sh.rows());
        float cap = softCap(options.softCap());
        float weightHard = options.weightHard();
        float weightSoft = options.weightSoft();
        if (!(weightHard >= 0) || !(weightSoft >= 0) || Float.isInfinite(weightHard) || Float.isInfinite(weightSoft)) {
            throw new IllegalArgumentException("hardLoss weights must be finite and >= 0, got weightHard "
                    + weightHard + ", weightSoft " + weightSoft);
        }
        if (weightHard == 0f && weightSoft != 1f) {
            throw new IllegalArgumentException("hardLoss(0, " + weightSoft + "): without a hard loss the soft loss "
                    + "is not weighted (scale its gradients yourself); give weightHard > 0");
        }
        if (weightHard != 0f) {
            if (labels == null) {
                throw new IllegalArgumentException("hardLoss needs the labels: set them with ignore(labels, "
                        + "ignoreIndex)");
            }
            labels.requireInRange("labels", sw.rows(), options.ignoreIndex());
        }
        int chunkRows = chunking.rowsPerChunk(sh.rows(), Math.min(sh.cols(), th.cols()), sw.rows());
        return loss(sh.rows(), reduction, List.of(sh, sw), (value, grads) -> contiguous(List.of(sh, sw, th, tw),
                in -> new FusedLinear<>(this, reduction == Reduction.NONE).distillation(in.get(0), in.get(1), in.get(2),
                        in.get(3), labels, options.ignoreIndex(), temperature, options.reverse(), reduction, cap,
                        weightHard, weightSoft, chunkRows, value, grads.get(0), grads.get(1))));
    }

    private static void requireSameHiddenSize(String a, AbstractTensor hidden, String b, AbstractTensor weight) {
        if (hidden.cols() != weight.cols()) {
            throw new IllegalArgumentException(a + " " + hidden.shape() + " and " + b + " " + weight.shape()
                    + " must have the same number of columns (the hidden size): " + b + " is [vocabulary, hidden], "
                    + "as torch.nn.Linear stores it");
        }
    }

    // ---- half precision and strided views (issue 10) --------------------------------------------------------------

    /** A [rows, cols] contiguous tensor of {@code type} with unspecified contents ({@link #allocate(int, int)} for FLOAT32). */
    protected abstract T allocate(int rows, int cols, DType type);

    /** {@link #allocate(int, int, DType)} holding zeros. */
    protected abstract T allocateZeros(int rows, int cols, DType type);

    /** A contiguous half tensor holding a copy of {@code bits} (checked: rows * cols patterns, a half type). */
    protected abstract T copyOfBits(short[] bits, int rows, int cols, DType type);

    /**
     * A view sharing {@code base}'s memory: element [r, c] at {@code offset + r * base.rowStride() + c} of it, in
     * elements (checked to lie within {@code base}); same dtype and row stride.
     */
    protected abstract T viewOf(T base, long offset, int rows, int cols);

    /** to = from elementwise (same shape; any types and strides; a half result rounded to nearest even). */
    protected abstract void copyInto(T from, T to);

    @Override
    public final Tensor upload(short[] bits, int rows, int cols, DType type) {
        requireOpen();
        Shapes.requireValid(rows, cols);
        requireNonNull(bits, "bits");
        requireNonNull(type, "type");
        if (!type.isHalf()) {
            throw new IllegalArgumentException("16-bit patterns need type BFLOAT16 or FLOAT16, got " + type
                    + "; upload float32 data with upload(float[], rows, cols)");
        }
        if (bits.length != (long) rows * cols) {
            throw new IllegalArgumentException("bits has " + bits.length + " patterns, but shape [" + rows + ", "
                    + cols + "] needs rows * cols = " + (long) rows * cols);
        }
        return copyOfBits(bits, rows, cols, type);
    }

    @Override
    public final Tensor upload(float[] data, int rows, int cols, DType type) {
        requireNonNull(type, "type");
        if (type == DType.FLOAT32) {
            return upload(data, rows, cols);
        }
        requireOpen();
        Shapes.requireValid(rows, cols);
        requireNonNull(data, "data");
        if (data.length != (long) rows * cols) {
            throw new IllegalArgumentException("data has " + data.length + " values, but shape [" + rows + ", " + cols
                    + "] needs rows * cols = " + (long) rows * cols);
        }
        short[] bits = new short[data.length];
        HalfFloats.fromFloat(type, data, 0, bits, 0, data.length);
        return copyOfBits(bits, rows, cols, type);
    }

    @Override
    public final Tensor zeros(int rows, int cols, DType type) {
        requireOpen();
        Shapes.requireValid(rows, cols);
        requireNonNull(type, "type");
        return type == DType.FLOAT32 ? allocateZeros(rows, cols) : allocateZeros(rows, cols, type);
    }

    @Override
    public final Tensor view(Tensor base, int firstRow, int rows, int firstCol, int cols) {
        T b = own(base, "base");
        if (rows < 1 || cols < 1) {
            throw new IllegalArgumentException("a view needs rows and cols >= 1, got [" + rows + ", " + cols + "]");
        }
        if (firstRow < 0 || firstRow > b.rows() - rows) {
            throw new IllegalArgumentException("view rows [" + firstRow + ", " + ((long) firstRow + rows)
                    + ") must lie within the rows [0, " + b.rows() + ") of base " + b.describe());
        }
        if (firstCol < 0 || firstCol > b.cols() - cols) {
            throw new IllegalArgumentException("view columns [" + firstCol + ", " + ((long) firstCol + cols)
                    + ") must lie within the columns [0, " + b.cols() + ") of base " + b.describe());
        }
        return viewOf(b, b.offset() + (long) firstRow * b.rowStride() + firstCol, rows, cols);
    }

    /**
     * Checks a row stride for a [rows, cols] tensor in an allocation of {@code capacity} elements (from its first
     * element): {@code rowStride >= cols} and {@code (rows - 1) * rowStride + cols <= capacity}, in 64 bits.
     */
    protected static void requireStride(int rows, int cols, long rowStride, long capacity) {
        Shapes.requireValid(rows, cols);
        if (rowStride < cols) {
            throw new IllegalArgumentException("rowStride " + rowStride + " must be >= cols " + cols
                    + " (rows may not overlap)");
        }
        long span;
        try {
            span = Math.addExact(Math.multiplyExact(rows - 1L, rowStride), cols);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("(rows - 1) * rowStride + cols overflows 64 bits for rows " + rows
                    + ", rowStride " + rowStride + ", cols " + cols);
        }
        if (span > capacity) {
            throw new IllegalArgumentException("[" + rows + ", " + cols + "] with rowStride " + rowStride + " spans "
                    + span + " elements, past the " + capacity + " of its allocation");
        }
    }

    /** The fused linear losses' data: FLOAT32 only for now (null arguments are skipped). */
    private static void requireFusedFloat32(String a, AbstractTensor x, String b, AbstractTensor y, String c,
                                            AbstractTensor z) {
        String why = "the fused linear losses (their matrix products run in float32)";
        if (x != null) {
            Shapes.requireFloat32(a, x, why);
        }
        if (y != null) {
            Shapes.requireFloat32(b, y, why);
        }
        if (z != null) {
            Shapes.requireFloat32(c, z, why);
        }
    }

    /** Runs {@code op} on the tensors, each view among them replaced by a contiguous copy (freed after). */
    private void contiguous(List<T> tensors, Consumer<List<T>> op) {
        List<T> copies = new ArrayList<>();
        try {
            List<T> plain = new ArrayList<>(tensors.size());
            for (T t : tensors) {
                if (t.isView()) {
                    T copy = allocate(t.rows(), t.cols(), t.dtype());
                    copies.add(copy);
                    copyInto(t, copy);
                    plain.add(copy);
                } else {
                    plain.add(t);
                }
            }
            op.accept(plain);
        } finally {
            copies.forEach(AbstractTensor::close);
        }
    }

    /**
     * An output may not share memory with an input (the kernels read and write through restrict pointers): views of
     * one tensor share its row stride, so each is a rectangle of rows and columns of it, and two overlap when both
     * their row and their column ranges do.
     */
    private static void requireDisjoint(AbstractTensor out, AbstractTensor input) {
        AbstractTensor a = out.base() == null ? out : out.base();
        AbstractTensor b = input.base() == null ? input : input.base();
        if (a != b) {
            return;
        }
        long stride = out.rowStride();
        long outRow = out.offset() / stride;
        long outCol = out.offset() % stride;
        long inRow = input.offset() / stride;
        long inCol = input.offset() % stride;
        boolean rows = outRow < inRow + input.rows() && inRow < outRow + out.rows();
        boolean cols = outCol < inCol + input.cols() && inCol < outCol + out.cols();
        if (rows && cols) {
            throw new IllegalArgumentException("out " + out.describe() + " overlaps an input " + input.describe()
                    + " (views of one tensor): give out memory of its own");
        }
    }
}
