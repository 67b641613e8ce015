package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kullback.CrossEntropy;
import dev.kullback.DType;
import dev.kullback.Device;
import dev.kullback.Distillation;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Reference;
import dev.kullback.Tensor;
import dev.kullback.internal.HalfFloats;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Every op and loss as one case over inputs of any type and layout, run on two devices (or two layouts) and compared:
 * the half-precision and row-stride side of the CUDA device (issue 10). The inputs of a case are made from the same
 * float data on every device (rounded to the type), in one of the {@link Layout}s.
 */
final class HalfCases {
    /** What an input holds: logits, log-probabilities, probabilities, or an incoming gradient. */
    enum Data { LOGITS, LOGPROBS, PROBS, GRAD }

    /** How an input lies in memory: its own allocation, or a view of a wider one. */
    enum Layout {
        CONTIGUOUS,
        /** Rows 16-byte aligned (the row stride a multiple of 8 elements): the vectorized path, as contiguous. */
        ALIGNED_VIEW,
        /** A view starting one column in with an odd stride: half rows unaligned, the scalar path. */
        MISALIGNED_VIEW,
        /** The last columns of a wider allocation: the last row ends at the allocation's last element. */
        TAIL_VIEW
    }

    interface Op {
        /** The outputs to compare; the caller closes them. */
        List<Tensor> run(Device device, List<Tensor> in, Labels labels);
    }

    record Case(String name, List<Data> inputs, Op op) {
        @Override
        public String toString() {
            return name;
        }
    }

    private HalfCases() {
    }

    private static List<Tensor> loss(Loss loss) {
        List<Tensor> out = new ArrayList<>();
        out.add(loss.value());
        for (int i = 0; i < loss.gradientCount(); i++) {
            out.add(loss.gradient(i));
        }
        return out;
    }

    /** Every op and loss of the Device API that takes half inputs (the vocabulary-parallel ones need an AllReduce). */
    static List<Case> all() {
        List<Data> one = List.of(Data.LOGITS);
        List<Data> two = List.of(Data.LOGITS, Data.LOGITS);
        List<Case> c = new ArrayList<>();
        c.add(new Case("logSoftmax", one, (d, in, y) -> List.of(d.logSoftmax(in.get(0)))));
        c.add(new Case("softmax", one, (d, in, y) -> List.of(d.softmax(in.get(0)))));
        c.add(new Case("logSoftmaxBackward", List.of(Data.GRAD, Data.LOGPROBS),
                (d, in, y) -> List.of(d.logSoftmaxBackward(in.get(0), in.get(1)))));
        c.add(new Case("klDiv NONE", List.of(Data.LOGPROBS, Data.PROBS),
                (d, in, y) -> List.of(d.klDiv(in.get(0), in.get(1), Reduction.NONE, false))));
        c.add(new Case("klDiv BATCHMEAN", List.of(Data.LOGPROBS, Data.PROBS),
                (d, in, y) -> List.of(d.klDiv(in.get(0), in.get(1), Reduction.BATCHMEAN, false))));
        c.add(new Case("klDivBackward NONE", List.of(Data.GRAD, Data.LOGPROBS, Data.PROBS),
                (d, in, y) -> List.of(d.klDivBackward(in.get(0), in.get(1), in.get(2), Reduction.NONE, false))));
        c.add(new Case("sum", one, (d, in, y) -> List.of(d.sum(in.get(0)))));
        c.add(new Case("mean", one, (d, in, y) -> List.of(d.mean(in.get(0)))));
        c.add(new Case("rowSum", one, (d, in, y) -> List.of(d.rowSum(in.get(0)))));
        c.add(new Case("crossEntropy", one, (d, in, y) -> loss(d.crossEntropy(in.get(0), y))));
        c.add(new Case("crossEntropy smoothing zLoss SUM", one, (d, in, y) -> loss(d.crossEntropy(in.get(0), y,
                CrossEntropy.options().labelSmoothing(0.1f).zLoss(1e-3f).reduction(Reduction.SUM)))));
        c.add(new Case("crossEntropy float32Gradients", one, (d, in, y) -> loss(d.crossEntropy(in.get(0), y,
                CrossEntropy.options().float32Gradients(true)))));
        c.add(new Case("crossEntropy soft targets NONE", List.of(Data.LOGITS, Data.PROBS), (d, in, y) ->
                loss(d.crossEntropy(in.get(0), in.get(1), CrossEntropy.options().reduction(Reduction.NONE)))));
        c.add(new Case("crossEntropy soft targets float32Gradients", List.of(Data.LOGITS, Data.PROBS), (d, in, y) ->
                loss(d.crossEntropy(in.get(0), in.get(1), CrossEntropy.options().float32Gradients(true)))));
        c.add(new Case("distillationKl float32Gradients", two, (d, in, y) -> loss(d.distillationKl(in.get(0),
                in.get(1), Distillation.options().temperature(2f).float32Gradients(true)))));
        c.add(new Case("distillationKl T=2", two, (d, in, y) -> loss(d.distillationKl(in.get(0), in.get(1), 2f))));
        c.add(new Case("distillationKl reverse", two, (d, in, y) -> loss(d.distillationKl(in.get(0), in.get(1),
                Distillation.options().reverse(true)))));
        c.add(new Case("jsd 0.3", two, (d, in, y) -> loss(d.jsd(in.get(0), in.get(1), 0.3f, Reduction.MEAN))));
        c.add(new Case("symmetricKl", two, (d, in, y) -> loss(d.symmetricKl(in.get(0), in.get(1), Reduction.SUM))));
        c.add(new Case("entropy", one, (d, in, y) -> loss(d.entropy(in.get(0), Reduction.MEAN))));
        c.add(new Case("tvd", two, (d, in, y) -> loss(d.tvd(in.get(0), in.get(1), Reduction.SUM))));
        c.add(new Case("kerasKl", List.of(Data.PROBS, Data.PROBS),
                (d, in, y) -> loss(d.kerasKl(in.get(0), in.get(1), Reduction.SUM, false))));
        c.add(new Case("gaussianKl", List.of(Data.LOGITS, Data.LOGITS, Data.LOGITS, Data.LOGITS),
                (d, in, y) -> loss(d.gaussianKl(in.get(0), in.get(1), in.get(2), in.get(3), Reduction.MEAN))));
        return c;
    }

    /** Input data of a kind, [rows, cols] row-major, from a seed. */
    static float[] data(Data kind, int rows, int cols, long seed) {
        Random r = new Random(seed);
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * (kind == Data.GRAD ? 0.5 : 2.0));
        }
        if (kind == Data.LOGPROBS || kind == Data.PROBS) {
            double[] logp = Reference.logSoftmax(x, rows, cols);
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (kind == Data.LOGPROBS ? logp[i] : Math.exp(logp[i]));
            }
        }
        return x;
    }

    /** Class labels in [0, cols), row 1 ignored (-100) when there are at least 3 rows. */
    static int[] labels(int rows, int cols, long seed) {
        Random r = new Random(seed);
        int[] y = new int[rows];
        for (int i = 0; i < rows; i++) {
            y[i] = rows >= 3 && i == 1 ? -100 : r.nextInt(cols);
        }
        return y;
    }

    /** {@code data} as a [rows, cols] tensor of {@code type} on {@code d}, laid out as {@code layout}. */
    static Tensor upload(Device d, float[] data, int rows, int cols, DType type, Layout layout, List<Tensor> owned) {
        if (layout == Layout.CONTIGUOUS) {
            Tensor t = d.upload(data, rows, cols, type);
            owned.add(t);
            return t;
        }
        int first = switch (layout) {
            case ALIGNED_VIEW -> 0;
            case MISALIGNED_VIEW -> 1;
            default -> 5;
        };
        int stride = switch (layout) {
            case ALIGNED_VIEW -> (cols + 1 + 7) / 8 * 8;
            case MISALIGNED_VIEW -> (cols + 3) | 1;
            default -> cols + 5;
        };
        float[] wide = new float[rows * stride];
        java.util.Arrays.fill(wide, Float.NaN); // columns outside the view: any read of them shows
        for (int r = 0; r < rows; r++) {
            System.arraycopy(data, r * cols, wide, r * stride + first, cols);
        }
        Tensor base = d.upload(wide, rows, stride, type);
        owned.add(base);
        return d.view(base, 0, rows, first, cols);
    }

    /** The outputs of {@code c} on {@code d}: each as float values (half widened exactly), with its type. */
    static List<Output> run(Device d, Case c, DType type, int rows, int cols, Layout layout, long seed) {
        List<Tensor> owned = new ArrayList<>();
        List<Tensor> in = new ArrayList<>();
        for (int i = 0; i < c.inputs().size(); i++) {
            in.add(upload(d, data(c.inputs().get(i), rows, cols, seed + i), rows, cols, type, layout, owned));
        }
        try (Labels y = d.uploadLabels(labels(rows, cols, seed))) {
            List<Tensor> outputs = c.op().run(d, in, y);
            List<Output> result = new ArrayList<>();
            try {
                for (Tensor t : outputs) {
                    result.add(new Output(t.dtype(), t.toArray()));
                }
            } finally {
                outputs.forEach(Tensor::close);
            }
            return result;
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    record Output(DType type, float[] values) {
    }

    /**
     * Asserts that {@code actual} matches {@code expected} (another device, or another kernel path) up to what the two
     * may differ by: their float32 arithmetic (expf, logf and summation order differ between devices: 1e-4 of the
     * largest value of the output, the losses' tolerance elsewhere in this suite), and, for a half output, one unit in
     * the last place of the half type, since two float32 values that close can round to neighbouring half values.
     */
    static void assertClose(List<Output> expected, List<Output> actual, String what) {
        assertEquals(expected.size(), actual.size(), what + ": outputs");
        for (int k = 0; k < expected.size(); k++) {
            Output e = expected.get(k);
            Output a = actual.get(k);
            assertEquals(e.type(), a.type(), what + ": output " + k + " type");
            double scale = 0;
            for (float v : e.values()) {
                if (Float.isFinite(v)) {
                    scale = Math.max(scale, Math.abs(v));
                }
            }
            for (int i = 0; i < e.values().length; i++) {
                float x = e.values()[i];
                float y = a.values()[i];
                if (Float.compare(x, y) == 0 || (Float.isNaN(x) && Float.isNaN(y))) {
                    continue;
                }
                double allowed = 1e-4 * scale + halfUlp(e.type(), Math.max(Math.abs(x), Math.abs(y)));
                if (!(Math.abs(x - y) <= allowed)) {
                    fail(what + ": output " + k + " (" + e.type() + ") element " + i + ": expected " + x + ", got " + y
                            + " (allowed difference " + allowed + ")");
                }
            }
        }
    }

    /** One unit in the last place of a half type at magnitude v (0 for FLOAT32). */
    static double halfUlp(DType type, double v) {
        if (type == DType.FLOAT32) {
            return 0;
        }
        int mantissa = type == DType.BFLOAT16 ? 7 : 10;
        double min = type == DType.BFLOAT16 ? Math.ulp(Float.MIN_NORMAL) * 65536 : Math.pow(2, -24);
        return Math.max(min, Math.pow(2, Math.getExponent(Math.max(v, Double.MIN_NORMAL)) - mantissa));
    }

    /** Asserts the two runs gave exactly the same bits. */
    static void assertSameBits(List<Output> expected, List<Output> actual, String what) {
        assertEquals(expected.size(), actual.size(), what + ": outputs");
        for (int k = 0; k < expected.size(); k++) {
            float[] e = expected.get(k).values();
            float[] a = actual.get(k).values();
            for (int i = 0; i < e.length; i++) {
                if (Float.floatToRawIntBits(e[i]) != Float.floatToRawIntBits(a[i])) {
                    fail(what + ": output " + k + " element " + i + ": " + e[i] + " vs " + a[i]);
                }
            }
        }
    }

    /** Rounds float data to a type and widens it back: what a device holds after upload(float[], type). */
    static float[] rounded(float[] x, DType type) {
        if (type == DType.FLOAT32) {
            return x.clone();
        }
        float[] r = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            r[i] = HalfFloats.toFloat(type, HalfFloats.fromFloat(type, x[i]));
        }
        return r;
    }

    /**
     * Every typed and conversion kernel once, on a warp-per-row and a block-per-row shape, each result against the CPU
     * device: what SimulatorParityTest's coverage check needs, whatever order the test classes run in.
     */
    static void launchAll(CudaDevice cuda, Device cpu) {
        for (DType type : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
            for (int[] shape : new int[][] {{3, 40}, {2, 1500}}) {
                for (Case c : all()) {
                    String what = c + " " + type + " [" + shape[0] + ", " + shape[1] + "]";
                    assertClose(run(cpu, c, type, shape[0], shape[1], Layout.CONTIGUOUS, 7),
                            run(cuda, c, type, shape[0], shape[1], Layout.CONTIGUOUS, 7), what);
                }
            }
            // a half view read back as bits: the same-type copy kernels
            try (Tensor base = cuda.upload(new float[] {1, 2, 3, 4, 5, 6}, 2, 3, type)) {
                Tensor view = cuda.view(base, 0, 2, 1, 2);
                short[] bits = view.toBits();
                assertEquals(4, bits.length);
                assertEquals(HalfFloats.fromFloat(type, 6f), bits[3]);
            }
        }
        // a strided float32 view into a staged family: the float32 strided copy
        Case kl = all().get(3);
        assertClose(run(cpu, kl, DType.FLOAT32, 3, 40, Layout.MISALIGNED_VIEW, 7),
                run(cuda, kl, DType.FLOAT32, 3, 40, Layout.MISALIGNED_VIEW, 7), "klDiv float32 view");
    }
}
