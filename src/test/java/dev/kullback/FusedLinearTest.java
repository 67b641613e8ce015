package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused linear cross-entropy on every device against PyTorch autograd of {@code cross_entropy(hidden @ W.T + b,
 * labels, ...)}: every option, chunks of 1, 7 and all rows (dividing the rows and not), a vocabulary that is not a
 * multiple of 4 (and one past the warp-per-row limit), one row, ignored rows in every chunk and a chunk with every
 * row ignored. Tolerance: 1e-5 relative plus 2e-5 of the largest magnitude of the compared tensor (the products add
 * up H or V or N float32 terms in another order than PyTorch's); a wrong divisor, scale, transpose or chunk offset
 * moves values by far more.
 */
class FusedLinearTest {
    /** rows, hidden size, vocabulary. */
    record Dims(int n, int h, int v) {
    }

    static final List<Dims> DIMS = List.of(new Dims(1, 5, 7), new Dims(13, 8, 37), new Dims(9, 6, 1031));

    /** One option set: what is varied together. */
    record Opts(Reduction reduction, boolean bias, boolean classWeights, float smoothing, float zLoss, int ignore,
                float softCap) {
        Opts(Reduction reduction, boolean bias, boolean classWeights, float smoothing, float zLoss, int ignore) {
            this(reduction, bias, classWeights, smoothing, zLoss, ignore, 0f);
        }

        @Override
        public String toString() {
            return reduction + (bias ? " bias" : "") + (classWeights ? " weights" : "")
                    + (smoothing != 0 ? " smoothing " + smoothing : "") + (zLoss != 0 ? " z " + zLoss : "")
                    + (ignore == 0 ? "" : ignore == 1 ? " some ignored" : " a chunk all ignored")
                    + (softCap != 0 ? " soft cap " + softCap : "");
        }
    }

    static final List<Opts> OPTS = List.of(
            new Opts(Reduction.MEAN, false, false, 0f, 0f, 0),
            new Opts(Reduction.MEAN, true, false, 0f, 0f, 1),
            new Opts(Reduction.SUM, true, true, 0.1f, 0f, 1),
            new Opts(Reduction.NONE, false, true, 0f, 1e-3f, 2),
            new Opts(Reduction.MEAN, true, true, 0.2f, 1e-2f, 2),
            new Opts(Reduction.MEAN, false, true, 0f, 1e-2f, 1),
            new Opts(Reduction.NONE, true, false, 0.1f, 1e-3f, 1),
            new Opts(Reduction.SUM, false, false, 0f, 0f, 2),
            new Opts(Reduction.MEAN, true, false, 0f, 0f, 1, 2.5f),
            new Opts(Reduction.NONE, true, true, 0.1f, 1e-3f, 2, 1.5f));

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Dims dims : DIMS) {
                for (int chunk : new int[] {1, 7, dims.n()}) {
                    for (Opts o : OPTS) {
                        if (d.isGpu() && dims.v() > 1000 && chunk == 1) {
                            continue; // the simulator runs a block per row: slow, and chunk 1 is covered on [13, 37]
                        }
                        out.add(Arguments.of(d, dims, chunk, o));
                    }
                }
            }
        }
        return out.stream();
    }

    /** Labels: rows r % 3 == 1 ignored (some in every chunk of 7), and with ignore 2 also rows 7..13 (a whole chunk). */
    static int[] labels(int n, int v, int ignore, Random random) {
        int[] y = new int[n];
        for (int r = 0; r < n; r++) {
            boolean ignored = ignore >= 1 && r % 3 == 1 || ignore == 2 && r >= 7 && r < 14;
            y[r] = ignored ? -100 : random.nextInt(v);
        }
        return y;
    }

    static float[] values(Random random, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (random.nextGaussian() * scale);
        }
        return x;
    }

    @ParameterizedTest(name = "{0} {1} chunk {2}: {3}", autoCloseArguments = false)
    @MethodSource("cases")
    void matchesTorch(Device device, Dims dims, int chunk, Opts o) {
        Random random = new Random(dims.n() * 31L + dims.v() + chunk);
        int n = dims.n();
        int h = dims.h();
        int v = dims.v();
        float[] hidden = values(random, n * h, 1f);
        float[] weight = values(random, v * h, 0.7f);
        float[] bias = o.bias() ? values(random, v, 0.5f) : null;
        float[] cw = o.classWeights() ? positive(random, v) : null;
        int[] y = labels(n, v, o.ignore(), random);
        TorchOracle.LossOut want = TorchLinearOracle.crossEntropy(hidden, weight, bias, n, h, v, y, cw, o.reduction(),
                -100, o.smoothing(), o.zLoss(), o.softCap());
        try (Tensor x = device.upload(hidden, n, h);
             Tensor w = device.upload(weight, v, h);
             Tensor b = bias == null ? null : device.upload(bias, 1, v);
             Tensor weights = cw == null ? null : device.upload(cw, 1, v);
             Labels labels = device.uploadLabels(y)) {
            CrossEntropy options = CrossEntropy.options().reduction(o.reduction()).weights(weights)
                    .labelSmoothing(o.smoothing()).zLoss(o.zLoss()).softCap(o.softCap());
            try (Loss loss = device.linearCrossEntropy(x, w, b, labels, options, Chunking.rows(chunk))) {
                assertEquals(bias == null ? 2 : 3, loss.gradientCount());
                assertClose("value", want.value(), loss.value().toArray());
                assertClose("grad hidden", want.grads()[0], loss.gradient(0).toArray());
                assertClose("grad weight", want.grads()[1], loss.gradient(1).toArray());
                if (bias != null) {
                    assertClose("grad bias", want.grads()[2], loss.gradient(2).toArray());
                }
            }
        }
    }

    static float[] positive(Random random, int n) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = 0.25f + random.nextFloat() * 2;
        }
        return w;
    }

    static void assertClose(String what, float[] want, float[] got) {
        assertEquals(want.length, got.length, what + ": length");
        double scale = 0;
        for (float x : want) {
            if (Float.isFinite(x)) {
                scale = Math.max(scale, Math.abs(x));
            }
        }
        for (int i = 0; i < want.length; i++) {
            if (Float.isNaN(want[i])) {
                assertTrue(Float.isNaN(got[i]), what + "[" + i + "]: want NaN, got " + got[i]);
                continue;
            }
            if (Float.isInfinite(want[i])) {
                assertEquals(want[i], got[i], what + "[" + i + "]");
                continue;
            }
            double tol = 1e-5 * Math.abs(want[i]) + 2e-5 * scale + 1e-30;
            if (!(Math.abs(want[i] - got[i]) <= tol)) {
                fail(what + "[" + i + "] = " + got[i] + ", PyTorch " + want[i] + " (tolerance " + tol + ")");
            }
        }
    }
}
