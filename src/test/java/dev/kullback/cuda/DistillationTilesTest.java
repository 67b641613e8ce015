package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Distillation's row-tile kernels (forward KL: {@code distillation_rows_*_cached}, {@code distillation_chunk_*}) on
 * the host simulator against the CPU device, on a shape of each {@link RowTiles} kind for two-input rows, with
 * temperatures, ignored rows, all rows ignored and edge values. (The reverse KL takes the two-pass kernels.)
 */
class DistillationTilesTest {
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
        RowTiles.Kind[] kinds = {RowTiles.Kind.WARP1, RowTiles.Kind.BLOCK, RowTiles.Kind.BLOCK, RowTiles.Kind.CHUNKS,
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
        assertEquals(kind, RowTiles.of(rows, cols, 4).kind);
        for (LossParityContract.Case c : new LossParityContract.Case[] {LossParityContract.Case.DISTILL_BATCHMEAN,
                LossParityContract.Case.DISTILL_NONE_T2, LossParityContract.Case.DISTILL_MEAN_IGNORE,
                LossParityContract.Case.DISTILL_NONE_ALL_IGNORED, LossParityContract.Case.DISTILL_BATCHMEAN_ALL_IGNORED}) {
            LossParityContract.assertMatchesCpu(simulated, c, rows, cols, edges);
        }
    }
}
