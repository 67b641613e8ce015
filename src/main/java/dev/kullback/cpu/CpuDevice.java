package dev.kullback.cpu;

import dev.kullback.Reduction;
import dev.kullback.internal.AbstractDevice;
import dev.kullback.internal.VocabPass;
import dev.kullback.internal.RowReduction;
import java.lang.System.Logger.Level;
import java.util.Arrays;

/**
 * The CPU implementation of {@link dev.kullback.Device}: tensors are float[] on the Java heap, inner loops run on the
 * JDK Vector API when it is available (scalar Java otherwise, see {@link KernelsProvider}), and work is split across
 * threads.
 *
 * <h2>Threads</h2>
 * A device runs each operation on {@link #threads()} threads: the calling thread plus helper threads (see Workers).
 * {@code new CpuDevice()} uses {@code -Dkullback.cpu.threads} or every available processor, and a pool shared by all
 * such devices in the JVM; it is cheap to create, and closing it marks only that device closed. A device made with an
 * explicit thread count owns its pool and shuts it down on {@link #close()}.
 * There is deliberately no shared singleton device: {@link #close()} (final in AbstractDevice) marks a device closed
 * for good, so one holder's try-with-resources would break every other holder. {@code Devices.cpu()} should return a
 * {@code new CpuDevice()}, which costs two small objects.
 *
 * <h2>Work</h2>
 * How an operation is cut across threads, and why its results do not depend on the thread count, is
 * {@link RowSchedule}'s; each family of operations is a class of its own ({@link CpuSoftmax}, {@link CpuKlDiv},
 * {@link CpuCrossEntropy}, ...) holding its phases, and this class hands each operation to one of them.
 *
 * <h2>Determinism</h2>
 * Results are bitwise identical from run to run and do not depend on the thread count or on scheduling (see
 * {@link RowSchedule}); elementwise results do not depend on where a thread's range starts or ends (see
 * {@link Kernels}). The vector kernels and the scalar kernels give slightly different (both accurate) results, and so
 * may machines with different vector widths.
 *
 * <h2>Memory</h2>
 * A closed tensor's array goes to a pool of the device and is reused for the next tensor of the same size (see
 * {@link ArrayPool}), so a loop that closes what it no longer needs allocates nothing in steady state.
 */
public final class CpuDevice extends AbstractDevice<CpuTensor, CpuLabels> {
    /** The most values a Java array (and so a CPU tensor) holds. */
    static final int MAX_VALUES = Integer.MAX_VALUE - 8;
    static final String THREADS_PROPERTY = "kullback.cpu.threads";

    private final Kernels kernels;
    private final Workers workers;
    private final RowSchedule schedule;
    private final boolean ownsPool;
    private final String name;
    private final ArrayPool arrays = new ArrayPool(ArrayPool.defaultCapacity());
    private final CpuSoftmax softmax;
    private final CpuKlDiv klDiv;
    private final CpuReductions reductions;
    private final CpuDistillation distillation;
    private final CpuCrossEntropy crossEntropy;
    private final CpuJsd jsd;
    private final CpuEntropy entropy;
    private final CpuKerasKl kerasKl;
    private final CpuGaussianKl gaussianKl;
    private final CpuTvd tvd;

    /** All available processors (or {@code -Dkullback.cpu.threads}), the best kernels, the JVM-wide pool. */
    public CpuDevice() {
        this(SharedPool.WORKERS, KernelsProvider.best(), false);
    }

    /** {@code threads} threads (this device's own pool), the best kernels (as {@code new CpuDevice()}). */
    public CpuDevice(int threads) {
        this(threads, KernelsProvider.best());
    }

    /**
     * {@code threads} threads (this device's own pool); the Vector API kernels when {@code vectorize} and available
     * (otherwise the scalar kernels, the reason logged once), the scalar kernels when not {@code vectorize}. Unlike
     * the other constructors, this ignores {@code -Dkullback.cpu.vector}.
     */
    public CpuDevice(int threads, boolean vectorize) {
        this(threads, vectorize ? KernelsProvider.vector().orElse(KernelsProvider.scalar()) : KernelsProvider.scalar());
    }

    CpuDevice(int threads, Kernels kernels) {
        this(ownWorkers(threads), kernels, true);
    }

    private CpuDevice(Workers workers, Kernels kernels, boolean ownsPool) {
        super(CpuTensor.class, CpuLabels.class);
        this.kernels = kernels;
        this.workers = workers;
        this.ownsPool = ownsPool;
        this.schedule = new RowSchedule(workers);
        this.softmax = new CpuSoftmax(kernels, schedule);
        this.klDiv = new CpuKlDiv(kernels, schedule);
        this.reductions = new CpuReductions(kernels, schedule);
        this.distillation = new CpuDistillation(kernels, schedule, arrays);
        this.crossEntropy = new CpuCrossEntropy(kernels, schedule);
        this.jsd = new CpuJsd(kernels, schedule, arrays);
        this.entropy = new CpuEntropy(kernels, schedule);
        this.kerasKl = new CpuKerasKl(kernels, schedule);
        this.gaussianKl = new CpuGaussianKl(kernels, schedule);
        this.tvd = new CpuTvd(kernels, schedule);
        int t = workers.threads();
        this.name = "cpu (" + kernels.description() + ", " + t + (t == 1 ? " thread)" : " threads)");
    }

    private static Workers ownWorkers(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        return new Workers(threads, "kullback-cpu");
    }

    /** The helpers of every {@code new CpuDevice()}, made on first use; their daemon threads end when idle. */
    private static final class SharedPool {
        static final Workers WORKERS;

        static {
            int threads = defaultThreads();
            WORKERS = new Workers(threads, "kullback-cpu-shared");
        }
    }

    static int defaultThreads() {
        int cores = Runtime.getRuntime().availableProcessors();
        String value = System.getProperty(THREADS_PROPERTY);
        if (value == null || value.isBlank()) {
            return cores;
        }
        try {
            int threads = Integer.parseInt(value.trim());
            if (threads >= 1) {
                return threads;
            }
        } catch (NumberFormatException ignored) {
            // logged below
        }
        System.getLogger("dev.kullback.cpu").log(Level.WARNING, "-D" + THREADS_PROPERTY + "=" + value
                + " is not a positive integer; using " + cores + " threads");
        return cores;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean isGpu() {
        return false;
    }

    /** How many threads an operation runs on (the caller's included). */
    public int threads() {
        return workers.threads();
    }

    /** Whether the inner loops run on the JDK Vector API. */
    public boolean isVectorized() {
        return kernels.isVectorized();
    }

    Kernels kernels() {
        return kernels;
    }

    // ---- memory ---------------------------------------------------------------------------------------

    private static int checkedSize(int rows, int cols) {
        long n = (long) rows * cols;
        if (n > MAX_VALUES) {
            throw new IllegalArgumentException("shape [" + rows + ", " + cols + "] has " + n
                    + " values; a CPU tensor holds at most " + MAX_VALUES + " (one Java array)");
        }
        return (int) n;
    }

    /** Arrays come from the pool when it has one of the right length (contents unspecified), else are new. */
    @Override
    protected CpuTensor allocate(int rows, int cols) {
        return new CpuTensor(this, arrays.take(checkedSize(rows, cols)), rows, cols);
    }

    @Override
    protected CpuTensor allocateZeros(int rows, int cols) {
        float[] array = arrays.take(checkedSize(rows, cols));
        Arrays.fill(array, 0f);
        return new CpuTensor(this, array, rows, cols);
    }

    @Override
    protected CpuTensor copyOf(float[] data, int rows, int cols) {
        float[] array = arrays.take(checkedSize(rows, cols));
        System.arraycopy(data, 0, array, 0, array.length);
        return new CpuTensor(this, array, rows, cols);
    }

    /** Called by a closing tensor: its array goes to the pool, unless the device is closed. */
    void recycle(float[] array) {
        if (!isClosed()) {
            arrays.give(array);
        }
    }

    @Override
    protected void release() {
        arrays.clear();
        if (ownsPool) {
            workers.shutdown();
        }
    }

    /** One array: a tensor and a {@link #leadingRows} view of it (in-place checks, issue 14). */
    @Override
    protected boolean sharesMemory(CpuTensor a, CpuTensor b) {
        return a.data() == b.data();
    }

    // ---- operations: each hands its family the arrays ------------------------------------------------------

    @Override
    protected void softmaxInto(CpuTensor x, CpuTensor out, boolean log) {
        if (log) {
            softmax.logSoftmax(x.data(), out.data(), x.rows(), x.cols());
        } else {
            softmax.softmax(x.data(), out.data(), x.rows(), x.cols());
        }
    }

    @Override
    protected void logSoftmaxBackwardInto(CpuTensor gradOutput, CpuTensor output, CpuTensor gradInput) {
        softmax.logSoftmaxBackward(gradOutput.data(), output.data(), gradInput.data(), gradOutput.rows(),
                gradOutput.cols());
    }

    @Override
    protected void rowSumInto(CpuTensor x, CpuTensor out) {
        softmax.rowSum(x.data(), out.data(), x.rows(), x.cols());
    }

    @Override
    protected void klDivPointwiseInto(CpuTensor input, CpuTensor target, CpuTensor out, boolean logTarget) {
        klDiv.pointwise(input.data(), target.data(), out.data(), logTarget);
    }

    @Override
    protected void klDivSumInto(CpuTensor input, CpuTensor target, CpuTensor out, boolean logTarget,
                                float divisor) {
        out.data()[0] = klDiv.sum(input.data(), target.data(), logTarget, divisor);
    }

    @Override
    protected void klDivBackwardInto(CpuTensor gradOutput, CpuTensor target, CpuTensor gradInput, boolean logTarget,
                                     boolean scalarGrad, float divisor) {
        klDiv.backward(gradOutput.data(), target.data(), gradInput.data(), logTarget, scalarGrad, divisor);
    }

    @Override
    protected void sumInto(CpuTensor x, CpuTensor out, float divisor) {
        out.data()[0] = reductions.sum(x.data(), divisor);
    }

    @Override
    protected CpuLabels labelsOf(int[] labels) {
        return new CpuLabels(this, labels);
    }

    @Override
    protected void distillationInto(CpuTensor student, CpuTensor teacher, CpuLabels labels, int ignoreIndex,
                                    float temperature, boolean reverse, RowReduction reduction, CpuTensor value,
                                    CpuTensor grad) {
        distillation.run(student.data(), teacher.data(), labels == null ? null : labels.data(), ignoreIndex,
                temperature, reverse, reduction, value.data(), grad.data(), student.rows(), student.cols());
    }

    @Override
    protected void crossEntropyInto(CpuTensor logits, CpuLabels labels, CpuTensor weights, Reduction reduction,
                                    int ignoreIndex, float labelSmoothing, float zLoss, CpuTensor value,
                                    CpuTensor grad) {
        crossEntropy.labels(logits.data(), labels.data(), weights == null ? null : weights.data(), reduction,
                ignoreIndex, labelSmoothing, zLoss, value.data(), grad.data(), logits.rows(), logits.cols());
    }

    @Override
    protected void softCrossEntropyInto(CpuTensor logits, CpuTensor target, CpuTensor weights, Reduction reduction,
                                        float labelSmoothing, float zLoss, CpuTensor value, CpuTensor grad) {
        crossEntropy.probabilities(logits.data(), target.data(), weights == null ? null : weights.data(), reduction,
                labelSmoothing, zLoss, value.data(), grad.data(), logits.rows(), logits.cols());
    }

    @Override
    protected void jsdInto(CpuTensor student, CpuTensor teacher, float beta, RowReduction reduction, CpuTensor value,
                           CpuTensor gradStudent, CpuTensor gradTeacher) {
        jsd.jsd(student.data(), teacher.data(), beta, reduction, value.data(), gradStudent.data(), gradTeacher.data(),
                student.rows(), student.cols());
    }

    @Override
    protected void symmetricKlInto(CpuTensor p, CpuTensor q, RowReduction reduction, CpuTensor value,
                                   CpuTensor gradP, CpuTensor gradQ) {
        jsd.symmetricKl(p.data(), q.data(), reduction, value.data(), gradP.data(), gradQ.data(), p.rows(), p.cols());
    }

    @Override
    protected void entropyInto(CpuTensor logits, RowReduction reduction, CpuTensor value, CpuTensor grad) {
        entropy.run(logits.data(), reduction, value.data(), grad.data(), logits.rows(), logits.cols());
    }

    @Override
    protected void kerasKlInto(CpuTensor yTrue, CpuTensor yPred, boolean bits, RowReduction reduction,
                               CpuTensor value, CpuTensor gradPred) {
        kerasKl.run(yTrue.data(), yPred.data(), bits, reduction, value.data(), gradPred.data(), yTrue.rows(),
                yTrue.cols());
    }

    @Override
    protected void gaussianKlInto(CpuTensor mu1, CpuTensor logvar1, CpuTensor mu2, CpuTensor logvar2,
                                  RowReduction reduction, CpuTensor value, CpuTensor gradMu1, CpuTensor gradLogvar1,
                                  CpuTensor gradMu2, CpuTensor gradLogvar2) {
        gaussianKl.run(mu1.data(), logvar1.data(), mu2 == null ? null : mu2.data(),
                logvar2 == null ? null : logvar2.data(), reduction, value.data(), gradMu1.data(), gradLogvar1.data(),
                gradMu2 == null ? null : gradMu2.data(), gradLogvar2 == null ? null : gradLogvar2.data(), mu1.rows(),
                mu1.cols());
    }

    @Override
    protected void tvdInto(CpuTensor student, CpuTensor teacher, CpuLabels labels, int ignoreIndex,
                           RowReduction reduction, CpuTensor value, CpuTensor gradStudent, CpuTensor gradTeacher) {
        tvd.run(student.data(), teacher.data(), labels == null ? null : labels.data(), ignoreIndex, reduction,
                value.data(), gradStudent.data(), gradTeacher.data(), student.rows(), student.cols());
    }

    // ---- vocabulary-parallel losses (issue 12): VocabParallelRows --------------------------------------------

    @Override
    protected void vocabMaxInto(VocabPass pass, CpuTensor a, CpuTensor b, CpuTensor maxes) {
        VocabParallelRows.max(workers, kernels, pass, a, b, maxes);
    }

    @Override
    protected void vocabSumsInto(VocabPass pass, CpuTensor a, CpuTensor b, CpuLabels labels, CpuTensor maxes,
                                 CpuTensor sums, CpuTensor grad) {
        VocabParallelRows.sums(workers, kernels, pass, a, b, labels, maxes, sums, grad);
    }

    @Override
    protected void vocabWriteInto(VocabPass pass, CpuTensor a, CpuTensor b, CpuLabels labels, CpuTensor maxes,
                                  CpuTensor sums, CpuTensor grad, CpuTensor rowLoss) {
        VocabParallelRows.write(workers, kernels, pass, a, b, labels, maxes, sums, grad, rowLoss);
    }

    // ---- fused linear losses (issue 11): the algorithm is internal/FusedLinear, the products CpuGemm ----------

    @Override
    protected dev.kullback.internal.Gemm<CpuTensor> gemm() {
        return CpuGemm.open(workers);
    }

    @Override
    protected CpuTensor leadingRows(CpuTensor t, int rows) {
        return rows == t.rows() ? t : new CpuTensor(this, t.data(), rows, t.cols()); // shares the array; never closed
    }

    @Override
    protected CpuLabels labelRange(CpuLabels labels, int first, int[] host) {
        return new CpuLabels(this, host);
    }

    @Override
    protected void softCapInto(CpuTensor x, CpuTensor out, float cap) {
        SoftCap.forward(workers, x.data(), out.data(), Math.toIntExact(x.size()), cap);
    }

    @Override
    protected void softCapBackwardInto(CpuTensor capped, CpuTensor grad, float cap) {
        SoftCap.backward(workers, capped.data(), grad.data(), Math.toIntExact(capped.size()), cap);
    }
}
