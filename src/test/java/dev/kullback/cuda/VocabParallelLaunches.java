package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kullback.AllReduce;
import dev.kullback.CrossEntropy;
import dev.kullback.Device;
import dev.kullback.Distillation;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import dev.kullback.VocabShard;
import java.util.Random;

/**
 * Launches every kernel of {@code kernels/vocab_parallel.cu} (warp- and block-per-row) on one device, as a single
 * rank, whose all-reduce is the identity: then the sharded loss must equal the unsharded one (within float32
 * rounding: the sums run in another form). VocabParallelLossTest covers N ranks; this keeps the kernel-coverage
 * check of SimulatorParityTest independent of the order the test classes run in.
 */
final class VocabParallelLaunches {
    /** The all-reduce of a single rank: nothing to combine. */
    static final AllReduce ONE_RANK = new AllReduce() {
        @Override
        public void max(Tensor buffer) {
        }

        @Override
        public void sum(Tensor buffer) {
        }
    };

    private VocabParallelLaunches() {
    }

    static void launchAll(CudaDevice device) {
        for (int[] shape : new int[][] {{3, 33}, {1, 1100}}) {
            int rows = shape[0];
            int cols = shape[1];
            Random random = new Random(cols);
            float[] a = new float[rows * cols];
            float[] b = new float[rows * cols];
            int[] y = new int[rows];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) random.nextGaussian();
                b[i] = (float) random.nextGaussian();
            }
            for (int r = 0; r < rows; r++) {
                y[r] = (r * 7) % cols;
            }
            VocabShard whole = VocabShard.of(0, cols);
            CrossEntropy ce = CrossEntropy.options().labelSmoothing(0.1f).zLoss(0.01f);
            Distillation kd = Distillation.options().temperature(2f);
            try (Tensor x = device.upload(a, rows, cols);
                 Tensor t = device.upload(b, rows, cols);
                 Labels labels = device.uploadLabels(y);
                 Loss sharded = device.crossEntropy(x, labels, whole, ONE_RANK, ce);
                 Loss plain = device.crossEntropy(x, labels, ce);
                 Loss kdSharded = device.distillationKl(x, t, whole, ONE_RANK, kd);
                 Loss kdPlain = device.distillationKl(x, t, kd);
                 Loss hSharded = device.entropy(x, whole, ONE_RANK, Reduction.NONE);
                 Loss hPlain = device.entropy(x, Reduction.NONE)) {
                assertClose(plain, sharded, device);
                assertClose(kdPlain, kdSharded, device);
                assertClose(hPlain, hSharded, device);
            }
        }
    }

    private static void assertClose(Loss expected, Loss actual, Device device) {
        assertArrayEquals(expected.value().toArray(), actual.value().toArray(), 2e-5f, device.name() + " value");
        assertArrayEquals(expected.gradient().toArray(), actual.gradient().toArray(), 2e-6f,
                device.name() + " gradient");
    }
}
