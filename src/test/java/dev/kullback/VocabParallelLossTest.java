package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The vocabulary-parallel losses, N ranks on N threads of one JVM, each rank with its own device (every kind of
 * {@link TestDevices}: the CPU configurations and the CUDA device on the host simulator), joined by
 * {@link InMemoryAllReduce}. For N in {1, 2, 3, 8}, vocabularies that the ranks divide and that they do not, split into
 * padded equal widths (the padding filled with NaN, so reading it would show) or into unequal widths, and every
 * option: each rank's value equals the unsharded loss of the same device kind within 2e-5 + 2e-5·|loss| (float32
 * sums in another order), each rank's gradient equals the matching columns of the unsharded gradient within
 * 2e-6 + 1e-4·|g|, padding columns get exactly 0, every rank returns the same value bit for bit, and a second run
 * returns the same bits. The simulator runs a smaller set of options (its fibers are slow).
 */
class VocabParallelLossTest {
    private static final int ROWS = 4;
    private static final int IGNORE = -100;
    private static final ExecutorService RANK_THREADS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "vocab-parallel-rank");
        t.setDaemon(true);
        return t;
    });
    /** Per kind: nine instances, the eight ranks' and the unsharded reference's; opened on first use. */
    private static final Map<TestDevices.Kind, List<Device>> DEVICES = new HashMap<>();

    enum Split { PADDED, UNEVEN }

    /** A sharded call and the unsharded call it must equal. */
    private record Case(String name, Sharded sharded, Unsharded unsharded) {
        @Override
        public String toString() {
            return name;
        }
    }

    private interface Sharded {
        Loss call(Device d, Tensor a, Tensor b, Labels labels, VocabShard shard, AllReduce allReduce);
    }

    private interface Unsharded {
        Loss call(Device d, Tensor a, Tensor b, Labels labels);
    }

    @AfterAll
    static void closeDevices() {
        DEVICES.values().forEach(list -> list.forEach(Device::close));
        DEVICES.clear();
    }

    private static synchronized List<Device> devices(TestDevices.Kind kind) {
        return DEVICES.computeIfAbsent(kind, k -> {
            List<Device> list = new ArrayList<>();
            for (int i = 0; i < 9; i++) {
                list.add(k.open());
            }
            return list;
        });
    }

    private static boolean simulated(TestDevices.Kind kind) {
        return kind.label().startsWith("cuda");
    }

    static Stream<Arguments> grid() {
        List<Arguments> args = new ArrayList<>();
        for (TestDevices.Kind kind : TestDevices.kinds()) {
            for (int ranks : new int[] {1, 2, 3, 8}) {
                for (int vocab : new int[] {24, 13}) { // 24: divided by 1, 2, 3 and 8 ranks; 13: by none but 1
                    for (Split split : Split.values()) {
                        args.add(Arguments.of(kind, ranks, vocab, split));
                    }
                }
            }
        }
        return args.stream();
    }

    // ---- the options ---------------------------------------------------------------------------------------

    static List<Case> crossEntropyCases(boolean small) {
        List<Case> cases = new ArrayList<>();
        for (Reduction reduction : new Reduction[] {Reduction.NONE, Reduction.SUM, Reduction.MEAN}) {
            for (float smoothing : new float[] {0f, 0.1f}) {
                for (float zLoss : new float[] {0f, 0.01f}) {
                    if (small && !((reduction == Reduction.MEAN && smoothing > 0 && zLoss > 0)
                            || (reduction == Reduction.NONE && smoothing == 0 && zLoss == 0)
                            || (reduction == Reduction.SUM && smoothing > 0 && zLoss == 0))) {
                        continue;
                    }
                    CrossEntropy o = CrossEntropy.options().reduction(reduction).labelSmoothing(smoothing)
                            .zLoss(zLoss).ignoreIndex(IGNORE);
                    cases.add(new Case("crossEntropy " + reduction + " smoothing " + smoothing + " zLoss " + zLoss,
                            (d, a, b, y, shard, ar) -> d.crossEntropy(a, y, shard, ar, o),
                            (d, a, b, y) -> d.crossEntropy(a, y, o)));
                }
            }
        }
        return cases;
    }

    static List<Case> distillationCases(boolean small) {
        List<Case> cases = new ArrayList<>();
        for (Reduction reduction : Reduction.values()) {
            for (boolean reverse : new boolean[] {false, true}) {
                for (float temperature : new float[] {1f, 2.5f}) {
                    for (boolean ignore : new boolean[] {false, true}) {
                        if (small && !((reduction == Reduction.BATCHMEAN && !reverse && temperature > 1 && ignore)
                                || (reduction == Reduction.NONE && reverse && temperature == 1 && !ignore)
                                || (reduction == Reduction.MEAN && reverse && temperature > 1 && ignore))) {
                            continue;
                        }
                        Distillation o = Distillation.options().reduction(reduction).reverse(reverse)
                                .temperature(temperature);
                        cases.add(new Case("distillationKl " + reduction + (reverse ? " reverse" : " forward") + " T "
                                + temperature + (ignore ? " ignoring a row" : ""),
                                (d, a, b, y, shard, ar) -> d.distillationKl(a, b, shard, ar,
                                        ignore ? o.ignore(y, IGNORE) : o),
                                (d, a, b, y) -> d.distillationKl(a, b, ignore ? o.ignore(y, IGNORE) : o)));
                    }
                }
            }
        }
        return cases;
    }

    static List<Case> entropyCases(boolean small) {
        List<Case> cases = new ArrayList<>();
        for (Reduction reduction : Reduction.values()) {
            if (small && reduction != Reduction.MEAN && reduction != Reduction.NONE) {
                continue;
            }
            cases.add(new Case("entropy " + reduction, (d, a, b, y, shard, ar) -> d.entropy(a, shard, ar, reduction),
                    (d, a, b, y) -> d.entropy(a, reduction)));
        }
        return cases;
    }

    // ---- the data ------------------------------------------------------------------------------------------

    /** Random logits, two rows with a -inf column (in both student and teacher: masked for distillation). */
    static float[][] inputs(int rows, int vocab, long seed) {
        Random random = new Random(seed);
        float[] a = new float[rows * vocab];
        float[] b = new float[rows * vocab];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (2 * random.nextGaussian());
            b[i] = a[i] + (float) random.nextGaussian();
        }
        a[vocab - 2] = b[vocab - 2] = Float.NEGATIVE_INFINITY; // row 0
        if (rows > 2) {
            a[2 * vocab + 1] = b[2 * vocab + 1] = Float.NEGATIVE_INFINITY; // row 2
        }
        return new float[][] {a, b};
    }

    /** The last class (held by the last shard), an ignored row, class 0, a class in the middle. */
    static int[] labels(int rows, int vocab) {
        int[] y = new int[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = r % 4 == 0 ? vocab - 1 : r % 4 == 1 ? IGNORE : r % 4 == 2 ? 0 : vocab / 2;
        }
        return y;
    }

    /** [offset, width] of each rank's slice. */
    static int[][] slices(int ranks, int vocab, Split split) {
        int[][] s = new int[ranks][];
        for (int r = 0; r < ranks; r++) {
            if (split == Split.PADDED) {
                int width = VocabShard.paddedWidth(vocab, ranks);
                s[r] = new int[] {r * width, width};
            } else {
                int from = (int) ((long) r * vocab / ranks);
                int to = (int) ((long) (r + 1) * vocab / ranks);
                s[r] = new int[] {from, to - from};
            }
        }
        return s;
    }

    /** Columns [offset, offset + width) of full [rows, vocab]; columns past the vocabulary are NaN padding. */
    static float[] slice(float[] full, int rows, int vocab, int offset, int width) {
        float[] out = new float[rows * width];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < width; c++) {
                int j = offset + c;
                out[r * width + c] = j < vocab ? full[r * vocab + j] : Float.NaN;
            }
        }
        return out;
    }

    // ---- running the ranks ---------------------------------------------------------------------------------

    private record Result(float[] value, float[] grad) {
    }

    private static List<Result> runRanks(List<Device> devices, int ranks, int rows, int vocab, int[][] slices,
                                         float[][] in, int[] y, Case c, InMemoryAllReduce allReduce) throws Exception {
        List<Future<Result>> futures = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            int rank = r;
            futures.add(RANK_THREADS.submit(() -> {
                Device d = devices.get(rank);
                int offset = slices[rank][0];
                int width = slices[rank][1];
                try (Tensor a = d.upload(slice(in[0], rows, vocab, offset, width), rows, width);
                     Tensor b = d.upload(slice(in[1], rows, vocab, offset, width), rows, width);
                     Labels labels = d.uploadLabels(y);
                     Loss loss = c.sharded.call(d, a, b, labels, VocabShard.of(offset, vocab), allReduce.rank(rank))) {
                    return new Result(loss.value().toArray(), loss.gradient().toArray());
                }
            }));
        }
        List<Result> results = new ArrayList<>();
        for (Future<Result> f : futures) {
            results.add(f.get(300, TimeUnit.SECONDS));
        }
        return results;
    }

    private static Result unsharded(Device d, int rows, int vocab, float[][] in, int[] y, Case c) {
        try (Tensor a = d.upload(in[0], rows, vocab);
             Tensor b = d.upload(in[1], rows, vocab);
             Labels labels = d.uploadLabels(y);
             Loss loss = c.unsharded.call(d, a, b, labels)) {
            return new Result(loss.value().toArray(), loss.gradient().toArray());
        }
    }

    private static void assertClose(float expected, float actual, double atol, double rtol, String what) {
        if (Float.isNaN(expected) && Float.isNaN(actual) || expected == actual) {
            return;
        }
        double err = Math.abs((double) expected - actual);
        if (!(err <= atol + rtol * Math.abs(expected))) {
            fail(what + ": expected " + expected + ", got " + actual + " (error " + err + ")");
        }
    }

    /** Runs {@code c} sharded and unsharded and checks every promise of the class comment. */
    static void check(List<Device> devices, int ranks, int rows, int vocab, Split split, Case c, long seed)
            throws Exception {
        check(devices, ranks, rows, vocab, split, c, inputs(rows, vocab, seed), labels(rows, vocab));
    }

    static void check(List<Device> devices, int ranks, int rows, int vocab, Split split, Case c, float[][] in, int[] y)
            throws Exception {
        int[][] slices = slices(ranks, vocab, split);
        Result full = unsharded(devices.get(8), rows, vocab, in, y, c);
        List<Result> first = runRanks(devices, ranks, rows, vocab, slices, in, y, c, new InMemoryAllReduce(ranks));
        List<Result> second = runRanks(devices, ranks, rows, vocab, slices, in, y, c, new InMemoryAllReduce(ranks));
        String where = c + ", " + ranks + " ranks, vocab " + vocab + " " + split;
        for (int r = 0; r < ranks; r++) {
            Result got = first.get(r);
            String rank = where + ", rank " + r;
            assertArrayEquals(first.get(0).value(), got.value(), rank + ": value differs from rank 0's");
            assertArrayEquals(got.value(), second.get(r).value(), rank + ": value not repeatable");
            assertArrayEquals(got.grad(), second.get(r).grad(), rank + ": gradient not repeatable");
            assertEquals(full.value().length, got.value().length, rank + ": value shape");
            for (int i = 0; i < got.value().length; i++) {
                assertClose(full.value()[i], got.value()[i], 2e-5, 2e-5, rank + ": value[" + i + "]");
            }
            int offset = slices[r][0];
            int width = slices[r][1];
            for (int row = 0; row < rows; row++) {
                for (int col = 0; col < width; col++) {
                    int j = offset + col;
                    float g = got.grad()[row * width + col];
                    if (j >= vocab) {
                        assertEquals(0f, g, rank + ": padding gradient [" + row + ", " + col + "]");
                    } else {
                        assertClose(full.grad()[row * vocab + j], g, 2e-6, 1e-4,
                                rank + ": gradient [" + row + ", class " + j + "]");
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}: {1} ranks, vocab {2}, {3}")
    @MethodSource("grid")
    void shardedEqualsUnsharded(TestDevices.Kind kind, int ranks, int vocab, Split split) throws Exception {
        boolean small = simulated(kind);
        if (small && split == Split.UNEVEN && vocab == 24) {
            return; // the simulator: a 24-class uneven split is the padded one; not run twice
        }
        List<Device> devices = devices(kind);
        List<Case> cases = new ArrayList<>();
        cases.addAll(crossEntropyCases(small));
        cases.addAll(distillationCases(small));
        cases.addAll(entropyCases(small));
        long seed = 31L * ranks + vocab;
        for (Case c : cases) {
            check(devices, ranks, ROWS, vocab, split, c, seed);
        }
    }

    /** Shards of more than 1024 classes: the block-per-row kernels on the simulator. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.kullback.TestDevices#kinds")
    void longRowsSplitInTwo(TestDevices.Kind kind) throws Exception {
        List<Device> devices = devices(kind);
        List<Case> cases = new ArrayList<>();
        cases.add(crossEntropyCases(false).get(11)); // MEAN, smoothing, z-loss
        cases.add(distillationCases(false).get(2)); // NONE forward T 2.5
        cases.add(distillationCases(false).get(7)); // NONE reverse T 2.5 ignoring a row
        cases.add(entropyCases(false).get(2)); // MEAN
        for (Case c : cases) {
            check(devices, 2, 2, 2101, Split.PADDED, c, 7);
        }
    }

    /**
     * Rows the unsharded losses give NaN for, or 0 for: a row of -inf only, a row with a NaN, a row of -inf but for
     * one class (held by one rank only), and every row ignored (MEAN over no rows is NaN, as in PyTorch).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.kullback.TestDevices#kinds")
    void edgeRowsMatchUnsharded(TestDevices.Kind kind) throws Exception {
        List<Device> devices = devices(kind);
        int vocab = 13;
        float[][] in = inputs(ROWS, vocab, 5);
        for (float[] x : in) {
            Arrays.fill(x, 0, vocab, Float.NEGATIVE_INFINITY); // row 0: all -inf
            x[vocab + 4] = Float.NaN; // row 1: a NaN
            Arrays.fill(x, 2 * vocab, 3 * vocab, Float.NEGATIVE_INFINITY); // row 2: one finite class, the last
            x[3 * vocab - 1] = 1.5f;
        }
        int[] y = {3, 0, vocab - 1, IGNORE};
        int[] allIgnored = {IGNORE, IGNORE, IGNORE, IGNORE};
        List<Case> cases = new ArrayList<>();
        cases.add(crossEntropyCases(false).get(0)); // NONE
        cases.add(distillationCases(false).get(0)); // NONE forward
        cases.add(distillationCases(false).get(4)); // NONE reverse
        cases.add(entropyCases(false).get(0)); // NONE
        for (Case c : cases) {
            check(devices, 3, ROWS, vocab, Split.PADDED, c, in, y);
        }
        check(devices, 3, ROWS, vocab, Split.PADDED, crossEntropyCases(false).get(11), inputs(ROWS, vocab, 6),
                allIgnored);
        check(devices, 3, ROWS, vocab, Split.PADDED, distillationCases(false).get(25), inputs(ROWS, vocab, 6),
                allIgnored);
    }

    // ---- communication volume and bad input ----------------------------------------------------------------

    /** The floats per row each rank sends: the promise of the README (3 for plain cross-entropy, two all-reduces). */
    @Test
    void floatsPerRowSent() throws Exception {
        List<Device> devices = devices(TestDevices.kinds().get(0));
        int vocab = 13;
        float[][] in = inputs(ROWS, vocab, 3);
        int[] y = labels(ROWS, vocab);
        int[][] slices = slices(2, vocab, Split.PADDED);
        Object[][] expected = {
                {crossEntropyCases(false).get(0), 3}, // NONE, no smoothing, no z-loss
                {crossEntropyCases(false).get(1), 3}, // z-loss needs nothing more
                {crossEntropyCases(false).get(2), 4}, // smoothing: Σ z over the whole vocabulary
                {distillationCases(false).get(0), 5},
                {entropyCases(false).get(0), 3},
        };
        for (Object[] e : expected) {
            InMemoryAllReduce allReduce = new InMemoryAllReduce(2);
            runRanks(devices, 2, ROWS, vocab, slices, in, y, (Case) e[0], allReduce);
            assertEquals(List.of("max", "sum"), allReduce.ops(), e[0] + ": the all-reduces");
            assertEquals((int) e[1] * ROWS, allReduce.floats(), e[0] + ": floats sent for " + ROWS + " rows");
        }
    }

    private static final AllReduce NEVER = new AllReduce() {
        @Override
        public void max(Tensor buffer) {
            fail("an invalid call reached the all-reduce");
        }

        @Override
        public void sum(Tensor buffer) {
            fail("an invalid call reached the all-reduce");
        }
    };

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.kullback.TestDevices#kinds")
    void badInputIsRejectedBeforeAnyAllReduce(TestDevices.Kind kind) {
        Device d = devices(kind).get(0);
        // vocabulary of 10 in widths of 4: the last shard, offset 8, holds classes 8, 9 and padding columns 10, 11
        try (Tensor x = d.upload(new float[8], 2, 4);
             Tensor other = d.upload(new float[6], 2, 3);
             Labels padding = d.uploadLabels(new int[] {8, 10});
             Labels beyond = d.uploadLabels(new int[] {8, 12});
             Labels ok = d.uploadLabels(new int[] {8, 9});
             Tensor weights = d.upload(new float[4], 1, 4)) {
            VocabShard last = VocabShard.of(8, 10);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> d.crossEntropy(x, padding, last, NEVER, CrossEntropy.options()));
            assertTrue(e.getMessage().contains("labels[1] = 10 falls in the padding columns [10, 12)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> d.crossEntropy(x, beyond, last, NEVER, CrossEntropy.options()));
            assertTrue(e.getMessage().contains("labels[1] = 12 is not a class in [0, 10)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> d.crossEntropy(x, ok, last, NEVER, CrossEntropy.options().weights(weights)));
            assertTrue(e.getMessage().contains("class weights"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> d.crossEntropy(x, ok, null, NEVER, CrossEntropy.options()));
            assertTrue(e.getMessage().contains("shard is null"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> d.crossEntropy(x, ok, last, null, CrossEntropy.options()));
            assertTrue(e.getMessage().contains("allReduce is null"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> d.entropy(x, VocabShard.of(-1, 10), NEVER, Reduction.SUM));
            assertTrue(e.getMessage().contains("offset -1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> d.entropy(x, VocabShard.of(0, 0), NEVER, Reduction.SUM));
            assertTrue(e.getMessage().contains("vocabSize must be >= 1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> d.distillationKl(x, other, last, NEVER, Distillation.options()));
            assertTrue(e.getMessage().contains("localStudent [2, 4] and localTeacher [2, 3]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> d.distillationKl(x, x, last, NEVER, Distillation.options().temperature(0f)));
            assertTrue(e.getMessage().contains("temperature"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> d.crossEntropy(x, ok, last, NEVER,
                    CrossEntropy.options().reduction(Reduction.BATCHMEAN)));
            assertTrue(e.getMessage().contains("BATCHMEAN"), e.getMessage());
        }
    }

    @Test
    void evenSplitOffsets() {
        assertEquals(5, VocabShard.paddedWidth(13, 3));
        assertEquals(10, VocabShard.evenSplit(2, 3, 13).offset());
        assertEquals(3, VocabShard.evenSplit(2, 3, 13).classesIn(5));
        assertEquals(0, VocabShard.of(14, 13).classesIn(2));
        assertThrows(IllegalArgumentException.class, () -> VocabShard.evenSplit(3, 3, 13));
        assertEquals("[0, 5, 10]", Arrays.toString(new int[] {VocabShard.evenSplit(0, 3, 13).offset(),
                VocabShard.evenSplit(1, 3, 13).offset(), VocabShard.evenSplit(2, 3, 13).offset()}));
    }
}
