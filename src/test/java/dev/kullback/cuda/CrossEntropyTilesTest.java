package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kullback.Approx;
import dev.kullback.CrossEntropy;
import dev.kullback.Device;
import dev.kullback.Devices;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
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
 * Cross-entropy's row-tile kernels (class indices, no label smoothing: {@code ce_rows_*_cached}, {@code ce_chunk_*})
 * on the host simulator against the CPU device, on a shape of each {@link RowTiles} kind, with ignored rows, edge
 * values, weights and the z-loss. (Smoothing takes the two-pass kernels, covered by SimulatorLossParityTest.)
 */
class CrossEntropyTilesTest {
    private static CudaDevice simulated;

    @BeforeAll
    static void open() {
        simulated = new CudaDevice(SimGpus.open());
    }

    @AfterAll
    static void close() {
        if (simulated != null) {
            simulated.close();
        }
    }

    static Stream<Arguments> shapes() {
        List<Arguments> cases = new ArrayList<>();
        int[][] shapes = {{65, 128}, {5, 1000}, {70, 2048}, {3, 32000}, {2, 65536}};
        RowTiles.Kind[] kinds = {RowTiles.Kind.WARP1, RowTiles.Kind.WARP8, RowTiles.Kind.BLOCK, RowTiles.Kind.CHUNKS,
                                 RowTiles.Kind.CHUNKS};
        for (int i = 0; i < shapes.length; i++) {
            for (boolean edges : new boolean[] {false, true}) {
                cases.add(Arguments.of(shapes[i][0], shapes[i][1], kinds[i], edges));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "[{0}, {1}] {2} edges {3}")
    @MethodSource("shapes")
    void matchesCpu(int rows, int cols, RowTiles.Kind kind, boolean edges) {
        assertEquals(kind, RowTiles.of(rows, cols).kind);
        for (LossParityContract.Case c : new LossParityContract.Case[] {LossParityContract.Case.CE_MEAN,
                LossParityContract.Case.CE_NONE, LossParityContract.Case.CE_MEAN_ALL_IGNORED}) {
            LossParityContract.assertMatchesCpu(simulated, c, rows, cols, edges);
        }
        Inputs in = new Inputs(rows, cols, edges);
        for (Reduction reduction : new Reduction[] {Reduction.MEAN, Reduction.SUM, Reduction.NONE}) {
            List<float[]> expected = weightedZLoss(Devices.cpu(), in, reduction);
            List<float[]> actual = weightedZLoss(simulated, in, reduction);
            String what = "weights + zLoss " + reduction + " [" + rows + ", " + cols + "] edges " + edges;
            Approx.assertClose(what + " value", expected.get(0), actual.get(0), 1, 1e-4 * Math.sqrt(cols) + 1e-4, 0);
            Approx.assertCloseToRowScale(what + " gradient", expected.get(1), actual.get(1), cols, 1e-4, 1e-4);
        }
    }

    /** Logits (with edges: per row but row 1 a masked -inf column and a +1000 logit), weights, labels (some ignored). */
    private static final class Inputs {
        final int rows;
        final int cols;
        final float[] a;
        final float[] weights;
        final int[] labels;

        Inputs(int rows, int cols, boolean edges) {
            this.rows = rows;
            this.cols = cols;
            Random random = new Random(17L * rows + cols + (edges ? 1 : 0));
            a = new float[rows * cols];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (random.nextGaussian() * 3);
            }
            weights = new float[cols];
            for (int j = 0; j < cols; j++) {
                weights[j] = 0.25f + random.nextFloat();
            }
            labels = new int[rows];
            for (int r = 0; r < rows; r++) {
                labels[r] = (r == 1 || r % 7 == 6) ? -100 : random.nextInt(cols);
                if (edges && r != 1) {
                    a[r * cols + cols / 2] = Float.NEGATIVE_INFINITY;
                    a[r * cols + cols - 1] = 1000f;
                    if (labels[r] == cols / 2) {
                        labels[r] = 0;
                    }
                }
            }
        }
    }

    private static List<float[]> weightedZLoss(Device d, Inputs in, Reduction reduction) {
        try (Tensor x = d.upload(in.a, in.rows, in.cols); Tensor w = d.upload(in.weights, 1, in.cols);
             Labels y = d.uploadLabels(in.labels);
             Loss loss = d.crossEntropy(x, y, CrossEntropy.options().weights(w).zLoss(1e-3f).reduction(reduction))) {
            return List.of(loss.value().toArray(), loss.gradient(0).toArray());
        }
    }
}
