package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.LossCase.Ignore;
import dev.kullback.LossCase.Op;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Total variation distance on every device against the float64 {@link Reference}: more rows than one CUDA block
 * has threads (257) and 1000+ rows, on every launch branch (warp per row; block per row of 256, 512 and 1024 threads;
 * on the CPU, rows and chunks in parallel); -inf entries; identical inputs (exactly 0, gradients exactly 0: the
 * subgradient of |x| at 0 is 0); NaN and all -inf rows; bad input. (PyTorch parity: LossTorchParityTest.)
 */
class TvdTest {
    static final List<Shape> SHAPES = List.of(new Shape(257, 33), new Shape(1000, 7), new Shape(300, 1500),
            new Shape(2, 9000), new Shape(1, 70000));

    static Stream<Arguments> devicesAndCases() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Shape s : SHAPES) {
                for (Reduction r : Reduction.values()) {
                    out.add(Arguments.of(d, new LossCase(Op.TVD, s, r).ignore(r == Reduction.SUM ? Ignore.NO_LABELS
                            : Ignore.SOME)));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1}")
    @MethodSource("devicesAndCases")
    void matchesTheFloat64Reference(Device d, LossCase c) {
        Reference.Result ref = c.reference();
        LossCase.assertMatches(d + " " + c, LossCase.toFloat(ref), c.run(d), ref, c.shape.cols());
    }

    static Stream<Arguments> devicesAndShapes() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Shape s : List.of(new Shape(5, 40), new Shape(3, 5000))) {
                out.add(Arguments.of(d, s));
            }
        }
        return out.stream();
    }

    /** -inf in the student only, in the teacher only, and in both (a masked column), next to finite logits. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1}")
    @MethodSource("devicesAndShapes")
    void negativeInfinityEntries(Device d, Shape s) {
        float[] student = Data.logits(Data.random("tvd -inf student", s), s);
        float[] teacher = Data.logits(Data.random("tvd -inf teacher", s), s);
        for (int i = 0; i < student.length; i += 7) {
            student[i] = Float.NEGATIVE_INFINITY;
        }
        for (int i = 3; i < teacher.length; i += 5) {
            teacher[i] = Float.NEGATIVE_INFINITY;
        }
        for (int i = 1; i < teacher.length; i += 11) {
            teacher[i] = Float.NEGATIVE_INFINITY;
            student[i] = Float.NEGATIVE_INFINITY;
        }
        for (Reduction r : new Reduction[] {Reduction.NONE, Reduction.BATCHMEAN}) {
            LossCase c = new LossCase(Op.TVD, s, r).inputs(student, teacher);
            Reference.Result ref = c.reference();
            LossCase.Out out = c.run(d);
            LossCase.assertMatches(d + " " + c + " -inf", LossCase.toFloat(ref), out, ref, s.cols());
            for (int i = 1; i < teacher.length; i += 11) {
                assertEquals(0.0, out.grads()[0][i], 0.0, "student gradient where both are -inf");
                assertEquals(0.0, out.grads()[1][i], 0.0, "teacher gradient where both are -inf");
            }
        }
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1}")
    @MethodSource("devicesAndShapes")
    void identicalInputsGiveExactlyZero(Device d, Shape s) {
        float[] x = Data.logits(Data.random("tvd identical", s), s);
        x[2] = Float.NEGATIVE_INFINITY;
        for (Reduction r : Reduction.values()) {
            LossCase.Out out = new LossCase(Op.TVD, s, r).inputs(x, x.clone()).run(d);
            for (float v : out.value()) {
                assertEquals(0.0, v, 0.0, d + " " + r + " value");
            }
            for (float[] g : out.grads()) {
                for (float v : g) {
                    assertEquals(0.0, v, 0.0, d + " " + r + " gradient (±0)");
                }
            }
        }
    }

    /** A row holding NaN (in either logits) or only -inf is NaN throughout; the other rows are unaffected. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1}")
    @MethodSource("devicesAndShapes")
    void nanAndAllNegativeInfinityRows(Device d, Shape s) {
        int cols = s.cols();
        float[] student = Data.logits(Data.random("tvd nan student", s), s);
        float[] teacher = Data.logits(Data.random("tvd nan teacher", s), s);
        student[cols / 2] = Float.NaN;                                   // row 0: NaN in the student
        for (int c = 0; c < cols; c++) {
            teacher[cols + c] = Float.NEGATIVE_INFINITY;                 // row 1: teacher all -inf
        }
        LossCase.Out out = new LossCase(Op.TVD, s, Reduction.NONE).inputs(student, teacher).run(d);
        for (int r = 0; r < 2; r++) {
            assertTrue(Float.isNaN(out.value()[r]), d + " row " + r + " value " + out.value()[r]);
            for (float[] g : out.grads()) {
                for (int c = 0; c < cols; c++) {
                    assertTrue(Float.isNaN(g[r * cols + c]), d + " row " + r + " gradient");
                }
            }
        }
        assertTrue(Float.isFinite(out.value()[2]) && out.value()[2] > 0, d + " row 2 " + out.value()[2]);
        LossCase.Out summed = new LossCase(Op.TVD, s, Reduction.SUM).inputs(student, teacher).run(d);
        assertTrue(Float.isNaN(summed.value()[0]), d + " SUM with a NaN row");
    }

    /**
     * The same bits for 1, 2, 3 and 7 threads, scalar and vector kernels, rows in parallel and few long rows by chunks
     * in parallel (the row schedule's two paths), ignored rows included.
     */
    @org.junit.jupiter.api.Test
    void cpuBitsDoNotDependOnTheThreadCount() {
        for (boolean vector : new boolean[] {false, true}) {
            for (Shape s : List.of(new Shape(300, 33), new Shape(3, 20000))) {
                LossCase c = new LossCase(Op.TVD, s, Reduction.NONE).ignore(Ignore.SOME);
                LossCase.Out first = null;
                for (int threads : new int[] {1, 2, 3, 7}) {
                    try (Device d = new dev.kullback.cpu.CpuDevice(threads, vector)) {
                        LossCase.Out out = c.run(d);
                        if (first == null) {
                            first = out;
                            continue;
                        }
                        Approx.assertBitwise(d + " " + c + " value", first.value(), out.value());
                        for (int k = 0; k < 2; k++) {
                            Approx.assertBitwise(d + " " + c + " gradient " + k, first.grads()[k], out.grads()[k]);
                        }
                    }
                }
            }
        }
    }

    static Stream<Device> devices() {
        return TestDevices.all().stream();
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0}")
    @MethodSource("devices")
    void badInput(Device d) {
        try (Tensor a = d.upload(new float[6], 2, 3); Tensor b = d.upload(new float[6], 3, 2);
             Labels three = d.uploadLabels(new int[] {0, 1, 2})) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> d.tvd(a, b, Reduction.SUM));
            assertTrue(e.getMessage().contains("studentLogits") && e.getMessage().contains("teacherLogits"),
                    e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> d.tvd(a, a, null));
            assertThrows(IllegalArgumentException.class, () -> d.tvd(null, a, Reduction.SUM));
            IllegalArgumentException rows = assertThrows(IllegalArgumentException.class,
                    () -> d.tvd(a, a, Reduction.MEAN, three, -100));
            assertTrue(rows.getMessage().contains("labels"), rows.getMessage());
        }
    }
}
