package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.cpu.CpuDevice;
import dev.kullback.cuda.CudaDevice;
import dev.kullback.cuda.CudaTensor;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every fused loss's in-place gradient ({@link GradientMemory#IN_PLACE}, {@link Distillation#inPlace},
 * {@link CrossEntropy#inPlace}) on every device: the value and every gradient bitwise those of the out-of-place call
 * on the same device, each gradient the very input tensor it overwrote (closed with the loss), the inputs without a
 * gradient untouched, and no [rows, cols] buffer allocated (the CUDA device's peak bytes; a one-thread CPU device's
 * allocated bytes). Shapes take every launch branch: a warp a row ([7, 37]), 260 rows, register tiles a warp and a
 * block a row ([16, 1024], [4, 4096]), a row cut in chunks ([2, 8192]: CUDA's chunk kernels, the CPU's chunks in
 * parallel), and an unaligned row with a partial chunk ([3, 5001]).
 */
class InPlaceLossesTest {
    static final int[][] SHAPES = {{7, 37}, {260, 33}, {16, 1024}, {4, 4096}, {2, 8192}, {3, 5001}};

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (InPlaceLossCase c : InPlaceLossCase.all()) {
                for (int[] shape : SHAPES) {
                    out.add(Arguments.of(d, c, shape[0], shape[1]));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} [{2}, {3}]", autoCloseArguments = false)
    @MethodSource("cases")
    void inPlaceIsBitwiseOutOfPlace(Device device, InPlaceLossCase c, int rows, int cols) {
        check(device, c, rows, cols);
    }

    /** The check of {@link #inPlaceIsBitwiseOutOfPlace}, for any device (also the reverse-scheduled simulator's). */
    static void check(Device device, InPlaceLossCase c, int rows, int cols) {
        Random random = new Random(rows * 131L + cols + c.name().hashCode());
        float[][] values = c.inputs().make(random, rows, cols);
        int[] y = InPlaceLossCase.labels(rows, cols, random);
        try (Labels labels = device.uploadLabels(y)) {
            float[] wantValue;
            float[][] wantGrads;
            Tensor[] a = upload(device, values, rows, cols);
            try (Loss out = c.call().run(device, a, labels, false)) {
                wantValue = out.value().toArray();
                wantGrads = new float[out.gradientCount()][];
                for (int g = 0; g < wantGrads.length; g++) {
                    wantGrads[g] = out.gradient(g).toArray();
                }
            } finally {
                closeAll(a);
            }
            Tensor[] b = upload(device, values, rows, cols);
            try {
                long before = holding(device);
                Loss in = c.call().run(device, b, labels, true);
                long extra = peak(device) - before;
                // a soft cap's capped logits take their buffers (documented): two for distillation, the gradient none
                long allowed = 4L * rows * cols * (c.name().contains("soft cap") ? 3 : 1);
                assertTrue(extra < allowed, "in place held " + extra + " bytes more than the inputs at its peak; a "
                        + "[rows, cols] buffer is " + 4L * rows * cols);
                assertArrayEquals(wantValue, in.value().toArray(), "value");
                assertEquals(wantGrads.length, in.gradientCount());
                for (int g = 0; g < wantGrads.length; g++) {
                    assertSame(b[c.overwritten()[g]], in.gradient(g), "gradient " + g + " is its input");
                    assertArrayEquals(wantGrads[g], in.gradient(g).toArray(), "gradient " + g);
                }
                for (int i = 0; i < b.length; i++) {
                    if (!overwritten(c, i)) {
                        assertArrayEquals(values[i], b[i].toArray(), "input " + i + " has no gradient: untouched");
                    }
                }
                in.close();
                for (int g : c.overwritten()) {
                    assertTrue(b[g].isClosed(), "closing the loss closes the consumed input " + g);
                }
            } finally {
                closeAll(b);
            }
        }
    }

    private static boolean overwritten(InPlaceLossCase c, int input) {
        return Arrays.stream(c.overwritten()).anyMatch(i -> i == input);
    }

    static Tensor[] upload(Device device, float[][] values, int rows, int cols) {
        Tensor[] t = new Tensor[values.length];
        for (int i = 0; i < values.length; i++) {
            t[i] = device.upload(values[i], rows, cols);
        }
        return t;
    }

    static void closeAll(Tensor[] tensors) {
        for (Tensor t : tensors) {
            t.close();
        }
    }

    /** Bytes the device holds now, starting a new peak window (CUDA); 0 on the CPU, whose check is its own test. */
    private static long holding(Device device) {
        if (device instanceof CudaDevice cuda) {
            cuda.resetPeakBytes();
            return cuda.liveBytes();
        }
        return 0;
    }

    private static long peak(Device device) {
        return device instanceof CudaDevice cuda ? cuda.peakBytes() : 0;
    }

    /**
     * The CPU's allocation probe: on scalar devices (no vector boxing when interpreted), the heap every thread allocates
     * during an in-place loss, after a first call has loaded its classes and made each thread's chunk scratch, is less
     * than half a [rows, cols] array: one thread on [8, 32768] (whole rows), and two threads on [4, 32768] (rows cut in
     * chunks run in parallel, where out of place distillation and JSD take a [rows, cols] scratch of exps or log M).
     * Soft-target cross-entropy allocates a row of unit weights (an eighth of the array), the rest O(rows + chunks).
     */
    @Test
    void theCpuAllocatesNoRowsByColsArrayInPlace() {
        assertTrue(allocated(1, 8, 32768, false, InPlaceLossCase.all().get(0)) >= 4L * 8 * 32768,
                "the probe sees an out-of-place gradient");
        for (int threads : new int[] {1, 2}) {
            int rows = threads == 1 ? 8 : 4;
            int cols = 32768;
            long buffer = 4L * rows * cols;
            for (InPlaceLossCase c : InPlaceLossCase.all()) {
                if (c.name().contains("soft cap")) {
                    continue; // the capped logits take a buffer (documented)
                }
                long bytes = allocated(threads, rows, cols, true, c);
                assertTrue(bytes < buffer / 2, threads + " threads " + c + ": in place allocated " + bytes
                        + " bytes; one [rows, cols] array is " + buffer);
            }
        }
    }

    /**
     * Heap bytes allocated by every thread during {@code c}'s second call, each call on a new scalar device whose array
     * pool is empty (so a gradient cannot come from arrays the first call returned) with the inputs already uploaded.
     */
    private static long allocated(int threads, int rows, int cols, boolean inPlace, InPlaceLossCase c) {
        Random random = new Random(c.name().hashCode());
        float[][] values = c.inputs().make(random, rows, cols);
        int[] y = InPlaceLossCase.labels(rows, cols, random);
        long bytes = 0;
        for (int run = 0; run < 2; run++) {
            try (CpuDevice cpu = new CpuDevice(threads, false); Labels labels = cpu.uploadLabels(y)) {
                Tensor[] x = upload(cpu, values, rows, cols);
                long before = allocatedByAllThreads();
                c.call().run(cpu, x, labels, inPlace).close();
                bytes = allocatedByAllThreads() - before;
                closeAll(x);
            }
        }
        return bytes;
    }

    /** Heap bytes allocated so far by every live thread (the device's helper threads included). */
    private static long allocatedByAllThreads() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (long bytes : threads.getThreadAllocatedBytes(threads.getAllThreadIds())) {
            sum += Math.max(0, bytes);
        }
        return sum;
    }

    static Stream<Device> devices() {
        return TestDevices.all().stream();
    }

    /** Every argument that would alias an overwritten input is refused, naming both; out of place they may alias. */
    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("devices")
    void inPlaceRefusesInputsThatShareMemory(Device device) {
        int rows = 3;
        int cols = 8;
        float[] v = new float[rows * cols];
        Arrays.fill(v, 0.5f);
        GradientMemory in = GradientMemory.IN_PLACE;
        try (Tensor x = device.upload(v, rows, cols);
             Tensor z = device.upload(v, rows, cols);
             Tensor row = device.upload(new float[cols], 1, cols);
             Labels labels = device.uploadLabels(new int[] {1, 2, 3});
             Labels one = device.uploadLabels(new int[] {1})) {
            List<Runnable> refused = List.of(
                    () -> device.distillationKl(x, x, Distillation.options().inPlace(true)),
                    () -> device.crossEntropy(x, x, CrossEntropy.options().inPlace(true)),
                    () -> device.crossEntropy(row, row, CrossEntropy.options().inPlace(true)),
                    () -> device.crossEntropy(row, one, CrossEntropy.options().weights(row).inPlace(true)),
                    () -> device.jsd(x, x, 0.5f, Reduction.SUM, in),
                    () -> device.symmetricKl(x, x, Reduction.SUM, in),
                    () -> device.tvd(x, x, Reduction.SUM, labels, -100, in),
                    () -> device.kerasKl(x, x, Reduction.SUM, false, in),
                    () -> device.gaussianKl(x, z, z, x, Reduction.SUM, in),
                    () -> device.gaussianKl(x, x, Reduction.SUM, in));
            for (int i = 0; i < refused.size(); i++) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, refused.get(i)::run,
                        "case " + i);
                assertTrue(e.getMessage().contains("share memory"), e.getMessage());
            }
            assertThrows(IllegalArgumentException.class, () -> device.entropy(x, Reduction.SUM, null));
            AllReduce single = new AllReduce() { // one rank: the buffers are already reduced
                @Override
                public void max(Tensor buffer) {
                }

                @Override
                public void sum(Tensor buffer) {
                }
            };
            VocabShard whole = VocabShard.of(0, cols);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> device.crossEntropy(x,
                    labels, whole, single, CrossEntropy.options().inPlace(true)));
            assertTrue(e.getMessage().contains("vocabulary-parallel"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> device.distillationKl(x, z, whole, single,
                    Distillation.options().inPlace(true)));
            assertDoesNotThrow(() -> device.jsd(x, x, 0.5f, Reduction.SUM).close());
            assertDoesNotThrow(() -> device.gaussianKl(x, x, Reduction.SUM).close());
            assertDoesNotThrow(() -> device.distillationKl(x, x, Distillation.options()).close());
            assertTrue(!x.isClosed() && !z.isClosed(), "a refused call consumes nothing");
        }
    }

    /** On CUDA, wrapped caller memory may alias: overlapping ranges are refused as well. */
    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("devices")
    void inPlaceRefusesOverlappingWrappedMemory(Device device) {
        if (!(device instanceof CudaDevice cuda)) {
            return; // CPU tensors never share an array (but for internal row views, covered by the same check)
        }
        try (Tensor x = device.upload(new float[64], 8, 8)) {
            long address = ((CudaTensor) x).address();
            Tensor student = cuda.wrap(address, 4, 8);
            Tensor teacher = cuda.wrap(address + 4L * 8 * 3, 4, 8); // rows 3..6 of x: row 3 overlaps the student
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> device.jsd(student, teacher, 0.5f, Reduction.SUM, GradientMemory.IN_PLACE));
            assertTrue(e.getMessage().contains("share memory"), e.getMessage());
            Tensor apart = cuda.wrap(address + 4L * 8 * 4, 4, 8);
            device.jsd(student, apart, 0.5f, Reduction.SUM, GradientMemory.IN_PLACE).close();
            assertTrue(student.isClosed() && apart.isClosed() && !x.isClosed(),
                    "closing the loss marks the wrapped tensors closed, and frees nothing");
        }
    }
}
