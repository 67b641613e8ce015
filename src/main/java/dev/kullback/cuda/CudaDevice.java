package dev.kullback.cuda;

import dev.kullback.DType;
import dev.kullback.Reduction;
import dev.kullback.internal.AbstractDevice;
import dev.kullback.internal.RowReduction;
import dev.kullback.internal.Shapes;
import dev.kullback.internal.VocabPass;
import java.util.Arrays;
import java.util.function.LongConsumer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * The Device on a GPU: tensors in pooled device memory, ops as kernel launches on one stream. All GPU
 * access goes through a {@link Gpu}: the JCuda driver in production, the host simulator in tests.
 */
public final class CudaDevice extends AbstractDevice<CudaTensor, CudaLabels> {
    private final Gpu gpu;
    private final MemoryPool pool;
    private final LogSoftmaxKernels logSoftmax;
    private final KlDivKernels klDiv;
    private final ReduceKernels reduce;
    private final DistillationKernels distillation;
    private final CrossEntropyKernels crossEntropy;
    private final JsdKernels jsd;
    private final EntropyKernels entropy;
    private final KerasKlKernels kerasKl;
    private final GaussianKlKernels gaussianKl;
    private final VocabParallelKernels vocabParallel;
    private final TvdKernels tvd;
    private final SoftCapKernels softCap;
    private final ConvertKernels convert;
    private final long totalMemory;
    private final String name;

    /** Runs on {@code gpu}; each kernel module is loaded (its PTX compiled by the driver) on its first launch. */
    public CudaDevice(Gpu gpu) {
        super(CudaTensor.class, CudaLabels.class);
        this.gpu = gpu;
        this.pool = new MemoryPool(gpu);
        this.logSoftmax = new LogSoftmaxKernels(gpu, pool);
        this.klDiv = new KlDivKernels(gpu);
        this.reduce = new ReduceKernels(gpu);
        this.distillation = new DistillationKernels(gpu, pool);
        this.crossEntropy = new CrossEntropyKernels(gpu, pool);
        this.jsd = new JsdKernels(gpu);
        this.entropy = new EntropyKernels(gpu);
        this.kerasKl = new KerasKlKernels(gpu);
        this.gaussianKl = new GaussianKlKernels(gpu);
        this.vocabParallel = new VocabParallelKernels(gpu);
        this.tvd = new TvdKernels(gpu);
        this.softCap = new SoftCapKernels(gpu);
        this.convert = new ConvertKernels(gpu);
        this.totalMemory = gpu.totalMemory();
        this.name = gpu.name();
    }

    /** CUDA device {@code ordinal} through the JCuda driver API. */
    public static CudaDevice open(int ordinal) {
        JCudaGpu gpu = JCudaGpu.open(ordinal);
        try {
            return new CudaDevice(gpu);
        } catch (RuntimeException | Error e) {
            gpu.close();
            throw e;
        }
    }

    /**
     * CUDA device {@code ordinal} with every kernel, memset and copy ordered on the caller's {@code stream}, so that
     * kullback's ops run in order with the caller's own kernels (e.g. a training step's forward pass): no
     * synchronization is needed between them. The stream must belong to the device's primary context (that of the
     * CUDA runtime and the frameworks built on it); {@code new CUstream()} is the legacy default stream. It stays
     * the caller's: closing the device synchronizes it and does not destroy it. Ops are asynchronous: reading a
     * result ({@code toArray}, {@code item}) synchronizes the stream.
     */
    public static CudaDevice open(int ordinal, CUstream stream) {
        JCudaGpu gpu = JCudaGpu.open(ordinal, stream);
        try {
            return new CudaDevice(gpu);
        } catch (RuntimeException | Error e) {
            gpu.close();
            throw e;
        }
    }

    /**
     * {@link #open(int, CUstream)} for a raw stream handle, as frameworks hand them out (a {@code cudaStream_t} is a
     * {@code CUstream}): e.g. PyTorch's current CUDA stream. 0 is the legacy default stream. The same rules apply: the
     * stream must belong to the device's primary context (checked here with cuStreamGetCtx), stays the caller's, and
     * must outlive the device.
     */
    public static CudaDevice open(int ordinal, long stream) {
        JCudaGpu gpu = JCudaGpu.open(ordinal, stream);
        try {
            return new CudaDevice(gpu);
        } catch (RuntimeException | Error e) {
            gpu.close();
            throw e;
        }
    }

    /**
     * Wraps caller memory as a [rows, cols] tensor without copying: {@code address} is the device address of element
     * [0, 0] of a contiguous row-major float32 matrix (row stride = cols; strided views are not supported: copy them
     * to a contiguous buffer first), 4-byte aligned, in this device's context. Ops read and write it in place, on
     * this device's stream. kullback never frees or pools wrapped memory: closing the tensor only marks it closed,
     * and the memory must stay allocated until the work queued on it has run. On a real GPU the range is checked
     * against the allocation that holds it (cuMemGetAddressRange).
     */
    public CudaTensor wrap(long address, int rows, int cols) {
        requireOpen();
        Shapes.requireValid(rows, cols);
        if (address == 0) {
            throw new IllegalArgumentException("address is null (0)");
        }
        if ((address & 3) != 0) {
            throw new IllegalArgumentException("address 0x" + Long.toHexString(address) + " is not 4-byte aligned, "
                    + "as float32 data must be");
        }
        long bytes = 4L * rows * cols;
        if ((long) rows * cols > totalMemory / 4) {
            throw new IllegalArgumentException("a [" + rows + ", " + cols + "] tensor needs more than the "
                    + totalMemory + " bytes of " + name());
        }
        gpu.requireAllocated(address, bytes);
        return CudaTensor.wrapped(this, rows, cols, cols, DType.FLOAT32, address);
    }

    /**
     * Wraps caller memory as a [rows, cols] tensor of {@code type} whose rows start {@code rowStride} elements apart
     * (a strided view, e.g. a slice of a padded vocabulary): {@code address} is element [0, 0], aligned to the type's
     * size; {@code rowStride >= cols}, and (rows - 1) · rowStride + cols elements must lie in the allocation. Otherwise
     * as {@link #wrap(long, int, int)}.
     */
    public CudaTensor wrap(long address, int rows, int cols, long rowStride, DType type) {
        requireOpen();
        if (type == null) {
            throw new IllegalArgumentException("type is null");
        }
        requireStride(rows, cols, rowStride, Long.MAX_VALUE / type.bytes());
        if (address == 0) {
            throw new IllegalArgumentException("address is null (0)");
        }
        if (address % type.bytes() != 0) {
            throw new IllegalArgumentException("address 0x" + Long.toHexString(address) + " is not " + type.bytes()
                    + "-byte aligned, as " + type + " data must be");
        }
        long span = (rows - 1L) * rowStride + cols; // checked above to fit in 64 bits
        if (span > totalMemory / type.bytes()) {
            throw new IllegalArgumentException("a [" + rows + ", " + cols + "] " + type + " tensor with rowStride "
                    + rowStride + " spans " + span + " elements, more than the " + totalMemory + " bytes of " + name());
        }
        gpu.requireAllocated(address, span * type.bytes());
        return CudaTensor.wrapped(this, rows, cols, rowStride, type, address);
    }

    /** {@link #wrap(long, int, int)} for a JCuda device pointer (its byte offset included), e.g. from cuMemAlloc. */
    public CudaTensor wrap(CUdeviceptr pointer, int rows, int cols) {
        if (pointer == null) {
            throw new IllegalArgumentException("pointer is null");
        }
        return wrap(JCudaGpu.addressOf(pointer), rows, cols);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean isGpu() {
        return true;
    }

    /** Device bytes held by open tensors. */
    public long liveBytes() {
        return pool.liveBytes();
    }

    /** Device bytes idle in the pool, ready for reuse. */
    public long pooledBytes() {
        return pool.pooledBytes();
    }

    /**
     * How many tensors and labels of this device were garbage collected without {@code close()}. Their memory was
     * returned to the pool by a Cleaner; the first is logged at WARNING (System.Logger "dev.kullback"), later ones
     * at DEBUG.
     */
    public int leaks() {
        return pool.leaks();
    }

    /** How many times this device has asked the driver for memory; flat in a steady-state loop. */
    public long deviceAllocations() {
        return pool.deviceAllocations();
    }

    /** Waits for every queued kernel; ops are asynchronous until a result is read back. */
    public void synchronize() {
        requireOpen();
        gpu.synchronize();
    }

    Gpu gpu() {
        return gpu;
    }

    MemoryPool pool() {
        return pool;
    }

    @Override
    protected CudaTensor allocate(int rows, int cols) {
        return allocate(rows, cols, DType.FLOAT32);
    }

    @Override
    protected CudaTensor allocate(int rows, int cols, DType type) {
        long values = (long) rows * cols; // < 2^62, but 4 bytes each may overflow a long
        if (values > totalMemory / type.bytes()) {
            throw new IllegalArgumentException("a [" + rows + ", " + cols + "] " + type + " tensor needs " + values
                    + " elements of " + type.bytes() + " bytes, more than the " + totalMemory + " bytes of " + name());
        }
        return CudaTensor.pooled(this, rows, cols, type, pool.acquire(CudaTensor.bytes(type, rows, cols)));
    }

    @Override
    protected CudaTensor allocateZeros(int rows, int cols) {
        return allocateZeros(rows, cols, DType.FLOAT32);
    }

    @Override
    protected CudaTensor allocateZeros(int rows, int cols, DType type) {
        CudaTensor zeros = allocate(rows, cols, type);
        gpu.memsetZero(zeros.address(), zeros.bytes());
        return zeros;
    }

    @Override
    protected CudaTensor copyOfBits(short[] bits, int rows, int cols, DType type) {
        CudaTensor copy = allocate(rows, cols, type);
        gpu.copyToDevice(bits, copy.address());
        return copy;
    }

    @Override
    protected CudaTensor viewOf(CudaTensor base, long offset, int rows, int cols) {
        return CudaTensor.view(base, offset, rows, cols);
    }

    @Override
    protected void copyInto(CudaTensor from, CudaTensor to) {
        copy(from, to);
    }

    /** to = from elementwise, in stream order: any strides; any two types (a half result rounded to nearest even). */
    void copy(CudaTensor from, CudaTensor to) {
        if (ConvertKernels.direct(from.dtype(), to.dtype())) {
            convert.copy(from, to);
            return;
        }
        try (CudaTensor wide = copyAs(from, DType.FLOAT32)) { // bf16 <-> f16: widening is exact, one rounding
            convert.copy(wide, to);
        }
    }

    /** A contiguous copy of {@code t} in {@code type} (the caller closes it). */
    CudaTensor copyAs(CudaTensor t, DType type) {
        CudaTensor copy = allocate(t.rows(), t.cols(), type);
        try {
            copy(t, copy);
            return copy;
        } catch (RuntimeException | Error e) {
            copy.close();
            throw e;
        }
    }

    /** A contiguous float32 tensor with unspecified contents, for staging (the caller closes it). */
    CudaTensor scratch(int rows, int cols) {
        return allocate(rows, cols, DType.FLOAT32);
    }

    /** Whether every (non-null) tensor has one element type: the typed kernels' contract. */
    private static boolean oneType(CudaTensor first, CudaTensor... others) {
        return Arrays.stream(others).allMatch(t -> t == null || t.dtype() == first.dtype());
    }

    @Override
    protected CudaTensor copyOf(float[] data, int rows, int cols) {
        CudaTensor copy = allocate(rows, cols);
        gpu.copyToDevice(data, 0, copy.address(), data.length);
        return copy;
    }

    @Override
    protected void softmaxInto(CudaTensor x, CudaTensor out, boolean log) {
        logSoftmax.softmax(x, out, log);
    }

    @Override
    protected void logSoftmaxBackwardInto(CudaTensor gradOutput, CudaTensor output, CudaTensor gradInput) {
        logSoftmax.logSoftmaxBackward(gradOutput, output, gradInput);
    }

    // kl_div.cu, reduce.cu, gaussian_kl.cu, vocab_parallel.cu and soft_cap.cu take contiguous float32: half and strided
    // tensors are staged (Staging), with the same results a native half kernel would give.

    @Override
    protected void klDivPointwiseInto(CudaTensor input, CudaTensor target, CudaTensor out, boolean logTarget) {
        try (Staging s = new Staging(this)) {
            klDiv.pointwise(s.in(input), s.in(target), s.out(out), logTarget);
            s.finish();
        }
    }

    @Override
    protected void klDivSumInto(CudaTensor input, CudaTensor target, CudaTensor out, boolean logTarget,
                                float divisor) {
        try (Staging s = new Staging(this)) {
            CudaTensor x = s.in(input);
            CudaTensor t = s.in(target);
            reduceInto(x.size(), s.out(out), divisor, partials -> klDiv.partialSums(x, t, partials, logTarget));
            s.finish();
        }
    }

    @Override
    protected void klDivBackwardInto(CudaTensor gradOutput, CudaTensor target, CudaTensor gradInput,
                                     boolean logTarget, boolean scalarGrad, float divisor) {
        try (Staging s = new Staging(this)) {
            klDiv.backward(s.in(gradOutput), s.in(target), s.out(gradInput), logTarget, scalarGrad, divisor);
            s.finish();
        }
    }

    @Override
    protected void sumInto(CudaTensor x, CudaTensor out, float divisor) {
        try (Staging s = new Staging(this)) {
            CudaTensor in = s.in(x);
            reduceInto(in.size(), s.out(out), divisor, partials -> reduce.partialSums(in, partials));
            s.finish();
        }
    }

    /** A deterministic reduction: per-block partials into a pooled buffer, then one fixed-order pass. */
    private void reduceInto(long n, CudaTensor out, float divisor, LongConsumer writePartials) {
        int count = Launch.partials(n);
        long partials = pool.acquire(4L * count);
        try {
            writePartials.accept(partials);
            reduce.finish(partials, count, out, divisor);
        } finally {
            pool.release(partials, 4L * count);
        }
    }

    @Override
    protected void rowSumInto(CudaTensor x, CudaTensor out) {
        try (Staging s = new Staging(this)) {
            reduce.rowSum(s.in(x), s.out(out));
            s.finish();
        }
    }

    @Override
    protected void release() {
        pool.close();
        gpu.close();
    }

    // ---- losses -------------------------------------------------------------------------------------

    @Override
    protected CudaLabels labelsOf(int[] labels) {
        long address = pool.acquire(4L * labels.length);
        try {
            gpu.copyToDevice(labels, address);
            return new CudaLabels(this, labels, address);
        } catch (RuntimeException | Error e) {
            pool.release(address, 4L * labels.length);
            throw e;
        }
    }

    /**
     * A row-wise loss: {@code kernel} writes each row's loss into a [rows] buffer; when per row that buffer is the
     * value, otherwise it is pooled and summed in a fixed order into value[0] / divisor (reduce.cu's sum_finalize).
     */
    private void rowLossInto(int rows, RowReduction reduction, CudaTensor value, LongConsumer kernel) {
        if (reduction.perRow()) {
            kernel.accept(value.address());
            return;
        }
        long rowLoss = pool.acquire(4L * rows);
        try {
            kernel.accept(rowLoss);
            reduce.finish(rowLoss, rows, value, reduction.divisor());
        } finally {
            pool.release(rowLoss, 4L * rows);
        }
    }

    // The row-wise losses below have kernels for every element type and row stride; their tensors of one launch share
    // one type, so a float32 gradient of half inputs (float32Gradients) stages the inputs (Staging).

    /** The staging of a loss whose kernels take any one element type: none when every tensor has the first's type. */
    private Staging lossStaging(CudaTensor first, CudaTensor... others) {
        return oneType(first, others) ? new Staging(this, true) : new Staging(this);
    }

    /**
     * As {@link #lossStaging}, for the families that also have kernels for a float32 gradient of half inputs
     * (cross-entropy, distillation): those run unstaged, the same rows and order as with a half gradient, so the
     * value is the same bits and the half gradient is the float32 one rounded once.
     */
    private Staging gradStaging(CudaTensor grad, CudaTensor first, CudaTensor... others) {
        boolean float32Gradient = grad.dtype() == DType.FLOAT32 && first.dtype().isHalf() && oneType(first, others);
        CudaTensor[] rest = Arrays.copyOf(others, others.length + 1);
        rest[others.length] = grad;
        return float32Gradient ? new Staging(this, true) : lossStaging(first, rest);
    }

    @Override
    protected void distillationInto(CudaTensor student, CudaTensor teacher, CudaLabels labels, int ignoreIndex, float temperature,
                                    boolean reverse, RowReduction reduction, CudaTensor value, CudaTensor grad) {
        try (Staging s = gradStaging(grad, student, teacher)) {
            CudaTensor x = s.in(student);
            CudaTensor t = s.in(teacher);
            CudaTensor g = s.out(grad);
            rowLossInto(student.rows(), reduction, value, rowLoss ->
                    distillation.rows(x, t, g, rowLoss, labels == null ? 0L : labels.address(), ignoreIndex,
                            temperature, reverse, reduction.gradDivisor()));
            s.finish();
        }
    }

    /**
     * MEAN divides by W = sum of the counted rows' class weights, which depends on device data: a one-block kernel
     * writes {W, N} into a pooled buffer first, and the fused kernel reads it before writing the gradient.
     */
    @Override
    protected void crossEntropyInto(CudaTensor logits, CudaLabels labels, CudaTensor weights, Reduction reduction, int ignoreIndex,
                                    float labelSmoothing, float zLoss, CudaTensor value, CudaTensor grad) {
        try (Staging s = gradStaging(grad, logits); Staging w = new Staging(this)) {
            CudaTensor x = s.in(logits);
            CudaTensor g = s.out(grad);
            crossEntropyStaged(x, labels, w.in(weights), reduction, ignoreIndex, labelSmoothing, zLoss, value, g);
            s.finish();
        }
    }

    private void crossEntropyStaged(CudaTensor logits, CudaLabels labels, CudaTensor weights, Reduction reduction,
                                    int ignoreIndex, float labelSmoothing, float zLoss, CudaTensor value, CudaTensor grad) {
        long w = weights == null ? 0L : weights.address();
        if (reduction != Reduction.MEAN) {
            rowLossInto(logits.rows(), new RowReduction(reduction == Reduction.NONE, 1f), value, rowLoss -> crossEntropy.rows(logits, labels,
                    w, grad, rowLoss, ignoreIndex, labelSmoothing, zLoss, 0L));
            return;
        }
        long divisors = pool.acquire(8L);
        try {
            crossEntropy.divisors(labels, w, logits.rows(), logits.cols(), ignoreIndex, divisors);
            rowLossInto(logits.rows(), new RowReduction(false, 1f), value, rowLoss -> crossEntropy.rows(logits, labels, w, grad, rowLoss,
                    ignoreIndex, labelSmoothing, zLoss, divisors));
        } finally {
            pool.release(divisors, 8L);
        }
    }

    @Override
    protected void softCrossEntropyInto(CudaTensor logits, CudaTensor target, CudaTensor weights, Reduction reduction, float labelSmoothing,
                                        float zLoss, CudaTensor value, CudaTensor grad) {
        float divisor = reduction == Reduction.MEAN ? logits.rows() : 1f;
        try (Staging s = gradStaging(grad, logits, target); Staging ws = new Staging(this)) {
            CudaTensor x = s.in(logits);
            CudaTensor t = s.in(target);
            CudaTensor g = s.out(grad);
            CudaTensor w = ws.in(weights);
            rowLossInto(logits.rows(), new RowReduction(reduction == Reduction.NONE, divisor), value, rowLoss ->
                    crossEntropy.softRows(x, t, w == null ? 0L : w.address(), g, rowLoss, labelSmoothing, zLoss, divisor));
            s.finish();
        }
    }

    @Override
    protected void jsdInto(CudaTensor student, CudaTensor teacher, float beta, RowReduction reduction, CudaTensor value, CudaTensor gradStudent,
                           CudaTensor gradTeacher) {
        try (Staging s = lossStaging(student, teacher, gradStudent, gradTeacher)) {
            CudaTensor x = s.in(student);
            CudaTensor t = s.in(teacher);
            CudaTensor gx = s.out(gradStudent);
            CudaTensor gt = s.out(gradTeacher);
            rowLossInto(student.rows(), reduction, value, rowLoss -> jsd.jsd(x, t, gx, gt, rowLoss, beta,
                    reduction.gradDivisor()));
            s.finish();
        }
    }

    @Override
    protected void symmetricKlInto(CudaTensor p, CudaTensor q, RowReduction reduction, CudaTensor value, CudaTensor gradP, CudaTensor gradQ) {
        try (Staging s = lossStaging(p, q, gradP, gradQ)) {
            CudaTensor sp = s.in(p);
            CudaTensor sq = s.in(q);
            CudaTensor gp = s.out(gradP);
            CudaTensor gq = s.out(gradQ);
            rowLossInto(p.rows(), reduction, value, rowLoss -> jsd.symmetricKl(sp, sq, gp, gq, rowLoss,
                    reduction.gradDivisor()));
            s.finish();
        }
    }

    @Override
    protected void entropyInto(CudaTensor logits, RowReduction reduction, CudaTensor value, CudaTensor grad) {
        try (Staging s = lossStaging(logits, grad)) {
            CudaTensor x = s.in(logits);
            CudaTensor g = s.out(grad);
            rowLossInto(logits.rows(), reduction, value, rowLoss -> entropy.rows(x, g, rowLoss, reduction.gradDivisor()));
            s.finish();
        }
    }

    @Override
    protected void kerasKlInto(CudaTensor yTrue, CudaTensor yPred, boolean bits, RowReduction reduction, CudaTensor value, CudaTensor gradPred) {
        try (Staging s = lossStaging(yTrue, yPred, gradPred)) {
            CudaTensor t = s.in(yTrue);
            CudaTensor p = s.in(yPred);
            CudaTensor g = s.out(gradPred);
            rowLossInto(yTrue.rows(), reduction, value, rowLoss -> kerasKl.rows(t, p, g, rowLoss, bits,
                    reduction.gradDivisor()));
            s.finish();
        }
    }

    @Override
    protected void gaussianKlInto(CudaTensor mu1, CudaTensor logvar1, CudaTensor mu2, CudaTensor logvar2, RowReduction reduction, CudaTensor value,
                                  CudaTensor gradMu1, CudaTensor gradLogvar1, CudaTensor gradMu2, CudaTensor gradLogvar2) {
        try (Staging s = new Staging(this)) {
            CudaTensor m1 = s.in(mu1);
            CudaTensor v1 = s.in(logvar1);
            CudaTensor m2 = s.in(mu2);
            CudaTensor v2 = s.in(logvar2);
            CudaTensor gm1 = s.out(gradMu1);
            CudaTensor gv1 = s.out(gradLogvar1);
            CudaTensor gm2 = s.out(gradMu2);
            CudaTensor gv2 = s.out(gradLogvar2);
            rowLossInto(mu1.rows(), reduction, value, rowLoss -> gaussianKl.rows(m1, v1, m2, v2, gm1, gv1, gm2, gv2,
                    rowLoss, reduction.gradDivisor()));
            s.finish();
        }
    }

    @Override
    protected void tvdInto(CudaTensor student, CudaTensor teacher, CudaLabels labels, int ignoreIndex,
                           RowReduction reduction, CudaTensor value, CudaTensor gradStudent, CudaTensor gradTeacher) {
        try (Staging s = lossStaging(student, teacher, gradStudent, gradTeacher)) {
            CudaTensor x = s.in(student);
            CudaTensor t = s.in(teacher);
            CudaTensor gx = s.out(gradStudent);
            CudaTensor gt = s.out(gradTeacher);
            rowLossInto(student.rows(), reduction, value, rowLoss -> tvd.rows(x, t, gx, gt, rowLoss,
                    labels == null ? 0L : labels.address(), ignoreIndex, reduction.gradDivisor()));
            s.finish();
        }
    }

    // ---- vocabulary-parallel losses (issue 12): VocabParallelKernels -----------------------------------------

    @Override
    protected void vocabMaxInto(VocabPass pass, CudaTensor a, CudaTensor b, CudaTensor maxes) {
        try (Staging s = new Staging(this)) {
            vocabParallel.max(pass, s.in(a), s.in(b), s.out(maxes));
            s.finish();
        }
    }

    @Override
    protected void vocabSumsInto(VocabPass pass, CudaTensor a, CudaTensor b, CudaLabels labels, CudaTensor maxes,
                                 CudaTensor sums, CudaTensor grad) {
        try (Staging s = new Staging(this)) {
            vocabParallel.sums(pass, s.in(a), s.in(b), labels, s.in(maxes), s.out(sums));
            s.finish();
        }
    }

    @Override
    protected void vocabWriteInto(VocabPass pass, CudaTensor a, CudaTensor b, CudaLabels labels, CudaTensor maxes,
                                  CudaTensor sums, CudaTensor grad, CudaTensor rowLoss) {
        try (Staging s = new Staging(this)) {
            vocabParallel.write(pass, s.in(a), s.in(b), labels, s.in(maxes), s.in(sums), s.out(grad), s.out(rowLoss));
            s.finish();
        }
    }

    // ---- fused linear losses (issue 11): the algorithm is internal/FusedLinear, the products cuBLAS -----------

    /**
     * Null when the fused linear losses can run here, else why not (JCudaGpu: libcublas.so.12 cannot load); every
     * other operation works either way.
     */
    public String fusedLinearUnavailableReason() {
        return gpu instanceof JCudaGpu ? Cublas.unavailableReason() : null;
    }

    /** Most device bytes held by tensors and scratch at once since the last {@link #resetPeakBytes()}. */
    public long peakBytes() {
        return pool.peakLiveBytes();
    }

    /** Starts a new {@link #peakBytes()} window at the bytes held now. */
    public void resetPeakBytes() {
        pool.resetPeak();
    }

    @Override
    protected dev.kullback.internal.Gemm<CudaTensor> gemm() {
        return new CudaGemm(gpu);
    }

    @Override
    protected CudaTensor leadingRows(CudaTensor t, int rows) {
        return rows == t.rows() ? t : CudaTensor.wrapped(this, rows, t.cols(), t.rowStride(), t.dtype(), t.address());
    }

    @Override
    protected CudaLabels labelRange(CudaLabels labels, int first, int[] host) {
        return CudaLabels.view(this, host, labels.address() + 4L * first);
    }

    @Override
    protected void softCapInto(CudaTensor x, CudaTensor out, float cap) {
        try (Staging s = new Staging(this)) {
            softCap.forward(s.in(x), s.out(out), cap);
            s.finish();
        }
    }

    @Override
    protected void softCapBackwardInto(CudaTensor capped, CudaTensor grad, float cap) {
        try (Staging s = new Staging(this)) {
            CudaTensor g = s.out(grad);
            if (g != grad) {
                copy(grad, g); // the gradient is scaled in place: its staged copy starts from its values
            }
            softCap.backward(s.in(capped), g, cap);
            s.finish();
        }
    }

    /** Overlapping address ranges: wrapped caller memory may alias (in-place checks, issue 14). */
    @Override
    protected boolean sharesMemory(CudaTensor a, CudaTensor b) {
        return a.address() < b.address() + b.bytes() && b.address() < a.address() + a.bytes();
    }
}
