package dev.kullback.bench;

import dev.kullback.Device;
import dev.kullback.Labels;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import dev.kullback.cpu.CpuDevice;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * One op on one shape for one contender, ready to run: everything (inputs, outputs, labels, pools, threads) is made
 * by {@link #create}, so {@link #run()} is only the measured work.
 *
 * <ul>
 * <li><b>kullback</b>: the CPU device ({@code new CpuDevice(threads)}); every result is closed in the loop, so its
 *     arrays come back from the device's pool and the loop allocates nothing.</li>
 * <li><b>pytorch</b>: libtorch's CPU kernels (org.bytedeco:pytorch) with {@code torch.set_num_threads(threads)}:
 *     {@code log_softmax_out} into a preallocated output; {@code kl_div(input, target, sum) / rows} (batchmean, as
 *     torch.nn.functional does; no out variant); distillation as users write it, {@code kl_div(log_softmax(s / T),
 *     log_softmax(t / T), sum, log_target=True) / rows * T²} then {@code backward()} on a fresh leaf (the gradient
 *     is set, not accumulated); {@code cross_entropy(x, labels)} then {@code backward()}.</li>
 * <li><b>bound</b>: what the machine's memory allows for the same bytes on the same threads:
 *     {@code System.arraycopy} of half the op's bytes (so as many bytes read + written), or for a reduction a
 *     vectorized streaming read of the op's bytes.</li>
 * <li><b>fallback</b>: kullback's CPU device on its scalar kernels ({@code new CpuDevice(threads, false)}), what a
 *     program gets without {@code --add-modules jdk.incubator.vector}.</li>
 * <li><b>scalar</b>: the loop a user would write, plain Java with {@code Math.exp}/{@code Math.log}, rows split
 *     across the same threads.</li>
 * </ul>
 */
abstract class Workloads implements AutoCloseable {
    static final float TEMPERATURE = 2f;
    static volatile double sink;

    abstract void run();

    @Override
    public void close() {
    }

    static Workloads create(String op, String shape, String contender, int threads) {
        int rows = BenchConfig.rows(shape);
        int cols = BenchConfig.cols(shape);
        switch (contender) {
            case "kullback":
                return new Kullback(op, rows, cols, threads);
            case "fallback":
                return new Kullback(op, rows, cols, new CpuDevice(threads, false), true);
            case "pytorch":
                return new Torch(op, rows, cols, threads);
            case "bound":
                return new Bound(op, BenchConfig.bytes(op, shape), threads);
            case "scalar":
                return new Scalar(op, rows, cols, threads);
            case "kullback-f32": // HalfBench's names
                return new Kullback(op, rows, cols, threads);
            case "kullback-bf16":
                return new HalfBench.KullbackHalf(op, rows, cols, new CpuDevice(threads));
            case "pytorch-bf16":
                return new HalfBench.TorchHalf(op, rows, cols, threads);
            default:
                throw new IllegalArgumentException("unknown contender " + contender);
        }
    }

    /** Logits in [-4, 4), the same for every contender (seeded). */
    static float[] logits(int rows, int cols, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextDouble() * 8 - 4);
        }
        return x;
    }

    static int[] labels(int rows, int cols) {
        SplittableRandom random = new SplittableRandom(3);
        int[] labels = new int[rows];
        for (int r = 0; r < rows; r++) {
            labels[r] = random.nextInt(cols);
        }
        return labels;
    }

    /** klDiv's inputs: log-probabilities (input) and probabilities (target), as arrays. */
    static float[][] klInputs(int rows, int cols) {
        try (CpuDevice device = new CpuDevice(1);
             Tensor a = device.upload(logits(rows, cols, 1), rows, cols);
             Tensor b = device.upload(logits(rows, cols, 2), rows, cols);
             Tensor logQ = device.logSoftmax(a);
             Tensor p = device.softmax(b)) {
            return new float[][] {logQ.toArray(), p.toArray()};
        }
    }

    // ---- kullback -------------------------------------------------------------------------------------------

    static final class Kullback extends Workloads {
        private final Device device;
        private final boolean ownsDevice;
        private final Runnable work;

        Kullback(String op, int rows, int cols, int threads) {
            this(op, rows, cols, new CpuDevice(threads), true);
        }

        /** On {@code device} (the GPU suite's CUDA device); closes it on {@link #close()} when {@code ownsDevice}. */
        Kullback(String op, int rows, int cols, Device device, boolean ownsDevice) {
            this.device = device;
            this.ownsDevice = ownsDevice;
            switch (op) {
                case "logSoftmax": {
                    Tensor x = device.upload(logits(rows, cols, 1), rows, cols);
                    work = () -> device.logSoftmax(x).close();
                    break;
                }
                case "klDiv": {
                    float[][] in = klInputs(rows, cols);
                    Tensor logQ = device.upload(in[0], rows, cols);
                    Tensor p = device.upload(in[1], rows, cols);
                    work = () -> device.klDiv(logQ, p, Reduction.BATCHMEAN, false).close();
                    break;
                }
                // the GPU suite's further ops (ci/gpu.sh): softmax, the log-softmax and kl_div gradients
                case "softmax": {
                    Tensor x = device.upload(logits(rows, cols, 1), rows, cols);
                    work = () -> device.softmax(x).close();
                    break;
                }
                case "logSoftmaxBackward": {
                    Tensor g = device.upload(logits(rows, cols, 2), rows, cols);
                    Tensor y = device.logSoftmax(device.upload(logits(rows, cols, 1), rows, cols));
                    work = () -> device.logSoftmaxBackward(g, y).close();
                    break;
                }
                case "klDivBackward": {
                    float[][] in = klInputs(rows, cols);
                    Tensor logQ = device.upload(in[0], rows, cols);
                    Tensor p = device.upload(in[1], rows, cols);
                    Tensor one = device.upload(new float[] {1f}, 1, 1);
                    work = () -> device.klDivBackward(one, logQ, p, Reduction.BATCHMEAN, false).close();
                    break;
                }
                case "distillation": {
                    Tensor s = device.upload(logits(rows, cols, 1), rows, cols);
                    Tensor t = device.upload(logits(rows, cols, 2), rows, cols);
                    work = () -> device.distillationKl(s, t, TEMPERATURE).close();
                    break;
                }
                case "crossEntropy": {
                    Tensor x = device.upload(logits(rows, cols, 1), rows, cols);
                    Labels y = device.uploadLabels(labels(rows, cols));
                    work = () -> device.crossEntropy(x, y).close();
                    break;
                }
                default:
                    throw new IllegalArgumentException("unknown op " + op);
            }
        }

        @Override
        void run() {
            work.run();
        }

        @Override
        public void close() {
            if (ownsDevice) {
                device.close();
            }
        }
    }

    // ---- PyTorch --------------------------------------------------------------------------------------------

    static final class Torch extends Workloads {
        private final Runnable work;

        Torch(String op, int rows, int cols, int threads) {
            torch.set_num_threads(threads);
            long sum = torch.Reduction.Sum.value;
            org.bytedeco.pytorch.Scalar divRows = new org.bytedeco.pytorch.Scalar((double) rows);
            switch (op) {
                case "logSoftmax": {
                    org.bytedeco.pytorch.Tensor x = tensor(logits(rows, cols, 1), rows, cols);
                    org.bytedeco.pytorch.Tensor out = tensor(new float[rows * cols], rows, cols);
                    work = () -> {
                        try (PointerScope scope = new PointerScope()) {
                            torch.log_softmax_out(out, x, 1);
                        }
                    };
                    break;
                }
                case "klDiv": {
                    float[][] in = klInputs(rows, cols);
                    org.bytedeco.pytorch.Tensor logQ = tensor(in[0], rows, cols);
                    org.bytedeco.pytorch.Tensor p = tensor(in[1], rows, cols);
                    work = () -> {
                        try (PointerScope scope = new PointerScope()) {
                            sink = torch.kl_div(logQ, p, sum, false).div(divRows).item_float();
                        }
                    };
                    break;
                }
                case "distillation": {
                    org.bytedeco.pytorch.Tensor s = tensor(logits(rows, cols, 1), rows, cols);
                    org.bytedeco.pytorch.Tensor t = tensor(logits(rows, cols, 2), rows, cols);
                    org.bytedeco.pytorch.Scalar temperature = new org.bytedeco.pytorch.Scalar((double) TEMPERATURE);
                    org.bytedeco.pytorch.Scalar t2 = new org.bytedeco.pytorch.Scalar(
                            (double) TEMPERATURE * TEMPERATURE);
                    work = () -> {
                        try (PointerScope scope = new PointerScope()) {
                            org.bytedeco.pytorch.Tensor student = s.detach();   // a fresh leaf: grad set, not added
                            student.set_requires_grad(true);
                            org.bytedeco.pytorch.Tensor logQ = torch.log_softmax(student.div(temperature), 1);
                            org.bytedeco.pytorch.Tensor logP = torch.log_softmax(t.div(temperature), 1);
                            org.bytedeco.pytorch.Tensor loss = torch.kl_div(logQ, logP, sum, true).div(divRows)
                                    .mul(t2);
                            loss.backward();
                            sink = student.grad().numel();
                        }
                    };
                    break;
                }
                case "crossEntropy": {
                    org.bytedeco.pytorch.Tensor x = tensor(logits(rows, cols, 1), rows, cols);
                    int[] y = labels(rows, cols);
                    org.bytedeco.pytorch.Tensor labels = torch.empty(new long[] {rows},
                            new TensorOptions(torch.ScalarType.Long), new MemoryFormatOptional());
                    for (int r = 0; r < rows; r++) {
                        labels.data_ptr_long().put(r, y[r]);
                    }
                    long mean = torch.Reduction.Mean.value;
                    work = () -> {
                        try (PointerScope scope = new PointerScope()) {
                            org.bytedeco.pytorch.Tensor logits = x.detach();
                            logits.set_requires_grad(true);
                            org.bytedeco.pytorch.Tensor loss = torch.cross_entropy_loss(logits, labels,
                                    new TensorOptional(), mean, -100, 0.0);
                            loss.backward();
                            sink = logits.grad().numel();
                        }
                    };
                    break;
                }
                default:
                    throw new IllegalArgumentException("unknown op " + op);
            }
        }

        @Override
        void run() {
            work.run();
        }

        static org.bytedeco.pytorch.Tensor tensor(float[] data, int rows, int cols) {
            org.bytedeco.pytorch.Tensor t = torch.empty(new long[] {rows, cols},
                    new TensorOptions(torch.ScalarType.Float), new MemoryFormatOptional());
            t.data_ptr_float().put(data, 0, data.length);
            return t;
        }
    }

    // ---- the machine's bound --------------------------------------------------------------------------------

    static final class Bound extends Workloads {
        private final Parallel parallel;
        private final Runnable work;

        Bound(String op, double bytes, int threads) {
            parallel = new Parallel(threads);
            if (BenchConfig.reducesOnly(op)) {
                float[] a = logits(1, (int) (bytes / 4), 5);
                double[] partial = new double[threads];
                work = () -> {
                    parallel.forRange(a.length, (from, to) -> sink = streamingRead(a, from, to));
                };
            } else {
                int n = (int) (bytes / 8);
                float[] src = logits(1, n, 5);
                float[] dst = new float[n];
                work = () -> parallel.forRange(n, (from, to) -> System.arraycopy(src, from, dst, from, to - from));
            }
        }

        @Override
        void run() {
            work.run();
        }

        @Override
        public void close() {
            parallel.close();
        }
    }

    /**
     * A streaming read of a[from, to): full-width vector loads into four independent accumulators, so that memory,
     * not the adds' latency nor the loads' width, is the limit (a scalar loop is not: kullback's vector klDiv beat it).
     */
    static float streamingRead(float[] a, int from, int to) {
        VectorSpecies<Float> species = FloatVector.SPECIES_PREFERRED;
        int l = species.length();
        FloatVector s0 = FloatVector.zero(species);
        FloatVector s1 = s0;
        FloatVector s2 = s0;
        FloatVector s3 = s0;
        int i = from;
        for (; i <= to - 4 * l; i += 4 * l) {
            s0 = s0.add(FloatVector.fromArray(species, a, i));
            s1 = s1.add(FloatVector.fromArray(species, a, i + l));
            s2 = s2.add(FloatVector.fromArray(species, a, i + 2 * l));
            s3 = s3.add(FloatVector.fromArray(species, a, i + 3 * l));
        }
        float s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        for (; i < to; i++) {
            s += a[i];
        }
        return s;
    }

    // ---- the scalar loop a user would write ------------------------------------------------------------------

    static final class Scalar extends Workloads {
        private final Parallel parallel;
        private final Runnable work;

        Scalar(String op, int rows, int cols, int threads) {
            parallel = new Parallel(threads);
            double[] rowLoss = new double[rows];
            switch (op) {
                case "logSoftmax": {
                    float[] x = logits(rows, cols, 1);
                    float[] y = new float[x.length];
                    work = () -> parallel.forRange(rows, (from, to) -> {
                        for (int r = from; r < to; r++) {
                            int o = r * cols;
                            float lse = logSumExp(x, o, cols, 1f);
                            for (int j = 0; j < cols; j++) {
                                y[o + j] = x[o + j] - lse;
                            }
                        }
                    });
                    break;
                }
                case "klDiv": {
                    float[][] in = klInputs(rows, cols);
                    float[] input = in[0];
                    float[] target = in[1];
                    work = () -> {
                        parallel.forRange(rows, (from, to) -> {
                            for (int r = from; r < to; r++) {
                                int o = r * cols;
                                double sum = 0;
                                for (int j = 0; j < cols; j++) {
                                    float t = target[o + j];
                                    sum += (t == 0 ? 0 : t * Math.log(t)) - t * input[o + j];
                                }
                                rowLoss[r] = sum;
                            }
                        });
                        sink = total(rowLoss) / rows;
                    };
                    break;
                }
                case "distillation": {
                    float[] s = logits(rows, cols, 1);
                    float[] t = logits(rows, cols, 2);
                    float[] grad = new float[s.length];
                    float invT = 1 / TEMPERATURE;
                    float scale = TEMPERATURE / rows; // d(T² KL / rows)/ds = T (q - p) / rows
                    work = () -> {
                        parallel.forRange(rows, (from, to) -> {
                            for (int r = from; r < to; r++) {
                                int o = r * cols;
                                float lseS = logSumExp(s, o, cols, invT);
                                float lseT = logSumExp(t, o, cols, invT);
                                double kl = 0;
                                for (int j = 0; j < cols; j++) {
                                    float logQ = s[o + j] * invT - lseS;
                                    float logP = t[o + j] * invT - lseT;
                                    float p = (float) Math.exp(logP);
                                    float q = (float) Math.exp(logQ);
                                    kl += p * (logP - logQ);
                                    grad[o + j] = scale * (q - p);
                                }
                                rowLoss[r] = kl;
                            }
                        });
                        sink = total(rowLoss) * TEMPERATURE * TEMPERATURE / rows;
                    };
                    break;
                }
                case "crossEntropy": {
                    float[] x = logits(rows, cols, 1);
                    int[] y = labels(rows, cols);
                    float[] grad = new float[x.length];
                    float inv = 1f / rows;
                    work = () -> {
                        parallel.forRange(rows, (from, to) -> {
                            for (int r = from; r < to; r++) {
                                int o = r * cols;
                                float lse = logSumExp(x, o, cols, 1f);
                                for (int j = 0; j < cols; j++) {
                                    grad[o + j] = (float) Math.exp(x[o + j] - lse) * inv;
                                }
                                grad[o + y[r]] -= inv;
                                rowLoss[r] = lse - x[o + y[r]];
                            }
                        });
                        sink = total(rowLoss) / rows;
                    };
                    break;
                }
                default:
                    throw new IllegalArgumentException("unknown op " + op);
            }
        }

        /** log Σ exp(scale · x) over x[o, o + cols), after the row's maximum, as users write it. */
        private static float logSumExp(float[] x, int o, int cols, float scale) {
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < cols; j++) {
                max = Math.max(max, x[o + j] * scale);
            }
            double sum = 0;
            for (int j = 0; j < cols; j++) {
                sum += Math.exp(x[o + j] * scale - max);
            }
            return (float) (max + Math.log(sum));
        }

        private static double total(double[] values) {
            double sum = 0;
            for (double v : values) {
                sum += v;
            }
            return sum;
        }

        @Override
        void run() {
            work.run();
        }

        @Override
        public void close() {
            parallel.close();
        }
    }
}
