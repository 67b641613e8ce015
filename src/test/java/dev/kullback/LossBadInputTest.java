package dev.kullback;

import static dev.kullback.BadInputTest.assertThrowsNaming;
import static dev.kullback.BadInputTest.stillWorks;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
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

    // ---- closed and foreign tensors, a closed device: every tensor argument of every loss ---------------

    /** A loss call on (a, b, c, e), [2, 3] tensors (e is the [1, 3] class weights) and [2] labels l. */
    interface LossCall {
        Loss apply(Device d, Tensor a, Tensor b, Tensor c, Tensor e, Labels l);
    }

    /** A loss, which of its tensor arguments is the odd one (0 to 3: a, b, c, e), and its name in the API. */
    record LossSlot(String op, String argument, int index, LossCall call) {
        @Override
        public String toString() {
            return op + "(" + argument + ")";
        }

        /** The odd argument's shape: the class weights are [1, 3], every other tensor [2, 3]. */
        int rows() {
            return index == 3 ? 1 : 2;
        }
    }

    /** The table: every tensor argument of every loss. */
    static List<LossSlot> lossSlots() {
        LossCall distill = (d, a, b, c, e, l) -> d.distillationKl(a, b, Distillation.options().ignore(l, -100));
        LossCall ce = (d, a, b, c, e, l) -> d.crossEntropy(a, l, CrossEntropy.options().weights(e));
        LossCall soft = (d, a, b, c, e, l) -> d.crossEntropy(a, b, CrossEntropy.options().weights(e));
        LossCall jsd = (d, a, b, c, e, l) -> d.jsd(a, b, 0.5f, Reduction.BATCHMEAN);
        LossCall sym = (d, a, b, c, e, l) -> d.symmetricKl(a, b, Reduction.MEAN);
        LossCall keras = (d, a, b, c, e, l) -> d.kerasKl(a, b, Reduction.SUM, false);
        LossCall vae = (d, a, b, c, e, l) -> d.gaussianKl(a, b, Reduction.NONE);
        LossCall gauss = (d, a, b, c, e, l) -> d.gaussianKl(a, b, c, a, Reduction.SUM);
        LossCall gauss2 = (d, a, b, c, e, l) -> d.gaussianKl(b, c, b, a, Reduction.SUM);
        return List.of(
                new LossSlot("distillationKl", "studentLogits", 0, distill),
                new LossSlot("distillationKl", "teacherLogits", 1, distill),
                new LossSlot("crossEntropy", "logits", 0, ce),
                new LossSlot("crossEntropy", "weights", 3, ce),
                new LossSlot("crossEntropy (probabilities)", "logits", 0, soft),
                new LossSlot("crossEntropy (probabilities)", "targetProbabilities", 1, soft),
                new LossSlot("crossEntropy (probabilities)", "weights", 3, soft),
                new LossSlot("jsd", "studentLogits", 0, jsd),
                new LossSlot("jsd", "teacherLogits", 1, jsd),
                new LossSlot("symmetricKl", "logitsP", 0, sym),
                new LossSlot("symmetricKl", "logitsQ", 1, sym),
                new LossSlot("entropy", "logits", 0, (d, a, b, c, e, l) -> d.entropy(a, Reduction.NONE)),
                new LossSlot("kerasKl", "yTrue", 0, keras),
                new LossSlot("kerasKl", "yPred", 1, keras),
                new LossSlot("gaussianKl", "mu", 0, vae),
                new LossSlot("gaussianKl", "logvar", 1, vae),
                new LossSlot("gaussianKl", "mu1", 0, gauss),
                new LossSlot("gaussianKl", "logvar1", 1, gauss),
                new LossSlot("gaussianKl", "mu2", 2, gauss),
                new LossSlot("gaussianKl", "logvar2", 0, gauss2));
    }

    static Stream<Arguments> deviceLossSlots() {
        return TestDevices.all().stream().flatMap(d -> lossSlots().stream().map(s -> Arguments.of(d, s)));
    }

    /** Runs the slot on d with valid tensors and labels of d except the odd one. */
    static Loss call(Device d, LossSlot slot, Tensor odd, Scope sc, Labels labels) {
        Tensor[] args = new Tensor[4];
        for (int i = 0; i < 4; i++) {
            args[i] = i == slot.index() ? odd : i == 3 ? sc.add(d.upload(new float[] {1, 2, 0.5f}, 1, 3))
                    : sc.add(d.upload(new float[] {-1, -2, -3, -1, -2, -3}, 2, 3));
        }
        return slot.call().apply(d, args[0], args[1], args[2], args[3], labels);
    }

    static Tensor oddOne(Device d, LossSlot slot) {
        return d.upload(slot.rows() == 1 ? new float[] {1, 2, 0.5f} : new float[] {-1, -2, -3, -1, -2, -3},
                slot.rows(), 3);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} closed {1}")
    @MethodSource("deviceLossSlots")
    void closedTensor(Device d, LossSlot slot) {
        try (Scope sc = new Scope(); Labels l = d.uploadLabels(new int[] {0, 2})) {
            try (Loss ok = call(d, slot, sc.add(oddOne(d, slot)), sc, l)) {
                assertTrue(ok.gradientCount() > 0, slot + " with valid arguments");
            }
            Tensor closed = oddOne(d, slot);
            closed.close();
            assertThrowsNaming(IllegalStateException.class, () -> call(d, slot, closed, sc, l), slot.argument(),
                    "[" + slot.rows() + ", 3]", "closed");
        }
        stillWorks(d);
    }

    /** A tensor of another device (a second instance of the same kind, and a CPU device) is refused. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1} from another device")
    @MethodSource("deviceLossSlots")
    void foreignTensor(Device d, LossSlot slot) {
        for (Device other : new Device[] {TestDevices.fresh(d), TestDevices.otherCpu()}) {
            try (Scope sc = new Scope(); Labels mine = d.uploadLabels(new int[] {0, 2});
                 Labels theirs = other.uploadLabels(new int[] {0, 2})) {
                Tensor foreign = sc.add(oddOne(other, slot));
                assertThrowsNaming(IllegalStateException.class, () -> call(d, slot, foreign, sc, mine),
                        slot.argument(), other.name());
                // and the other way round: d's tensor among the other device's
                Tensor own = sc.add(oddOne(d, slot));
                assertThrowsNaming(IllegalStateException.class, () -> call(other, slot, own, sc, theirs),
                        slot.argument(), d.name());
            } finally {
                other.close();
            }
        }
        stillWorks(d);
    }

    /** Every loss of a closed device, and uploadLabels, throw IllegalStateException naming the device. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} a closed device refuses every loss")
    @MethodSource("devices")
    void closedDevice(Device d) {
        Device fresh = TestDevices.fresh(d);
        String name = fresh.name();
        List<Tensor> tensors = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            tensors.add(fresh.upload(new float[] {-1, -2, -3, -1, -2, -3}, 2, 3));
        }
        tensors.add(fresh.upload(new float[] {1, 2, 0.5f}, 1, 3));
        Labels l = fresh.uploadLabels(new int[] {0, 2});
        fresh.close();
        assertThrowsNaming(IllegalStateException.class, () -> fresh.uploadLabels(new int[] {0, 1}), "closed", name);
        for (LossSlot slot : lossSlots()) {
            if (slot.index() != 0) {
                continue;   // one row per loss: the first argument's
            }
            assertThrowsNaming(IllegalStateException.class, () -> slot.call().apply(fresh, tensors.get(0),
                    tensors.get(1), tensors.get(2), tensors.get(3), l), "closed", name);
        }
        assertThrowsNaming(IllegalStateException.class, () -> fresh.crossEntropy(tensors.get(0), l), "closed", name);
        tensors.forEach(t -> assertDoesNotThrow(t::close));
        assertDoesNotThrow(l::close);
        stillWorks(d);
    }
}
