package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.Reduction;
import dev.kullback.Reference;
import dev.kullback.Tensor;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PyTorch's edge semantics on both kernel implementations, in short rows (vector tails), rows of several vectors, and
 * rows of several chunks, row-parallel and chunk-parallel.
 */
class CpuEdgeCasesTest {
    private static final float INF = Float.POSITIVE_INFINITY;
    private static final float NAN = Float.NaN;

    private static float[] run(CpuDevice d, float[] x, int rows, int cols, boolean log) {
        try (Tensor t = d.upload(x, rows, cols); Tensor y = log ? d.logSoftmax(t) : d.softmax(t)) {
            return y.toArray();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void logSoftmaxIsStableForHugeFiniteLogits(String which) {
        try (CpuDevice d = CpuTesting.device(which, 2)) {
            assertArrayEquals(new float[] {0f, -1000f, -2000f}, run(d, new float[] {1000, 0, -1000}, 1, 3, true));
            assertArrayEquals(new float[] {1f, 0f, 0f}, run(d, new float[] {1000, 0, -1000}, 1, 3, false));
            float[] big = {3e38f, -3e38f, 3e38f};
            float[] y = run(d, big, 1, 3, true);
            assertEquals((float) -Math.log(2), y[0], 1e-6);
            assertEquals(-INF, y[1]);
        }
    }

    /** Row lengths that put the special value in a tail, in a vector, and in a later chunk. */
    private static final int[] COLS = {3, 40, 9000};

    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void allNegativeInfinityRowIsNaN(String which) {
        for (int threads : new int[] {1, 2}) {
            try (CpuDevice d = CpuTesting.device(which, threads)) {
                for (int cols : COLS) {
                    float[] x = new float[2 * cols];
                    Arrays.fill(x, 0, cols, -INF);
                    Arrays.fill(x, cols, 2 * cols, 1f);
                    for (boolean log : new boolean[] {true, false}) {
                        float[] y = run(d, x, 2, cols, log);
                        for (int i = 0; i < cols; i++) {
                            assertTrue(Float.isNaN(y[i]), which + " cols " + cols + " log " + log + " at " + i);
                        }
                        float uniform = log ? (float) -Math.log(cols) : 1f / cols;
                        for (int i = cols; i < 2 * cols; i++) {
                            assertEquals(uniform, y[i], 1e-6 * Math.abs(uniform), "the other row is unaffected");
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void nanOrPlusInfinityAnywhereMakesTheRowNaN(String which) {
        for (int threads : new int[] {1, 3}) {
            try (CpuDevice d = CpuTesting.device(which, threads)) {
                for (int cols : COLS) {
                    for (float bad : new float[] {NAN, INF}) {
                        for (int pos : new int[] {0, cols / 2, cols - 1}) {
                            for (float background : new float[] {0.5f, -INF}) {
                                float[] x = new float[2 * cols];
                                Arrays.fill(x, 0, cols, background);
                                x[pos] = bad;
                                for (boolean log : new boolean[] {true, false}) {
                                    float[] y = run(d, x, 2, cols, log);
                                    for (int i = 0; i < cols; i++) {
                                        if (!Float.isNaN(y[i])) {
                                            throw new AssertionError(which + ": " + bad + " at " + pos + " of " + cols
                                                    + " among " + background + ", log " + log + ": y[" + i + "] = "
                                                    + y[i]);
                                        }
                                    }
                                    for (int i = cols; i < 2 * cols; i++) {
                                        assertTrue(Float.isFinite(y[i]), "the other row is unaffected");
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void negativeInfinityEntriesGiveZeroProbability(String which) {
        Random random = new Random(3);
        for (int threads : new int[] {1, 2}) {
            try (CpuDevice d = CpuTesting.device(which, threads)) {
                for (int cols : new int[] {3, 40, 9000, 13000}) {
                    float[] x = CpuTesting.logits(random, cols, 2);
                    for (int i = 0; i < cols; i += 3) {
                        x[i] = -INF;
                    }
                    if (cols > 8192) {
                        Arrays.fill(x, 0, 4096, -INF); // a whole chunk of -inf
                    }
                    float[] log = run(d, x, 1, cols, true);
                    float[] soft = run(d, x, 1, cols, false);
                    Reference.assertClose(which + " logSoftmax", Reference.logSoftmax(x, 1, cols), log, 1e-6, 2e-6);
                    Reference.assertClose(which + " softmax", Reference.softmax(x, 1, cols), soft, 1e-5, 1e-12);
                    for (int i = 0; i < cols; i++) {
                        if (x[i] == -INF) {
                            assertEquals(-INF, log[i]);
                            assertEquals(Float.floatToIntBits(0f), Float.floatToIntBits(soft[i]));
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void klDivZeroTargetsFollowXlogy(String which) {
        try (CpuDevice d = CpuTesting.device(which, 2)) {
            int cols = 37; // vector lanes and a tail
            float[] x = new float[cols];
            float[] t = new float[cols];
            for (int i = 0; i < cols; i++) {
                x[i] = -1.5f - i;
                t[i] = i % 2 == 0 ? 0f : 0.05f;
            }
            x[4] = -INF; // t == 0 and x == -inf: NaN, as PyTorch
            x[5] = -INF; // t > 0 and x == -inf: +inf
            t[6] = -0f;
            float[] y = klDiv(d, x, t, false);
            for (int i = 0; i < cols; i++) {
                if (i == 4) {
                    assertTrue(Float.isNaN(y[i]), "t = 0, x = -inf gives NaN");
                } else if (i == 5) {
                    assertEquals(INF, y[i]);
                } else if (t[i] == 0) {
                    assertEquals(0f, y[i], "t = 0 with finite x gives 0 at " + i);
                } else {
                    assertEquals(Reference.klDiv(x[i], t[i], false), y[i], 1e-6 * Reference.klDivScale(x[i], t[i], false));
                }
            }
            // the SUM of a row holding the NaN is NaN; without it, finite
            try (Tensor xt = d.upload(x, 1, cols); Tensor tt = d.upload(t, 1, cols);
                 Tensor s = d.klDiv(xt, tt, Reduction.SUM, false)) {
                assertTrue(Float.isNaN(s.item()));
            }
        }
    }

    private static float[] klDiv(CpuDevice d, float[] x, float[] t, boolean logTarget) {
        try (Tensor xt = d.upload(x, 1, x.length); Tensor tt = d.upload(t, 1, t.length);
             Tensor y = d.klDiv(xt, tt, Reduction.NONE, logTarget)) {
            return y.toArray();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void klDivSeedEdgeCases(String which) {
        try (CpuDevice d = CpuTesting.device(which, 1)) {
            float[] y = klDiv(d, new float[] {-INF, 0}, new float[] {0, 1}, false);
            assertTrue(Float.isNaN(y[0]));
            assertEquals(0f, y[1]);
            y = klDiv(d, new float[] {-1, 0}, new float[] {-INF, 0}, true);
            assertTrue(Float.isNaN(y[0]), "exp(-inf) * (-inf - -1) = 0 * -inf");
            assertEquals(0f, y[1]);
            // logTarget: exp(t) * (t - x)
            y = klDiv(d, new float[] {-2f, 0.5f}, new float[] {-1f, 0f}, true);
            assertEquals((float) (Math.exp(-1) * 1), y[0], 1e-7);
            assertEquals(-0.5f, y[1], 1e-7);
        }
    }

    /** The KLDivLoss 4x3 example of the project's seed cases (values from PyTorch 2.10, float32). */
    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void seedCaseKlDivLoss4x3(String which) {
        float[] x = {-2, -6, -8, -7, -1, -2, -1, -9, -2.3f, -1.9f, -2.8f, -5.4f};
        float[] t = {0.8f, 0.1f, 0.1f, 0.1f, 0.7f, 0.2f, 0.5f, 0.2f, 0.3f, 0.4f, 0.3f, 0.3f};
        float[] none = {1.4214852f, 0.3697415f, 0.5697415f, 0.46974146f, 0.45032752f, 0.07811242f, 0.15342641f,
            1.4781125f, 0.32880813f, 0.3934837f, 0.47880816f, 1.2588083f};
        try (CpuDevice d = CpuTesting.device(which, 2); Tensor xt = d.upload(x, 4, 3); Tensor tt = d.upload(t, 4, 3)) {
            try (Tensor y = d.klDiv(xt, tt, Reduction.NONE, false)) {
                assertArrayEquals(none, y.toArray(), 1e-5f);
            }
            float[] expected = {7.450596f, 0.620883f, 1.862649f};
            Reduction[] reductions = {Reduction.SUM, Reduction.MEAN, Reduction.BATCHMEAN};
            for (int i = 0; i < 3; i++) {
                try (Tensor y = d.klDiv(xt, tt, reductions[i], false)) {
                    assertEquals(expected[i], y.item(), 1e-5f * expected[i], reductions[i].name());
                }
            }
        }
    }

    /** Cross-entropy as batchmean KL against one-hot targets, from the seed cases. */
    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void seedCaseCrossEntropy(String which) {
        float[] logits = {0.3286f, 0.4247f, 1.5101f, -0.4628f, -0.6365f, -0.1079f, -0.6032f, -1.1911f, -0.1564f,
            0.9218f, 1.5526f, -0.2029f, 0.7564f, -2.0878f, -1.1310f};
        float[] onehot = {1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0};
        try (CpuDevice d = CpuTesting.device(which, 2); Tensor z = d.upload(logits, 3, 5);
             Tensor x = d.logSoftmax(z); Tensor t = d.upload(onehot, 3, 5);
             Tensor loss = d.klDiv(x, t, Reduction.BATCHMEAN, false)) {
            assertEquals(1.7296118f, loss.item(), 1e-5f);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void backwardFormulas(String which) {
        try (CpuDevice d = CpuTesting.device(which, 2)) {
            float[] y = {(float) Math.log(0.2), (float) Math.log(0.3), (float) Math.log(0.5)};
            float[] g = {1, 2, 3};
            try (Tensor gt = d.upload(g, 1, 3); Tensor yt = d.upload(y, 1, 3); Tensor dx = d.logSoftmaxBackward(gt, yt)) {
                assertArrayEquals(new float[] {1 - 0.2f * 6, 2 - 0.3f * 6, 3 - 0.5f * 6}, dx.toArray(), 1e-6f);
            }
            float[] t = {0.25f, 0f, 0.75f};
            try (Tensor tt = d.upload(t, 1, 3); Tensor xt = d.upload(y, 1, 3); Tensor g1 = d.upload(new float[] {2f}, 1, 1);
                 Tensor mean = d.klDivBackward(g1, xt, tt, Reduction.MEAN, false);
                 Tensor batch = d.klDivBackward(g1, xt, tt, Reduction.BATCHMEAN, false);
                 Tensor none = d.klDivBackward(xt, xt, tt, Reduction.NONE, false)) {
                assertArrayEquals(new float[] {-2 * 0.25f / 3, -0f, -2 * 0.75f / 3}, mean.toArray(), 1e-7f);
                assertArrayEquals(new float[] {-0.5f, -0f, -1.5f}, batch.toArray(), 1e-7f);
                assertArrayEquals(new float[] {-y[0] * 0.25f, 0f, -y[2] * 0.75f}, none.toArray(), 1e-7f);
            }
        }
    }
}
