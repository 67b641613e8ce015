package dev.kullback.demo;

import dev.kullback.Device;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.IntStream;

/**
 * A quick throughput table for the demo: each op's effective bandwidth (the bytes it must read and write,
 * over its time), next to a plain copy of the same bytes on the host. The JMH suite is the careful
 * measurement; this is the glance.
 */
final class Throughput {
    static final class Row {
        final String op;
        final double gigabytesPerSecond;
        final double ofCopy;

        Row(String op, double gigabytesPerSecond, double ofCopy) {
            this.op = op;
            this.gigabytesPerSecond = gigabytesPerSecond;
            this.ofCopy = ofCopy;
        }
    }

    /** Timed runs per op, after {@link #WARMUP} untimed ones (enough for C2 to compile the kernels). */
    static final int REPEATS = 5;
    private static final int WARMUP = 3;

    private Throughput() {
    }

    static List<Row> measure(Device device, int rows, int cols) {
        float[] logits = new float[rows * cols];
        float[] other = new float[rows * cols];
        Random random = new Random(42);
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) random.nextGaussian() * 3;
            other[i] = (float) random.nextGaussian() * 3;
        }
        long bytes = 4L * rows * cols;
        double copy = copyGigabytesPerSecond(logits);
        List<Row> table = new ArrayList<>();
        try (Tensor x = device.upload(logits, rows, cols);
             Tensor input = device.logSoftmax(x);
             Tensor y = device.upload(other, rows, cols);
             Tensor target = device.softmax(y);
             Tensor one = device.upload(new float[] {1f}, 1, 1)) {
            table.add(row("logSoftmax", 2 * bytes, copy, device, d -> d.logSoftmax(x)));
            table.add(row("softmax", 2 * bytes, copy, device, d -> d.softmax(x)));
            table.add(row("logSoftmaxBackward", 3 * bytes, copy, device, d -> d.logSoftmaxBackward(target, input)));
            table.add(row("klDiv NONE", 3 * bytes, copy, device, d -> d.klDiv(input, target, Reduction.NONE, false)));
            table.add(row("klDiv BATCHMEAN", 2 * bytes, copy, device,
                    d -> d.klDiv(input, target, Reduction.BATCHMEAN, false)));
            table.add(row("klDivBackward BATCHMEAN", 2 * bytes, copy, device,
                    d -> d.klDivBackward(one, input, target, Reduction.BATCHMEAN, false)));
            table.add(row("distillationKl + gradient", 3 * bytes, copy, device, d -> lossValue(d.distillationKl(x, y, 2f))));
            try (Labels labels = device.uploadLabels(randomLabels(rows, cols, random))) {
                table.add(row("crossEntropy + gradient", 2 * bytes, copy, device,
                        d -> lossValue(d.crossEntropy(x, labels))));
            }
            table.add(row("sum", bytes, copy, device, d -> d.sum(x)));
            table.add(row("rowSum", bytes, copy, device, d -> d.rowSum(x)));
        }
        return table;
    }

    /** The loss's value, its gradients closed: they were computed, which is what is timed. */
    private static Tensor lossValue(Loss loss) {
        for (int i = 0; i < loss.gradientCount(); i++) {
            loss.gradient(i).close();
        }
        return loss.value();
    }

    private static int[] randomLabels(int rows, int classes, Random random) {
        int[] labels = new int[rows];
        for (int r = 0; r < rows; r++) {
            labels[r] = random.nextInt(classes);
        }
        return labels;
    }

    /** Best of a few runs; each run ends by reading one value back, so GPU work is finished when timed. */
    private static Row row(String op, long bytesMoved, double copy, Device device, Function<Device, Tensor> call) {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < WARMUP + REPEATS; i++) {
            long start = System.nanoTime();
            try (Tensor result = call.apply(device)) {
                finish(result);
            }
            long elapsed = System.nanoTime() - start;
            if (i >= WARMUP) {
                best = Math.min(best, elapsed);
            }
        }
        double gbps = bytesMoved / (double) best;
        return new Row(op, gbps, gbps / copy);
    }

    private static void finish(Tensor result) {
        if (result.rows() == 1 && result.cols() == 1) {
            result.item();
        } else if (result.device().isGpu()) {
            try (Tensor total = result.device().sum(result)) {
                total.item();
            }
        }
    }

    /**
     * System.arraycopy of the same bytes, cut into one slice per core as the CPU device cuts its work: what reading
     * one array and writing another costs on this host when every core streams (one core alone gets less of the
     * memory bandwidth than the device's threads do together).
     */
    private static double copyGigabytesPerSecond(float[] source) {
        float[] target = new float[source.length];
        int slices = Runtime.getRuntime().availableProcessors();
        long best = Long.MAX_VALUE;
        for (int i = 0; i < WARMUP + REPEATS; i++) {
            long start = System.nanoTime();
            IntStream.range(0, slices).parallel().forEach(slice -> {
                int from = (int) ((long) source.length * slice / slices);
                int to = (int) ((long) source.length * (slice + 1) / slices);
                System.arraycopy(source, from, target, from, to - from);
            });
            if (i >= WARMUP) {
                best = Math.min(best, System.nanoTime() - start);
            }
        }
        return 2.0 * 4 * source.length / best;
    }
}
