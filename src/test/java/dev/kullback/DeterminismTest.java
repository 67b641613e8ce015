package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every operation returns the same bits when repeated on the same device: the losses and their gradients (the
 * core operations' repetition is also in {@code PropertiesTest}, their thread-count independence on the CPU in
 * {@code CpuDeterminismTest}), and the whole-tensor reductions (sum, mean, kl_div SUM / MEAN / BATCHMEAN) over
 * 10^8 elements on the CPU device ({@value #CPU_OTHER} on its scalar and 3-thread configurations, to keep the
 * class under a minute); the CUDA device on the host simulator reduces {@value #SIM_LARGE} elements, already
 * the most partials a CUDA reduction uses (10^8 would take minutes there).
 */
class DeterminismTest {
    /** Elements of the large reductions on the CPU device as {@code Devices.cpu()} makes it. */
    static final int CPU_LARGE = 100_000_000;
    /** On the CPU device's other configurations (scalar kernels: ~4x slower; an odd thread count). */
    static final int CPU_OTHER = 10_000_000;
    /**
     * Elements of the large reductions on the simulator: past 1024 * 2048, where the CUDA reduction reaches its
     * largest partials count (Launch.partials) and every block strides over several tiles, as at 10^8.
     */
    static final int SIM_LARGE = 4_000_000;

    static Stream<Arguments> deviceShapes() {
        List<Shape> shapes = TestDevices.shapes(List.of(new Shape(1, 1), new Shape(2, 4097), new Shape(33, 100),
                new Shape(300, 7)));
        return TestDevices.all().stream().flatMap(d -> shapes.stream().map(s -> Arguments.of(d, s)));
    }

    /**
     * Every op of {@link ConcurrencyTest#ops} three times, in a different order each round, so each result lands in
     * memory last used by some other op (pooled arrays and buffers are not cleared): the same bits every time.
     */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} every op, losses included, repeats bitwise {1}")
    @MethodSource("deviceShapes")
    void everyOpRepeatsBitwise(Device d, Shape s) {
        List<ConcurrencyTest.Op> ops = ConcurrencyTest.ops(d);
        try (ConcurrencyTest.Inputs in = new ConcurrencyTest.Inputs(d, s)) {
            List<List<float[]>> first = new ArrayList<>();
            for (ConcurrencyTest.Op op : ops) {
                first.add(op.run().apply(in));
            }
            for (int round = 1; round < 3; round++) {
                for (int k = 0; k < ops.size(); k++) {
                    int i = round == 1 ? ops.size() - 1 - k : (k * 7) % ops.size();
                    String diff = ConcurrencyTest.difference(first.get(i), ops.get(i).run().apply(in));
                    assertEquals(null, diff, d + " " + ops.get(i) + " " + s + ", round " + round);
                }
            }
        }
    }

    static Stream<Arguments> devices() {
        return TestDevices.all().stream().map(Arguments::of);
    }

    /** Reproducible inputs without a Random per element: a 64-bit mix of the index (fast at 10^8). */
    static float unit(long seed, long i) {
        long z = (i + seed) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return ((z >>> 40) + 0.5f) / (1 << 24);   // in (0, 1)
    }

    /** sum, mean and the reducing kl_divs (both target forms) of [rows, cols], each as a [1, 1] value. */
    static Map<String, Float> reductions(Device d, int rows, int cols) {
        int n = rows * cols;
        Map<String, Float> out = new LinkedHashMap<>();
        float[] host = new float[n];
        for (int i = 0; i < n; i++) {
            host[i] = -2f - 8f * unit(1, i);                 // log-probability-like input
        }
        try (Scope sc = new Scope()) {
            Tensor x = sc.add(d.upload(host, rows, cols));
            for (int i = 0; i < n; i++) {
                host[i] = unit(2, i);                           // target probabilities
            }
            Tensor t = sc.add(d.upload(host, rows, cols));
            host = null;
            for (int round = 0; round < 2; round++) {
                Map<String, Float> now = new LinkedHashMap<>();
                now.put("sum", item(d.sum(x)));
                now.put("mean", item(d.mean(x)));
                // the reductions share one kernel and differ in the divisor: each once, both target forms
                now.put("klDiv SUM", item(d.klDiv(x, t, Reduction.SUM, false)));
                now.put("klDiv BATCHMEAN", item(d.klDiv(x, t, Reduction.BATCHMEAN, false)));
                now.put("klDiv MEAN logTarget", item(d.klDiv(t, x, Reduction.MEAN, true)));
                if (round == 0) {
                    out.putAll(now);
                } else {
                    for (Map.Entry<String, Float> e : out.entrySet()) {
                        assertEquals(Float.floatToIntBits(e.getValue()), Float.floatToIntBits(now.get(e.getKey())),
                                d + " " + e.getKey() + " of " + n + " elements, repeated: " + e.getValue() + " then "
                                        + now.get(e.getKey()));
                    }
                }
            }
        }
        for (Map.Entry<String, Float> e : out.entrySet()) {
            assertTrue(Float.isFinite(e.getValue()), d + " " + e.getKey() + " = " + e.getValue());
        }
        return out;
    }

    static float item(Tensor t) {
        try (t) {
            return t.item();
        }
    }

    /**
     * sum, mean and kl_div reductions over 10^8 elements on a CPU device ({@value #SIM_LARGE} on the simulator),
     * twice: the same bits. On the CPU each block's partial goes to whichever thread claims it, so this also shows
     * the combination order does not depend on the schedule.
     */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} sum, mean, klDiv over 10^8 elements (fewer off the default CPU) repeat bitwise")
    @MethodSource("devices")
    void largeReductionsRepeatBitwise(Device d) {
        if (d.isGpu() && d.name().contains("SIMT simulator")) { // the simulator, directly or under the driver shim
            reductions(d, 1000, SIM_LARGE / 1000);
        } else if (!d.isGpu() && d != TestDevices.all().get(0)) {
            reductions(d, 1000, CPU_OTHER / 1000);
        } else {
            // TestDevices' first kind, the CPU device as Devices.cpu() makes it (and a real GPU)
            reductions(d, 10_000, CPU_LARGE / 10_000);
        }
    }
}
