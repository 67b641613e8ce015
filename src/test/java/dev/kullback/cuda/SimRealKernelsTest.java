package dev.kullback.cuda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.kullback.Reference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Smoke test: the real kernels of kernels/*.cu, launched through the {@link Gpu} seam with the ABI of
 * kernels/README.md, on a few small shapes (odd ones, so heads, float4 bodies and tails all occur),
 * against a plain double-precision Java computation, with the block's threads run first-to-last and
 * last-to-first. The thorough comparison is the CUDA device's tests.
 */
class SimRealKernelsTest {
    private static final float TOL = 2e-5f;
    private SimGpu gpu;
    private final Random rnd = new Random(1234);

    @BeforeEach
    void open() {
        Assumptions.assumeTrue(Files.exists(Path.of("kernels/log_softmax.cu")), "no kernels/ sources in this tree");
        gpu = SimGpus.open();
    }

    @AfterEach
    void close() {
        if (gpu != null) {
            gpu.reverseSchedule(false);
            assertEquals(0, gpu.liveBytes(), "every test frees what it allocates");
            gpu.close();
        }
    }

    private long upload(float[] a) {
        long p = gpu.malloc(4L * a.length);
        gpu.copyToDevice(a, 0, p, a.length);
        return p;
    }

    private float[] download(long p, int n) {
        float[] a = new float[n];
        gpu.copyToHost(p, a, 0, n);
        return a;
    }

    private float[] randn(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextGaussian() * scale);
        }
        return a;
    }

    /** Within TOL of the quantity's scale: |want| plus {@code terms}, the size of what it is computed from. */
    private static void assertClose(double want, float got, double terms, String what) {
        double tol = TOL * (Math.abs(want) + terms);
        assertTrue(Math.abs(want - got) <= tol, what + ": want " + want + ", got " + got);
    }

    @ParameterizedTest(name = "reverse schedule: {0}")
    @ValueSource(booleans = {false, true})
    void softmaxAndLogSoftmaxBothShapes(boolean reverse) {
        gpu.reverseSchedule(reverse);
        int[][] shapes = {{1, 1}, {3, 7}, {5, 33}, {9, 130}, {4, 1024}, {3, 1031}, {2, 4097}};
        for (int[] s : shapes) {
            int rows = s[0], cols = s[1], n = rows * cols;
            float[] x = randn(n, 3);
            long dx = upload(x);
            long dy = gpu.malloc(4L * n);
            for (String kernel : new String[] {"softmax_rows_warp", "softmax_rows_block"}) {
                if (kernel.endsWith("warp") && cols > 1024) {
                    continue;
                }
                for (int log = 0; log < 2; log++) {
                    Gpu.Function f = gpu.function("log_softmax", kernel);
                    if (kernel.endsWith("warp")) {
                        gpu.launch(f, (rows + 3) / 4, 128, 0, dx, (long) cols, dy, (long) cols, rows, cols, log);
                    } else {
                        gpu.launch(f, rows, 256, 0, dx, (long) cols, dy, (long) cols, rows, cols, log);
                    }
                    float[] y = download(dy, n);
                    double[] want = Reference.softmax(x, rows, cols, log == 1);
                    for (int i = 0; i < n; i++) {
                        assertClose(want[i], y[i], log == 1 ? 1 : 0, kernel + " log=" + log + " [" + rows + "," + cols
                                + "] at " + i / cols + "," + i % cols);
                    }
                }
            }
            gpu.free(dx);
            gpu.free(dy);
        }
    }

    @ParameterizedTest(name = "reverse schedule: {0}")
    @ValueSource(booleans = {false, true})
    void logSoftmaxBackward(boolean reverse) {
        gpu.reverseSchedule(reverse);
        for (int[] s : new int[][] {{3, 5}, {6, 64}, {2, 1023}, {3, 2050}}) {
            int rows = s[0], cols = s[1], n = rows * cols;
            float[] g = randn(n, 1);
            float[] out = randn(n, 1);
            for (int i = 0; i < n; i++) {
                out[i] = -Math.abs(out[i]) - 1;  // log-probabilities
            }
            long dg = upload(g), dout = upload(out), dgi = gpu.malloc(4L * n);
            for (String kernel : new String[] {"log_softmax_backward_warp", "log_softmax_backward_block"}) {
                if (kernel.endsWith("warp") && cols > 1024) {
                    continue;
                }
                Gpu.Function f = gpu.function("log_softmax", kernel);
                gpu.launch(f, kernel.endsWith("warp") ? (rows + 3) / 4 : rows, kernel.endsWith("warp") ? 128 : 512, 0,
                        dg, (long) cols, dout, (long) cols, dgi, (long) cols, rows, cols); // row strides: contiguous
                float[] gi = download(dgi, n);
                double[] want = Reference.logSoftmaxBackward(g, out, rows, cols);
                double[] terms = Reference.logSoftmaxBackwardScale(g, out, rows, cols);
                for (int i = 0; i < n; i++) {
                    assertClose(want[i], gi[i], terms[i], kernel + " at " + i);
                }
            }
            gpu.free(dg);
            gpu.free(dout);
            gpu.free(dgi);
        }
    }

    @ParameterizedTest(name = "reverse schedule: {0}")
    @ValueSource(booleans = {false, true})
    void klDivPointwiseSumAndBackward(boolean reverse) {
        gpu.reverseSchedule(reverse);
        for (int n : new int[] {1, 7, 1000, 4099}) {
            float[] input = randn(n, 1);
            float[] target = new float[n];
            for (int i = 0; i < n; i++) {
                target[i] = i % 5 == 0 ? 0f : (float) rnd.nextDouble();
            }
            long di = upload(input), dt = upload(target), dout = gpu.malloc(4L * n);
            for (int lt = 0; lt < 2; lt++) {
                boolean logTarget = lt == 1;
                float[] t = target.clone();
                if (logTarget) {
                    for (int i = 0; i < n; i++) {
                        t[i] = (float) Math.log(target[i] + 0.01);
                    }
                    gpu.copyToDevice(t, 0, dt, n);
                } else {
                    gpu.copyToDevice(target, 0, dt, n);
                }
                gpu.launch(gpu.function("kl_div", "kl_div_pointwise"), 3, 128, 0, di, dt, dout, (long) n, lt);
                float[] pw = download(dout, n);
                double total = 0;
                double terms = 0;
                for (int i = 0; i < n; i++) {
                    double want = Reference.klDiv(input[i], t[i], logTarget);
                    double scale = Reference.klDivScale(input[i], t[i], logTarget);
                    total += want;
                    terms += scale;
                    assertClose(want, pw[i], scale, "pointwise logTarget=" + lt + " at " + i);
                }
                int parts = 5;
                long partials = gpu.malloc(4L * parts), sum = gpu.malloc(4);
                gpu.launch(gpu.function("kl_div", "kl_div_partial_sums"), parts, 256, 0, di, dt, partials, (long) n, lt);
                gpu.launch(gpu.function("reduce", "sum_finalize"), 1, 256, 0, partials, parts, sum, 2f);
                assertEquals(total / 2, download(sum, 1)[0], 1e-5 * Math.abs(total / 2) + 2e-6 * terms / 2, "kl sum / 2");
                gpu.free(partials);
                gpu.free(sum);

                long go = upload(new float[] {3f});
                gpu.launch(gpu.function("kl_div", "kl_div_backward"), 2, 128, 0, go, dt, dout, (long) n, lt, 1, 4f);
                float[] gi = download(dout, n);
                for (int i = 0; i < n; i++) {
                    double w = logTarget ? Math.exp(t[i]) : t[i];
                    assertClose(-(3.0 / 4) * w, gi[i], 0, "backward scalar at " + i);
                }
                gpu.free(go);
            }
            gpu.free(di);
            gpu.free(dt);
            gpu.free(dout);
        }
    }

    @ParameterizedTest(name = "reverse schedule: {0}")
    @ValueSource(booleans = {false, true})
    void sumsAndRowSums(boolean reverse) {
        gpu.reverseSchedule(reverse);
        for (int[] s : new int[][] {{1, 1}, {7, 3}, {5, 129}, {3, 5000}}) {
            int rows = s[0], cols = s[1], n = rows * cols;
            float[] x = randn(n, 1);
            long dx = upload(x);
            double total = 0;
            double l1 = 0;
            for (float v : x) {
                total += v;
                l1 += Math.abs(v);
            }
            int parts = 3;
            long partials = gpu.malloc(4L * parts), out = gpu.malloc(4);
            gpu.launch(gpu.function("reduce", "sum_partials"), parts, 256, 0, dx, partials, (long) n);
            gpu.launch(gpu.function("reduce", "sum_finalize"), 1, 128, 0, partials, parts, out, 1f);
            assertEquals(total, download(out, 1)[0], 1e-5 * Math.abs(total) + 2e-6 * l1, "sum of " + n);
            long rs = gpu.malloc(4L * rows);
            for (String kernel : new String[] {"row_sum_warp", "row_sum_block"}) {
                boolean warp = kernel.endsWith("warp");
                gpu.launch(gpu.function("reduce", kernel), warp ? (rows + 3) / 4 : rows, warp ? 128 : 1024, 0, dx, rs, rows, cols);
                float[] got = download(rs, rows);
                for (int r = 0; r < rows; r++) {
                    double want = 0;
                    double rowL1 = 0;
                    for (int c = 0; c < cols; c++) {
                        want += x[r * cols + c];
                        rowL1 += Math.abs(x[r * cols + c]);
                    }
                    assertEquals(want, got[r], 1e-5 * Math.abs(want) + 2e-6 * rowL1, kernel + " row " + r);
                }
            }
            for (long p : new long[] {dx, partials, out, rs}) {
                gpu.free(p);
            }
        }
    }
}
