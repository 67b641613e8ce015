package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * API.md's Errors section: bad input throws {@link IllegalArgumentException} (shapes, lengths, values) or
 * {@link IllegalStateException} (closed tensor or device, tensors of two devices mixed), with a message that
 * names the argument and the shapes or values involved; and the device stays usable afterwards.
 */
class BadInputTest {

    static Stream<Arguments> devices() {
        return TestDevices.all().stream().map(Arguments::of);
    }

    /** An op case and which of its tensor arguments is the odd one, for the null / closed / foreign checks. */
    record Slot(OpCase op, int index) {
        String argument() {
            return op.op.arguments.get(index);
        }

        /** The odd argument's shape: [2, 3], or [1, 1] for a reduced kl_div's gradOutput. */
        Shape shape() {
            return op.argumentShape(index);
        }

        @Override
        public String toString() {
            return op.op.api + "(" + argument() + ")" + (op.op.kl() ? " " + op.reduction + " logTarget=" + op.logTarget : "");
        }
    }

    /**
     * Every tensor argument of every case of {@link OpCase#catalog} on [2, 3] (kl_div's targets with zeros left out:
     * they differ from the dense ones in values only, which no argument check reads).
     */
    static List<Slot> slots() {
        List<Slot> s = new ArrayList<>();
        for (OpCase c : OpCase.catalog(List.of(new Shape(2, 3)))) {
            if (c.targets == OpCase.Targets.WITH_ZEROS) {
                continue;
            }
            for (int i = 0; i < c.op.arguments.size(); i++) {
                s.add(new Slot(c, i));
            }
        }
        return s;
    }

    static Stream<Arguments> deviceSlots() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (Slot s : slots()) {
                out.add(Arguments.of(d, s));
            }
        }
        return out.stream();
    }

    // ---- helpers ----------------------------------------------------------------------------------------

    /** Asserts the exception type and that the message contains every fragment (case-sensitive). */
    static <E extends RuntimeException> E assertThrowsNaming(Class<E> type, Executable call, String... fragments) {
        E e = assertThrows(type, call);
        String m = e.getMessage();
        assertNotNull(m, type.getSimpleName() + " without a message");
        for (String f : fragments) {
            assertTrue(m.contains(f), "message \"" + m + "\" should name \"" + f + "\"");
        }
        return e;
    }

    /** Runs the slot with valid tensors except the odd one at slot.index(). */
    static Tensor call(Device d, Slot slot, Tensor odd, Scope sc) {
        List<Tensor> args = new ArrayList<>();
        for (int i = 0; i < slot.op().op.arguments.size(); i++) {
            args.add(i == slot.index() ? odd : sc.add(valid(d, slot.op().argumentShape(i))));
        }
        return slot.op().call(d, args, null);
    }

    /** A valid argument: log-probability-like values, or a gradOutput of 1 where it is [1, 1]. */
    static Tensor valid(Device d, Shape s) {
        return s.size() == 1 ? d.upload(new float[] {1}, 1, 1) : d.upload(new float[] {-1, -2, -3, -1, -2, -3}, 2, 3);
    }

    /** After an error, the device still works. */
    static void stillWorks(Device d) {
        try (Tensor x = d.upload(new float[] {0, 0}, 1, 2); Tensor y = d.softmax(x)) {
            assertEquals(0.5f, y.toArray()[0], 0f, d + " after an error");
        }
    }

    // ---- upload and zeros --------------------------------------------------------------------------------

    @ParameterizedTest(autoCloseArguments = false, name = "{0} upload: data length must be rows * cols")
    @MethodSource("devices")
    void uploadLengthMismatch(Device d) {
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new float[5], 2, 3), "5", "[2, 3]", "6");
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new float[7], 2, 3), "7", "[2, 3]");
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new float[6], 3, 3), "6", "[3, 3]", "9");
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new float[0], 1, 1), "0", "[1, 1]");
        // rows * cols overflows int: 65536 * 65536 is 0 in int arithmetic, and must not look like a match
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new float[0], 65536, 65536), "[65536, 65536]");
        // 2^31 + 2 overflows int to a negative number; 2 values must not match it either
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new float[2], 2, 1073741825),
                "[2, 1073741825]");
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} upload and zeros: rows and cols must be positive")
    @MethodSource("devices")
    void nonPositiveShape(Device d) {
        int[][] bad = {{0, 3}, {3, 0}, {0, 0}, {-1, 3}, {3, -1}, {-2, -3}, {Integer.MIN_VALUE, 1}};
        for (int[] rc : bad) {
            String shape = "[" + rc[0] + ", " + rc[1] + "]";
            assertThrowsNaming(IllegalArgumentException.class, () -> d.zeros(rc[0], rc[1]), shape);
            assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new float[0], rc[0], rc[1]), shape);
        }
        // a negative times a negative is positive: [-2, -3] with 6 values must still be rejected
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(new float[6], -2, -3), "[-2, -3]");
        stillWorks(d);
    }

    /** A shape no device can hold (2^62 floats) is a clear error, not an OutOfMemoryError or a crash. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} zeros: an impossible size is an IllegalArgumentException")
    @MethodSource("devices")
    void impossibleSize(Device d) {
        assertThrowsNaming(IllegalArgumentException.class, () -> d.zeros(Integer.MAX_VALUE, Integer.MAX_VALUE),
                String.valueOf(Integer.MAX_VALUE));
        stillWorks(d);
    }

    /**
     * On a device whose memory is Java arrays (not a GPU), a shape of more than Integer.MAX_VALUE elements cannot
     * be allocated: it must be refused with IllegalArgumentException, never wrapped around (65536 * 65536 is 0 as
     * an int) into a tensor that claims the shape and reads out of bounds.
     */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} zeros: int-overflowing element counts")
    @MethodSource("devices")
    void intOverflowingSize(Device d) {
        if (d.isGpu()) {
            // a GPU may legitimately hold 2^32 floats (16 GiB); impossibleSize covers it
            assertTrue(d.isGpu());
            return;
        }
        assertThrowsNaming(IllegalArgumentException.class, () -> d.zeros(65536, 65536), "[65536, 65536]");
        assertThrowsNaming(IllegalArgumentException.class, () -> d.zeros(46341, 46341), "[46341, 46341]");
        assertThrowsNaming(IllegalArgumentException.class, () -> d.zeros(2, Integer.MAX_VALUE),
                "[2, " + Integer.MAX_VALUE + "]");
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} upload: null data")
    @MethodSource("devices")
    void nullData(Device d) {
        assertThrowsNaming(IllegalArgumentException.class, () -> d.upload(null, 2, 3), "data", "null");
        stillWorks(d);
    }

    // ---- null, closed and foreign tensors ----------------------------------------------------------------

    @ParameterizedTest(autoCloseArguments = false, name = "{0} null {1}")
    @MethodSource("deviceSlots")
    void nullTensor(Device d, Slot slot) {
        try (Scope sc = new Scope()) {
            assertThrowsNaming(IllegalArgumentException.class, () -> call(d, slot, null, sc), slot.argument(), "null");
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} closed {1}")
    @MethodSource("deviceSlots")
    void closedTensor(Device d, Slot slot) {
        try (Scope sc = new Scope()) {
            Tensor closed = valid(d, slot.shape());
            closed.close();
            assertTrue(closed.isClosed());
            assertThrowsNaming(IllegalStateException.class, () -> call(d, slot, closed, sc), slot.argument(),
                    slot.shape().toString(), "closed");
        }
        stillWorks(d);
    }

    /** A tensor of another device instance (same kind, and a CPU device) is refused, naming the argument. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1} from another device")
    @MethodSource("deviceSlots")
    void foreignTensor(Device d, Slot slot) {
        for (Device other : new Device[] {TestDevices.fresh(d), TestDevices.otherCpu()}) {
            try (Scope sc = new Scope()) {
                assertTrue(other != d);
                Tensor foreign = sc.add(valid(other, slot.shape()));
                assertThrowsNaming(IllegalStateException.class, () -> call(d, slot, foreign, sc), slot.argument());
                // and the other way round: d's tensor on the other device
                Tensor mine = sc.add(valid(d, slot.shape()));
                assertThrowsNaming(IllegalStateException.class, () -> call(other, slot, mine, sc), slot.argument());
            } finally {
                other.close();
            }
        }
        stillWorks(d);
    }

    /** A Tensor implementation that no device made (the interface is public) is refused, not cast. */
    static Tensor counterfeit(Device owner, Shape shape) {
        return new Tensor() {
            @Override
            public int rows() {
                return shape.rows();
            }

            @Override
            public int cols() {
                return shape.cols();
            }

            @Override
            public Device device() {
                return owner;
            }

            @Override
            public float[] toArray() {
                return new float[shape.size()];
            }

            @Override
            public float item() {
                throw new IllegalArgumentException("a counterfeit");
            }

            @Override
            public boolean isClosed() {
                return false;
            }

            @Override
            public void close() {
            }

            @Override
            public String toString() {
                return "counterfeit " + shape;
            }
        };
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1}: a Tensor implementation of no device")
    @MethodSource("deviceSlots")
    void counterfeitTensor(Device d, Slot slot) {
        for (Device claimed : new Device[] {null, d}) {
            try (Scope sc = new Scope()) {
                assertThrowsNaming(IllegalStateException.class, () -> call(d, slot, counterfeit(claimed, slot.shape()), sc),
                        slot.argument());
            }
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} toArray and item on a closed tensor")
    @MethodSource("devices")
    void closedTensorReads(Device d) {
        Tensor t = d.upload(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        t.close();
        assertThrowsNaming(IllegalStateException.class, t::toArray, "[2, 3]", "closed");
        Tensor one = d.upload(new float[] {1}, 1, 1);
        one.close();
        assertThrowsNaming(IllegalStateException.class, one::item, "[1, 1]", "closed");
        assertThrowsNaming(IllegalStateException.class, one::toArray, "[1, 1]", "closed");
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} close is idempotent")
    @MethodSource("devices")
    void closeTwice(Device d) {
        Tensor t = d.upload(new float[] {1, 2}, 1, 2);
        assertFalse(t.isClosed());
        t.close();
        assertDoesNotThrow(t::close);
        assertTrue(t.isClosed());
        Device fresh = TestDevices.fresh(d);
        Tensor u = fresh.upload(new float[] {1, 2}, 1, 2);
        fresh.close();
        assertDoesNotThrow(fresh::close);
        assertDoesNotThrow(u::close);   // closing a tensor of a closed device is fine too
        assertDoesNotThrow(u::close);
        stillWorks(d);
    }

    // ---- shapes ----------------------------------------------------------------------------------------

    @ParameterizedTest(autoCloseArguments = false, name = "{0} klDiv: input and target shapes differ")
    @MethodSource("devices")
    void klDivShapeMismatch(Device d) {
        try (Scope sc = new Scope()) {
            Tensor a = sc.add(d.zeros(2, 3));
            Tensor b = sc.add(d.zeros(3, 2));
            Tensor c = sc.add(d.zeros(2, 4));
            for (Reduction r : Reduction.values()) {
                for (boolean lt : new boolean[] {false, true}) {
                    assertThrowsNaming(IllegalArgumentException.class, () -> d.klDiv(a, b, r, lt),
                            "input", "target", "[2, 3]", "[3, 2]");
                    assertThrowsNaming(IllegalArgumentException.class, () -> d.klDiv(c, a, r, lt),
                            "input", "target", "[2, 4]", "[2, 3]");
                }
            }
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} logSoftmaxBackward: gradOutput and output shapes differ")
    @MethodSource("devices")
    void logSoftmaxBackwardShapeMismatch(Device d) {
        try (Scope sc = new Scope()) {
            Tensor a = sc.add(d.zeros(2, 3));
            Tensor b = sc.add(d.zeros(2, 4));
            Tensor one = sc.add(d.zeros(1, 1));
            assertThrowsNaming(IllegalArgumentException.class, () -> d.logSoftmaxBackward(a, b),
                    "gradOutput", "output", "[2, 3]", "[2, 4]");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.logSoftmaxBackward(one, a),
                    "gradOutput", "output", "[1, 1]", "[2, 3]");
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} klDivBackward: shapes")
    @MethodSource("devices")
    void klDivBackwardShapes(Device d) {
        try (Scope sc = new Scope()) {
            Tensor x = sc.add(d.zeros(2, 3));
            Tensor t = sc.add(d.zeros(2, 3));
            Tensor tBad = sc.add(d.zeros(3, 2));
            Tensor one = sc.add(d.zeros(1, 1));
            Tensor row = sc.add(d.zeros(1, 3));
            for (boolean lt : new boolean[] {false, true}) {
                for (Reduction r : Reduction.values()) {
                    Tensor g = r == Reduction.NONE ? x : one;
                    assertThrowsNaming(IllegalArgumentException.class, () -> d.klDivBackward(g, x, tBad, r, lt),
                            "input", "target", "[2, 3]", "[3, 2]");
                }
                // a reduction needs a [1, 1] gradOutput
                for (Reduction r : new Reduction[] {Reduction.SUM, Reduction.MEAN, Reduction.BATCHMEAN}) {
                    assertThrowsNaming(IllegalArgumentException.class, () -> d.klDivBackward(x, x, t, r, lt),
                            "gradOutput", "[1, 1]", "[2, 3]", r.name());
                    assertThrowsNaming(IllegalArgumentException.class, () -> d.klDivBackward(row, x, t, r, lt),
                            "gradOutput", "[1, 1]", "[1, 3]");
                }
                // NONE needs gradOutput shaped like the input
                assertThrowsNaming(IllegalArgumentException.class,
                        () -> d.klDivBackward(one, x, t, Reduction.NONE, lt), "gradOutput", "[1, 1]", "[2, 3]");
                assertThrowsNaming(IllegalArgumentException.class,
                        () -> d.klDivBackward(row, x, t, Reduction.NONE, lt), "gradOutput", "[1, 3]", "[2, 3]");
            }
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} null reduction")
    @MethodSource("devices")
    void nullReduction(Device d) {
        try (Scope sc = new Scope()) {
            Tensor x = sc.add(d.zeros(2, 3));
            Tensor one = sc.add(d.zeros(1, 1));
            assertThrowsNaming(IllegalArgumentException.class, () -> d.klDiv(x, x, null, false), "reduction", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.klDivBackward(one, x, x, null, true),
                    "reduction", "null");
            assertThrowsNaming(IllegalArgumentException.class, () -> d.klDivBackward(x, x, x, null, false),
                    "reduction", "null");
        }
        stillWorks(d);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} item() needs a [1, 1] tensor")
    @MethodSource("devices")
    void itemOfNonScalar(Device d) {
        int[][] shapes = {{2, 3}, {1, 2}, {2, 1}};
        for (int[] rc : shapes) {
            try (Tensor t = d.zeros(rc[0], rc[1])) {
                assertThrowsNaming(IllegalArgumentException.class, t::item, "[" + rc[0] + ", " + rc[1] + "]");
            }
        }
        try (Scope sc = new Scope()) {
            Tensor x = sc.add(d.upload(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
            Tensor none = sc.add(d.klDiv(x, x, Reduction.NONE, true));
            assertThrowsNaming(IllegalArgumentException.class, none::item, "[2, 3]");
            Tensor rows = sc.add(d.rowSum(x));
            assertThrowsNaming(IllegalArgumentException.class, rows::item, "[2, 1]");
        }
        stillWorks(d);
    }

    // ---- closed device ---------------------------------------------------------------------------------

    /** Every method of a closed device throws IllegalStateException naming the device; so do its tensors. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} a closed device refuses everything")
    @MethodSource("devices")
    void closedDevice(Device d) {
        Device fresh = TestDevices.fresh(d);
        Tensor x = valid(fresh, new Shape(2, 3));
        Tensor one = valid(fresh, new Shape(1, 1));
        String name = fresh.name();
        fresh.close();
        assertThrowsNaming(IllegalStateException.class, () -> fresh.upload(new float[] {1}, 1, 1), "closed", name);
        assertThrowsNaming(IllegalStateException.class, () -> fresh.zeros(1, 1), "closed", name);
        for (Slot slot : slots()) {
            if (slot.index() != 0) {
                continue;   // one call per case
            }
            List<Tensor> args = new ArrayList<>();
            for (int i = 0; i < slot.op().op.arguments.size(); i++) {
                args.add(slot.op().argumentShape(i).size() == 1 ? one : x);
            }
            assertThrowsNaming(IllegalStateException.class, () -> slot.op().call(fresh, args, null), "closed", name);
        }
        assertThrowsNaming(IllegalStateException.class, x::toArray, "closed");
        assertThrowsNaming(IllegalStateException.class, one::item, "closed");
        assertDoesNotThrow(x::close);
        stillWorks(d);
    }
}
