package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kullback.DType;
import dev.kullback.Tensor;
import dev.kullback.internal.HalfFloats;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The bf16 kernels and the bf16 log-softmax that converts in its loops ({@link Bf16LogSoftmax}, issue 10) give exactly
 * the bits of the float32 computation on the widened values, rounded once: kernel by kernel against Kernels' scalar
 * route (widen a chunk, run the float32 kernel), and whole ops against the float32 op rounded by HalfFloats, on
 * contiguous tensors and views, for 1, 2 and 3 threads, on the vector and the scalar kernels.
 */
class Bf16KernelsTest {
    /** Rows in parallel, few long rows by chunks, one long row, tails past the last full vector and chunk. */
    private static final int[][] SHAPES = {{6, 5000}, {2, 9000}, {1, 12291}, {17, 1031}, {9, 4097}, {40, 2053}};

    /** Kernels' default bf16 methods: the float32 kernel on a widened chunk. */
    private static final class Route {
        static void logStats(Kernels k, short[] a, int from, int to, float[] m, double[] s, int slot) {
            float[] x = new float[to - from];
            HalfFloats.toFloat(DType.BFLOAT16, a, from, x, 0, to - from);
            k.logStats(x, 0, to - from, m, s, slot);
        }
    }

    @Test
    void vectorKernelsMatchTheFloat32KernelsOnWidenedValues() {
        Kernels k = KernelsProvider.vector().orElse(null);
        if (k == null) {
            k = KernelsProvider.scalar(); // checks Kernels' default methods then
        }
        Random random = new Random(7);
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + random.nextInt(RowSchedule.CHUNK);
            int from = random.nextInt(40);
            short[] a = bf16(values(random, from + 2 * n + 40, trial));
            float[] m = new float[2];
            double[] s = new double[2];
            k.logStatsBf16(a, from, from + n, m, s, 0);
            Route.logStats(k, a, from, from + n, m, s, 1);
            String at = "trial " + trial + " n " + n + " from " + from;
            assertEquals(Float.floatToRawIntBits(m[1]), Float.floatToRawIntBits(m[0]), at + ": reference");
            assertEquals(Double.doubleToRawLongBits(s[1]), Double.doubleToRawLongBits(s[0]), at + ": sum");

            float wm = m[1];
            float logSum = (float) Math.log(s[1]);
            short[] expected = new short[n + 7];
            int w = from + n;
            float[] x = new float[n];
            HalfFloats.toFloat(DType.BFLOAT16, a, w, x, 0, n);
            float[] y = new float[n];
            k.logSoftmaxWrite(x, 0, n, wm, logSum, y);
            HalfFloats.fromFloat(DType.BFLOAT16, y, 0, expected, 3, n);
            short[] plain = new short[n + 7];
            k.logSoftmaxWriteBf16(a, w, plain, 3, n, wm, logSum);
            assertArrayEquals(expected, plain, at + ": write");
        }
    }

    @Test
    void logSoftmaxIsTheFloat32ResultRoundedOnce() {
        for (boolean vector : new boolean[] {true, false}) {
            for (int threads : new int[] {1, 2, 3}) {
                try (CpuDevice d = new CpuDevice(threads, vector)) {
                    for (int[] shape : SHAPES) {
                        check(d, shape[0], shape[1]);
                    }
                }
            }
        }
    }

    private static void check(CpuDevice d, int rows, int cols) {
        Random random = new Random(rows * 31L + cols);
        float[] x = widen(bf16(values(random, rows * cols, rows)));
        float[] expected;
        try (Tensor f = d.upload(x, rows, cols); Tensor ls = d.logSoftmax(f)) {
            expected = ls.toArray();
        }
        short[] want = bf16(expected);
        String at = d.name() + " " + rows + "x" + cols;
        try (Tensor h = d.upload(x, rows, cols, DType.BFLOAT16); Tensor ls = d.logSoftmax(h)) {
            assertArrayEquals(want, ls.toBits(), at + " contiguous");
        }
        float[] padded = new float[(rows + 2) * (cols + 5)];
        java.util.Arrays.fill(padded, Float.NaN);
        for (int r = 0; r < rows; r++) {
            System.arraycopy(x, r * cols, padded, (r + 1) * (cols + 5) + 3, cols);
        }
        try (Tensor base = d.upload(padded, rows + 2, cols + 5, DType.BFLOAT16);
             Tensor view = d.view(base, 1, rows, 3, cols); Tensor ls = d.logSoftmax(view)) {
            assertArrayEquals(want, ls.toBits(), at + " view");
        }
    }

    /**
     * Logits of about N(0, 3), with rows of edge cases: a value far above the rest (the statistics' rescaling), -inf
     * entries, an all -inf stretch, NaN and +inf (trial picks which, some trials none).
     */
    private static float[] values(Random random, int n, int trial) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (random.nextGaussian() * 3);
        }
        switch (trial % 7) {
            case 1 -> x[random.nextInt(n)] = 60f;
            case 2 -> {
                for (int i = 0; i < n; i += 3) {
                    x[i] = Float.NEGATIVE_INFINITY;
                }
            }
            case 3 -> x[random.nextInt(n)] = Float.NaN;
            case 4 -> x[random.nextInt(n)] = Float.POSITIVE_INFINITY;
            case 5 -> {
                for (int i = 0; i < n; i++) {
                    x[i] = (float) (x[i] - 30 + 0.01 * i); // rising: the reference moves often
                }
            }
            default -> {
            }
        }
        return x;
    }

    private static short[] bf16(float[] x) {
        short[] b = new short[x.length];
        HalfFloats.fromFloat(DType.BFLOAT16, x, 0, b, 0, x.length);
        return b;
    }

    private static float[] widen(short[] b) {
        float[] x = new float[b.length];
        HalfFloats.toFloat(DType.BFLOAT16, b, 0, x, 0, b.length);
        return x;
    }
}
