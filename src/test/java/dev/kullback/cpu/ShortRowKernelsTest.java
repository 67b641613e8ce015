package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.Reference;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The short-row kernels ({@link Kernels#SHORT_ROW}): the vector ones against a scalar replay of their order of
 * operations, bit for bit (as KernelsTest checks exp and log against their twins); each row's result independent of
 * the range it is computed in (threads cut ranges differently); both implementations against the float64 reference,
 * with PyTorch's edge semantics on rows holding NaN, +-inf or only -inf.
 */
class ShortRowKernelsTest {
    private static final int L = PanamaKernels.SPECIES.length();
    private static final int[] COLS = {1, 3, 7, L - 1, L, L + 1, 2 * L, 33, 100, 128, 1000, Kernels.SHORT_ROW};
    private static final float INF = Float.POSITIVE_INFINITY;

    /** Rows of logits with, every few rows, a NaN, a +inf, only -inf, some -inf, a huge spread, or a max of ±0. */
    private static float[] rows(Random random, int rows, int cols) {
        float[] x = CpuTesting.logits(random, rows * cols, 3);
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            int at = base + random.nextInt(cols);
            switch (r % 9) {
                case 1 -> x[at] = Float.NaN;
                case 2 -> x[at] = INF;
                case 3 -> java.util.Arrays.fill(x, base, base + cols, -INF);
                case 4 -> x[at] = -INF;
                case 5 -> x[at] = 1e30f;
                case 6 -> x[at] = -3e38f;
                case 7 -> { // a max of 0 with both signs: the kernels' max must be +0, as Math.max's
                    for (int i = base; i < base + cols; i++) {
                        x[i] = -1f - Math.abs(x[i]);
                    }
                    x[at] = -0f; // then +0 in the same lane when the row has room, else the next entry
                    x[base + (at - base + (cols > L ? L : 1)) % cols] = cols > 1 ? 0f : -0f;
                }
                default -> {
                }
            }
        }
        return x;
    }

    /** The order PanamaShortRows adds in: lane l of the row's full vectors in order, lanes in order, then the tail. */
    private static float laneOrderSum(float[] v, int from, int cols) {
        int full = cols / L * L;
        float[] lane = new float[L];
        for (int i = 0; i < full; i++) {
            lane[i % L] += v[from + i];
        }
        float tail = 0f;
        for (int i = full; i < cols; i++) {
            tail += v[from + i];
        }
        float s = lane[0];
        for (int l = 1; l < L; l++) {
            s += lane[l];
        }
        return s + tail;
    }

    private static float rowMax(float[] x, int from, int cols) {
        float m = -INF;
        for (int i = from; i < from + cols; i++) {
            m = Math.max(m, x[i]);
        }
        return m;
    }

    /** op 0: log-softmax, 1: softmax, 2: backward (g = x, y = t). */
    private static float[] replay(int op, float[] x, float[] t, int rows, int cols) {
        float[] out = new float[rows * cols];
        float[] e = new float[cols];
        for (int r = 0; r < rows; r++) {
            int from = r * cols;
            if (op == 2) {
                float s = laneOrderSum(x, from, cols);
                for (int i = 0; i < cols; i++) {
                    out[from + i] = x[from + i] - PanamaKernels.expScalar(t[from + i]) * s;
                }
                continue;
            }
            float m = rowMax(x, from, cols);
            for (int i = 0; i < cols; i++) {
                e[i] = ShortRowExp.expScalar(x[from + i] - m);
            }
            float s = laneOrderSum(e, 0, cols);
            float logSum = PanamaKernels.logScalar(s);
            float inv = 1f / s;
            for (int i = 0; i < cols; i++) {
                out[from + i] = op == 0 ? (x[from + i] - m) - logSum : e[i] * inv;
            }
        }
        return out;
    }

    private static void run(Kernels k, int op, float[] x, float[] t, int r0, int r1, int cols, float[] out) {
        switch (op) {
            case 0 -> k.logSoftmaxShortRows(x, out, r0, r1, cols);
            case 1 -> k.softmaxShortRows(x, out, r0, r1, cols);
            default -> k.logSoftmaxBackwardShortRows(x, t, out, r0, r1, cols);
        }
    }

    @Test
    void vectorKernelsMatchTheirScalarReplayBitwise() {
        Kernels k = CpuTesting.vectorKernels();
        Random random = new Random(31);
        for (int cols : COLS) {
            int rows = 2 * L + 5; // two full groups and a partial one
            float[] x = rows(random, rows, cols);
            float[] y = new float[rows * cols];
            k.logSoftmaxShortRows(CpuTesting.logits(random, rows * cols, 2), y, 0, rows, cols);
            for (int op = 0; op < 3; op++) {
                float[] got = new float[rows * cols];
                run(k, op, x, y, 0, rows, cols, got);
                float[] want = replay(op, x, y, rows, cols);
                int diff = CpuTesting.firstDifference(want, got);
                int o = op;
                assertEquals(-1, diff, () -> "op " + o + " cols " + cols + " at " + diff + ": " + want[diff] + " vs "
                        + got[diff]);
            }
        }
    }

    /** The losses' statistics at 1/T, exps stored at an offset: every finite row's values against the replay. */
    @Test
    void vectorLossStatisticsMatchTheirScalarReplayBitwise() {
        Kernels k = CpuTesting.vectorKernels();
        Random random = new Random(34);
        float invT = 0.5f;
        for (int cols : COLS) {
            int rows = L + 3;
            int r0 = 2;
            float[] x = rows(random, rows, cols);
            ShortRowStats stats = new ShortRowStats(rows);
            float[] exps = new float[(rows - r0) * cols];
            k.softmaxStatsShortRows(x, invT, exps, r0 * cols, r0, rows, cols, stats);
            for (int r = r0; r < rows; r++) {
                int from = r * cols;
                float m = rowMax(x, from, cols);
                assertEquals(Float.floatToIntBits(m), Float.floatToIntBits(stats.max()[r]), "max, row " + r);
                if (!(m > -INF && m < INF)) {
                    continue;
                }
                float[] e = new float[cols];
                for (int i = 0; i < cols; i++) {
                    e[i] = ShortRowExp.expScalar((x[from + i] - m) * invT);
                    assertEquals(Float.floatToIntBits(e[i]), Float.floatToIntBits(exps[from - r0 * cols + i]),
                            "cols " + cols + " row " + r + " exp " + i);
                }
                float s = laneOrderSum(e, 0, cols);
                String where = "cols " + cols + " row " + r;
                assertEquals(Float.floatToIntBits(s), Float.floatToIntBits(stats.sum()[r]), where);
                assertEquals(Float.floatToIntBits(PanamaKernels.logScalar(s)),
                        Float.floatToIntBits(stats.logSum()[r]), where);
                assertEquals(Float.floatToIntBits(1f / s), Float.floatToIntBits(stats.invSum()[r]), where);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void aRowsResultDoesNotDependOnItsRange(String which) {
        Kernels k = CpuTesting.kernels(which);
        Random random = new Random(32);
        for (int cols : new int[] {5, L, 33, 128}) {
            int rows = 3 * L + 2;
            float[] x = rows(random, rows, cols);
            float[] t = CpuTesting.logits(random, rows * cols, 1);
            int[] cuts = {0, 1, 3, L, L + 1, 2 * L + 7, rows};
            for (int op = 0; op < 3; op++) {
                float[] whole = new float[rows * cols];
                float[] split = new float[rows * cols];
                run(k, op, x, t, 0, rows, cols, whole);
                for (int c = 0; c + 1 < cuts.length; c++) {
                    run(k, op, x, t, cuts[c], cuts[c + 1], cols, split);
                }
                assertEquals(-1, CpuTesting.firstDifference(whole, split), which + " op " + op + " cols " + cols);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void rowsMatchTheReferenceWithPyTorchsEdgeSemantics(String which) {
        Kernels k = CpuTesting.kernels(which);
        Random random = new Random(33);
        for (int cols : COLS) {
            int rows = 18;
            float[] x = rows(random, rows, cols);
            float[] log = new float[rows * cols];
            float[] soft = new float[rows * cols];
            k.logSoftmaxShortRows(x, log, 0, rows, cols);
            k.softmaxShortRows(x, soft, 0, rows, cols);
            for (int r = 0; r < rows; r++) {
                int from = r * cols;
                float[] row = java.util.Arrays.copyOfRange(x, from, from + cols);
                float m = rowMax(row, 0, cols);
                String where = which + " cols " + cols + " row " + r;
                if (!(m > -INF && m < INF)) { // NaN, +inf, or only -inf: NaN throughout
                    for (int i = 0; i < cols; i++) {
                        assertTrue(Float.isNaN(log[from + i]) && Float.isNaN(soft[from + i]), where);
                    }
                    continue;
                }
                Reference.assertClose(where + " logSoftmax", Reference.logSoftmax(row, 1, cols),
                        java.util.Arrays.copyOfRange(log, from, from + cols), 1e-6, 2e-6);
                Reference.assertClose(where + " softmax", Reference.softmax(row, 1, cols),
                        java.util.Arrays.copyOfRange(soft, from, from + cols), 1e-5, 1e-12);
                for (int i = 0; i < cols; i++) {
                    if (row[i] == -INF) {
                        assertEquals(-INF, log[from + i], where);
                        assertEquals(0f, soft[from + i], where);
                    }
                }
            }
        }
    }
}
