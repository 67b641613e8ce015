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
    private final HalfConverter halfs;
    private final RowFamilies families;
    private final RowFamilies inlineFamilies;
    private final Bf16LogSoftmax bf16LogSoftmax;

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
        this.halfs = HalfConverter.of(kernels);
        this.families = new RowFamilies(softmax, klDiv, crossEntropy, distillation);
        this.inlineFamilies = RowFamilies.inline(kernels, arrays);
        this.bf16LogSoftmax = new Bf16LogSoftmax(kernels, schedule);
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

    // ---- operations: each hands its family the arrays ------------------------------------------------------

    @Override
    protected void softmaxInto(CpuTensor x, CpuTensor out, boolean log) {
        if (log && Bf16LogSoftmax.applies(x, out)) {
            bf16LogSoftmax.run(x, out);
            return;
        }
        if (RowBlocks.applies(schedule, x.rows(), x.cols(), x, out)) {
            int cols = x.cols();
            RowBlocks.run(this, schedule, new CpuTensor[] {x}, new CpuTensor[] {out}, x.rows(), cols, log
                    ? (f, r, a, o, rows) -> f.softmax().logSoftmax(a[0], o[0], rows, cols)
                    : (f, r, a, o, rows) -> f.softmax().softmax(a[0], o[0], rows, cols));
            return;
        }
        try (CpuStaging s = new CpuStaging(this)) {
            if (log) {
                softmax.logSoftmax(s.in(x).data(), s.out(out).data(), x.rows(), x.cols());
            } else {
                softmax.softmax(s.in(x).data(), s.out(out).data(), x.rows(), x.cols());
            }
        }
    }

    @Override
    protected void logSoftmaxBackwardInto(CpuTensor gradOutput, CpuTensor output, CpuTensor gradInput) {
        int cols = output.cols();
        if (RowBlocks.applies(schedule, output.rows(), cols, gradOutput, output, gradInput)) {
            RowBlocks.run(this, schedule, new CpuTensor[] {gradOutput, output}, new CpuTensor[] {gradInput},
                    output.rows(), cols, (f, r, a, o, rows) -> f.softmax().logSoftmaxBackward(a[0], a[1], o[0], rows, cols));
            return;
        }
        try (CpuStaging s = new CpuStaging(this)) {
            softmax.logSoftmaxBackward(s.in(gradOutput).data(), s.in(output).data(), s.out(gradInput).data(),
                    gradOutput.rows(),
                    gradOutput.cols());
        }
    }

    @Override
    protected void rowSumInto(CpuTensor x, CpuTensor out) {
        try (CpuStaging s = new CpuStaging(this)) {
            softmax.rowSum(s.in(x).data(), s.out(out).data(), x.rows(), x.cols());
        }
    }

    @Override
    protected void klDivPointwiseInto(CpuTensor input, CpuTensor target, CpuTensor out, boolean logTarget) {
        if (RowBlocks.applies(schedule, input.rows(), input.cols(), input, target, out)) {
            RowBlocks.run(this, schedule, new CpuTensor[] {input, target}, new CpuTensor[] {out}, input.rows(),
                    input.cols(), (f, r, a, o, rows) -> f.klDiv().pointwise(a[0], a[1], o[0], logTarget));
            return;
        }
        try (CpuStaging s = new CpuStaging(this)) {
            klDiv.pointwise(s.in(input).data(), s.in(target).data(), s.out(out).data(), logTarget);
        }
    }

    @Override
    protected void klDivSumInto(CpuTensor input, CpuTensor target, CpuTensor out, boolean logTarget,
                                float divisor) {
        try (CpuStaging s = new CpuStaging(this)) {
            s.out(out).data()[0] = klDiv.sum(s.in(input).data(), s.in(target).data(), logTarget, divisor);
        }
    }

    @Override
    protected void klDivBackwardInto(CpuTensor gradOutput, CpuTensor target, CpuTensor gradInput, boolean logTarget,
                                     boolean scalarGrad, float divisor) {
        if (RowBlocks.applies(schedule, target.rows(), target.cols(), target, gradInput,
                scalarGrad ? null : gradOutput)) {
            float[] scalar = scalarGrad ? new float[1] : null; // a [1, 1] gradOutput
            if (scalarGrad) {
                widenRows(gradOutput, 0, 1, scalar);
            }
            CpuTensor[] in = scalarGrad ? new CpuTensor[] {target} : new CpuTensor[] {target, gradOutput};
            RowBlocks.run(this, schedule, in, new CpuTensor[] {gradInput}, target.rows(), target.cols(),
                    (f, r, a, o, rows) -> f.klDiv().backward(scalarGrad ? scalar : a[1], a[0], o[0], logTarget,
                            scalarGrad, divisor));
            return;
        }
        try (CpuStaging s = new CpuStaging(this)) {
            klDiv.backward(s.in(gradOutput).data(), s.in(target).data(), s.out(gradInput).data(), logTarget,
                    scalarGrad, divisor);
        }
    }

    @Override
    protected void sumInto(CpuTensor x, CpuTensor out, float divisor) {
        try (CpuStaging s = new CpuStaging(this)) {
            s.out(out).data()[0] = reductions.sum(s.in(x).data(), divisor);
        }
    }

    @Override
    protected CpuLabels labelsOf(int[] labels) {
        return new CpuLabels(this, labels);
    }

    @Override
    protected void distillationInto(CpuTensor student, CpuTensor teacher, CpuLabels labels, int ignoreIndex,
                                    float temperature, boolean reverse, RowReduction reduction, CpuTensor value,
                                    CpuTensor grad) {
        if (RowBlocks.appliesToLoss(student)) {
            int[] y = labels == null ? null : labels.data();
            int rows = student.rows();
            int cols = student.cols();
            float[] rowLoss = new float[rows];
            // each block's rows per row, their gradients already divided as the reduced value's (CpuDistillation
            // scales its gradient by T / reduction.divisor())
            RowReduction perRow = new RowReduction(true, reduction.divisor());
            RowBlocks.run(this, schedule, new CpuTensor[] {student, teacher}, new CpuTensor[] {grad}, rows, cols,
                    (f, r, a, o, n) -> {
                        float[] v = new float[n];
                        f.distillation().run(a[0], a[1], y == null ? null : Arrays.copyOfRange(y, r, r + n), ignoreIndex,
                                temperature, reverse, perRow, v, o[0], n, cols);
                        System.arraycopy(v, 0, rowLoss, r, n);
                    });
            writeRowLosses(rowLoss, reduction.perRow(), reduction.divisor(), value.data());
            return;
        }
        try (CpuStaging s = new CpuStaging(this)) {
            distillation.run(s.in(student).data(), s.in(teacher).data(), labels == null ? null : labels.data(),
                    ignoreIndex,
                    temperature, reverse, reduction, s.out(value).data(), s.out(grad).data(), student.rows(),
                            student.cols());
        }
    }

    @Override
    protected void crossEntropyInto(CpuTensor logits, CpuLabels labels, CpuTensor weights, Reduction reduction,
                                    int ignoreIndex, float labelSmoothing, float zLoss, CpuTensor value,
                                    CpuTensor grad) {
        if (RowBlocks.appliesToLoss(logits)
                && (weights == null || weights.isPlain()) && (reduction != Reduction.MEAN || weights == null
                || zLoss == 0) && blockedCrossEntropy(logits, labels.data(), weights == null ? null : weights.data(),
                reduction, ignoreIndex, labelSmoothing, zLoss, value.data(), grad)) {
            return;
        }
        try (CpuStaging s = new CpuStaging(this)) {
            crossEntropy.labels(s.in(logits).data(), labels.data(), weights == null ? null : s.in(weights).data(),
                    reduction,
                    ignoreIndex, labelSmoothing, zLoss, s.out(value).data(), s.out(grad).data(), logits.rows(),
                            logits.cols());
        }
    }

    @Override
    protected void softCrossEntropyInto(CpuTensor logits, CpuTensor target, CpuTensor weights, Reduction reduction,
                                        float labelSmoothing, float zLoss, CpuTensor value, CpuTensor grad) {
        try (CpuStaging s = new CpuStaging(this)) {
            crossEntropy.probabilities(s.in(logits).data(), s.in(target).data(),
                    weights == null ? null : s.in(weights).data(), reduction,
                    labelSmoothing, zLoss, s.out(value).data(), s.out(grad).data(), logits.rows(), logits.cols());
        }
    }

    @Override
    protected void jsdInto(CpuTensor student, CpuTensor teacher, float beta, RowReduction reduction, CpuTensor value,
                           CpuTensor gradStudent, CpuTensor gradTeacher) {
        try (CpuStaging s = new CpuStaging(this)) {
            jsd.jsd(s.in(student).data(), s.in(teacher).data(), beta, reduction, s.out(value).data(),
                    s.out(gradStudent).data(), s.out(gradTeacher).data(),
                    student.rows(), student.cols());
        }
    }

    @Override
    protected void symmetricKlInto(CpuTensor p, CpuTensor q, RowReduction reduction, CpuTensor value,
                                   CpuTensor gradP, CpuTensor gradQ) {
        try (CpuStaging s = new CpuStaging(this)) {
            jsd.symmetricKl(s.in(p).data(), s.in(q).data(), reduction, s.out(value).data(), s.out(gradP).data(),
                    s.out(gradQ).data(), p.rows(), p.cols());
        }
    }

    @Override
    protected void entropyInto(CpuTensor logits, RowReduction reduction, CpuTensor value, CpuTensor grad) {
        try (CpuStaging s = new CpuStaging(this)) {
            entropy.run(s.in(logits).data(), reduction, s.out(value).data(), s.out(grad).data(), logits.rows(),
                    logits.cols());
        }
    }

    @Override
    protected void kerasKlInto(CpuTensor yTrue, CpuTensor yPred, boolean bits, RowReduction reduction,
                               CpuTensor value, CpuTensor gradPred) {
        try (CpuStaging s = new CpuStaging(this)) {
            kerasKl.run(s.in(yTrue).data(), s.in(yPred).data(), bits, reduction, s.out(value).data(),
                    s.out(gradPred).data(), yTrue.rows(), yTrue.cols());
        }
    }

    @Override
    protected void gaussianKlInto(CpuTensor mu1, CpuTensor logvar1, CpuTensor mu2, CpuTensor logvar2,
                                  RowReduction reduction, CpuTensor value, CpuTensor gradMu1, CpuTensor gradLogvar1,
                                  CpuTensor gradMu2, CpuTensor gradLogvar2) {
        try (CpuStaging s = new CpuStaging(this)) {
            gaussianKl.run(s.in(mu1).data(), s.in(logvar1).data(), mu2 == null ? null : s.in(mu2).data(),
                    logvar2 == null ? null : s.in(logvar2).data(), reduction, s.out(value).data(),
                    s.out(gradMu1).data(), s.out(gradLogvar1).data(), gradMu2 == null ? null : s.out(gradMu2).data(),
                    gradLogvar2 == null ? null : s.out(gradLogvar2).data(), mu1.rows(), mu1.cols());
        }
    }

    @Override
    protected void tvdInto(CpuTensor student, CpuTensor teacher, CpuLabels labels, int ignoreIndex,
                           RowReduction reduction, CpuTensor value, CpuTensor gradStudent, CpuTensor gradTeacher) {
        try (CpuStaging s = new CpuStaging(this)) {
            tvd.run(s.in(student).data(), s.in(teacher).data(), labels == null ? null : labels.data(), ignoreIndex,
                    reduction,
                    s.out(value).data(), s.out(gradStudent).data(), s.out(gradTeacher).data(), student.rows(),
                    student.cols());
        }
    }

    // ---- vocabulary-parallel losses (issue 12): VocabParallelRows --------------------------------------------

    @Override
    protected void vocabMaxInto(VocabPass pass, CpuTensor a, CpuTensor b, CpuTensor maxes) {
        try (CpuStaging s = new CpuStaging(this)) {
            VocabParallelRows.max(workers, kernels, pass, s.in(a), s.in(b), s.out(maxes));
        }
    }

    @Override
    protected void vocabSumsInto(VocabPass pass, CpuTensor a, CpuTensor b, CpuLabels labels, CpuTensor maxes,
                                 CpuTensor sums, CpuTensor grad) {
        try (CpuStaging s = new CpuStaging(this)) {
            VocabParallelRows.sums(workers, kernels, pass, s.in(a), s.in(b), labels, s.out(maxes), s.out(sums),
                    s.out(grad));
        }
    }

    @Override
    protected void vocabWriteInto(VocabPass pass, CpuTensor a, CpuTensor b, CpuLabels labels, CpuTensor maxes,
                                  CpuTensor sums, CpuTensor grad, CpuTensor rowLoss) {
        try (CpuStaging s = new CpuStaging(this)) {
            VocabParallelRows.write(workers, kernels, pass, s.in(a), s.in(b), labels, s.out(maxes), s.out(sums),
                    s.out(grad), s.out(rowLoss));
        }
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
        try (CpuStaging s = new CpuStaging(this)) {
            SoftCap.forward(workers, s.in(x).data(), s.out(out).data(), Math.toIntExact(x.size()), cap);
        }
    }

    @Override
    protected void softCapBackwardInto(CpuTensor capped, CpuTensor grad, float cap) {
        try (CpuStaging s = new CpuStaging(this)) {
            float[] c = s.in(capped).data();
            float[] g = s.in(grad).data();
            s.out(grad);
            SoftCap.backward(workers, c, g, Math.toIntExact(capped.size()), cap);
        }
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
        copy(from, to);
    }

    /**
     * Class-label cross-entropy block by block ({@link RowBlocks}): each block per row (NONE), its gradient then divided
     * as the reduced value's (MEAN: by the counted rows' total weight; with class weights only without a z-loss, whose
     * mean divides by the counted rows instead). False (nothing done) for MEAN over no counted row.
     */
    private boolean blockedCrossEntropy(CpuTensor logits, int[] y, float[] w, Reduction reduction, int ignoreIndex,
                                        float labelSmoothing, float zLoss, float[] value, CpuTensor grad) {
        int rows = logits.rows();
        int cols = logits.cols();
        double weightTotal = 0;
        for (int r = 0; r < rows; r++) {
            if (y[r] != ignoreIndex) {
                weightTotal += w == null ? 1.0 : w[y[r]];
            }
        }
        if (reduction == Reduction.MEAN && weightTotal == 0) {
            return false;
        }
        float k = reduction == Reduction.MEAN ? (float) (1.0 / weightTotal) : 1f;
        float[] rowLoss = new float[rows];
        RowBlocks.run(this, schedule, new CpuTensor[] {logits}, new CpuTensor[] {grad}, rows, cols, (f, r, a, o, n) -> {
            float[] v = new float[n];
            f.crossEntropy().labels(a[0], Arrays.copyOfRange(y, r, r + n), w, Reduction.NONE, ignoreIndex, labelSmoothing,
                    zLoss, v, o[0], n, cols);
            System.arraycopy(v, 0, rowLoss, r, n);
            if (k != 1f) {
                kernels.scale(o[0], 0, n * cols, k);
            }
        });
        writeRowLosses(rowLoss, reduction == Reduction.NONE, reduction == Reduction.MEAN ? weightTotal : 1,
                value);
        return true;
    }

    /** value = the row losses, or their sum (in double, in row order) / divisor. */
    private static void writeRowLosses(float[] rowLoss, boolean perRow, double divisor, float[] value) {
        if (perRow) {
            System.arraycopy(rowLoss, 0, value, 0, rowLoss.length);
            return;
        }
        double total = 0;
        for (float v : rowLoss) {
            total += v;
        }
        value[0] = (float) (total / divisor);
    }

    /** The row families on this device's schedule, or (inline) on a one-thread schedule, for {@link RowBlocks}. */
    RowFamilies families(boolean inline) {
        return inline ? inlineFamilies : families;
    }

    /** dst[0, n · cols) = rows [r, r + n) of t, widened to float32. */
    void widenRows(CpuTensor t, int r, int n, float[] dst) {
        int cols = t.cols();
        if (t.dtype() != DType.FLOAT32 && t.rowStride() == cols) { // packed rows: one call, no per-row tails
            halfs.widen(t.dtype(), t.halfBits(), t.rowStart(r), dst, 0, n * cols);
            return;
        }
        for (int i = 0; i < n; i++) {
            if (t.dtype() == DType.FLOAT32) {
                System.arraycopy(t.floats(), t.rowStart(r + i), dst, i * cols, cols);
            } else {
                halfs.widen(t.dtype(), t.halfBits(), t.rowStart(r + i), dst, i * cols, cols);
            }
        }
    }

    /** Rows [r, r + n) of t = src[0, n · cols), rounded to nearest even for a half t. */
    void narrowRows(float[] src, CpuTensor t, int r, int n) {
        int cols = t.cols();
        if (t.dtype() != DType.FLOAT32 && t.rowStride() == cols) {
            halfs.narrow(t.dtype(), src, 0, t.halfBits(), t.rowStart(r), n * cols);
            return;
        }
        for (int i = 0; i < n; i++) {
            if (t.dtype() == DType.FLOAT32) {
                System.arraycopy(src, i * cols, t.floats(), t.rowStart(r + i), cols);
            } else {
                halfs.narrow(t.dtype(), src, i * cols, t.halfBits(), t.rowStart(r + i), cols);
            }
        }
    }

    /** to = from elementwise, converting and gathering/scattering rows; rows in parallel. */
    void copy(CpuTensor from, CpuTensor to) {
        int rows = from.rows();
        int cols = from.cols();
        DType in = from.dtype();
        DType out = to.dtype();
        schedule.rows(rows, cols, (r0, r1) -> {
            float[] row = in != DType.FLOAT32 && out != DType.FLOAT32 && in != out ? new float[cols] : null;
            for (int r = r0; r < r1; r++) {
                int s = from.rowStart(r);
                int d = to.rowStart(r);
                if (in == out) {
                    if (in == DType.FLOAT32) {
                        System.arraycopy(from.floats(), s, to.floats(), d, cols);
                    } else {
                        System.arraycopy(from.halfBits(), s, to.halfBits(), d, cols);
                    }
                } else if (in == DType.FLOAT32) {
                    halfs.narrow(out, from.floats(), s, to.halfBits(), d, cols);
                } else if (out == DType.FLOAT32) {
                    halfs.widen(in, from.halfBits(), s, to.floats(), d, cols);
                } else {
                    halfs.widen(in, from.halfBits(), s, row, 0, cols);
                    halfs.narrow(out, row, 0, to.halfBits(), d, cols);
                }
            }
        });
    }
}
