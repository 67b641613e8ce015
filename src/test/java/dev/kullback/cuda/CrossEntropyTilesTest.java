package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kullback.CrossEntropy;
import dev.kullback.Device;
import dev.kullback.Devices;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import java.util.ArrayList;
import java.util.List;
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
        LossParityContract.Inputs in = new LossParityContract.Inputs(rows, cols, edges);
        for (Reduction reduction : new Reduction[] {Reduction.MEAN, Reduction.SUM, Reduction.NONE}) {
            List<float[]> expected = weightedZLoss(Devices.cpu(), in, reduction);
            List<float[]> actual = weightedZLoss(simulated, in, reduction);
            String what = "weights + zLoss " + reduction + " [" + rows + ", " + cols + "] edges " + edges;
            CudaParityContract.assertClose(what + " value", expected.get(0), actual.get(0), 1e-4 * Math.sqrt(cols) + 1e-4);
            CudaParityContract.assertClose(what + " gradient", expected.get(1), actual.get(1), 1e-4);
        }
    }

    private static List<float[]> weightedZLoss(Device d, LossParityContract.Inputs in, Reduction reduction) {
        try (Tensor x = d.upload(in.a, in.rows, in.cols); Tensor w = d.upload(in.weights, 1, in.cols);
             Labels y = d.uploadLabels(in.labels);
             Loss loss = d.crossEntropy(x, y, CrossEntropy.options().weights(w).zLoss(1e-3f).reduction(reduction))) {
            return List.of(loss.value().toArray(), loss.gradient(0).toArray());
        }
    }
}
