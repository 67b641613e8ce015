package dev.kullback.cpu;

import dev.kullback.DType;
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
 * {@link CpuCrossEntropy}, ...) holding its phases and deciding how it meets half tensors and views (block by block,
 * {@link RowBlocks}, or staged whole, {@link CpuStaging}); this class hands each operation to one of them.
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
    private final RowCopies copies;
    private final RowFamilies families;
    private final RowFamilies inlineFamilies;

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
        this.copies = new RowCopies(HalfConverter.of(kernels), schedule);
        this.families = new RowFamilies(softmax, klDiv, crossEntropy, distillation);
        this.inlineFamilies = RowFamilies.inline(kernels, arrays);
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

    // ---- operations: each family decides how to meet its tensors (RowBlocks, CpuStaging) ----------------------

    @Override
    protected void softmaxInto(CpuTensor x, CpuTensor out, boolean log) {
        softmax.softmax(this, x, out, log);
    }

    @Override
    protected void logSoftmaxBackwardInto(CpuTensor gradOutput, CpuTensor output, CpuTensor gradInput) {
        softmax.logSoftmaxBackward(this, gradOutput, output, gradInput);
    }

    @Override
    protected void rowSumInto(CpuTensor x, CpuTensor out) {
        softmax.rowSum(this, x, out);
    }

    @Override
    protected void klDivPointwiseInto(CpuTensor input, CpuTensor target, CpuTensor out, boolean logTarget) {
        klDiv.pointwise(this, input, target, out, logTarget);
    }

    @Override
    protected void klDivSumInto(CpuTensor input, CpuTensor target, CpuTensor out, boolean logTarget,
                                float divisor) {
        klDiv.sum(this, input, target, out, logTarget, divisor);
    }

    @Override
    protected void klDivBackwardInto(CpuTensor gradOutput, CpuTensor target, CpuTensor gradInput, boolean logTarget,
                                     boolean scalarGrad, float divisor) {
        klDiv.backward(this, gradOutput, target, gradInput, logTarget, scalarGrad, divisor);
    }

    @Override
    protected void sumInto(CpuTensor x, CpuTensor out, float divisor) {
        reductions.sum(this, x, out, divisor);
    }

    @Override
    protected CpuLabels labelsOf(int[] labels) {
        return new CpuLabels(this, labels);
    }

    @Override
    protected void distillationInto(CpuTensor student, CpuTensor teacher, CpuLabels labels, int ignoreIndex,
                                    float temperature, boolean reverse, RowReduction reduction, CpuTensor value,
                                    CpuTensor grad) {
        distillation.run(this, student, teacher, labels, ignoreIndex, temperature, reverse, reduction, value, grad);
    }

    @Override
    protected void crossEntropyInto(CpuTensor logits, CpuLabels labels, CpuTensor weights, Reduction reduction,
                                    int ignoreIndex, float labelSmoothing, float zLoss, CpuTensor value,
                                    CpuTensor grad) {
        crossEntropy.labels(this, logits, labels, weights, reduction, ignoreIndex, labelSmoothing, zLoss, value, grad);
    }

    @Override
    protected void softCrossEntropyInto(CpuTensor logits, CpuTensor target, CpuTensor weights, Reduction reduction,
                                        float labelSmoothing, float zLoss, CpuTensor value, CpuTensor grad) {
        crossEntropy.probabilities(this, logits, target, weights, reduction, labelSmoothing, zLoss, value, grad);
    }

    @Override
    protected void jsdInto(CpuTensor student, CpuTensor teacher, float beta, RowReduction reduction, CpuTensor value,
                           CpuTensor gradStudent, CpuTensor gradTeacher) {
        jsd.jsd(this, student, teacher, beta, reduction, value, gradStudent, gradTeacher);
    }

    @Override
    protected void symmetricKlInto(CpuTensor p, CpuTensor q, RowReduction reduction, CpuTensor value,
                                   CpuTensor gradP, CpuTensor gradQ) {
        jsd.symmetricKl(this, p, q, reduction, value, gradP, gradQ);
    }

    @Override
    protected void entropyInto(CpuTensor logits, RowReduction reduction, CpuTensor value, CpuTensor grad) {
        entropy.run(this, logits, reduction, value, grad);
    }

    @Override
    protected void kerasKlInto(CpuTensor yTrue, CpuTensor yPred, boolean bits, RowReduction reduction,
                               CpuTensor value, CpuTensor gradPred) {
        kerasKl.run(this, yTrue, yPred, bits, reduction, value, gradPred);
    }

    @Override
    protected void gaussianKlInto(CpuTensor mu1, CpuTensor logvar1, CpuTensor mu2, CpuTensor logvar2,
                                  RowReduction reduction, CpuTensor value, CpuTensor gradMu1, CpuTensor gradLogvar1,
                                  CpuTensor gradMu2, CpuTensor gradLogvar2) {
        gaussianKl.run(this, mu1, logvar1, mu2, logvar2, reduction, value, gradMu1, gradLogvar1, gradMu2,
                gradLogvar2);
    }

    @Override
    protected void tvdInto(CpuTensor student, CpuTensor teacher, CpuLabels labels, int ignoreIndex,
                           RowReduction reduction, CpuTensor value, CpuTensor gradStudent, CpuTensor gradTeacher) {
        tvd.run(this, student, teacher, labels, ignoreIndex, reduction, value, gradStudent, gradTeacher);
    }

    // ---- vocabulary-parallel losses (issue 12): VocabParallelRows --------------------------------------------

    @Override
    protected void vocabMaxInto(VocabPass pass, CpuTensor a, CpuTensor b, CpuTensor maxes) {
        VocabParallelRows.max(this, pass, a, b, maxes);
    }

    @Override
    protected void vocabSumsInto(VocabPass pass, CpuTensor a, CpuTensor b, CpuLabels labels, CpuTensor maxes,
                                 CpuTensor sums, CpuTensor grad) {
        VocabParallelRows.sums(this, pass, a, b, labels, maxes, sums, grad);
    }

    @Override
    protected void vocabWriteInto(VocabPass pass, CpuTensor a, CpuTensor b, CpuLabels labels, CpuTensor maxes,
                                  CpuTensor sums, CpuTensor grad, CpuTensor rowLoss) {
        VocabParallelRows.write(this, pass, a, b, labels, maxes, sums, grad, rowLoss);
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
        SoftCap.forward(this, x, out, cap);
    }

    @Override
    protected void softCapBackwardInto(CpuTensor capped, CpuTensor grad, float cap) {
        SoftCap.backward(this, capped, grad, cap);
    }

    // ---- half precision and strided views (issue 10): storage here, conversions in CpuStaging ----------------

    @Override
    protected CpuTensor allocate(int rows, int cols, DType type) {
        return type == DType.FLOAT32 ? allocate(rows, cols)
                : new CpuTensor(this, new short[checkedSize(rows, cols)], rows, cols, type);
    }

    @Override
    protected CpuTensor allocateZeros(int rows, int cols, DType type) {
        return type == DType.FLOAT32 ? allocateZeros(rows, cols) : allocate(rows, cols, type); // new short[] is zeros
    }

    @Override
    protected CpuTensor copyOfBits(short[] bits, int rows, int cols, DType type) {
        checkedSize(rows, cols);
        return new CpuTensor(this, bits.clone(), rows, cols, type);
    }

    @Override
    protected CpuTensor viewOf(CpuTensor base, long offset, int rows, int cols) {
        return new CpuTensor(this, base, offset, rows, cols);
    }

    @Override
    protected void copyInto(CpuTensor from, CpuTensor to) {
        copies.copy(from, to);
    }

    /** The row families on this device's schedule, or (inline) on a one-thread schedule, for {@link RowBlocks}. */
    RowFamilies families(boolean inline) {
        return inline ? inlineFamilies : families;
    }

    RowSchedule schedule() {
        return schedule;
    }

    Workers workers() {
        return workers;
    }

    /** Conversions between storages, for {@link RowBlocks} and {@link CpuStaging}. */
    RowCopies copies() {
        return copies;
    }
}
