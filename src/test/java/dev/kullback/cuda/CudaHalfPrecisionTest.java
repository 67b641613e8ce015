package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.DType;
import dev.kullback.Device;
import dev.kullback.Devices;
import dev.kullback.Reference;
import dev.kullback.Tensor;
import dev.kullback.cuda.HalfCases.Case;
import dev.kullback.cuda.HalfCases.Layout;
import dev.kullback.cuda.HalfCases.Output;
import dev.kullback.internal.HalfFloats;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CUDA device's half precision and row strides (issue 10) on the host simulator: every op and loss in bf16 and
 * fp16, contiguous and as views (aligned, misaligned, ending at the allocation's end, where the simulator's guard
 * page faults on any read past it), against the CPU device; aligned views against contiguous copies, bit for bit;
 * half softmax against the float64 reference; wrapped strided memory.
 */
class CudaHalfPrecisionTest {
    private static final DType[] HALVES = {DType.BFLOAT16, DType.FLOAT16};
    private static CudaDevice cuda;

    @BeforeAll
    static void open() {
        cuda = new CudaDevice(SimGpus.open());
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    static Stream<Arguments> everyCaseTypeShapeLayout() {
        List<Arguments> args = new ArrayList<>();
        for (Case c : HalfCases.all()) {
            for (DType type : HALVES) {
                for (int[] shape : new int[][] {{5, 33}, {3, 1500}}) {
                    for (Layout layout : new Layout[] {Layout.CONTIGUOUS, Layout.MISALIGNED_VIEW, Layout.TAIL_VIEW}) {
                        args.add(Arguments.of(c, type, shape[0], shape[1], layout));
                    }
                }
            }
        }
        return args.stream();
    }

    /** Tolerances: {@link HalfCases#assertClose} (float32 differences, then one unit of the half type). */
    @ParameterizedTest(name = "{0} {1} [{2}, {3}] {4}")
    @MethodSource("everyCaseTypeShapeLayout")
    void matchesTheCpuDevice(Case c, DType type, int rows, int cols, Layout layout) {
        HalfCases.assertClose(HalfCases.run(Devices.cpu(), c, type, rows, cols, Layout.CONTIGUOUS, 11),
                HalfCases.run(cuda, c, type, rows, cols, layout, 11), c + " " + type + " " + layout);
    }

    static Stream<Arguments> everyCaseAndHalfType() {
        List<Arguments> args = new ArrayList<>();
        for (Case c : HalfCases.all()) {
            for (DType type : HALVES) {
                args.add(Arguments.of(c, type));
            }
        }
        return args.stream();
    }

    /**
     * A view whose rows stay 16-byte aligned takes the same kernel path as its contiguous copy (the vectorized body,
     * from the row's first element), so the results are the same bits, on a warp-per-row and a block-per-row shape.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("everyCaseAndHalfType")
    void alignedViewsGiveTheBitsOfContiguousCopies(Case c, DType type) {
        for (int[] shape : new int[][] {{4, 64}, {2, 2048}}) {
            HalfCases.assertSameBits(HalfCases.run(cuda, c, type, shape[0], shape[1], Layout.CONTIGUOUS, 3),
                    HalfCases.run(cuda, c, type, shape[0], shape[1], Layout.ALIGNED_VIEW, 3),
                    c + " " + type + " [" + shape[0] + ", " + shape[1] + "]");
        }
    }

    /**
     * Float32 views against contiguous copies, within the parity tolerance (kept from when float32 views took other
     * kernels; {@link #everyViewGivesTheBitsOfContiguousCopies} now asserts the bits).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.kullback.cuda.HalfCases#all")
    void float32ViewsMatchContiguousCopies(Case c) {
        for (Layout layout : new Layout[] {Layout.ALIGNED_VIEW, Layout.MISALIGNED_VIEW, Layout.TAIL_VIEW}) {
            HalfCases.assertClose(HalfCases.run(cuda, c, DType.FLOAT32, 3, 1000, Layout.CONTIGUOUS, 5),
                    HalfCases.run(cuda, c, DType.FLOAT32, 3, 1000, layout, 5), c + " FLOAT32 " + layout);
        }
    }

    /**
     * Every view (aligned, misaligned with an odd stride, ending at the allocation's end) gives the bits of its
     * contiguous copy, in every type: the kernel follows the shape and type, the order of additions the indices, and
     * a row's alignment only its loads. Shapes: typed rows (cols % 4 != 0), and the tile kernels' warp, block and
     * chunked launches for float32.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.kullback.cuda.HalfCases#all")
    void everyViewGivesTheBitsOfContiguousCopies(Case c) {
        for (DType type : DType.values()) {
            for (int[] shape : new int[][] {{4, 64}, {3, 1000}, {2, 2048}, {2, 9000}, {5, 301}}) {
                List<Output> want = HalfCases.run(cuda, c, type, shape[0], shape[1], Layout.CONTIGUOUS, 3);
                for (Layout layout : new Layout[] {Layout.ALIGNED_VIEW, Layout.MISALIGNED_VIEW, Layout.TAIL_VIEW}) {
                    HalfCases.assertSameBits(want, HalfCases.run(cuda, c, type, shape[0], shape[1], layout, 3),
                            c + " " + type + " [" + shape[0] + ", " + shape[1] + "] " + layout);
                }
            }
        }
    }

    /**
     * Half softmax and log-softmax against the float64 reference of the same (rounded) inputs: within one unit in the
     * last place of the type (a float32 result within a few float32 ulps of the exact value rounds to one of the two
     * half values around it), plus those float32 ulps for results that are exactly representable.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void halfSoftmaxIsTheFloat64ReferenceRounded(DType type) {
        for (int[] shape : new int[][] {{7, 50}, {2, 3000}}) {
            int rows = shape[0];
            int cols = shape[1];
            float[] x = HalfCases.rounded(HalfCases.data(HalfCases.Data.LOGITS, rows, cols, 17), type);
            for (boolean log : new boolean[] {false, true}) {
                double[] ref = Reference.softmax(x, rows, cols, log);
                try (Tensor in = cuda.upload(x, rows, cols, type);
                     Tensor out = log ? cuda.logSoftmax(in) : cuda.softmax(in)) {
                    assertEquals(type, out.dtype());
                    float[] got = out.toArray();
                    for (int i = 0; i < got.length; i++) {
                        double allowed = HalfCases.halfUlp(type, Math.abs(ref[i])) + 1e-6 * Math.abs(ref[i]);
                        assertTrue(Math.abs(got[i] - ref[i]) <= allowed, type + (log ? " logSoftmax" : " softmax")
                                + " element " + i + ": " + got[i] + " vs reference " + ref[i]);
                    }
                }
            }
        }
    }

    /**
     * Caller memory wrapped with a row stride, the last row ending exactly at the allocation's end (a multiple of 256
     * bytes, so the simulator's guard page follows it directly): the vectorized reads stop at the last element.
     */
    @Test
    void wrappedStridedMemoryEndingAtTheAllocationsEnd() {
        int rows = 5;
        int cols = 64;
        long stride = 80;
        int elements = (int) ((rows - 1) * stride + cols); // 384 bf16 = 768 bytes
        float[] wide = HalfCases.data(HalfCases.Data.LOGITS, 1, elements, 23);
        short[] bits = new short[elements];
        HalfFloats.fromFloat(DType.BFLOAT16, wide, 0, bits, 0, elements);
        Gpu gpu = cuda.gpu();
        long address = gpu.malloc(2L * elements);
        try {
            gpu.copyToDevice(bits, address);
            Tensor wrapped = cuda.wrap(address, rows, cols, stride, DType.BFLOAT16);
            assertEquals(stride, wrapped.rowStride());
            float[] packed = new float[rows * cols];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    packed[r * cols + c] = HalfFloats.toFloat(DType.BFLOAT16, bits[(int) (r * stride + c)]);
                }
            }
            Device cpu = Devices.cpu();
            try (Tensor expected = cpu.logSoftmax(cpu.upload(packed, rows, cols, DType.BFLOAT16));
                 Tensor actual = cuda.logSoftmax(wrapped)) {
                HalfCases.assertClose(List.of(new Output(DType.BFLOAT16, expected.toArray())),
                        List.of(new Output(actual.dtype(), actual.toArray())), "wrapped bf16 logSoftmax");
            }
            try (Tensor sum = cuda.rowSum(wrapped)) { // a staged family: the strided bf16 -> float32 copy
                float[] s = sum.toArray();
                for (int r = 0; r < rows; r++) {
                    double e = 0;
                    for (int c = 0; c < cols; c++) {
                        e += packed[r * cols + c];
                    }
                    assertEquals(e, s[r], 1e-4 * Math.max(1, Math.abs(e)), "row " + r);
                }
            }
            wrapped.close();
        } finally {
            gpu.free(address);
        }
    }

    /** Views write results too: an output view takes the kernel's strided store, the columns around it untouched. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16", "FLOAT16"})
    void outputViewsAreWrittenInPlace(DType type) {
        int rows = 3;
        int cols = 37;
        float[] x = HalfCases.data(HalfCases.Data.LOGITS, rows, cols, 29);
        try (Tensor in = cuda.upload(x, rows, cols, type); Tensor base = cuda.zeros(rows, cols + 4, type);
             Tensor expected = cuda.logSoftmax(in)) {
            Tensor view = cuda.view(base, 0, rows, 2, cols);
            assertTrue(view == cuda.logSoftmax(in, view), "logSoftmax(x, out) returns out");
            HalfCases.assertSameBits(List.of(new Output(type, expected.toArray())),
                    List.of(new Output(type, view.toArray())), type + " output view");
            float[] all = base.toArray();
            for (int r = 0; r < rows; r++) {
                for (int c : new int[] {0, 1, cols + 2, cols + 3}) {
                    assertEquals(0f, all[r * (cols + 4) + c], "column " + c + " of row " + r + " outside the view");
                }
            }
        }
    }
}
