package dev.kullback.cpu;

import static dev.kullback.Reference.assertClose;

import dev.kullback.Reduction;
import dev.kullback.Reference;
import dev.kullback.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every operation of both kernel implementations against the float64 {@link Reference}, on random inputs of many
 * shapes: row lengths below, at and across the vector width and the 4096-value chunk, and rows enough to go
 * row-parallel or chunk-parallel. Tolerances are a few float32 roundings, so that a real error fails.
 */
class CpuAccuracyTest {
    private static CpuDevice scalar;
    private static CpuDevice vector;

    @BeforeAll
    static void open() {
        scalar = CpuTesting.device("scalar", 2);
        vector = CpuTesting.device("vector", 2);
    }

    @AfterAll
    static void close() {
        scalar.close();
        vector.close();
    }

    static Stream<Arguments> shapes() {
        List<Arguments> shapes = new ArrayList<>();
        for (int cols : new int[] {1, 2, 7, 31, 33, 127, 1000, 4097, 262147}) {
            for (int rows : new int[] {1, 3, 64}) {
                if ((long) rows * cols <= 2_000_000) {
                    shapes.add(Arguments.of(rows, cols));
                }
            }
        }
        shapes.add(Arguments.of(2, 12289)); // three chunks, the last one short
        shapes.add(Arguments.of(9, 8192)); // exactly two chunks
        return shapes.stream();
    }

    private static List<CpuDevice> devices() {
        return List.of(scalar, vector);
    }

    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void softmaxAndLogSoftmax(int rows, int cols) {
        Random random = new Random(rows * 31L + cols);
        float[] x = CpuTesting.logits(random, rows * cols, 4);
        double[] logExpected = Reference.logSoftmax(x, rows, cols);
        double[] expected = Reference.softmax(x, rows, cols);
        for (CpuDevice d : devices()) {
            try (Tensor t = d.upload(x, rows, cols); Tensor log = d.logSoftmax(t); Tensor soft = d.softmax(t)) {
                // log-softmax: two float roundings of values up to |x - max| ~ 30, and the error of log(sum)
                assertClose(d.name() + " logSoftmax", logExpected, log.toArray(), 1e-6, 2e-6);
                assertClose(d.name() + " softmax", expected, soft.toArray(), 1e-5, 1e-12);
            }
        }
    }

    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void logSoftmaxBackward(int rows, int cols) {
        Random random = new Random(rows * 37L + cols);
        float[] y = CpuTesting.logProbabilities(random, rows, cols);
        float[] g = CpuTesting.logits(random, rows * cols, 1);
        double[] expected = Reference.logSoftmaxBackward(g, y, rows, cols);
        double[] scale = Reference.logSoftmaxBackwardScale(g, y, rows, cols);
        for (CpuDevice d : devices()) {
            try (Tensor gt = d.upload(g, rows, cols); Tensor yt = d.upload(y, rows, cols);
                 Tensor out = d.logSoftmaxBackward(gt, yt)) {
                assertClose(d.name() + " logSoftmaxBackward", expected, out.toArray(), scale, 1e-6, 1e-7);
            }
        }
    }

    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void klDivEveryReductionBothTargetKinds(int rows, int cols) {
        Random random = new Random(rows * 41L + cols);
        float[] x = CpuTesting.logProbabilities(random, rows, cols);
        float[] p = CpuTesting.probabilities(random, rows, cols, 0.1);
        float[] logP = CpuTesting.logProbabilities(random, rows, cols);
        for (boolean logTarget : new boolean[] {false, true}) {
            float[] t = logTarget ? logP : p;
            double[] expected = Reference.klDiv(x, t, logTarget);
            double[] scale = Reference.klDivScale(x, t, logTarget);
            double total = Reference.sumAbs(scale);
            for (CpuDevice d : devices()) {
                String what = d.name() + " klDiv logTarget=" + logTarget;
                try (Tensor xt = d.upload(x, rows, cols); Tensor tt = d.upload(t, rows, cols)) {
                    try (Tensor out = d.klDiv(xt, tt, Reduction.NONE, logTarget)) {
                        assertClose(what + " NONE", expected, out.toArray(), scale, 1e-6, 1e-9);
                    }
                    for (Reduction r : new Reduction[] {Reduction.SUM, Reduction.MEAN, Reduction.BATCHMEAN}) {
                        double div = Reference.divisor(r, rows, cols);
                        try (Tensor out = d.klDiv(xt, tt, r, logTarget)) {
                            assertClose(what + " " + r, Reference.klDiv(x, t, rows, cols, r, logTarget), out.item(),
                                    total / div, 2e-6, 1e-12);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void klDivBackward(int rows, int cols) {
        Random random = new Random(rows * 43L + cols);
        float[] x = CpuTesting.logProbabilities(random, rows, cols);
        float[] g = CpuTesting.logits(random, rows * cols, 1);
        float[] g1 = {(float) random.nextGaussian()};
        for (boolean logTarget : new boolean[] {false, true}) {
            float[] t = logTarget ? CpuTesting.logProbabilities(random, rows, cols)
                    : CpuTesting.probabilities(random, rows, cols, 0.1);
            for (CpuDevice d : devices()) {
                try (Tensor xt = d.upload(x, rows, cols); Tensor tt = d.upload(t, rows, cols);
                     Tensor gt = d.upload(g, rows, cols); Tensor g1t = d.upload(g1, 1, 1)) {
                    for (Reduction r : Reduction.values()) {
                        float[] grad = r == Reduction.NONE ? g : g1;
                        try (Tensor out = d.klDivBackward(r == Reduction.NONE ? gt : g1t, xt, tt, r, logTarget)) {
                            assertClose(d.name() + " klDivBackward " + r + " logTarget=" + logTarget,
                                    Reference.klDivBackward(grad, t, rows, cols, r, logTarget), out.toArray(), 2e-6,
                                    1e-30);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void sumMeanRowSum(int rows, int cols) {
        Random random = new Random(rows * 47L + cols);
        float[] x = CpuTesting.logits(random, rows * cols, 3);
        for (int i = 0; i < x.length; i += 3) {
            x[i] += 1; // a nonzero mean
        }
        double abs = Reference.sumAbs(x);
        double[] rowAbs = Reference.rowSumAbs(x, rows, cols);
        for (CpuDevice d : devices()) {
            try (Tensor t = d.upload(x, rows, cols); Tensor sum = d.sum(t); Tensor mean = d.mean(t);
                 Tensor rowSum = d.rowSum(t)) {
                assertClose(d.name() + " sum", Reference.sum(x), sum.item(), abs, 1e-6, 0);
                assertClose(d.name() + " mean", Reference.mean(x), mean.item(), abs / x.length, 1e-6, 0);
                assertClose(d.name() + " rowSum", Reference.rowSum(x, rows, cols), rowSum.toArray(), rowAbs, 1e-6, 0);
            }
        }
    }
}
