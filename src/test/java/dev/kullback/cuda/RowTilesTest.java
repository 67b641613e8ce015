package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.Approx;
import dev.kullback.Device;
import dev.kullback.Devices;
import dev.kullback.Tensor;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The row-tile launch shapes ({@link RowTiles}) and the chunked softmax kernels' edge cases on the host simulator:
 * a chunk that is all -inf, a +inf or a NaN in one chunk of a row whose other chunks are finite, against the CPU
 * device (PyTorch semantics).
 */
class RowTilesTest {
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

    @ParameterizedTest(name = "[{0}, {1}] -> {2}")
    @CsvSource({"65536, 128, WARP1", "3, 1000, WARP8", "4096, 32768, BLOCK", "257, 32000, BLOCK", "16, 262144, CHUNKS",
                "1, 32000, CHUNKS", "4096, 65536, CHUNKS", "16, 2048, BLOCK"})
    void shapeDecidesTheKernel(int rows, int cols, RowTiles.Kind kind) {
        RowTiles t = RowTiles.of(rows, cols);
        assertEquals(kind, t.kind);
        assertEquals(0, t.threads % 32, "threads a multiple of 32");
        assertTrue(t.threads >= 32 && t.threads <= 1024, "threads " + t.threads);
        if (kind == RowTiles.Kind.BLOCK || kind == RowTiles.Kind.CHUNKS) {
            assertTrue(t.chunk4 <= (long) t.threads * RowTiles.TILE_K, "a chunk fits its block's registers");
            assertTrue((long) t.chunks * t.chunk4 >= cols / 4, "the chunks cover the row");
            assertEquals((long) rows * t.chunks, t.grid);
        }
    }

    @Test
    void fewLongRowsFillTheMachineAndManyRowsAreNotCut() {
        assertEquals(16, RowTiles.chunks(16, 262144), "16 rows of 262144: 256 blocks");
        assertEquals(1, RowTiles.chunks(4096, 32768), "4096 rows fit one block each");
        assertEquals(2, RowTiles.chunks(4096, 65536), "a row over 32768 columns needs two chunks");
    }

    @Test
    void alignmentIsCheckedOnEveryPointer() {
        assertTrue(RowTiles.aligned(8, 256, 512));
        assertFalse(RowTiles.aligned(6, 256, 512), "cols % 4");
        assertFalse(RowTiles.aligned(8, 256, 516), "second pointer");
    }

    /** Edge values in chosen chunks of [2, 32000] (7 chunks of 4572 columns, the last shorter). */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"all -inf chunk", "+inf in one chunk", "NaN in the last chunk", "all -inf row", "huge and tiny"})
    void chunkedRowsKeepPyTorchSemantics(String edge) {
        int rows = 2;
        int cols = 32000;
        assertEquals(RowTiles.Kind.CHUNKS, RowTiles.of(rows, cols).kind);
        float[] x = new float[rows * cols];
        float[] g = new float[rows * cols];
        Random random = new Random(7);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * 3);
            g[i] = (float) random.nextGaussian();
        }
        switch (edge) {
            case "all -inf chunk" -> java.util.Arrays.fill(x, 4572, 2 * 4572, Float.NEGATIVE_INFINITY);
            case "+inf in one chunk" -> x[3 * 4572 + 5] = Float.POSITIVE_INFINITY;
            case "NaN in the last chunk" -> x[cols - 1] = Float.NaN;
            case "all -inf row" -> java.util.Arrays.fill(x, cols, 2 * cols, Float.NEGATIVE_INFINITY);
            default -> {
                x[6 * 4572] = 1000f;
                x[10] = -1000f;
            }
        }
        compare(edge + ": logSoftmax", x, null, rows, cols, (d, t) -> d.logSoftmax(t[0]));
        compare(edge + ": softmax", x, null, rows, cols, (d, t) -> d.softmax(t[0]));
        compare(edge + ": logSoftmaxBackward", x, g, rows, cols, (d, t) -> {
            try (Tensor y = d.logSoftmax(t[0])) {
                return d.logSoftmaxBackward(t[1], y);
            }
        });
    }

    private static void compare(String what, float[] x, float[] g, int rows, int cols,
                                BiFunction<Device, Tensor[], Tensor> op) {
        float[] expected = run(Devices.cpu(), x, g, rows, cols, op);
        float[] actual = run(simulated, x, g, rows, cols, op);
        Approx.assertClose(what, expected, actual, cols, 2e-5, 2e-5);
    }

    private static float[] run(Device d, float[] x, float[] g, int rows, int cols, BiFunction<Device, Tensor[], Tensor> op) {
        try (Tensor tx = d.upload(x, rows, cols); Tensor tg = g == null ? d.zeros(rows, cols) : d.upload(g, rows, cols);
             Tensor out = op.apply(d, new Tensor[] {tx, tg})) {
            return out.toArray();
        }
    }
}
