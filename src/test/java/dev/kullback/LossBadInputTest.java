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

    /** Every tensor argument but the first and the class weights of every loss, against the first. */
    static Stream<Arguments> twoInputLosses() {
        return TestDevices.all().stream().flatMap(d -> lossSlots().stream()
                .filter(s -> s.index() > 0 && !s.isWeights())
                .map(s -> Arguments.of(d, s.loss().op.api, s.loss().argumentNames().get(0), s.argument(), s)));
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1}: {2} and {3} shapes differ")
    @MethodSource("twoInputLosses")
    void shapeMismatch(Device d, String op, String first, String second, LossSlot slot) {
        try (Scope sc = new Scope()) {
            Tensor a = sc.add(d.zeros(2, 3));
            Tensor b = sc.add(d.zeros(3, 2));
            Tensor c = sc.add(d.zeros(2, 4));
            assertThrowsNaming(IllegalArgumentException.class, () -> against(d, slot, a, b), first, second, "[2, 3]",
                    "[3, 2]");
            assertThrowsNaming(IllegalArgumentException.class, () -> against(d, slot, a, c), first, second, "[2, 3]",
                    "[2, 4]");
            assertThrowsNaming(IllegalArgumentException.class, () -> against(d, slot, a, null), "null");
        }
        stillWorks(d);
    }

    /** The slot's loss with {@code odd} in its place and {@code a} everywhere else (no labels, no class weights). */
    private static Loss against(Device d, LossSlot slot, Tensor a, Tensor odd) {
        Tensor[] t = new Tensor[slot.loss().inputs().length];
        java.util.Arrays.fill(t, a);
        t[slot.index()] = odd;
        return slot.loss().call(d, t, null, null, false);
    }

    // ---- closed and foreign tensors, a closed device: every tensor argument of every loss ---------------

    /** A loss case and which of its tensor arguments ({@link LossCase#argumentNames}) is the odd one. */
    record LossSlot(LossCase loss, int index) {
        String argument() {
            return loss.argumentNames().get(index);
        }

        @Override
        public String toString() {
            return loss.op.api + "(" + argument() + ")";
        }

        /** The odd argument's shape: the class weights are [1, 3], every other tensor [2, 3]. */
        int rows() {
            return isWeights() ? 1 : 2;
        }

        boolean isWeights() {
            return index == loss.inputs().length;
        }
    }

    /**
     * Every loss of {@link LossCase} on [2, 3], SUM, with labels and class weights where it takes them (and both forms of
     * Gaussian KL).
     */
    static List<LossCase> lossCases() {
        List<LossCase> out = new ArrayList<>();
        for (LossCase.Op op : LossCase.Op.values()) {
            out.add(new LossCase(op, new Shape(2, 3), Reduction.SUM).ignore(LossCase.Ignore.NONE_IGNORED).weights(true));
            if (op == LossCase.Op.GAUSSIAN_KL) {
                out.add(new LossCase(op, new Shape(2, 3), Reduction.SUM).standard(true));
            }
        }
        return out;
    }

    /** The table: every tensor argument of every loss. */
    static List<LossSlot> lossSlots() {
        List<LossSlot> out = new ArrayList<>();
        for (LossCase c : lossCases()) {
            for (int i = 0; i < c.argumentNames().size(); i++) {
                out.add(new LossSlot(c, i));
            }
        }
        return out;
    }

    static Stream<Arguments> deviceLossSlots() {
        return TestDevices.all().stream().flatMap(d -> lossSlots().stream().map(s -> Arguments.of(d, s)));
    }

    /** Runs the case on d with valid tensors (of d, like the labels) except the odd one. */
    static Loss call(Device d, LossSlot slot, Tensor odd, Scope sc, Labels labels) {
        LossCase c = slot.loss();
        Tensor[] t = new Tensor[c.inputs().length];
        for (int i = 0; i < t.length; i++) {
            t[i] = i == slot.index() ? odd : sc.add(d.upload(new float[] {-1, -2, -3, -1, -2, -3}, 2, 3));
        }
        Tensor w = c.weightValues() == null ? null : slot.isWeights() ? odd : sc.add(d.upload(new float[] {1, 2, 0.5f}, 1, 3));
        return c.call(d, t, c.labels() == null ? null : labels, w, false);
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
        Tensor x = fresh.upload(new float[] {-1, -2, -3, -1, -2, -3}, 2, 3);
        Tensor w = fresh.upload(new float[] {1, 2, 0.5f}, 1, 3);
        Labels l = fresh.uploadLabels(new int[] {0, 2});
        fresh.close();
        assertThrowsNaming(IllegalStateException.class, () -> fresh.uploadLabels(new int[] {0, 1}), "closed", name);
        for (LossCase c : lossCases()) {
            Tensor[] t = new Tensor[c.inputs().length];
            java.util.Arrays.fill(t, x);
            assertThrowsNaming(IllegalStateException.class,
                    () -> c.call(fresh, t, l, c.weightValues() == null ? null : w, false), "closed", name);
        }
        assertThrowsNaming(IllegalStateException.class, () -> fresh.crossEntropy(x, l), "closed", name);
        assertDoesNotThrow(x::close);
        assertDoesNotThrow(w::close);
        assertDoesNotThrow(l::close);
        stillWorks(d);
    }
}
