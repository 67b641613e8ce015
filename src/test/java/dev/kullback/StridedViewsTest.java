package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.HalfCase.Layout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Views (inputs and outputs) give exactly the bits of the same data copied contiguous, for every op and loss, in
 * FLOAT32 and the half types, on every device that takes them ({@link TestDevices#stridesCapable()}): views inside
 * padded allocations (odd row strides, the padding NaN so that a read outside the view would show), views of views
 * whose last row ends at the allocation's end, a view at column 1 (row stride cols + 1), views whose rows are aligned,
 * a contiguous view at an odd offset (each {@link Layout#VIEWS}), outputs written into views with the padding left
 * untouched. On CUDA these take every kernel with both kinds of loads (16-byte vectors for aligned rows, element by
 * element for the others), which must give the same bits; the simulator traps a misaligned vector load and any
 * access past the allocation's end.
 */
class StridedViewsTest {

    static Stream<Arguments> devicesAndTypes() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.stridesCapable()) {
            for (DType t : DType.values()) {
                if (t == DType.FLOAT32 || TestDevices.halfCapable().contains(d)) {
                    out.add(Arguments.of(d, t));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}", autoCloseArguments = false)
    @MethodSource("devicesAndTypes")
    void everyLossOnViewsGivesTheBitsOfContiguousCopies(Device d, DType type) {
        for (LossCase c : HalfPrecisionParityTest.lossCases()) {
            HalfCase.roundedTo(type, c);
            HalfCase.Result plain = HalfCase.run(d, c, type, Layout.CONTIGUOUS, false);
            for (Layout layout : Layout.VIEWS) {
                HalfCase.Result viewed = HalfCase.run(d, c, type, layout, false);
                String at = d.name() + " " + type + " " + c + " " + layout;
                assertBits(at + " value", plain.out().value(), viewed.out().value());
                for (int k = 0; k < plain.out().grads().length; k++) {
                    assertBits(at + " grad " + k, plain.out().grads()[k], viewed.out().grads()[k]);
                }
            }
        }
    }

    /** Every case of {@link OpCase#catalog} over {@link Shape#VIEWS}, its inputs rounded to the type. */
    @ParameterizedTest(name = "{0} {1}", autoCloseArguments = false)
    @MethodSource("devicesAndTypes")
    void everyOpOnViewsAndIntoViews(Device d, DType type) {
        for (OpCase c : OpCase.catalog(Shape.VIEWS)) {
            float[][] inputs = new float[c.op.arguments.size()][];
            for (int i = 0; i < inputs.length; i++) {
                inputs[i] = HalfCase.rounded(type, c.inputs()[i]);
            }
            String at = d.name() + " " + type + " " + c;
            float[] want;
            try (Scope sc = new Scope()) {
                want = sc.add(c.call(d, upload(d, sc, c, inputs, type, Layout.CONTIGUOUS), null)).toArray();
            }
            for (Layout layout : Layout.VIEWS) {
                try (Scope sc = new Scope()) {
                    assertBits(at + " " + layout, want,
                            sc.add(c.call(d, upload(d, sc, c, inputs, type, layout), null)).toArray());
                }
            }
            if (c.resultShape().equals(c.shape)) {
                intoViews(d, type, c, inputs, at);
            }
        }
    }

    /** The case's inputs in {@code layout}; a [1, 1] gradOutput stays FLOAT32 (the loss's type) and contiguous. */
    private static List<Tensor> upload(Device d, Scope sc, OpCase c, float[][] inputs, DType type, Layout layout) {
        List<Tensor> in = new ArrayList<>();
        for (int i = 0; i < inputs.length; i++) {
            Shape s = c.argumentShape(i);
            in.add(s.size() == 1 && !c.shape.equals(s) ? sc.add(d.upload(inputs[i], 1, 1))
                    : HalfCase.upload(d, sc, inputs[i], s.rows(), s.cols(), type, layout));
        }
        return in;
    }

    /**
     * The case written into an output of its inputs' shape and type: first a fresh contiguous tensor, then (inputs as
     * views too) a view inside a NaN-padded allocation, whose padding must come back untouched; the same bits each time.
     */
    private static void intoViews(Device d, DType type, OpCase c, float[][] inputs, String at) {
        int rows = c.shape.rows();
        int cols = c.shape.cols();
        float[] want;
        try (Scope sc = new Scope()) {
            want = c.call(d, upload(d, sc, c, inputs, type, Layout.CONTIGUOUS), sc.add(d.zeros(rows, cols, type)))
                    .toArray();
        }
        for (Layout layout : Layout.VIEWS) {
            try (Scope sc = new Scope()) {
                List<Tensor> in = upload(d, sc, c, inputs, type, layout);
                // the output: a view of a padded allocation (padding NaN): rows r0.., columns c0.. of a
                // [baseRows, baseCols] allocation, at its end for VIEW_AT_END and COLUMN_1, aligned for ALIGNED_VIEW
                int[] o = switch (layout) {
                    case VIEW_AT_END -> new int[] {rows + 3, cols + 4, 3, 4};
                    case COLUMN_1 -> new int[] {rows + 1, cols + 1, 1, 1};
                    case ALIGNED_VIEW -> new int[] {rows + 2, cols + 16, 1, 8};
                    case ROW_1 -> new int[] {rows + 1, cols, 1, 0};
                    default -> new int[] {rows + 3, cols + 4, 1, 3};
                };
                int baseRows = o[0];
                int baseCols = o[1];
                int r0 = o[2];
                int c0 = o[3];
                float[] pad = new float[baseRows * baseCols];
                Arrays.fill(pad, Float.NaN);
                Tensor base = sc.add(d.upload(pad, baseRows, baseCols, type));
                Tensor out = d.view(base, r0, rows, c0, cols);
                assertEquals(baseCols, out.rowStride(), "a view keeps its base's row stride");
                assertEquals(layout == Layout.ROW_1, out.isContiguous());
                Tensor returned = c.call(d, in, out);
                assertTrue(returned == out, at + ": returns out itself");
                assertBits(at + " into a view " + layout, want, out.toArray());
                float[] after = base.toArray();
                for (int r = 0; r < baseRows; r++) {
                    for (int k = 0; k < baseCols; k++) {
                        boolean inside = r >= r0 && r < r0 + rows && k >= c0 && k < c0 + cols;
                        if (!inside) {
                            assertTrue(Float.isNaN(after[r * baseCols + k]), at + " " + layout + ": padding [" + r
                                    + ", " + k + "] was written");
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}", autoCloseArguments = false)
    @MethodSource("devicesAndTypes")
    void inPlaceCrossEntropyOverAView(Device d, DType type) {
        Shape s = new Shape(7, 513);
        float[] x = HalfCase.rounded(type, Data.logits(new Random(3), s));
        int[] labels = {0, 5, 512, 17, -100, 3, 100};
        CrossEntropy o = CrossEntropy.options();
        try (Scope sc = new Scope(); Labels l = d.uploadLabels(labels)) {
            float[] wantGrad;
            float want;
            try (Loss loss = d.crossEntropy(HalfCase.upload(d, sc, x, 7, 513, type, Layout.CONTIGUOUS), l, o)) {
                want = loss.value().item();
                wantGrad = loss.gradient(0).toArray();
            }
            Tensor v = HalfCase.upload(d, sc, x, 7, 513, type, Layout.VIEW);
            try (Loss loss = d.crossEntropy(v, l, o.inPlace(true))) {
                assertTrue(loss.gradient(0) == v, "the in-place gradient is the view itself");
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(loss.value().item()));
                assertBits(d.name() + " " + type + " in-place over a view", wantGrad, v.toArray());
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}", autoCloseArguments = false)
    @MethodSource("devicesAndTypes")
    void vocabParallelAndFusedLinearOnViews(Device d, DType type) {
        Shape s = new Shape(6, 257);
        float[] a = HalfCase.rounded(type, Data.logits(new Random(5), s));
        float[] b = HalfCase.rounded(type, Data.logits(new Random(6), s));
        int[] labels = {0, 256, 3, -100, 7, 100};
        AllReduce one = new AllReduce() {
            @Override
            public void max(Tensor buffer) {
            }

            @Override
            public void sum(Tensor buffer) {
            }
        };
        VocabShard shard = VocabShard.of(0, 257);
        List<float[]> want = new ArrayList<>();
        for (Layout layout : Layout.values()) {
            List<float[]> got = new ArrayList<>();
            try (Scope sc = new Scope(); Labels l = d.uploadLabels(labels)) {
                Tensor ta = HalfCase.upload(d, sc, a, 6, 257, type, layout);
                Tensor tb = HalfCase.upload(d, sc, b, 6, 257, type, layout);
                try (Loss ce = d.crossEntropy(ta, l, shard, one, CrossEntropy.options());
                     Loss kd = d.distillationKl(ta, tb, shard, one, Distillation.options().temperature(2));
                     Loss h = d.entropy(ta, shard, one, Reduction.SUM)) {
                    for (Loss loss : List.of(ce, kd, h)) {
                        got.add(loss.value().toArray());
                        got.add(loss.gradient(0).toArray());
                        assertEquals(type, loss.gradient(0).dtype());
                    }
                }
                if (type == DType.FLOAT32) { // the fused linear losses take FLOAT32 only
                    Tensor w = HalfCase.upload(d, sc, b, 257, 6, type, layout); // [vocab 257, hidden 6]
                    Tensor hidden = HalfCase.upload(d, sc, Arrays.copyOf(a, 36), 6, 6, type, layout);
                    try (Loss lin = d.linearCrossEntropy(hidden, w, null, l, CrossEntropy.options())) {
                        got.add(lin.value().toArray());
                        got.add(lin.gradient(0).toArray());
                        got.add(lin.gradient(1).toArray());
                    }
                }
            }
            if (layout == Layout.CONTIGUOUS) {
                want = got;
            } else {
                assertEquals(want.size(), got.size());
                for (int i = 0; i < want.size(); i++) {
                    assertBits(d.name() + " " + type + " " + layout + " result " + i, want.get(i), got.get(i));
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}", autoCloseArguments = false)
    @MethodSource("devicesAndTypes")
    void viewsAreClosedWithTheirBaseAndFreeNothing(Device d, DType type) {
        Tensor base = d.upload(new float[] {1, 2, 3, 4, 5, 6}, 2, 3, type);
        Tensor v = d.view(base, 0, 2, 1, 2);
        Tensor vv = d.view(v, 1, 1, 0, 2);
        assertArrayEquals(new float[] {5, 6}, vv.toArray());
        assertEquals(type, vv.dtype());
        assertEquals(3, vv.rowStride());
        v.close();
        assertTrue(v.isClosed());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, base.toArray(), "closing a view frees nothing");
        assertArrayEquals(new float[] {5, 6}, vv.toArray(), "nor closes views of it");
        base.close();
        assertTrue(vv.isClosed(), "a view of a closed tensor is closed");
        assertThrows(IllegalStateException.class, vv::toArray);
        assertThrows(IllegalStateException.class, () -> d.logSoftmax(vv));
    }

    private static void assertBits(String what, float[] want, float[] got) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                assertEquals(want[i], got[i], what + "[" + i + "]: bits 0x"
                        + Integer.toHexString(Float.floatToRawIntBits(want[i])) + " vs 0x"
                        + Integer.toHexString(Float.floatToRawIntBits(got[i])));
                assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), what + "[" + i + "]");
            }
        }
    }
}
