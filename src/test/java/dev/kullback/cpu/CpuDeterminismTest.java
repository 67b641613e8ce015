package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kullback.Reduction;
import dev.kullback.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Results are the same bits from call to call (including the first, interpreted, calls) and whatever the number of
 * threads, which changes how rows and chunks are dealt out and whether a row is processed chunk-parallel.
 */
class CpuDeterminismTest {
    private static final int[][] SHAPES = {{1, 262147}, {3, 50001}, {16, 12289}, {5, 9000}, {200, 1000}, {1, 7},
        {1000, 33}};

    /** Every operation's output, flattened, in a fixed order. */
    private static List<float[]> everything(CpuDevice d, float[] x, float[] t, float[] g, int rows, int cols) {
        List<float[]> out = new ArrayList<>();
        try (Tensor xt = d.upload(x, rows, cols); Tensor tt = d.upload(t, rows, cols); Tensor gt = d.upload(g, rows, cols);
             Tensor g1 = d.upload(new float[] {0.7f}, 1, 1)) {
            List<Tensor> results = new ArrayList<>();
            Tensor y = d.logSoftmax(xt);
            results.add(y);
            results.add(d.softmax(xt));
            results.add(d.logSoftmaxBackward(gt, y));
            for (boolean logTarget : new boolean[] {false, true}) {
                Tensor target = logTarget ? y : tt;
                for (Reduction r : Reduction.values()) {
                    results.add(d.klDiv(y, target, r, logTarget));
                    results.add(d.klDivBackward(r == Reduction.NONE ? gt : g1, y, target, r, logTarget));
                }
            }
            results.add(d.sum(xt));
            results.add(d.mean(gt));
            results.add(d.rowSum(xt));
            for (Tensor r : results) {
                out.add(r.toArray());
                r.close();
            }
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void sameBitsAcrossRunsAndThreadCounts(String which) {
        for (int[] shape : SHAPES) {
            int rows = shape[0];
            int cols = shape[1];
            Random random = new Random(rows * 7919L + cols);
            float[] x = CpuTesting.logits(random, rows * cols, 3);
            float[] t = CpuTesting.probabilities(random, rows, cols, 0.05);
            float[] g = CpuTesting.logits(random, rows * cols, 1);
            List<float[]> first = null;
            for (int threads : new int[] {1, 2, 3, 7}) {
                try (CpuDevice d = CpuTesting.device(which, threads)) {
                    for (int run = 0; run < (threads == 1 ? 2 : 1); run++) {
                        List<float[]> results = everything(d, x, t, g, rows, cols);
                        if (first == null) {
                            first = results;
                            continue;
                        }
                        for (int i = 0; i < first.size(); i++) {
                            int diff = CpuTesting.firstDifference(first.get(i), results.get(i));
                            assertEquals(-1, diff, which + " [" + rows + ", " + cols + "] result " + i + " with "
                                    + threads + " threads, run " + run + ", differs at " + diff);
                        }
                    }
                }
            }
        }
    }

    /** A whole-tensor sum over 3M values, whose blocks go to different threads. */
    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void largeReductionsAreThreadCountIndependent(String which) {
        Random random = new Random(77);
        int n = 3_000_017;
        float[] x = CpuTesting.logits(random, n, 1);
        float[] t = CpuTesting.probabilities(random, 1, n, 0.01);
        Float sum = null;
        Float kl = null;
        for (int threads : new int[] {1, 2, 5}) {
            try (CpuDevice d = CpuTesting.device(which, threads); Tensor xt = d.upload(x, 1, n);
                 Tensor tt = d.upload(t, 1, n); Tensor s = d.sum(xt); Tensor k = d.klDiv(xt, tt, Reduction.SUM, false)) {
                if (sum == null) {
                    sum = s.item();
                    kl = k.item();
                }
                assertEquals(Float.floatToIntBits(sum), Float.floatToIntBits(s.item()), threads + " threads");
                assertEquals(Float.floatToIntBits(kl), Float.floatToIntBits(k.item()), threads + " threads");
            }
        }
    }
}
