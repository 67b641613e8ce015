package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kullback.DType;
import dev.kullback.Distillation;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Half tensors and views keep the CPU's bitwise determinism: the same bits for 1, 2, 3 and 5 threads, whether rows
 * run block by block ({@link RowBlocks}), chunk-parallel or staged whole ({@link CpuStaging}).
 */
class HalfDeterminismTest {
    private static final int[][] SHAPES = {{1, 262147}, {3, 50001}, {16, 12289}, {200, 1000}, {1000, 33}, {9, 4097}};

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void sameBitsForEveryThreadCount(DType type) {
        for (int[] shape : SHAPES) {
            List<int[]> first = null;
            for (int threads : new int[] {1, 2, 3, 5}) {
                try (CpuDevice d = new CpuDevice(threads)) {
                    List<int[]> bits = everything(d, type, shape[0], shape[1]);
                    if (first == null) {
                        first = bits;
                        continue;
                    }
                    assertEquals(first.size(), bits.size());
                    for (int i = 0; i < bits.size(); i++) {
                        assertArrayEquals(first.get(i), bits.get(i), type + " " + shape[0] + "x" + shape[1]
                                + " result " + i + " on " + threads + " threads differs from 1 thread");
                    }
                }
            }
        }
    }

    private static List<int[]> everything(CpuDevice d, DType type, int rows, int cols) {
        Random random = new Random(rows * 31L + cols);
        float[] x = new float[rows * cols];
        float[] t = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * 3);
            t[i] = (float) (random.nextGaussian() * 3);
        }
        int[] labels = new int[rows];
        for (int r = 0; r < rows; r++) {
            labels[r] = r % 5 == 1 ? -100 : random.nextInt(cols);
        }
        List<int[]> out = new ArrayList<>();
        try (Tensor base = d.upload(pad(x, rows, cols), rows + 1, cols + 3, type);
             Tensor tt = d.upload(t, rows, cols, type); Labels y = d.uploadLabels(labels)) {
            Tensor xt = d.view(base, 1, rows, 2, cols);
            List<Tensor> results = new ArrayList<>();
            Tensor ls = d.logSoftmax(xt);
            results.add(ls);
            results.add(d.softmax(tt));
            results.add(d.logSoftmaxBackward(tt, ls));
            results.add(d.klDiv(ls, tt, Reduction.NONE, true));
            results.add(d.klDiv(ls, tt, Reduction.BATCHMEAN, true));
            results.add(d.rowSum(xt));
            for (Tensor r : results) {
                out.add(bits(r.toArray()));
                r.close();
            }
            try (Loss ce = d.crossEntropy(xt, y); Loss kd = d.distillationKl(xt, tt, Distillation.options()
                    .temperature(2).ignore(y, -100)); Loss js = d.jsd(xt, tt, 0.5f, Reduction.SUM)) {
                for (Loss l : List.of(ce, kd, js)) {
                    out.add(bits(l.value().toArray()));
                    out.add(bits(l.gradient(0).toArray()));
                }
            }
        }
        return out;
    }

    private static float[] pad(float[] x, int rows, int cols) {
        float[] p = new float[(rows + 1) * (cols + 3)];
        java.util.Arrays.fill(p, Float.NaN);
        for (int r = 0; r < rows; r++) {
            System.arraycopy(x, r * cols, p, (r + 1) * (cols + 3) + 2, cols);
        }
        return p;
    }

    private static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = Float.floatToRawIntBits(v[i]);
        }
        return b;
    }
}
