package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

/** Shared helpers of the CPU tests: both kernel implementations, and random inputs. */
final class CpuTesting {
    private CpuTesting() {
    }

    /** The Vector API kernels; fails (rather than skips) when they did not load, since surefire adds the module. */
    static Kernels vectorKernels() {
        assertTrue(KernelsProvider.vector().isPresent(),
                () -> "the Vector API kernels did not load: " + KernelsProvider.vectorUnavailableReason());
        return KernelsProvider.vector().get();
    }

    static Kernels kernels(String which) {
        return which.equals("vector") ? vectorKernels() : KernelsProvider.scalar();
    }

    static CpuDevice device(String which, int threads) {
        return new CpuDevice(threads, kernels(which));
    }

    /** Gaussian logits of standard deviation {@code scale}. */
    static float[] logits(Random random, int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (random.nextGaussian() * scale);
        }
        return x;
    }

    /** Rows of probabilities (a softmax of random logits), with about {@code zeros} of the entries exactly 0. */
    static float[] probabilities(Random random, int rows, int cols, double zeros) {
        float[] t = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int i = r * cols; i < (r + 1) * cols; i++) {
                double e = random.nextDouble() < zeros ? 0 : Math.exp(random.nextGaussian());
                t[i] = (float) e;
                sum += e;
            }
            for (int i = r * cols; i < (r + 1) * cols; i++) {
                t[i] = sum == 0 ? 0f : (float) (t[i] / sum);
            }
        }
        return t;
    }

    /** Rows of log-probabilities (log-softmax of random logits), computed in double. */
    static float[] logProbabilities(Random random, int rows, int cols) {
        float[] x = logits(random, rows * cols, 2);
        double[] y = dev.kullback.Reference.logSoftmax(x, rows, cols);
        float[] out = new float[y.length];
        for (int i = 0; i < y.length; i++) {
            out[i] = (float) y[i];
        }
        return out;
    }

    /** Bitwise equality, NaNs of any payload counted equal. */
    static boolean sameBits(float[] a, float[] b) {
        if (a.length != b.length) {
            return false;
        }
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) {
                return false;
            }
        }
        return true;
    }

    static int firstDifference(float[] a, float[] b) {
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) {
                return i;
            }
        }
        return a.length == b.length ? -1 : Math.min(a.length, b.length);
    }
}
