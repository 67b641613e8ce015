package dev.kullback.bench;

import dev.kullback.DType;
import dev.kullback.Device;
import dev.kullback.Labels;
import dev.kullback.Tensor;
import dev.kullback.cpu.CpuDevice;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * bfloat16 beside float32 (issue 10): logSoftmax, crossEntropy (loss + gradient) and distillation (loss + gradient,
 * T = 2) on the CPU device with bf16 inputs, the same ops in float32 ({@link Workloads.Kullback}), and PyTorch's own
 * bf16 CPU kernels written as users write them (the inputs converted to bf16 once, outside the timing). Run by
 * {@link HalfBenchMain}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class HalfBench {
    @Param({"logSoftmax", "crossEntropy", "distillation"})
    public String op;

    @Param({"8192x128", "1024x32768", "16x262144"})
    public String shape;

    @Param({"kullback-bf16", "kullback-f32", "pytorch-bf16"})
    public String contender;

    private Workloads workload;

    @Setup
    public void setUp() {
        int rows = BenchConfig.rows(shape);
        int cols = BenchConfig.cols(shape);
        int threads = BenchConfig.threads();
        switch (contender) {
            case "kullback-f32":
                workload = new Workloads.Kullback(op, rows, cols, threads);
                break;
            case "kullback-bf16":
                workload = new KullbackHalf(op, rows, cols, new CpuDevice(threads));
                break;
            case "pytorch-bf16":
                workload = new TorchHalf(op, rows, cols, threads);
                break;
            default:
                throw new IllegalArgumentException("unknown contender " + contender);
        }
        workload.run();
    }

    @Benchmark
    public void run() {
        workload.run();
    }

    @TearDown
    public void tearDown() {
        workload.close();
    }

    /** The CPU device on bf16 tensors; every result closed in the loop. */
    static final class KullbackHalf extends Workloads {
        private final Device device;
        private final Runnable work;

        KullbackHalf(String op, int rows, int cols, Device device) {
            this.device = device;
            Tensor x = device.upload(logits(rows, cols, 1), rows, cols, DType.BFLOAT16);
            switch (op) {
                case "logSoftmax":
                    work = () -> device.logSoftmax(x).close();
                    break;
                case "crossEntropy": {
                    Labels y = device.uploadLabels(labels(rows, cols));
                    work = () -> device.crossEntropy(x, y).close();
                    break;
                }
                case "distillation": {
                    Tensor t = device.upload(logits(rows, cols, 2), rows, cols, DType.BFLOAT16);
                    work = () -> device.distillationKl(x, t, TEMPERATURE).close();
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
            device.close();
        }
    }

    /** PyTorch's bf16 CPU kernels, as {@link Workloads.Torch} writes the float32 ones. */
    static final class TorchHalf extends Workloads {
        private final Runnable work;

        TorchHalf(String op, int rows, int cols, int threads) {
            torch.set_num_threads(threads);
            org.bytedeco.pytorch.Tensor x = bf16(logits(rows, cols, 1), rows, cols);
            switch (op) {
                case "logSoftmax": {
                    org.bytedeco.pytorch.Tensor out = bf16(new float[rows * cols], rows, cols);
                    work = () -> {
                        try (PointerScope scope = new PointerScope()) {
                            torch.log_softmax_out(out, x, 1);
                        }
                    };
                    break;
                }
                case "crossEntropy": {
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
                            torch.cross_entropy_loss(logits, labels, new TensorOptional(), mean, -100, 0.0).backward();
                            sink = logits.grad().numel();
                        }
                    };
                    break;
                }
                case "distillation": {
                    org.bytedeco.pytorch.Tensor t = bf16(logits(rows, cols, 2), rows, cols);
                    org.bytedeco.pytorch.Scalar temperature = new org.bytedeco.pytorch.Scalar((double) TEMPERATURE);
                    org.bytedeco.pytorch.Scalar t2 = new org.bytedeco.pytorch.Scalar(
                            (double) TEMPERATURE * TEMPERATURE);
                    org.bytedeco.pytorch.Scalar divRows = new org.bytedeco.pytorch.Scalar((double) rows);
                    long sum = torch.Reduction.Sum.value;
                    work = () -> {
                        try (PointerScope scope = new PointerScope()) {
                            org.bytedeco.pytorch.Tensor student = x.detach();
                            student.set_requires_grad(true);
                            org.bytedeco.pytorch.Tensor logQ = torch.log_softmax(student.div(temperature), 1);
                            org.bytedeco.pytorch.Tensor logP = torch.log_softmax(t.div(temperature), 1);
                            torch.kl_div(logQ, logP, sum, true).div(divRows).mul(t2).backward();
                            sink = student.grad().numel();
                        }
                    };
                    break;
                }
                default:
                    throw new IllegalArgumentException("unknown op " + op);
            }
        }

        private static org.bytedeco.pytorch.Tensor bf16(float[] data, int rows, int cols) {
            return Workloads.Torch.tensor(data, rows, cols).to(torch.ScalarType.BFloat16);
        }

        @Override
        void run() {
            work.run();
        }
    }
}
