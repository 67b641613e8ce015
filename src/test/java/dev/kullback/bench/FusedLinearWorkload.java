package dev.kullback.bench;

import dev.kullback.Chunking;
import dev.kullback.CrossEntropy;
import dev.kullback.Device;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Tensor;
import dev.kullback.cpu.CpuDevice;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * One training step's loss for the fused linear benchmark: the mean cross-entropy of {@code hidden @ W.T} over
 * [N, H] hidden states and a [V, H] weight, with the gradients of hidden and W. {@code kullback}: the fused linear
 * cross-entropy (auto chunking) on a device; {@code kullback-8x}: the same with a memory budget of 8× the hidden
 * states for one chunk's logits (fewer, larger products); {@code pytorch}: libtorch's composition as a user writes it,
 * {@code cross_entropy(hidden.matmul(W.t()), labels)} then {@code backward()} on fresh leaves, with
 * {@code torch.set_num_threads(threads)}.
 */
abstract class FusedLinearWorkload implements AutoCloseable {
    final int n;
    final int h;
    final int v;

    FusedLinearWorkload(String shape) {
        String[] p = shape.split("x");
        n = Integer.parseInt(p[0]);
        h = Integer.parseInt(p[1]);
        v = Integer.parseInt(p[2]);
    }

    static FusedLinearWorkload create(String contender, String shape, int threads) {
        switch (contender) {
            case "kullback":
                return new Kullback(shape, new CpuDevice(threads), true, Chunking.auto());
            case "kullback-8x":
                String[] d = shape.split("x");
                return new Kullback(shape, new CpuDevice(threads), true,
                        Chunking.memoryBudget(8L * 4 * Integer.parseInt(d[0]) * Integer.parseInt(d[1])));
            case "pytorch":
                return new Torch(shape, threads);
            default:
                throw new IllegalArgumentException("contender must be kullback or pytorch, not " + contender);
        }
    }

    /** Bytes of the gradients the step returns (hidden's and W's): not counted as extra memory. */
    long gradientBytes() {
        return 4L * ((long) n * h + (long) v * h);
    }

    abstract void run();

    @Override
    public abstract void close();

    float[] hidden() {
        return values(new Random(1), n * h, 1f);
    }

    float[] weight() {
        return values(new Random(2), v * h, 0.05f);
    }

    int[] labels() {
        Random random = new Random(3);
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = random.nextInt(v);
        }
        return y;
    }

    private static float[] values(Random random, int count, float scale) {
        float[] x = new float[count];
        for (int i = 0; i < count; i++) {
            x[i] = (float) random.nextGaussian() * scale;
        }
        return x;
    }

    static final class Kullback extends FusedLinearWorkload {
        final Device device;
        private final boolean ownsDevice;
        private final Tensor hidden;
        private final Tensor weight;
        private final Labels labels;
        private final Chunking chunking;

        Kullback(String shape, Device device, boolean ownsDevice, Chunking chunking) {
            super(shape);
            this.chunking = chunking;
            this.device = device;
            this.ownsDevice = ownsDevice;
            hidden = device.upload(hidden(), n, h);
            weight = device.upload(weight(), v, h);
            labels = device.uploadLabels(labels());
        }

        @Override
        void run() {
            try (Loss loss = device.linearCrossEntropy(hidden, weight, null, labels, CrossEntropy.options(),
                    chunking)) {
                if (Float.isNaN(loss.value().item())) {
                    throw new IllegalStateException("NaN loss");
                }
            }
        }

        @Override
        public void close() {
            hidden.close();
            weight.close();
            labels.close();
            if (ownsDevice) {
                device.close();
            }
        }
    }

    static final class Torch extends FusedLinearWorkload {
        private final org.bytedeco.pytorch.Tensor hidden;
        private final org.bytedeco.pytorch.Tensor weight;
        private final org.bytedeco.pytorch.Tensor target;

        Torch(String shape, int threads) {
            super(shape);
            torch.set_num_threads(threads);
            hidden = tensor(hidden(), n, h);
            weight = tensor(weight(), v, h);
            int[] y = labels();
            target = torch.empty(new long[] {n}, new TensorOptions(torch.ScalarType.Long), new MemoryFormatOptional());
            long[] longs = new long[n];
            for (int i = 0; i < n; i++) {
                longs[i] = y[i];
            }
            target.data_ptr_long().put(longs, 0, n);
        }

        @Override
        void run() {
            try (PointerScope scope = new PointerScope()) {
                org.bytedeco.pytorch.Tensor x = hidden.detach().requires_grad_(true);
                org.bytedeco.pytorch.Tensor w = weight.detach().requires_grad_(true);
                org.bytedeco.pytorch.Tensor loss = torch.cross_entropy_loss(x.matmul(w.t()), target,
                        new TensorOptional(), torch.Reduction.Mean.value, -100, 0.0);
                loss.backward();
                if (Float.isNaN(loss.item_float()) || !x.grad().defined() || !w.grad().defined()) {
                    throw new IllegalStateException("no loss or gradients");
                }
            }
        }

        @Override
        public void close() {
            hidden.close();
            weight.close();
            target.close();
        }

        private static org.bytedeco.pytorch.Tensor tensor(float[] data, int rows, int cols) {
            org.bytedeco.pytorch.Tensor t = torch.empty(new long[] {rows, cols},
                    new TensorOptions(torch.ScalarType.Float), new MemoryFormatOptional());
            t.data_ptr_float().put(data, 0, data.length);
            return t;
        }
    }
}
