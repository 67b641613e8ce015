package dev.kullback;

import static dev.kullback.BadInputTest.assertThrowsNaming;
import static dev.kullback.BadInputTest.stillWorks;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kullback.cuda.CudaDevice;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input around half precision and views, with messages naming the arguments, types and numbers: mixed types in
 * one call, an {@code out} of the wrong type, a half tensor where FLOAT32 is required (class weights, the fused linear
 * losses), bad uploads and views, an output overlapping an input, {@code toBits()} of FLOAT32, bad strides.
 */
class HalfBadInputTest {
    private static final float[] SIX = {-1, -2, -3, -1, -2, -3};

    static Stream<Device> devices() {
        return TestDevices.halfCapable().stream();
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0}")
    @MethodSource("devices")
    void mixedTypesInOneCall(Device d) {
        try (Scope sc = new Scope()) {
            Tensor b = sc.add(d.upload(SIX, 2, 3, DType.BFLOAT16));
            Tensor h = sc.add(d.upload(SIX, 2, 3, DType.FLOAT16));
            Tensor f = sc.add(d.upload(SIX, 2, 3));
            assertThrowsNaming(IllegalArgumentException.class, () -> d.logSoftmaxBackward(b, f), "gradOutput",
                    "BFLOAT16", "output", "FLOAT32");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.klDiv(b, h, Reduction.SUM, false), "input",
                    "BFLOAT16", "target", "FLOAT16");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.klDivBackward(f, b, b, Reduction.NONE, false),
                    "gradOutput", "FLOAT32", "input", "BFLOAT16");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.distillationKl(b, f, 1f), "studentLogits",
                    "teacherLogits", "BFLOAT16", "FLOAT32");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.jsd(h, b, 0.5f, Reduction.SUM), "FLOAT16",
                    "BFLOAT16");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.tvd(b, h, Reduction.SUM), "studentLogits",
                    "teacherLogits");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.gaussianKl(b, b, f, b, Reduction.SUM), "mu2",
                    "FLOAT32");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(b, f, CrossEntropy.options()),
                    "logits", "targetProbabilities");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.kerasKl(f, h, Reduction.SUM, false), "yTrue",
                    "yPred");
            // a reduced kl_div's [1, 1] gradOutput: FLOAT32 (the loss's type) or the input's type, nothing else
            Tensor g16 = sc.add(d.upload(new float[] {1}, 1, 1, DType.FLOAT16));
            assertThrowsNaming(IllegalArgumentException.class, () -> d.klDivBackward(g16, b, b, Reduction.SUM, false),
                    "gradOutput", "FLOAT16", "BFLOAT16");
            Tensor g32 = sc.add(d.upload(new float[] {1}, 1, 1));
            Tensor g16b = sc.add(d.upload(new float[] {1}, 1, 1, DType.BFLOAT16));
            assertEquals(DType.BFLOAT16, sc.add(d.klDivBackward(g32, b, b, Reduction.SUM, false)).dtype());
            assertEquals(DType.BFLOAT16, sc.add(d.klDivBackward(g16b, b, b, Reduction.SUM, false)).dtype());
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0}")
    @MethodSource("devices")
    void outOfTheWrongType(Device d) {
        try (Scope sc = new Scope()) {
            Tensor b = sc.add(d.upload(SIX, 2, 3, DType.BFLOAT16));
            Tensor f = sc.add(d.zeros(2, 3));
            Tensor one16 = sc.add(d.zeros(1, 1, DType.BFLOAT16));
            assertThrowsNaming(IllegalArgumentException.class, () -> d.logSoftmax(b, f), "out", "FLOAT32",
                    "BFLOAT16");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.softmax(f, sc.add(d.zeros(2, 3,
                    DType.FLOAT16))), "out", "FLOAT16", "FLOAT32");
            // reductions are FLOAT32 whatever the input's type
            assertThrowsNaming(IllegalArgumentException.class, () -> d.sum(b, one16), "out", "BFLOAT16", "FLOAT32");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.klDiv(b, b, Reduction.MEAN, false, one16),
                    "out", "BFLOAT16", "FLOAT32");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.rowSum(b, sc.add(d.zeros(2, 1,
                    DType.BFLOAT16))), "out", "BFLOAT16", "FLOAT32");
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0}")
    @MethodSource("devices")
    void halfWhereFloat32IsRequired(Device d) {
        try (Scope sc = new Scope(); Labels l = d.uploadLabels(new int[] {0, 2})) {
            Tensor b = sc.add(d.upload(SIX, 2, 3, DType.BFLOAT16));
            Tensor w16 = sc.add(d.upload(new float[] {1, 1, 1}, 1, 3, DType.BFLOAT16));
            assertThrowsNaming(IllegalArgumentException.class,
                    () -> d.crossEntropy(b, l, CrossEntropy.options().weights(w16)), "weights", "BFLOAT16", "FLOAT32");
            Tensor hidden = sc.add(d.upload(SIX, 2, 3, DType.BFLOAT16));
            Tensor weight = sc.add(d.upload(new float[12], 4, 3));
            assertThrowsNaming(IllegalArgumentException.class,
                    () -> d.linearCrossEntropy(hidden, weight, null, l, CrossEntropy.options()), "hidden", "BFLOAT16",
                    "fused linear", "FLOAT32 only");
            Tensor h32 = sc.add(d.upload(SIX, 2, 3));
            Tensor w16big = sc.add(d.upload(new float[12], 4, 3, DType.FLOAT16));
            assertThrowsNaming(IllegalArgumentException.class, () -> d.linearDistillationKl(h32, w16big, h32, w16big,
                    Distillation.options()), "studentWeight", "FLOAT16", "FLOAT32 only");
            assertThrowsNaming(IllegalArgumentException.class,
                    () -> d.crossEntropy(b, l, CrossEntropy.options().inPlace(true).float32Gradients(true)), "inPlace",
                    "BFLOAT16", "float32Gradients");
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0}")
    @MethodSource("devices")
    void badUploads(Device d) {
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new short[6], 2, 3, DType.FLOAT32),
                "BFLOAT16 or FLOAT16", "FLOAT32");
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new short[5], 2, 3, DType.BFLOAT16),
                "bits", "5", "[2, 3]", "6");
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload((short[]) null, 2, 3, DType.BFLOAT16),
                "bits is null");
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new short[6], 2, 3, null), "type is null");
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new float[6], 2, 3, null), "type is null");
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new float[7], 2, 3, DType.FLOAT16), "data",
                "7", "6");
        assertThrowsNaming(IllegalArgumentException.class, () -> d.zeros(0, 3, DType.BFLOAT16), "[0, 3]");
        try (Tensor f = d.upload(SIX, 2, 3)) {
            assertThrowsNaming(IllegalStateException.class, f::toBits, "toBits", "FLOAT32", "toArray");
        }
        try (Tensor b = d.upload(new short[] {0x3F80, (short) 0xC000}, 1, 2, DType.BFLOAT16)) {
            assertEquals(List.of(1f, -2f), List.of(b.toArray()[0], b.toArray()[1]));
            assertEquals(0x3F80, b.toBits()[0]);
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0}")
    @MethodSource("devices")
    void badViews(Device d) {
        try (Scope sc = new Scope()) {
            Tensor base = sc.add(d.upload(new float[20], 4, 5, DType.BFLOAT16));
            assertThrowsNaming(IllegalArgumentException.class, () -> d.view(base, -1, 2, 0, 5), "rows [-1, 1)",
                    "[0, 4)");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.view(base, 3, 2, 0, 5), "rows [3, 5)",
                    "[0, 4)");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.view(base, 0, 4, 2, 4), "columns [2, 6)",
                    "[0, 5)");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.view(base, 0, 0, 0, 5), "[0, 5]");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.view(base, 0, 4, Integer.MAX_VALUE, 2),
                    "columns");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.view(null, 0, 1, 0, 1), "base is null");
            Tensor v = d.view(base, 1, 2, 1, 3);
            // a view of a view must lie within the view, not merely within the allocation
            assertThrowsNaming(IllegalArgumentException.class, () -> d.view(v, 0, 3, 0, 3), "rows [0, 3)", "[0, 2)");
            // an output overlapping an input (both views of one tensor) is refused; a disjoint one is fine
            Tensor left = d.view(base, 0, 2, 0, 2);
            Tensor overlapping = d.view(base, 1, 2, 1, 2);
            Tensor right = d.view(base, 0, 2, 3, 2);
            assertThrowsNaming(IllegalArgumentException.class, () -> d.softmax(left, overlapping), "out", "overlaps");
            assertEquals(right, d.softmax(left, right));
            Device other = TestDevices.otherCpu();
            try {
                assertThrowsNaming(IllegalStateException.class, () -> other.view(base, 0, 1, 0, 1), "base");
            } finally {
                other.close();
            }
            Tensor closed = d.upload(new float[4], 2, 2, DType.FLOAT16);
            Tensor ofClosed = d.view(closed, 0, 1, 0, 1);
            closed.close();
            assertThrowsNaming(IllegalStateException.class, () -> d.view(closed, 0, 1, 0, 1), "base", "closed");
            assertThrowsNaming(IllegalStateException.class, () -> d.logSoftmax(ofClosed), "logits", "closed");
        }
        stillWorks(d);
    }

    /** Row strides of wrapped CUDA memory, checked before any memory is touched (on the host simulator in CI). */
    @Test
    void badStridesOnTheCudaDevice() {
        CudaDevice cuda = TestDevices.all().stream().filter(CudaDevice.class::isInstance).map(CudaDevice.class::cast)
                .findFirst().orElse(null);
        Assumptions.assumeTrue(cuda != null, "no CUDA device under test (the host simulator is not built here)");
        assertThrowsNaming(IllegalArgumentException.class, () -> cuda.wrap(4096, 2, 8, 7, DType.FLOAT32),
                "rowStride 7", "cols 8");
        assertThrowsNaming(IllegalArgumentException.class, () -> cuda.wrap(4096, 2, 8, -8, DType.BFLOAT16),
                "rowStride -8");
        assertThrowsNaming(IllegalArgumentException.class,
                () -> cuda.wrap(4096, 3, 8, Long.MAX_VALUE / 2, DType.FLOAT32), "rowStride", "overflows");
        assertThrowsNaming(IllegalArgumentException.class, () -> cuda.wrap(4098, 2, 8, 8, DType.FLOAT32),
                "0x1002", "4-byte aligned", "FLOAT32");
        assertThrowsNaming(IllegalArgumentException.class, () -> cuda.wrap(4097, 2, 8, 8, DType.BFLOAT16),
                "2-byte aligned");
        assertThrowsNaming(IllegalArgumentException.class, () -> cuda.wrap(4096, 2, 8, 8, null), "type is null");
    }
}
