package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.cpu.CpuDevice;
import dev.kullback.cuda.CudaDevice;
import java.io.File;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every op written into a caller's tensor: the same values, the same tensor back, and no allocation in a loop. */
class OutputTensorTest {
    private static final int ROWS = 5;
    private static final int COLS = 1030;

    /** An op computed both ways: allocating its result, and into a given tensor. */
    enum Op {
        LOG_SOFTMAX(ROWS, COLS, (d, in) -> d.logSoftmax(in[0]), (d, in) -> d.logSoftmax(in[0], in[4])),
        SOFTMAX(ROWS, COLS, (d, in) -> d.softmax(in[0]), (d, in) -> d.softmax(in[0], in[4])),
        LOG_SOFTMAX_BACKWARD(ROWS, COLS, (d, in) -> d.logSoftmaxBackward(in[2], in[1]),
                (d, in) -> d.logSoftmaxBackward(in[2], in[1], in[4])),
        KL_DIV_NONE(ROWS, COLS, (d, in) -> d.klDiv(in[1], in[3], Reduction.NONE, false),
                (d, in) -> d.klDiv(in[1], in[3], Reduction.NONE, false, in[4])),
        KL_DIV_BATCHMEAN(1, 1, (d, in) -> d.klDiv(in[1], in[3], Reduction.BATCHMEAN, true),
                (d, in) -> d.klDiv(in[1], in[3], Reduction.BATCHMEAN, true, in[4])),
        KL_DIV_BACKWARD(ROWS, COLS, (d, in) -> d.klDivBackward(in[2], in[1], in[3], Reduction.NONE, false),
                (d, in) -> d.klDivBackward(in[2], in[1], in[3], Reduction.NONE, false, in[4])),
        SUM(1, 1, (d, in) -> d.sum(in[0]), (d, in) -> d.sum(in[0], in[4])),
        MEAN(1, 1, (d, in) -> d.mean(in[0]), (d, in) -> d.mean(in[0], in[4])),
        ROW_SUM(ROWS, 1, (d, in) -> d.rowSum(in[0]), (d, in) -> d.rowSum(in[0], in[4]));

        final int rows;
        final int cols;
        final BiFunction<Device, Tensor[], Tensor> allocating;
        final BiFunction<Device, Tensor[], Tensor> into;

        Op(int rows, int cols, BiFunction<Device, Tensor[], Tensor> allocating,
           BiFunction<Device, Tensor[], Tensor> into) {
            this.rows = rows;
            this.cols = cols;
            this.allocating = allocating;
            this.into = into;
        }
    }

    static Stream<Arguments> cases() {
        return TestDevices.all().stream().flatMap(d -> Arrays.stream(Op.values()).map(op -> Arguments.of(d, op)));
    }

    /** logits, log-probabilities, a gradient, probabilities; then the output slot. */
    static Tensor[] inputs(Device d, Op op) {
        Random random = new Random(7);
        float[] logits = new float[ROWS * COLS];
        float[] grad = new float[ROWS * COLS];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) random.nextGaussian() * 2;
            grad[i] = (float) random.nextGaussian();
        }
        Tensor x = d.upload(logits, ROWS, COLS);
        return new Tensor[] {x, d.logSoftmax(x), d.upload(grad, ROWS, COLS), d.softmax(x), d.zeros(op.rows, op.cols)};
    }

    static void closeAll(Tensor[] tensors) {
        Arrays.stream(tensors).forEach(Tensor::close);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} {1}: into out = allocating")
    @MethodSource("cases")
    void writesTheSameValuesIntoOut(Device d, Op op) {
        Tensor[] in = inputs(d, op);
        try (Tensor expected = op.allocating.apply(d, in)) {
            Tensor returned = op.into.apply(d, in);
            assertSame(in[4], returned, "the op returns the tensor it wrote");
            assertArrayEquals(expected.toArray(), returned.toArray(), op + ": bitwise the allocating result");
        } finally {
            closeAll(in);
        }
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0}: a bad out is refused, naming it")
    @MethodSource("dev.kullback.TestDevices#all")
    void refusesABadOut(Device d) {
        try (Tensor x = d.upload(new float[] {1, 2, 3, 4, 5, 6}, 2, 3); Tensor wrong = d.zeros(3, 2);
             Tensor other = TestDevices.otherCpu().zeros(2, 3)) {
            IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> d.softmax(x, wrong));
            assertTrue(shape.getMessage().contains("out [3, 2] must be [2, 3]"), shape.getMessage());
            IllegalArgumentException alias = assertThrows(IllegalArgumentException.class, () -> d.softmax(x, x));
            assertTrue(alias.getMessage().startsWith("out "), alias.getMessage());
            IllegalStateException foreign = assertThrows(IllegalStateException.class, () -> d.softmax(x, other));
            assertTrue(foreign.getMessage().startsWith("out "), foreign.getMessage());
            Tensor closed = d.zeros(2, 3);
            closed.close();
            assertThrows(IllegalStateException.class, () -> d.softmax(x, closed));
        }
    }

    @Test
    void aLoopIntoOutputsAllocatesNoDeviceMemoryOnTheSimulator() {
        List<Device> cuda = TestDevices.all().stream().filter(Device::isGpu).toList();
        org.junit.jupiter.api.Assumptions.assumeFalse(cuda.isEmpty(), "no CUDA device under test");
        CudaDevice device = (CudaDevice) cuda.get(0);
        for (Op op : Op.values()) {
            Tensor[] in = inputs(device, op);
            try {
                op.into.apply(device, in);
                long allocations = device.deviceAllocations();
                long live = device.liveBytes();
                for (int i = 0; i < 20; i++) {
                    op.into.apply(device, in);
                }
                assertEquals(allocations, device.deviceAllocations(), op + ": device allocations in the loop");
                assertEquals(live, device.liveBytes(), op + ": live bytes in the loop");
            } finally {
                closeAll(in);
            }
        }
    }

    /**
     * Run in a JVM of its own ({@link OutputAllocationProbe}), with synchronous compilation: what C2 makes of the
     * CPU kernels depends on the profiles that every earlier test left in the JVM. Measured here: after a 3-thread
     * CPU device has run a few thousand ops in the same JVM, the 1-thread device's logSoftmax into an output
     * allocates about 60 KB per call (its vectors boxed) instead of about 1 KB, for as long as the JVM lives; so
     * in-process, this check passed or failed with the test classes that ran before it (after TorchParityTest:
     * LOG_SOFTMAX, 31,728 bytes per call).
     */
    @Test
    void aLoopIntoOutputsAllocatesNoLargeHeapArraysOnTheCpu() throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        Process p = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "-Xbatch",
                "-cp", System.getProperty("java.class.path"), OutputAllocationProbe.class.getName()))
                .redirectErrorStream(true).start();
        String output;
        try (InputStream in = p.getInputStream()) {
            output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the probe did not finish");
        assertEquals(0, p.exitValue(), output);
        int ops = 0;
        for (String line : output.split("\n")) {
            String[] f = line.trim().split(" ");
            if (f.length == 3 && f[0].equals("perCall")) {
                ops++;
                long perCall = Long.parseLong(f[2]);
                // an output array would be 4 * 5 * 1030 = 20600 bytes; what is left is per-call bookkeeping
                assertTrue(perCall < 2048, f[1] + " allocates " + perCall + " bytes per call");
            }
        }
        assertEquals(Op.values().length, ops, "ops measured:\n" + output);
    }
}
