package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.cpu.CpuDevice;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Fused linear losses: bitwise repeatable (runs, CPU thread counts), and bad input refused with clear messages. */
class FusedLinearPropertiesTest {
    static List<Device> devices() {
        return TestDevices.all();
    }

    /** Every result of one fused linear cross-entropy (MEAN, bias, smoothing, z-loss, ignored rows), as arrays. */
    static float[][] run(Device device, int n, int h, int v, Chunking chunking) {
        Random random = new Random(7);
        float[] hidden = FusedLinearTest.values(random, n * h, 1f);
        float[] weight = FusedLinearTest.values(random, v * h, 0.3f);
        float[] bias = FusedLinearTest.values(random, v, 0.3f);
        int[] y = FusedLinearTest.labels(n, v, 1, random);
        try (Tensor x = device.upload(hidden, n, h);
             Tensor w = device.upload(weight, v, h);
             Tensor b = device.upload(bias, 1, v);
             Labels labels = device.uploadLabels(y);
             Loss loss = device.linearCrossEntropy(x, w, b, labels, CrossEntropy.options().labelSmoothing(0.1f)
                     .zLoss(1e-3f), chunking)) {
            return new float[][] {loss.value().toArray(), loss.gradient(0).toArray(), loss.gradient(1).toArray(),
                    loss.gradient(2).toArray()};
        }
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("devices")
    void repeatsBitwise(Device device) {
        int v = device.isGpu() ? 41 : 1500;
        float[][] first = run(device, 19, 12, v, Chunking.rows(5));
        float[][] second = run(device, 19, 12, v, Chunking.rows(5));
        for (int i = 0; i < first.length; i++) {
            assertArrayEquals(first[i], second[i], "result " + i + " differs between two runs");
        }
    }

    /** Large enough that OpenBLAS splits its products across threads. */
    @Test
    void cpuResultsDoNotDependOnThreads() {
        float[][] want;
        try (CpuDevice one = new CpuDevice(1)) {
            want = run(one, 300, 160, 2100, Chunking.auto());
        }
        for (int threads : new int[] {2, 3}) {
            try (CpuDevice many = new CpuDevice(threads)) {
                float[][] got = run(many, 300, 160, 2100, Chunking.auto());
                for (int i = 0; i < want.length; i++) {
                    assertArrayEquals(want[i], got[i], "result " + i + " differs between 1 and " + threads + " threads");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("devices")
    void refusesBadInput(Device device) {
        try (Tensor x = device.upload(new float[12], 3, 4);
             Tensor w = device.upload(new float[20], 5, 4);
             Tensor wrongH = device.upload(new float[15], 5, 3);
             Tensor bias = device.upload(new float[5], 1, 5);
             Tensor wrongBias = device.upload(new float[4], 1, 4);
             Tensor teacherX = device.upload(new float[8], 2, 4);
             Tensor teacherW = device.upload(new float[24], 6, 4);
             Labels labels = device.uploadLabels(new int[] {0, 1, 2});
             Labels twoLabels = device.uploadLabels(new int[] {0, 1});
             Labels outOfRange = device.uploadLabels(new int[] {0, 5, 1})) {
            CrossEntropy ce = CrossEntropy.options();
            expect(IllegalArgumentException.class, "hidden size", () -> device.linearCrossEntropy(x, wrongH, null,
                    labels, ce));
            expect(IllegalArgumentException.class, "bias [1, 4] must be [1, 5]", () -> device.linearCrossEntropy(x, w,
                    wrongBias, labels, ce));
            expect(IllegalArgumentException.class, "2 labels, but the logits have 3 rows",
                    () -> device.linearCrossEntropy(x, w, bias, twoLabels, ce));
            expect(IllegalArgumentException.class, "labels[1] = 5 is not a class in [0, 5)",
                    () -> device.linearCrossEntropy(x, w, bias, outOfRange, ce));
            expect(IllegalArgumentException.class, "weights [1, 4] must be [1, 5]", () -> device.linearCrossEntropy(x,
                    w, null, labels, ce.weights(wrongBias)));
            expect(IllegalArgumentException.class, "BATCHMEAN", () -> device.linearCrossEntropy(x, w, null, labels,
                    ce.reduction(Reduction.BATCHMEAN)));
            expect(IllegalArgumentException.class, "chunking is null", () -> device.linearCrossEntropy(x, w, null,
                    labels, ce, null));
            expect(IllegalArgumentException.class, "hidden is null", () -> device.linearCrossEntropy(null, w, null,
                    labels, ce));
            expect(IllegalArgumentException.class, "same number of rows", () -> device.linearDistillationKl(x, w,
                    teacherX, w, Distillation.options()));
            expect(IllegalArgumentException.class, "the vocabulary", () -> device.linearDistillationKl(x, w, x,
                    teacherW, Distillation.options()));
            expect(IllegalArgumentException.class, "temperature", () -> device.linearDistillationKl(x, w, x, w,
                    Distillation.options().temperature(0f)));
            expect(IllegalArgumentException.class, "hardLoss needs the labels", () -> device.linearDistillationKl(x, w,
                    x, w, Distillation.options().hardLoss(0.5f, 0.5f)));
            expect(IllegalArgumentException.class, "applies to linearDistillationKl", () -> device.distillationKl(x, x,
                    Distillation.options().hardLoss(0.5f, 0.5f)));
            expect(IllegalArgumentException.class, "give weightHard > 0", () -> device.linearDistillationKl(x, w, x, w,
                    Distillation.options().ignore(labels, -100).hardLoss(0f, 0.5f)));
            expect(IllegalArgumentException.class, "labels[1] = 5 is not a class", () -> device.linearDistillationKl(x,
                    w, x, w, Distillation.options().ignore(outOfRange, -100).hardLoss(1f, 1f)));
            expect(IllegalArgumentException.class, "softCap must be 0 (none) or positive", () -> device
                    .linearCrossEntropy(x, w, null, labels, ce.softCap(-1f)));
            expect(IllegalArgumentException.class, "chunk rows must be at least 1, got 0", () -> Chunking.rows(0));
            expect(IllegalArgumentException.class, "at least 4 bytes", () -> Chunking.memoryBudget(3));
        }
        try (Device other = TestDevices.fresh(device);
             Tensor foreign = other.upload(new float[20], 5, 4);
             Tensor x = device.upload(new float[12], 3, 4);
             Labels labels = device.uploadLabels(new int[] {0, 1, 2})) {
            expect(IllegalStateException.class, "weight [5, 4] lives on", () -> device.linearCrossEntropy(x, foreign,
                    null, labels, CrossEntropy.options()));
        }
    }

    @Test
    void chunkingRules() {
        // Liger's rule: chunks of ceil(N / ceil(V / H)) rows
        assertTrue(Chunking.auto().rowsPerChunk(4096, 1024, 32768) == 128);
        assertTrue(Chunking.auto().rowsPerChunk(10, 1024, 512) == 10);
        assertTrue(Chunking.rows(7).rowsPerChunk(5, 3, 3) == 5);
        assertTrue(Chunking.memoryBudget(4L * 100 * 3).rowsPerChunk(1000, 8, 100) == 3);
        assertTrue(Chunking.memoryBudget(4).rowsPerChunk(1000, 8, 100) == 1);
    }

    private static void expect(Class<? extends RuntimeException> type, String fragment, Runnable call) {
        RuntimeException e = assertThrows(type, call::run);
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' lacks '" + fragment + "'");
    }
}
