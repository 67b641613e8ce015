package dev.kullback.cuda;

import dev.kullback.internal.AbstractDevice;
import java.util.function.LongConsumer;

/**
 * The Device on a GPU: tensors in pooled device memory, ops as kernel launches on one stream. All GPU
 * access goes through a {@link Gpu}: the JCuda driver in production, the host simulator in tests.
 */
public final class CudaDevice extends AbstractDevice<CudaTensor> {
    private final Gpu gpu;
    private final MemoryPool pool;
    private final LogSoftmaxKernels logSoftmax;
    private final KlDivKernels klDiv;
    private final ReduceKernels reduce;
    private final long totalMemory;

    /** Runs on {@code gpu}, resolving every kernel now so that a module that cannot load fails here. */
    public CudaDevice(Gpu gpu) {
        super(CudaTensor.class);
        this.gpu = gpu;
        this.pool = new MemoryPool(gpu);
        this.logSoftmax = new LogSoftmaxKernels(gpu);
        this.klDiv = new KlDivKernels(gpu);
        this.reduce = new ReduceKernels(gpu);
        this.totalMemory = gpu.totalMemory();
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

    @Override
    public String name() {
        return gpu.name();
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
        long values = (long) rows * cols; // < 2^62, but 4 bytes each may overflow a long
        if (values > totalMemory / 4) {
            throw new IllegalArgumentException("a [" + rows + ", " + cols + "] tensor needs " + values + " floats, more "
                    + "than the " + totalMemory + " bytes of " + name());
        }
        return new CudaTensor(this, rows, cols, pool.acquire(4 * values));
    }

    @Override
    protected CudaTensor allocateZeros(int rows, int cols) {
        CudaTensor zeros = allocate(rows, cols);
        gpu.memsetZero(zeros.address(), zeros.bytes());
        return zeros;
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

    @Override
    protected void klDivPointwiseInto(CudaTensor input, CudaTensor target, CudaTensor out, boolean logTarget) {
        klDiv.pointwise(input, target, out, logTarget);
    }

    @Override
    protected void klDivSumInto(CudaTensor input, CudaTensor target, CudaTensor out, boolean logTarget,
                                float divisor) {
        reduceInto(input.size(), out, divisor, partials -> klDiv.partialSums(input, target, partials, logTarget));
    }

    @Override
    protected void klDivBackwardInto(CudaTensor gradOutput, CudaTensor target, CudaTensor gradInput,
                                     boolean logTarget, boolean scalarGrad, float divisor) {
        klDiv.backward(gradOutput, target, gradInput, logTarget, scalarGrad, divisor);
    }

    @Override
    protected void sumInto(CudaTensor x, CudaTensor out, float divisor) {
        reduceInto(x.size(), out, divisor, partials -> reduce.partialSums(x, partials));
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
        reduce.rowSum(x, out);
    }

    @Override
    protected void release() {
        pool.close();
        gpu.close();
    }
}
