package dev.kullback;

import static dev.kullback.BadInputTest.assertThrowsNaming;
import static dev.kullback.BadInputTest.stillWorks;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Bad arguments of the losses: the documented exception, with a message naming the argument and the values. */
class LossBadInputTest {
    static Stream<Arguments> devices() {
        return TestDevices.all().stream().map(Arguments::of);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} distillation: temperature must be positive and finite")
    @MethodSource("devices")
    void temperature(Device d) {
        try (Scope sc = new Scope()) {
            Tensor a = sc.add(d.zeros(2, 3));
            for (float t : new float[] {0f, -0.0f, -1f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                assertThrowsNaming(IllegalArgumentException.class, () -> d.distillationKl(a, a, t), "temperature",
                        String.valueOf(t));
            }
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} jsd: beta must be in [0, 1]")
    @MethodSource("devices")
    void beta(Device d) {
        try (Scope sc = new Scope()) {
            Tensor a = sc.add(d.zeros(2, 3));
            for (float b : new float[] {-0.01f, 1.01f, Float.NaN, Float.POSITIVE_INFINITY, -1f}) {
                assertThrowsNaming(IllegalArgumentException.class, () -> d.jsd(a, a, b, Reduction.SUM), "beta",
                        String.valueOf(b));
            }
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} crossEntropy: smoothing, z-loss, weights, reduction, options")
    @MethodSource("devices")
    void crossEntropyOptions(Device d) {
        try (Scope sc = new Scope(); Labels l = d.uploadLabels(new int[] {0, 2})) {
            Tensor x = sc.add(d.zeros(2, 3));
            Tensor p = sc.add(d.zeros(2, 3));
            for (float eps : new float[] {-0.1f, 1.5f, Float.NaN}) {
                CrossEntropy o = CrossEntropy.options().labelSmoothing(eps);
                assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, l, o), "labelSmoothing",
                        String.valueOf(eps));
                assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, p, o), "labelSmoothing",
                        String.valueOf(eps));
            }
            for (float z : new float[] {-1e-4f, Float.NaN, Float.POSITIVE_INFINITY}) {
                CrossEntropy o = CrossEntropy.options().zLoss(z);
                assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, l, o), "zLoss",
                        String.valueOf(z));
                assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, p, o), "zLoss",
                        String.valueOf(z));
            }
            for (int[] shape : new int[][] {{1, 2}, {1, 4}, {3, 1}, {2, 3}}) {
                Tensor w = sc.add(d.zeros(shape[0], shape[1]));
                CrossEntropy o = CrossEntropy.options().weights(w);
                String ws = "[" + shape[0] + ", " + shape[1] + "]";
                assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, l, o), "weights", ws,
                        "[1, 3]", "[2, 3]");
                assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, p, o), "weights", ws,
                        "[1, 3]");
            }
            CrossEntropy bm = CrossEntropy.options().reduction(Reduction.BATCHMEAN);
            assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, l, bm), "BATCHMEAN");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, p, bm), "BATCHMEAN");
            CrossEntropy nr = CrossEntropy.options().reduction(null);
            assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, l, nr), "reduction", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, l, null), "options", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, p, null), "options", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.distillationKl(x, x, (Distillation) null),
                    "options", "null");
            assertThrowsNaming(IllegalArgumentException.class,
                    () -> d.distillationKl(x, x, Distillation.options().reduction(null)), "reduction", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, (Labels) null), "labels", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.jsd(x, x, 0.5f, null), "reduction", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.symmetricKl(x, x, null), "reduction", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.entropy(x, null), "reduction", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.kerasKl(x, x, null, false), "reduction", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.gaussianKl(x, x, null), "reduction", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.gaussianKl(x, x, x, x, null), "reduction", "null");
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} labels: length, range, device, closed")
    @MethodSource("devices")
    void labels(Device d) {
        try (Scope sc = new Scope()) {
            Tensor x = sc.add(d.zeros(2, 3));
            try (Labels three = d.uploadLabels(new int[] {0, 1, 2})) {
                assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, three), "labels", "3", "2");
                assertThrowsNaming(IllegalArgumentException.class,
                        () -> d.distillationKl(x, x, Distillation.options().ignore(three, -100)), "labels", "3", "2");
            }
            try (Labels bad = d.uploadLabels(new int[] {1, 3})) {
                assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, bad), "labels[1]", "3",
                        "[0, 3)");
            }
            try (Labels neg = d.uploadLabels(new int[] {-1, 0})) {
                assertThrowsNaming(IllegalArgumentException.class, () -> d.crossEntropy(x, neg), "labels[0]", "-1");
                // -1 is fine when it is the ignore index
                try (Loss ok = d.crossEntropy(x, neg, CrossEntropy.options().ignoreIndex(-1))) {
                    Approx.assertClose("ignored -1", Math.log(3), ok.value().item(), 1e-6);
                }
            }
            assertThrowsNaming(IllegalArgumentException.class, () -> d.uploadLabels(null), "labels", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.uploadLabels(new int[0]), "labels", "empty");
            Labels closed = d.uploadLabels(new int[] {0, 1});
            closed.close();
            assertThrowsNaming(IllegalStateException.class, () -> d.crossEntropy(x, closed), "labels", "closed");
            assertThrowsNaming(IllegalStateException.class,
                    () -> d.distillationKl(x, x, Distillation.options().ignore(closed, -100)), "labels", "closed");
            for (Device other : new Device[] {TestDevices.fresh(d), TestDevices.otherCpu()}) {
                try (Labels foreign = other.uploadLabels(new int[] {0, 1})) {
                    assertThrowsNaming(IllegalStateException.class, () -> d.crossEntropy(x, foreign), "labels",
                            other.name());
                    assertThrowsNaming(IllegalStateException.class,
                            () -> d.distillationKl(x, x, Distillation.options().ignore(foreign, -100)), "labels");
                } finally {
                    other.close();
                }
            }
        }
        stillWorks(d);
    }

    interface TwoInputs {
        Object call(Device d, Tensor a, Tensor b);
    }

    static Stream<Arguments> twoInputLosses() {
        Object[][] ops = {
            {"distillationKl", "studentLogits", "teacherLogits", (TwoInputs) (d, a, b) -> d.distillationKl(a, b, 2f)},
            {"crossEntropy", "logits", "targetProbabilities",
                (TwoInputs) (d, a, b) -> d.crossEntropy(a, b, CrossEntropy.options())},
            {"jsd", "studentLogits", "teacherLogits", (TwoInputs) (d, a, b) -> d.jsd(a, b, 0.5f, Reduction.SUM)},
            {"symmetricKl", "logitsP", "logitsQ", (TwoInputs) (d, a, b) -> d.symmetricKl(a, b, Reduction.SUM)},
            {"kerasKl", "yTrue", "yPred", (TwoInputs) (d, a, b) -> d.kerasKl(a, b, Reduction.SUM, true)},
            {"gaussianKl", "mu", "logvar", (TwoInputs) (d, a, b) -> d.gaussianKl(a, b, Reduction.SUM)},
            {"gaussianKl", "mu1", "logvar1", (TwoInputs) (d, a, b) -> d.gaussianKl(a, b, a, a, Reduction.SUM)},
            {"gaussianKl", "mu1", "mu2", (TwoInputs) (d, a, b) -> d.gaussianKl(a, a, b, a, Reduction.SUM)},
            {"gaussianKl", "mu1", "logvar2", (TwoInputs) (d, a, b) -> d.gaussianKl(a, a, a, b, Reduction.SUM)},
        };
        return TestDevices.all().stream().flatMap(d -> Stream.of(ops).map(o -> Arguments.of(d, o[0], o[1], o[2], o[3])));
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1}: {2} and {3} shapes differ")
    @MethodSource("twoInputLosses")
    void shapeMismatch(Device d, String op, String first, String second, TwoInputs call) {
        try (Scope sc = new Scope()) {
            Tensor a = sc.add(d.zeros(2, 3));
            Tensor b = sc.add(d.zeros(3, 2));
            Tensor c = sc.add(d.zeros(2, 4));
            assertThrowsNaming(IllegalArgumentException.class, () -> call.call(d, a, b), first, second, "[2, 3]",
                    "[3, 2]");
            assertThrowsNaming(IllegalArgumentException.class, () -> call.call(d, a, c), first, second, "[2, 3]",
                    "[2, 4]");
            assertThrowsNaming(IllegalArgumentException.class, () -> call.call(d, a, null), "null");
        }
        stillWorks(d);
    }
}
