package dev.kullback.cpu;

import dev.kullback.Reduction;
import dev.kullback.internal.AbstractDevice;
import java.lang.System.Logger.Level;
import java.lang.ref.SoftReference;
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
 * Rows are processed in parallel; when there are fewer rows than about four per thread, each row is also cut into
 * chunks processed in parallel, so a single [1, 262144] row still uses every core.
 *
 * <h2>Determinism</h2>
 * Results are bitwise identical from run to run and do not depend on the thread count or on scheduling:
 * <ul>
 *   <li>each row is cut into chunks of {@value #CHUNK} values that depend on the row length only; row-wise max and
 *       sums are per-chunk partials combined in double, in chunk order;</li>
 *   <li>whole-tensor reductions use blocks of {@value #BLOCK} values over the flattened tensor, their partials added
 *       in double in block order;</li>
 *   <li>elementwise results do not depend on where a thread's range starts or ends (see {@link Kernels}).</li>
 * </ul>
 * The vector kernels and the scalar kernels give slightly different (both accurate) results, and so may machines
 * with different vector widths.
 *
 * <h2>Memory</h2>
 * A closed tensor's array goes to a pool of the device and is reused for the next tensor of the same size (see
 * {@link ArrayPool}), so a loop that closes what it no longer needs allocates nothing in steady state.
 *
 * <h2>Softmax</h2>
 * Log-softmax reads each row from memory once for its statistics: one loop per chunk keeps, per vector lane, a
 * reference and Σ exp(x - reference), rescaled only when a value passes the reference by more than 16 nats
 * ({@link Kernels#logStats}); the chunks combine as {@code S = Σ s_c exp(m_c - M)}. The same loop also writes the
 * previous row, {@code (x - M) - log S}, from cache, so the write's memory traffic overlaps the exps, which are what
 * limits this op. Softmax, whose output is the exps themselves: per chunk a max pass, then a pass that stores
 * exp(x - chunk max) in the output and adds them, while the chunk is still in L1; then the stored values are scaled by
 * {@code exp(m_c - M) / S}. PyTorch's edge semantics: a row holding NaN or +inf, or only -inf, is all NaN; -inf
 * entries of an otherwise finite row give -inf (log-softmax) and 0 (softmax).
 */
public final class CpuDevice extends AbstractDevice<CpuTensor, CpuLabels> {
    /** Row chunk: the unit of row-wise max and sum partials. */
    static final int CHUNK = 4096;
    /** Block of the flattened tensor: the unit of whole-tensor sum partials. */
    static final int BLOCK = 4096;
    /** The least work (values) worth handing to another thread. */
    private static final int GRAIN = 32768;
    /** The most values a Java array (and so a CPU tensor) holds. */
    static final int MAX_VALUES = Integer.MAX_VALUE - 8;
    static final String THREADS_PROPERTY = "kullback.cpu.threads";

    private final Kernels kernels;
    private final Workers workers;
    private final boolean ownsPool;
    private final String name;
    private final ArrayPool arrays = new ArrayPool(ArrayPool.defaultCapacity());

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

    // ---- how work is split ------------------------------------------------------------------------------

    private static int chunks(int cols) {
        return (cols + CHUNK - 1) / CHUNK;
    }

    /** Chunks in parallel when rows alone cannot keep every thread busy. */
    private boolean byChunks(int rows, int chunks) {
        return chunks > 1 && workers.threads() > 1 && rows < 4 * workers.threads();
    }

    private int rowGrain(int rows, int cols) {
        return workers.grain(rows, (GRAIN + cols - 1) / cols);
    }

    private int unitGrain(int units, int unitSize) {
        return workers.grain(units, Math.max(1, GRAIN / unitSize));
    }

    // ---- softmax and log-softmax ---------------------------------------------------------------------------
    // The log and the plain softmax have separate loops (not one loop with a flag), so that no compilation holds
    // both sumExp and sumExpStore: see Kernels on C2's node budget.

    @Override
    protected void softmaxInto(CpuTensor x, CpuTensor out, boolean log) {
        float[] a = x.data();
        float[] o = out.data();
        int rows = x.rows();
        int cols = x.cols();
        int chunks = chunks(cols);
        if (!byChunks(rows, chunks)) {
            if (log) {
                workers.forEach(rows, rowGrain(rows, cols), (r0, r1) -> logSoftmaxRows(a, o, r0, r1, cols));
            } else {
                workers.forEach(rows, rowGrain(rows, cols), (r0, r1) -> softmaxRows(a, o, r0, r1, cols));
            }
            return;
        }
        // few long rows: chunk statistics in parallel, a short sequential combine per row, then chunk writes
        int units = rows * chunks;
        int grain = unitGrain(units, CHUNK);
        float[] m = new float[units];
        double[] s = new double[units];
        if (log) {
            workers.forEach(units, grain, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int from = chunkStart(u, chunks, cols);
                    kernels.logStats(a, from, chunkEnd(u, chunks, cols, from), m, s, u);
                }
            });
        } else {
            workers.forEach(units, grain, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int from = chunkStart(u, chunks, cols);
                    softStats(a, o, from, chunkEnd(u, chunks, cols, from), m, s, u);
                }
            });
        }
        float[] rowMax = new float[rows];
        double[] rowSum = new double[rows];
        for (int r = 0; r < rows; r++) {
            rowMax[r] = max(m, r * chunks, chunks);
            rowSum[r] = sumExp(m, s, r * chunks, chunks, rowMax[r]);
        }
        if (log) {
            float[] rowLogSum = new float[rows]; // once per row, not per chunk
            for (int r = 0; r < rows; r++) {
                rowLogSum[r] = (float) Math.log(rowSum[r]);
            }
            workers.forEach(units, grain, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int r = u / chunks;
                    int from = chunkStart(u, chunks, cols);
                    kernels.logSoftmaxWrite(a, from, chunkEnd(u, chunks, cols, from), rowMax[r], rowLogSum[r], o);
                }
            });
        } else {
            workers.forEach(units, grain, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int r = u / chunks;
                    int from = chunkStart(u, chunks, cols);
                    softWrite(o, from, chunkEnd(u, chunks, cols, from), rowMax[r], rowSum[r], m[u]);
                }
            });
        }
    }

    /** Where chunk {@code u} (row u / chunks, chunk u % chunks) starts in the flattened tensor. */
    private static int chunkStart(int u, int chunks, int cols) {
        int r = u / chunks;
        return r * cols + (u - r * chunks) * CHUNK;
    }

    private static int chunkEnd(int u, int chunks, int cols, int from) {
        return from + Math.min(CHUNK, (u / chunks) * cols + cols - from); // no overflow near 2^31 values
    }

    /**
     * Rows [r0, r1) of a log-softmax: the first row's statistics, then each row's write in one loop with the next
     * row's statistics (chunk by chunk: rows have equal chunks), so that the write's memory traffic overlaps the
     * exps, which are what limits this op. Each row is read from memory once (its write reads it again from cache).
     */
    private void logSoftmaxRows(float[] a, float[] o, int r0, int r1, int cols) {
        int chunks = chunks(cols);
        float[] m = new float[chunks];
        double[] s = new double[chunks];
        float[] nextM = new float[chunks];
        double[] nextS = new double[chunks];
        for (int c = 0, from = r0 * cols; c < chunks; c++, from += CHUNK) {
            kernels.logStats(a, from, from + Math.min(CHUNK, cols - c * CHUNK), m, s, c);
        }
        for (int r = r0; r < r1; r++) {
            int base = r * cols;
            float rowMax = max(m, 0, chunks);
            float logSum = logSum(m, s, 0, chunks, rowMax);
            if (r + 1 == r1) {
                kernels.logSoftmaxWrite(a, base, base + cols, rowMax, logSum, o);
                break;
            }
            for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                kernels.logSoftmaxWriteAndStats(a, o, from, rowMax, logSum, from + cols,
                        Math.min(CHUNK, cols - c * CHUNK), nextM, nextS, c);
            }
            float[] mm = m;
            m = nextM;
            nextM = mm;
            double[] ss = s;
            s = nextS;
            nextS = ss;
        }
    }

    /** Rows [r0, r1) of a softmax, each by its chunks: statistics (storing the exps), combine, scale. */
    private void softmaxRows(float[] a, float[] o, int r0, int r1, int cols) {
        int chunks = chunks(cols);
        float[] m = new float[chunks];
        double[] s = new double[chunks];
        for (int r = r0; r < r1; r++) {
            int base = r * cols;
            int end = base + cols;
            for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                softStats(a, o, from, from + Math.min(CHUNK, end - from), m, s, c);
            }
            float rowMax = max(m, 0, chunks);
            double rowSum = sumExp(m, s, 0, chunks, rowMax);
            for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                softWrite(o, from, from + Math.min(CHUNK, end - from), rowMax, rowSum, m[c]);
            }
        }
    }

    /**
     * m[i] = max of the chunk, s[i] = Σ exp(x - m[i]), the exps stored in the output (zeros for an all -inf chunk, and
     * s[i] = 0; NaN and +inf: see sumExp).
     */
    private void softStats(float[] a, float[] o, int from, int to, float[] m, double[] s, int i) {
        float mc = kernels.max(a, from, to);
        m[i] = mc;
        if (Float.isFinite(mc)) {
            s[i] = kernels.sumExpStore(a, from, to, mc, o);
        } else {
            s[i] = 0;
            Arrays.fill(o, from, to, 0f);
        }
    }

    /** The row maximum from its chunks' maxima, NaN if any is NaN. */
    private static float max(float[] m, int off, int chunks) {
        float max = Float.NEGATIVE_INFINITY;
        for (int c = off; c < off + chunks; c++) {
            max = Math.max(max, m[c]);
        }
        return max;
    }

    /** Σ exp(x - rowMax) over the row, from the chunks' partials, in chunk order; NaN if rowMax is not finite. */
    private static double sumExp(float[] m, double[] s, int off, int chunks, float rowMax) {
        if (!Float.isFinite(rowMax)) {
            return Double.NaN;
        }
        double sum = 0;
        for (int c = off; c < off + chunks; c++) {
            if (m[c] == rowMax) {
                sum += s[c];
            } else if (m[c] != Float.NEGATIVE_INFINITY) {
                sum += s[c] * Math.exp((double) m[c] - rowMax);
            }
        }
        return sum;
    }

    /**
     * log Σ exp(x - rowMax) over the row from its chunks' statistics, NaN if rowMax is not finite; then
     * (x - rowMax) - logSum is NaN over the whole row when the row holds NaN or +inf, or only -inf, as in PyTorch.
     */
    private static float logSum(float[] m, double[] s, int off, int chunks, float rowMax) {
        return (float) Math.log(sumExp(m, s, off, chunks, rowMax));
    }

    /** Scales a chunk's stored exp(x - chunkMax) by exp(chunkMax - rowMax) / rowSum; NaN rows as in logSum. */
    private void softWrite(float[] o, int from, int to, float rowMax, double rowSum, float chunkMax) {
        if (!Float.isFinite(rowMax)) {
            Arrays.fill(o, from, to, Float.NaN);
        } else if (chunkMax != Float.NEGATIVE_INFINITY) {
            double factor = chunkMax == rowMax ? 1.0 : Math.exp((double) chunkMax - rowMax);
            kernels.scale(o, from, to, (float) (factor / rowSum));
        }
    }

    // ---- log-softmax backward and row sums --------------------------------------------------------------------

    @Override
    protected void logSoftmaxBackwardInto(CpuTensor gradOutput, CpuTensor output, CpuTensor gradInput) {
        float[] g = gradOutput.data();
        float[] y = output.data();
        float[] o = gradInput.data();
        rowwiseSums(g, y, o, gradOutput.rows(), gradOutput.cols(), true);
    }

    @Override
    protected void rowSumInto(CpuTensor x, CpuTensor out) {
        rowwiseSums(x.data(), null, out.data(), x.rows(), x.cols(), false);
    }

    /**
     * Row sums of {@code g} by chunks. For the backward, writes {@code o = g - exp(y) * rowSum} row by row; else
     * writes the row sums to {@code o[r]}.
     */
    private void rowwiseSums(float[] g, float[] y, float[] o, int rows, int cols, boolean backward) {
        int chunks = chunks(cols);
        if (byChunks(rows, chunks)) {
            int units = rows * chunks;
            double[] s = new double[units];
            workers.forEach(units, unitGrain(units, CHUNK), (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int r = u / chunks;
                    int from = r * cols + (u - r * chunks) * CHUNK;
                    s[u] = kernels.sum(g, from, chunkEnd(u, chunks, cols, from));
                }
            });
            float[] rowSum = new float[rows];
            for (int r = 0; r < rows; r++) {
                rowSum[r] = (float) sum(s, r * chunks, chunks);
            }
            if (!backward) {
                System.arraycopy(rowSum, 0, o, 0, rows);
                return;
            }
            workers.forEach(units, unitGrain(units, CHUNK), (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int r = u / chunks;
                    int from = r * cols + (u - r * chunks) * CHUNK;
                    kernels.logSoftmaxBackward(g, y, from, chunkEnd(u, chunks, cols, from), rowSum[r], o);
                }
            });
        } else {
            workers.forEach(rows, rowGrain(rows, cols), (r0, r1) -> {
                double[] s = new double[chunks];
                for (int r = r0; r < r1; r++) {
                    int base = r * cols;
                    int end = base + cols;
                    for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                        s[c] = kernels.sum(g, from, from + Math.min(CHUNK, end - from));
                    }
                    float rowSum = (float) sum(s, 0, chunks);
                    if (backward) {
                        kernels.logSoftmaxBackward(g, y, base, end, rowSum, o);
                    } else {
                        o[r] = rowSum;
                    }
                }
            });
        }
    }

    /** Partials added in double, in order. */
    private static double sum(double[] s, int off, int count) {
        double sum = 0;
        for (int i = off; i < off + count; i++) {
            sum += s[i];
        }
        return sum;
    }

    // ---- kl_div ---------------------------------------------------------------------------------------------

    @Override
    protected void klDivPointwiseInto(CpuTensor input, CpuTensor target, CpuTensor out, boolean logTarget) {
        float[] x = input.data();
        float[] t = target.data();
        float[] o = out.data();
        int n = x.length;
        int grain = workers.grain(n, GRAIN);
        if (logTarget) {
            workers.forEach(n, grain, (from, to) -> kernels.klDivLogTarget(x, t, from, to, o));
        } else {
            workers.forEach(n, grain, (from, to) -> kernels.klDiv(x, t, from, to, o));
        }
    }

    @Override
    protected void klDivSumInto(CpuTensor input, CpuTensor target, CpuTensor out, boolean logTarget,
                                float divisor) {
        float[] x = input.data();
        float[] t = target.data();
        int n = x.length;
        double[] partials = new double[blocks(n)];
        if (logTarget) {
            workers.forEach(partials.length, blockGrain(partials.length), (b0, b1) -> {
                for (int b = b0; b < b1; b++) {
                    partials[b] = kernels.klDivSumLogTarget(x, t, b * BLOCK, blockEnd(b, n));
                }
            });
        } else {
            workers.forEach(partials.length, blockGrain(partials.length), (b0, b1) -> {
                for (int b = b0; b < b1; b++) {
                    partials[b] = kernels.klDivSum(x, t, b * BLOCK, blockEnd(b, n));
                }
            });
        }
        out.data()[0] = (float) (sum(partials, 0, partials.length) / divisor);
    }

    @Override
    protected void klDivBackwardInto(CpuTensor gradOutput, CpuTensor target, CpuTensor gradInput, boolean logTarget,
                                     boolean scalarGrad, float divisor) {
        float[] g = gradOutput.data();
        float[] t = target.data();
        float[] o = gradInput.data();
        int n = t.length;
        int grain = workers.grain(n, GRAIN);
        if (scalarGrad) {
            float scale = g[0] / divisor;
            if (logTarget) {
                workers.forEach(n, grain, (from, to) -> kernels.klDivBackwardLogTarget(scale, t, from, to, o));
            } else {
                workers.forEach(n, grain, (from, to) -> kernels.klDivBackward(scale, t, from, to, o));
            }
        } else if (logTarget) {
            workers.forEach(n, grain, (from, to) -> kernels.klDivBackwardLogTarget(g, t, from, to, o));
        } else {
            workers.forEach(n, grain, (from, to) -> kernels.klDivBackward(g, t, from, to, o));
        }
    }

    // ---- whole-tensor sums ------------------------------------------------------------------------------------
    // Blocks of BLOCK values of the flattened tensor; their partials, computed in parallel, are added in double in
    // block order. Each operation has its own loop over blocks (no shared "block sum" callback), so that no
    // compilation holds two kernels' loops (see Kernels).

    @Override
    protected void sumInto(CpuTensor x, CpuTensor out, float divisor) {
        float[] a = x.data();
        int n = a.length;
        double[] partials = new double[blocks(n)];
        workers.forEach(partials.length, blockGrain(partials.length), (b0, b1) -> {
            for (int b = b0; b < b1; b++) {
                partials[b] = kernels.sum(a, b * BLOCK, blockEnd(b, n));
            }
        });
        out.data()[0] = (float) (sum(partials, 0, partials.length) / divisor);
    }

    private static int blocks(int n) {
        return (int) ((n + (long) BLOCK - 1) / BLOCK);
    }

    private static int blockEnd(int b, int n) {
        return (int) Math.min(n, (long) b * BLOCK + BLOCK);
    }

    private int blockGrain(int blocks) {
        return unitGrain(blocks, BLOCK);
    }

    // ---- losses -------------------------------------------------------------------------------------

    @Override
    protected CpuLabels labelsOf(int[] labels) {
        return new CpuLabels(this, labels);
    }

    // Every loss is row-wise: per row a statistics pass over its chunks (the chunk maxima, the sums of exp, stored in
    // the gradient as scratch, and the loss's other partial sums), a short sequential combine of the chunk partials in
    // double in chunk order, then a pass that writes the gradient over the stored exps. Rows run in parallel; few long
    // rows run by chunks in parallel (as softmax does). Row losses are combined in double in row order.

    /** Statistics of the chunks of two logits: F (stored as exp in the gradient) weights the KL, G is the other. */
    private static final class PairStats {
        final float[] mf;
        final float[] mg;
        final double[] sf;
        final double[] sg;
        final double[] a;

        PairStats(int n) {
            mf = new float[n];
            mg = new float[n];
            sf = new double[n];
            sg = new double[n];
            a = new double[n];
        }
    }

    /** What a row's chunks combine to: F's and G's maxima and sums of exp (at 1/T), and KL(F || G) at 1/T. */
    private static final class PairRows {
        final float[] mf;
        final float[] mg;
        final double[] sf;
        final double[] sg;
        final double[] kl;

        PairRows(int n) {
            mf = new float[n];
            mg = new float[n];
            sf = new double[n];
            sg = new double[n];
            kl = new double[n];
        }
    }

    /**
     * Chunk {@code i}: maxima (two max passes: a fused one made this compilation, which inlines every kernel it
     * calls, pass C2's node budget and box weightedDiff's loads), Σ exp((f - mf) / T) (the exps stored in {@code o}),
     * Σ exp((g - mg) / T) (the exps stored in {@code ge} at {@code i - geOff} when {@code ge} is not null: the forward
     * gradient reads them instead of computing them again), and Σ e_f ((f - mf) - (g - mg)) over the entries with
     * e_f != 0 (xlogy: a column -inf in both contributes 0).
     */
    private void pairStats(float[] f, float[] g, float[] o, int from, int to, float invT, PairStats st, int i,
                           float[] ge, int geOff) {
        float mf = kernels.max(f, from, to);
        float mg = kernels.max(g, from, to);
        st.mf[i] = mf;
        st.mg[i] = mg;
        if (Float.isFinite(mf)) {
            st.sf[i] = kernels.sumExpScaledStore(f, from, to, mf, invT, o, 0);
            st.a[i] = Float.isFinite(mg) ? kernels.weightedDiff(o, f, mf, g, mg, from, to)
                    : mg == Float.NEGATIVE_INFINITY ? Double.POSITIVE_INFINITY : Double.NaN;
        } else {
            st.sf[i] = 0;
            st.a[i] = 0;
            Arrays.fill(o, from, to, 0f);
        }
        if (ge == null) {
            st.sg[i] = Float.isFinite(mg) ? kernels.sumExpScaled(g, from, to, mg, invT) : 0;
        } else if (Float.isFinite(mg)) {
            st.sg[i] = kernels.sumExpScaledStore(g, from, to, mg, invT, ge, geOff);
        } else {
            st.sg[i] = 0;
            Arrays.fill(ge, from - geOff, to - geOff, 0f); // its scale is 0 (or the row is NaN): no stale NaN
        }
    }

    /** Combines chunks [off, off + chunks) of {@code st} into row {@code r} of {@code rows}; NaN when not finite. */
    private static void combinePair(PairStats st, int off, int chunks, float invT, PairRows rows, int r) {
        float mf = max(st.mf, off, chunks);
        float mg = max(st.mg, off, chunks);
        rows.mf[r] = mf;
        rows.mg[r] = mg;
        if (!Float.isFinite(mf) || !Float.isFinite(mg)) {
            rows.sf[r] = Double.NaN;
            rows.sg[r] = Double.NaN;
            rows.kl[r] = Double.NaN;
            return;
        }
        double sf = 0;
        double sg = 0;
        double a = 0;
        for (int c = off; c < off + chunks; c++) {
            if (st.mf[c] != Float.NEGATIVE_INFINITY) {
                double df = (double) st.mf[c] - mf;
                double w = df == 0 ? 1.0 : Math.exp(df * invT);
                sf += w * st.sf[c];
                a += w * (st.a[c] + (df - ((double) st.mg[c] - mg)) * st.sf[c]);
            }
            if (st.mg[c] != Float.NEGATIVE_INFINITY) {
                double dg = (double) st.mg[c] - mg;
                sg += (dg == 0 ? 1.0 : Math.exp(dg * invT)) * st.sg[c];
            }
        }
        rows.sf[r] = sf;
        rows.sg[r] = sg;
        rows.kl[r] = a * invT / sf - Math.log(sf) + Math.log(sg);
    }

    /** The scale that turns chunk {@code c}'s stored exps of F into probabilities. */
    private static float pairScale(PairStats st, int c, float invT, PairRows rows, int r) {
        float m = st.mf[c];
        if (m == Float.NEGATIVE_INFINITY) {
            return 0f;
        }
        double w = m == rows.mf[r] ? 1.0 : Math.exp(((double) m - rows.mf[r]) * invT);
        return (float) (w / rows.sf[r]);
    }

    /** The scale that turns chunk {@code c}'s stored exps of G into probabilities. */
    private static float pairScaleG(PairStats st, int c, float invT, PairRows rows, int r) {
        float m = st.mg[c];
        if (m == Float.NEGATIVE_INFINITY) {
            return 0f;
        }
        double w = m == rows.mg[r] ? 1.0 : Math.exp(((double) m - rows.mg[r]) * invT);
        return (float) (w / rows.sg[r]);
    }

    /**
     * The distillation gradient of one chunk. Forward (F = teacher P, G = student Q): k (Q - P) over the stored exps
     * of both (Q's in {@code ge} at {@code i - geOff}); reverse (F = student Q, G = teacher P):
     * k Q ((log Q - log P) - KL) over the stored exps; k = T / divisor.
     */
    private void distillWrite(float[] s, float[] t, float[] o, int from, int to, boolean reverse, float invT, float k,
                              PairStats st, int c, PairRows rows, int r, float[] ge, int geOff) {
        if (Double.isNaN(rows.sf[r])) {
            Arrays.fill(o, from, to, Float.NaN);
            return;
        }
        float scale = pairScale(st, c, invT, rows, r);
        if (reverse) {
            double c0 = Math.log(rows.sg[r]) - Math.log(rows.sf[r]) - rows.kl[r];
            kernels.xlogyGrad(s, rows.mf[r], t, rows.mg[r], from, to, invT, (float) c0, scale, k, o);
        } else {
            kernels.scaledDiffWrite(ge, geOff, from, to, pairScaleG(st, c, invT, rows, r), scale, k, o);
        }
    }

    /** A thread's scratch row (see {@link #scratchRow}), held softly. */
    private static final ThreadLocal<SoftReference<float[]>> SCRATCH = new ThreadLocal<>();

    /**
     * A scratch array of at least {@code length} values, contents unspecified, reused by the calling thread from one
     * operation to the next (one per thread: a thread runs one row at a time, so nothing else uses it meanwhile).
     */
    private static float[] scratchRow(int length) {
        SoftReference<float[]> ref = SCRATCH.get();
        float[] a = ref == null ? null : ref.get();
        if (a == null || a.length < length) {
            a = new float[length];
            SCRATCH.set(new SoftReference<>(a));
        }
        return a;
    }

    private static boolean ignored(int[] labels, int r, int ignoreIndex) {
        return labels != null && labels[r] == ignoreIndex;
    }

    @Override
    protected void distillationInto(CpuTensor student, CpuTensor teacher, CpuLabels labels, int ignoreIndex,
                                    float temperature, boolean reverse, float divisor, CpuTensor value,
                                    CpuTensor grad) {
        float[] s = student.data();
        float[] t = teacher.data();
        float[] o = grad.data();
        float[] f = reverse ? s : t;
        float[] g = reverse ? t : s;
        int[] y = labels == null ? null : labels.data();
        int rows = student.rows();
        int cols = student.cols();
        int chunks = chunks(cols);
        float invT = 1f / temperature;
        float k = temperature / divisor;
        double t2 = (double) temperature * temperature;
        double[] loss = new double[rows];
        if (!byChunks(rows, chunks)) {
            workers.forEach(rows, rowGrain(rows, cols), (r0, r1) -> {
                PairStats st = new PairStats(chunks);
                PairRows pr = new PairRows(1);
                float[] ge = reverse ? null : scratchRow(cols); // the exps of G of the row, from its start
                for (int r = r0; r < r1; r++) {
                    int base = r * cols;
                    int end = base + cols;
                    if (ignored(y, r, ignoreIndex)) {
                        Arrays.fill(o, base, end, 0f);
                        continue;
                    }
                    for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                        pairStats(f, g, o, from, from + Math.min(CHUNK, end - from), invT, st, c, ge, base);
                    }
                    combinePair(st, 0, chunks, invT, pr, 0);
                    for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                        distillWrite(s, t, o, from, from + Math.min(CHUNK, end - from), reverse, invT, k, st, c,
                                pr, 0, ge, base);
                    }
                    loss[r] = t2 * pr.kl[0];
                }
            });
        } else {
            int units = rows * chunks;
            int grain = unitGrain(units, CHUNK);
            PairStats st = new PairStats(units);
            float[] ge = reverse ? null : arrays.take(rows * cols); // the exps of G of every row
            workers.forEach(units, grain, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int from = chunkStart(u, chunks, cols);
                    int to = chunkEnd(u, chunks, cols, from);
                    if (ignored(y, u / chunks, ignoreIndex)) {
                        Arrays.fill(o, from, to, 0f);
                    } else {
                        pairStats(f, g, o, from, to, invT, st, u, ge, 0);
                    }
                }
            });
            PairRows pr = new PairRows(rows);
            for (int r = 0; r < rows; r++) {
                if (!ignored(y, r, ignoreIndex)) {
                    combinePair(st, r * chunks, chunks, invT, pr, r);
                    loss[r] = t2 * pr.kl[r];
                }
            }
            workers.forEach(units, grain, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int r = u / chunks;
                    if (!ignored(y, r, ignoreIndex)) {
                        int from = chunkStart(u, chunks, cols);
                        distillWrite(s, t, o, from, chunkEnd(u, chunks, cols, from), reverse, invT, k, st, u, pr, r,
                                ge, 0);
                    }
                }
            });
            if (ge != null) {
                arrays.give(ge);
            }
        }
        writeValue(value, loss, rows, divisor);
    }

    /** value[r] = loss[r] when per row ([rows, 1], rows > 1), else Σ loss (in row order, double) / divisor. */
    private static void writeValue(CpuTensor value, double[] loss, int rows, float divisor) {
        float[] v = value.data();
        if (v.length == rows && rows > 1) {
            for (int r = 0; r < rows; r++) {
                v[r] = (float) loss[r];
            }
        } else {
            v[0] = (float) (sum(loss, 0, rows) / divisor);
        }
    }

    // ---- cross-entropy and entropy ----------------------------------------------------------------------

    /** Maxima, sums of exp and one loss-specific sum: per chunk of one logits tensor, or combined per row. */
    private static final class Stats {
        final float[] m;
        final double[] s;
        final double[] x;

        Stats(int n) {
            m = new float[n];
            s = new double[n];
            x = new double[n];
        }
    }

    /** The scale that turns chunk {@code c}'s stored exps into probabilities. */
    private static float probScale(Stats st, int c, Stats rows, int r) {
        float m = st.m[c];
        if (m == Float.NEGATIVE_INFINITY) {
            return 0f;
        }
        return (float) ((m == rows.m[r] ? 1.0 : Math.exp((double) m - rows.m[r])) / rows.s[r]);
    }

    /** Cross-entropy chunk statistics: softmax's, plus Σ w z (or Σ z without weights) when smoothing. */
    private void ceStats(float[] z, float[] w, float[] o, int from, int to, int base, boolean smoothing, Stats st,
                         int i) {
        // the logits' own sums first: o may be z (an in-place gradient), and softStats writes exps into o
        st.x[i] = !smoothing ? 0 : w == null ? kernels.sum(z, from, to) : kernels.dotOffset(w, base, z, from, to);
        softStats(z, o, from, to, st.m, st.s, i);
    }

    /** Everything a cross-entropy row needs besides its statistics. */
    private static final class Ce {
        float[] w;
        int[] y;
        /** Each row's target logit, read before any gradient is written (it may be written over the logits). */
        float[] zy;
        int ignoreIndex;
        int cols;
        float eps;
        float zScale;
        double wSum;
        double k;
        double kz;
        boolean smoothing;
    }

    /**
     * Combines row r's chunks and returns its loss pieces: x[r] = lse; writes nll and smoothing terms into ce[]
     * (ce[0] = CE part, ce[1] = z part).
     */
    private static void ceCombine(Stats st, int off, int chunks, float[] z, int base, Ce p, Stats rows, int r,
                                  double[] ce, double[] zl) {
        float m = max(st.m, off, chunks);
        double sum = sumExp(st.m, st.s, off, chunks, m);
        rows.m[r] = m;
        rows.s[r] = sum;
        double lse = m + Math.log(sum);
        rows.x[r] = lse;
        int y = p.y[r];
        double wy = p.w == null ? 1.0 : p.w[y];
        double nll = -wy * (p.zy[r] - lse);
        double loss = (1 - (double) p.eps) * nll;
        if (p.smoothing) {
            double wz = 0;
            for (int c = off; c < off + chunks; c++) {
                wz += st.x[c];
            }
            loss += (double) p.eps / p.cols * -(wz - lse * p.wSum);
        }
        ce[r] = Double.isFinite(m) ? loss : Double.NaN;
        zl[r] = p.zScale == 0 ? 0 : Double.isFinite(m) ? p.zScale * lse * lse : Double.NaN;
    }

    /** Writes the cross-entropy gradient of one chunk over its stored exps. */
    private void ceWrite(float[] o, int from, int to, int base, Ce p, Stats st, int c, Stats rows, int r) {
        if (!Float.isFinite(rows.m[r])) {
            Arrays.fill(o, from, to, Float.NaN);
            return;
        }
        int y = p.y[r];
        double wy = p.w == null ? 1.0 : p.w[y];
        double lse = rows.x[r];
        double eps = p.eps;
        double a = p.k * ((1 - eps) * wy + eps / p.cols * p.wSum) + p.kz * 2 * p.zScale * lse;
        float scale = probScale(st, c, rows, r);
        float b = (float) (p.k * eps / p.cols);
        float pa = (float) (a * scale);
        if (p.w == null) {
            kernels.scaleSub(o, from, to, pa, b);
        } else {
            kernels.scaleSubWeighted(p.w, base, from, to, pa, b, o);
        }
        int yi = base + y;
        if (yi >= from && yi < to) {
            o[yi] -= (float) (p.k * (1 - eps) * wy);
        }
    }

    @Override
    protected void crossEntropyInto(CpuTensor logits, CpuLabels labels, CpuTensor weights, Reduction reduction,
                                    int ignoreIndex, float labelSmoothing, float zLoss, CpuTensor value,
                                    CpuTensor grad) {
        float[] z = logits.data();
        float[] o = grad.data();
        int rows = logits.rows();
        int cols = logits.cols();
        int chunks = chunks(cols);
        Ce p = new Ce();
        p.w = weights == null ? null : weights.data();
        p.y = labels.data();
        p.ignoreIndex = ignoreIndex;
        p.cols = cols;
        p.eps = labelSmoothing;
        p.zScale = zLoss;
        p.zy = new float[rows];
        for (int r = 0; r < rows; r++) {
            int label = p.y[r];
            p.zy[r] = label == ignoreIndex ? 0f : z[r * cols + label];
        }
        p.smoothing = labelSmoothing > 0;
        double wSum = 0;
        if (p.w == null) {
            wSum = cols;
        } else {
            for (float wc : p.w) {
                wSum += wc;
            }
        }
        p.wSum = wSum;
        double weightTotal = 0;
        int counted = 0;
        for (int r = 0; r < rows; r++) {
            if (p.y[r] != ignoreIndex) {
                counted++;
                weightTotal += p.w == null ? 1.0 : p.w[p.y[r]];
            }
        }
        boolean mean = reduction == Reduction.MEAN;
        p.k = mean ? 1.0 / weightTotal : 1.0;
        p.kz = mean ? 1.0 / counted : 1.0;
        double[] ce = new double[rows];
        double[] zl = new double[rows];
        int[] y = p.y;
        Stats rs = new Stats(rows);
        if (!byChunks(rows, chunks)) {
            workers.forEach(rows, rowGrain(rows, cols), (r0, r1) -> {
                Stats st = new Stats(chunks);
                for (int r = r0; r < r1; r++) {
                    int base = r * cols;
                    int end = base + cols;
                    if (y[r] == ignoreIndex) {
                        Arrays.fill(o, base, end, 0f);
                        continue;
                    }
                    for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                        ceStats(z, p.w, o, from, from + Math.min(CHUNK, end - from), base, p.smoothing, st, c);
                    }
                    ceCombine(st, 0, chunks, z, base, p, rs, r, ce, zl);
                    for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                        ceWrite(o, from, from + Math.min(CHUNK, end - from), base, p, st, c, rs, r);
                    }
                }
            });
        } else {
            int units = rows * chunks;
            int grain = unitGrain(units, CHUNK);
            Stats st = new Stats(units);
            workers.forEach(units, grain, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int r = u / chunks;
                    int from = chunkStart(u, chunks, cols);
                    int to = chunkEnd(u, chunks, cols, from);
                    if (y[r] == ignoreIndex) {
                        Arrays.fill(o, from, to, 0f);
                    } else {
                        ceStats(z, p.w, o, from, to, r * cols, p.smoothing, st, u);
                    }
                }
            });
            for (int r = 0; r < rows; r++) {
                if (y[r] != ignoreIndex) {
                    ceCombine(st, r * chunks, chunks, z, r * cols, p, rs, r, ce, zl);
                }
            }
            workers.forEach(units, grain, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int r = u / chunks;
                    if (y[r] != ignoreIndex) {
                        int from = chunkStart(u, chunks, cols);
                        ceWrite(o, from, chunkEnd(u, chunks, cols, from), r * cols, p, st, u, rs, r);
                    }
                }
            });
        }
        float[] v = value.data();
        if (reduction == Reduction.NONE) {
            for (int r = 0; r < rows; r++) {
                v[r] = (float) (ce[r] + zl[r]);
            }
        } else if (reduction == Reduction.SUM) {
            double total = 0;
            for (int r = 0; r < rows; r++) {
                total += ce[r] + zl[r];
            }
            v[0] = (float) total;
        } else {
            double total = sum(ce, 0, rows) / weightTotal;
            if (zLoss != 0) {
                total += sum(zl, 0, rows) / counted;
            }
            v[0] = counted == 0 ? Float.NaN : (float) total;
        }
    }

    /** Soft-target chunk statistics: softmax's, plus Σ w t z (in x), Σ w t, and Σ w z when smoothing. */
    private void softCeStats(float[] z, float[] t, float[] w, float[] o, int from, int to, int base, Stats st,
                             double[] wt, double[] wz, int i) {
        softStats(z, o, from, to, st.m, st.s, i);
        st.x[i] = kernels.dot3Offset(w, base, t, z, from, to);
        wt[i] = kernels.dotOffset(w, base, t, from, to);
        if (wz.length != 0) {
            wz[i] = kernels.dotOffset(w, base, z, from, to);
        }
    }

    @Override
    protected void softCrossEntropyInto(CpuTensor logits, CpuTensor target, CpuTensor weights, Reduction reduction,
                                        float labelSmoothing, float zLoss, CpuTensor value, CpuTensor grad) {
        float[] z = logits.data();
        float[] t = target.data();
        float[] o = grad.data();
        int rows = logits.rows();
        int cols = logits.cols();
        int chunks = chunks(cols);
        float[] w;
        if (weights == null) {
            w = new float[cols];
            Arrays.fill(w, 1f);
        } else {
            w = weights.data();
        }
        double wSum = 0;
        for (float wc : w) {
            wSum += wc;
        }
        double eps = labelSmoothing;
        boolean smoothing = labelSmoothing > 0;
        double k = reduction == Reduction.MEAN ? 1.0 / rows : 1.0;
        int units = rows * chunks;
        Stats st = new Stats(units);
        double[] wt = new double[units];
        double[] wz = new double[smoothing ? units : 0];
        // statistics of every chunk (by units: the same chunks whether rows or chunks run in parallel)
        workers.forEach(units, byChunks(rows, chunks) ? unitGrain(units, CHUNK) : rowGrain(rows, cols) * chunks,
                (u0, u1) -> {
                    for (int u = u0; u < u1; u++) {
                        int from = chunkStart(u, chunks, cols);
                        softCeStats(z, t, w, o, from, chunkEnd(u, chunks, cols, from), (u / chunks) * cols, st, wt,
                                wz, u);
                    }
                });
        Stats rs = new Stats(rows);
        double[] loss = new double[rows];
        double[] swt = new double[rows];
        for (int r = 0; r < rows; r++) {
            int off = r * chunks;
            float m = max(st.m, off, chunks);
            double sum = sumExp(st.m, st.s, off, chunks, m);
            double lse = m + Math.log(sum);
            rs.m[r] = m;
            rs.s[r] = sum;
            rs.x[r] = lse;
            double wtz = 0;
            double wtSum = 0;
            double wzSum = 0;
            for (int c = off; c < off + chunks; c++) {
                wtz += st.x[c];
                wtSum += wt[c];
                if (smoothing) {
                    wzSum += wz[c];
                }
            }
            // t' = (1 - eps) t + eps / C: Σ w t' z and Σ w t'
            double a = (1 - eps) * wtz + (smoothing ? eps / cols * wzSum : 0);
            double b = (1 - eps) * wtSum + eps / cols * wSum;
            swt[r] = b;
            double l = -(a - lse * b);
            if (Double.isNaN(l) && Float.isFinite(m)) {
                l = softCrossEntropyTermByTerm(z, t, w, r * cols, cols, eps, lse);
            }
            if (zLoss != 0) {
                l += zLoss * lse * lse;
            }
            loss[r] = Float.isFinite(m) ? l : Double.NaN;
        }
        workers.forEach(units, byChunks(rows, chunks) ? unitGrain(units, CHUNK) : rowGrain(rows, cols) * chunks,
                (u0, u1) -> {
                    for (int u = u0; u < u1; u++) {
                        int r = u / chunks;
                        int from = chunkStart(u, chunks, cols);
                        int to = chunkEnd(u, chunks, cols, from);
                        if (!Float.isFinite(rs.m[r])) {
                            Arrays.fill(o, from, to, Float.NaN);
                            continue;
                        }
                        double a = k * swt[r] + k * 2 * zLoss * rs.x[r];
                        kernels.softTargetWrite(w, r * cols, t, from, to, (float) (a * probScale(st, u, rs, r)),
                                (float) k, (float) (1 - eps), (float) (eps / cols), o);
                    }
                });
        float[] v = value.data();
        if (reduction == Reduction.NONE) {
            for (int r = 0; r < rows; r++) {
                v[r] = (float) loss[r];
            }
        } else {
            v[0] = (float) (sum(loss, 0, rows) * k);
        }
    }

    /**
     * One row of soft-target cross-entropy summed term by term, {@code -Σ (z - lse) t' w}, as PyTorch composes it:
     * the slow path for a row whose fused sums came out NaN from a {@code 0 · -inf} (a -inf logit where the target
     * is 0), which is +inf once label smoothing makes every target positive, and NaN without smoothing.
     */
    private static double softCrossEntropyTermByTerm(float[] z, float[] t, float[] w, int off, int cols, double eps,
                                                     double lse) {
        double sum = 0;
        for (int c = 0; c < cols; c++) {
            float smoothed = (float) ((1 - eps) * t[off + c] + eps / cols);
            sum += ((double) z[off + c] - lse) * smoothed * w[c];
        }
        return -sum;
    }

    // ---- two-distribution losses: jsd and symmetric KL --------------------------------------------------
    // F = softmax(f), G = softmax(g); the gradients of both logits are written, their outputs holding the exps of
    // F and G in between. KL (jsd with beta 0 or 1): one statistics pass (maxima, Σ exp stored, Σ e_F (f̃ - g̃)), then
    // one pass that writes both gradients. Symmetric KL: the same, plus Σ e_G (g̃ - f̃). Generalized JSD: a
    // statistics pass (maxima, Σ exp stored), a pass that turns the stored exps into probabilities and stores log M
    // in a scratch row (the only log per element), one that sums F log(F/M) and G log(G/M), then the write pass.
    // The later passes read what the earlier ones wrote for the same row, from cache while a row fits in L2.

    private static final int PAIR_KL = 0;
    private static final int PAIR_SYM = 1;
    private static final int PAIR_JSD = 2;

    /** Chunk statistics of two logits: maxima, sums of exp (stored), and two more sums (a = ab[2i], b = ab[2i+1]). */
    private static final class TwoStats {
        final float[] mf;
        final float[] mg;
        final double[] sf;
        final double[] sg;
        final double[] ab;

        TwoStats(int n) {
            mf = new float[n];
            mg = new float[n];
            sf = new double[n];
            sg = new double[n];
            ab = new double[2 * n];
        }
    }

    /** Row statistics: maxima, sums of exp (NaN when a maximum is not finite), and the two row divergences. */
    private static final class TwoRows {
        final float[] mf;
        final float[] mg;
        final double[] sf;
        final double[] sg;
        final double[] kf;
        final double[] kg;

        TwoRows(int n) {
            mf = new float[n];
            mg = new float[n];
            sf = new double[n];
            sg = new double[n];
            kf = new double[n];
            kg = new double[n];
        }
    }

    /** Σ e_a ((a - ma) - (b - mb)) over a chunk whose exps of a are in w (0 when a is all -inf there). */
    private double chunkDiff(float[] w, float[] a, float ma, float[] b, float mb, int from, int to) {
        if (!Float.isFinite(ma)) {
            return 0;
        }
        return Float.isFinite(mb) ? kernels.weightedDiff(w, a, ma, b, mb, from, to)
                : mb == Float.NEGATIVE_INFINITY ? Double.POSITIVE_INFINITY : Double.NaN;
    }

    /** Chunk i: maxima, exps stored in of and og with their sums, and (KL, SYM) the weighted differences. */
    private void twoStats(float[] f, float[] g, float[] of, float[] og, int from, int to, int mode, TwoStats st,
                          int i) {
        softStats(f, of, from, to, st.mf, st.sf, i);
        softStats(g, og, from, to, st.mg, st.sg, i);
        float mf = st.mf[i];
        float mg = st.mg[i];
        if (mode != PAIR_JSD) {
            st.ab[2 * i] = chunkDiff(of, f, mf, g, mg, from, to);
            if (mode == PAIR_SYM) {
                st.ab[2 * i + 1] = chunkDiff(og, g, mg, f, mf, from, to);
            }
        }
    }

    /** Combines row r's chunks [off, off + chunks): maxima, sums, and (KL, SYM) KL(F || G), KL(G || F). */
    private static void twoCombine(TwoStats st, int off, int chunks, int mode, TwoRows rows, int r) {
        float mf = max(st.mf, off, chunks);
        float mg = max(st.mg, off, chunks);
        rows.mf[r] = mf;
        rows.mg[r] = mg;
        if (!Float.isFinite(mf) || !Float.isFinite(mg)) {
            rows.sf[r] = Double.NaN;
            rows.sg[r] = Double.NaN;
            rows.kf[r] = Double.NaN;
            rows.kg[r] = Double.NaN;
            return;
        }
        double sf = 0;
        double sg = 0;
        double a = 0;
        double b = 0;
        for (int c = off; c < off + chunks; c++) {
            double df = (double) st.mf[c] - mf;
            double dg = (double) st.mg[c] - mg;
            if (st.mf[c] != Float.NEGATIVE_INFINITY) {
                double w = df == 0 ? 1.0 : Math.exp(df);
                sf += w * st.sf[c];
                if (mode != PAIR_JSD) {
                    a += w * (st.ab[2 * c] + (df - dg) * st.sf[c]);
                }
            }
            if (st.mg[c] != Float.NEGATIVE_INFINITY) {
                double w = dg == 0 ? 1.0 : Math.exp(dg);
                sg += w * st.sg[c];
                if (mode == PAIR_SYM) {
                    b += w * (st.ab[2 * c + 1] + (dg - df) * st.sg[c]);
                }
            }
        }
        rows.sf[r] = sf;
        rows.sg[r] = sg;
        double lf = Math.log(sf);
        double lg = Math.log(sg);
        rows.kf[r] = a / sf - lf + lg;
        rows.kg[r] = b / sg - lg + lf;
    }

    /** The scale that turns a chunk's stored exps (chunk maximum m) into probabilities. */
    private static float twoScale(float m, float rowMax, double rowSum) {
        if (m == Float.NEGATIVE_INFINITY) {
            return 0f;
        }
        return (float) ((m == rowMax ? 1.0 : Math.exp((double) m - rowMax)) / rowSum);
    }

    /**
     * JSD: chunk c's probabilities stored, log M into lm (at i - lmOff), its sums F log(F/M), G log(G/M) into st.ab.
     * Two kernels: one loop with the log and one with the sums would not fit one C2 compilation (see Kernels).
     */
    private void jsdChunkSums(float[] f, float[] g, float[] of, float[] og, int from, int to, float beta, TwoStats st,
                              int c, TwoRows rows, int r, float[] lm, int lmOff) {
        if (Double.isNaN(rows.sf[r])) {
            return;
        }
        kernels.jsdMix(from, to, twoScale(st.mf[c], rows.mf[r], rows.sf[r]),
                twoScale(st.mg[c], rows.mg[r], rows.sg[r]), beta, 1f - beta, of, og, lm, lmOff);
        kernels.jsdSums(f, rows.mf[r], (float) Math.log(rows.sf[r]), g, rows.mg[r], (float) Math.log(rows.sg[r]),
                from, to, lm, lmOff, of, og, st.ab, 2 * c);
    }

    /** JSD: row r's KL(P || M) and KL(Q || M) from its chunks' sums, in chunk order. */
    private static void jsdCombine(TwoStats st, int off, int chunks, TwoRows rows, int r) {
        if (Double.isNaN(rows.sf[r])) {
            return;
        }
        double a = 0;
        double b = 0;
        for (int c = off; c < off + chunks; c++) {
            a += st.ab[2 * c];
            b += st.ab[2 * c + 1];
        }
        rows.kf[r] = a;
        rows.kg[r] = b;
    }

    /** Writes both gradients of one chunk (k = 1 / divisor). */
    private void twoWrite(float[] f, float[] g, float[] of, float[] og, int from, int to, int mode, float beta, float k,
                          TwoStats st, int c, TwoRows rows, int r, float[] lm, int lmOff) {
        if (Double.isNaN(rows.sf[r])) {
            Arrays.fill(of, from, to, Float.NaN);
            Arrays.fill(og, from, to, Float.NaN);
            return;
        }
        double lf = Math.log(rows.sf[r]);
        double lg = Math.log(rows.sg[r]);
        if (mode == PAIR_JSD) {
            kernels.jsdWrite(f, rows.mf[r], (float) lf, g, rows.mg[r], (float) lg, from, to, lm, lmOff, k * beta, (float) rows.kf[r], k * (1f - beta), (float) rows.kg[r], of, og);
            return;
        }
        float scF = twoScale(st.mf[c], rows.mf[r], rows.sf[r]);
        float scG = twoScale(st.mg[c], rows.mg[r], rows.sg[r]);
        if (mode == PAIR_KL) {
            kernels.klPairWrite(f, rows.mf[r], g, rows.mg[r], from, to, (float) (lg - lf - rows.kf[r]), scF, scG, k,
                    k, of, og);
        } else {
            kernels.symKlWrite(f, rows.mf[r], g, rows.mg[r], from, to, (float) (lg - lf), scF, scG,
                    (float) (1 - rows.kf[r]), (float) (1 - rows.kg[r]), k, of, og);
        }
    }

    private static double twoLoss(int mode, float beta, TwoRows rows, int r) {
        if (mode == PAIR_KL) {
            return rows.kf[r];
        }
        if (mode == PAIR_SYM) {
            return rows.kf[r] + rows.kg[r];
        }
        return Double.isNaN(rows.sf[r]) ? Double.NaN : beta * rows.kf[r] + (1 - (double) beta) * rows.kg[r];
    }

    /** Row losses into loss[], both gradients (of Σ rows times k) into of and og; rows or chunks in parallel. */
    private void twoLosses(float[] f, float[] g, float[] of, float[] og, int rows, int cols, int mode, float beta,
                           float k, double[] loss) {
        int chunks = chunks(cols);
        if (!byChunks(rows, chunks)) {
            workers.forEach(rows, rowGrain(rows, cols), (r0, r1) -> {
                TwoStats st = new TwoStats(chunks);
                TwoRows rs = new TwoRows(1);
                float[] lm = mode == PAIR_JSD ? new float[cols] : null; // log M of the row
                for (int r = r0; r < r1; r++) {
                    int base = r * cols;
                    int end = base + cols;
                    for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                        twoStats(f, g, of, og, from, from + Math.min(CHUNK, end - from), mode, st, c);
                    }
                    twoCombine(st, 0, chunks, mode, rs, 0);
                    if (mode == PAIR_JSD) {
                        for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                            jsdChunkSums(f, g, of, og, from, from + Math.min(CHUNK, end - from), beta, st, c, rs, 0, lm,
                                    base);
                        }
                        jsdCombine(st, 0, chunks, rs, 0);
                    }
                    for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                        twoWrite(f, g, of, og, from, from + Math.min(CHUNK, end - from), mode, beta, k, st, c, rs, 0, lm,
                                base);
                    }
                    loss[r] = twoLoss(mode, beta, rs, 0);
                }
            });
            return;
        }
        int units = rows * chunks;
        int grain = unitGrain(units, CHUNK);
        TwoStats st = new TwoStats(units);
        workers.forEach(units, grain, (u0, u1) -> {
            for (int u = u0; u < u1; u++) {
                int from = chunkStart(u, chunks, cols);
                twoStats(f, g, of, og, from, chunkEnd(u, chunks, cols, from), mode, st, u);
            }
        });
        TwoRows rs = new TwoRows(rows);
        for (int r = 0; r < rows; r++) {
            twoCombine(st, r * chunks, chunks, mode, rs, r);
        }
        float[] lm = mode == PAIR_JSD ? arrays.take(rows * cols) : null; // log M of every row
        if (mode == PAIR_JSD) {
            workers.forEach(units, grain, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int from = chunkStart(u, chunks, cols);
                    jsdChunkSums(f, g, of, og, from, chunkEnd(u, chunks, cols, from), beta, st, u, rs, u / chunks, lm,
                            0);
                }
            });
            for (int r = 0; r < rows; r++) {
                jsdCombine(st, r * chunks, chunks, rs, r);
            }
        }
        workers.forEach(units, grain, (u0, u1) -> {
            for (int u = u0; u < u1; u++) {
                int from = chunkStart(u, chunks, cols);
                twoWrite(f, g, of, og, from, chunkEnd(u, chunks, cols, from), mode, beta, k, st, u, rs, u / chunks,
                        lm, 0);
            }
        });
        if (lm != null) {
            arrays.give(lm);
        }
        for (int r = 0; r < rows; r++) {
            loss[r] = twoLoss(mode, beta, rs, r);
        }
    }

    /**
     * Liger's generalized JSD, P = softmax(teacher), Q = softmax(student): beta 0 is KL(P || Q), beta 1 KL(Q || P),
     * else beta KL(P || M) + (1 - beta) KL(Q || M) with M = beta P + (1 - beta) Q.
     */
    @Override
    protected void jsdInto(CpuTensor student, CpuTensor teacher, float beta, boolean perRow, float divisor,
                           CpuTensor value, CpuTensor gradStudent, CpuTensor gradTeacher) {
        float[] s = student.data();
        float[] t = teacher.data();
        float[] gs = gradStudent.data();
        float[] gt = gradTeacher.data();
        int rows = student.rows();
        int cols = student.cols();
        double[] loss = new double[rows];
        float k = 1f / divisor;
        if (beta == 1f) {
            twoLosses(s, t, gs, gt, rows, cols, PAIR_KL, beta, k, loss); // F = Q
        } else {
            twoLosses(t, s, gt, gs, rows, cols, beta == 0f ? PAIR_KL : PAIR_JSD, beta, k, loss); // F = P
        }
        writeLoss(value, loss, rows, perRow, divisor);
    }

    @Override
    protected void symmetricKlInto(CpuTensor p, CpuTensor q, boolean perRow, float divisor, CpuTensor value,
                                   CpuTensor gradP, CpuTensor gradQ) {
        int rows = p.rows();
        double[] loss = new double[rows];
        twoLosses(p.data(), q.data(), gradP.data(), gradQ.data(), rows, p.cols(), PAIR_SYM, 0f, 1f / divisor, loss);
        writeLoss(value, loss, rows, perRow, divisor);
    }

    /** Entropy chunk statistics: softmax's, plus Σ e (z - m) over the entries with e != 0. */
    private void entropyStats(float[] z, float[] o, int from, int to, Stats st, int i) {
        softStats(z, o, from, to, st.m, st.s, i);
        st.x[i] = Float.isFinite(st.m[i]) ? kernels.weightedOffset(o, z, st.m[i], from, to) : 0;
    }

    /** Row r's entropy H = log S - Σ p (z - M), into rows.x[r] (NaN when the max is not finite). */
    private static void entropyCombine(Stats st, int off, int chunks, Stats rows, int r) {
        float m = max(st.m, off, chunks);
        double sum = sumExp(st.m, st.s, off, chunks, m);
        rows.m[r] = m;
        rows.s[r] = sum;
        if (!Float.isFinite(m)) {
            rows.x[r] = Double.NaN;
            return;
        }
        double a = 0;
        for (int c = off; c < off + chunks; c++) {
            if (st.m[c] != Float.NEGATIVE_INFINITY) {
                double d = (double) st.m[c] - m;
                a += (d == 0 ? 1.0 : Math.exp(d)) * (st.x[c] + d * st.s[c]);
            }
        }
        rows.x[r] = Math.log(sum) - a / sum;
    }

    /** dH/dz = -p (log p + H), scaled by 1 / divisor. */
    private void entropyWrite(float[] z, float[] o, int from, int to, float k, Stats st, int c, Stats rows, int r) {
        if (!Float.isFinite(rows.m[r])) {
            Arrays.fill(o, from, to, Float.NaN);
            return;
        }
        float c0 = (float) (rows.x[r] - Math.log(rows.s[r]));
        kernels.xlogyGrad(z, rows.m[r], from, to, c0, probScale(st, c, rows, r), k, o);
    }

    @Override
    protected void entropyInto(CpuTensor logits, boolean perRow, float divisor, CpuTensor value, CpuTensor grad) {
        float[] z = logits.data();
        float[] o = grad.data();
        int rows = logits.rows();
        int cols = logits.cols();
        int chunks = chunks(cols);
        float k = -1f / divisor;
        double[] loss = new double[rows];
        if (!byChunks(rows, chunks)) {
            workers.forEach(rows, rowGrain(rows, cols), (r0, r1) -> {
                Stats st = new Stats(chunks);
                Stats rs = new Stats(1);
                for (int r = r0; r < r1; r++) {
                    int base = r * cols;
                    int end = base + cols;
                    for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                        entropyStats(z, o, from, from + Math.min(CHUNK, end - from), st, c);
                    }
                    entropyCombine(st, 0, chunks, rs, 0);
                    for (int c = 0, from = base; c < chunks; c++, from += CHUNK) {
                        entropyWrite(z, o, from, from + Math.min(CHUNK, end - from), k, st, c, rs, 0);
                    }
                    loss[r] = rs.x[0];
                }
            });
        } else {
            int units = rows * chunks;
            int grain = unitGrain(units, CHUNK);
            Stats st = new Stats(units);
            workers.forEach(units, grain, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int from = chunkStart(u, chunks, cols);
                    entropyStats(z, o, from, chunkEnd(u, chunks, cols, from), st, u);
                }
            });
            Stats rs = new Stats(rows);
            for (int r = 0; r < rows; r++) {
                entropyCombine(st, r * chunks, chunks, rs, r);
                loss[r] = rs.x[r];
            }
            workers.forEach(units, grain, (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int from = chunkStart(u, chunks, cols);
                    entropyWrite(z, o, from, chunkEnd(u, chunks, cols, from), k, st, u, rs, u / chunks);
                }
            });
        }
        writeLoss(value, loss, rows, perRow, divisor);
    }

    /** A sum over a chunk that also writes that chunk's outputs. */
    private interface ChunkSum {
        double apply(int from, int to);
    }

    /** loss[r] = Σ over row r's chunks (in chunk order, in double) of op; rows or chunks in parallel. */
    private void rowChunkSums(int rows, int cols, double[] loss, ChunkSum op) {
        int chunks = chunks(cols);
        if (!byChunks(rows, chunks)) {
            workers.forEach(rows, rowGrain(rows, cols), (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    int base = r * cols;
                    int end = base + cols;
                    double s = 0;
                    for (int from = base; from < end; from += CHUNK) {
                        s += op.apply(from, from + Math.min(CHUNK, end - from));
                    }
                    loss[r] = s;
                }
            });
        } else {
            int units = rows * chunks;
            double[] partials = new double[units];
            workers.forEach(units, unitGrain(units, CHUNK), (u0, u1) -> {
                for (int u = u0; u < u1; u++) {
                    int from = chunkStart(u, chunks, cols);
                    partials[u] = op.apply(from, chunkEnd(u, chunks, cols, from));
                }
            });
            for (int r = 0; r < rows; r++) {
                loss[r] = sum(partials, r * chunks, chunks);
            }
        }
    }

    private static final double LN2 = Math.log(2);

    @Override
    protected void kerasKlInto(CpuTensor yTrue, CpuTensor yPred, boolean bits, boolean perRow, float divisor,
                               CpuTensor value, CpuTensor gradPred) {
        float[] t = yTrue.data();
        float[] q = yPred.data();
        float[] o = gradPred.data();
        int rows = yTrue.rows();
        double[] loss = new double[rows];
        float k = (float) ((bits ? 1 / LN2 : 1.0) / divisor);
        rowChunkSums(rows, yTrue.cols(), loss, (from, to) -> kernels.kerasKl(t, q, from, to, k, o));
        if (bits) {
            for (int r = 0; r < rows; r++) {
                loss[r] /= LN2;
            }
        }
        writeLoss(value, loss, rows, perRow, divisor);
    }

    @Override
    protected void gaussianKlInto(CpuTensor mu1, CpuTensor logvar1, CpuTensor mu2, CpuTensor logvar2, boolean perRow,
                                  float divisor, CpuTensor value, CpuTensor gradMu1, CpuTensor gradLogvar1,
                                  CpuTensor gradMu2, CpuTensor gradLogvar2) {
        float[] m1 = mu1.data();
        float[] v1 = logvar1.data();
        float[] m2 = mu2 == null ? null : mu2.data();
        float[] v2 = logvar2 == null ? null : logvar2.data();
        float[] g1 = gradMu1.data();
        float[] h1 = gradLogvar1.data();
        float[] g2 = gradMu2 == null ? null : gradMu2.data();
        float[] h2 = gradLogvar2 == null ? null : gradLogvar2.data();
        int rows = mu1.rows();
        double[] loss = new double[rows];
        float k = 1f / divisor;
        rowChunkSums(rows, mu1.cols(), loss, (from, to) -> kernels.gaussianKl(m1, v1, m2, v2, from, to, k, g1, h1, g2,
                h2));
        writeLoss(value, loss, rows, perRow, divisor);
    }

    /** value[r] = loss[r] when perRow, else Σ loss (in row order, double) / divisor. */
    private static void writeLoss(CpuTensor value, double[] loss, int rows, boolean perRow, float divisor) {
        float[] v = value.data();
        if (perRow) {
            for (int r = 0; r < rows; r++) {
                v[r] = (float) loss[r];
            }
        } else {
            v[0] = (float) (sum(loss, 0, rows) / divisor);
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
        SoftCap.forward(workers, x.data(), out.data(), Math.toIntExact(x.size()), cap);
    }

    @Override
    protected void softCapBackwardInto(CpuTensor capped, CpuTensor grad, float cap) {
        SoftCap.backward(workers, capped.data(), grad.data(), Math.toIntExact(capped.size()), cap);
    }
}
