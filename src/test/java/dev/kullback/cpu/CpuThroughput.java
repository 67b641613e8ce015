package dev.kullback.cpu;

import dev.kullback.Reduction;
import dev.kullback.Tensor;
import java.util.Random;

/**
 * A rough throughput check (not a test, not a benchmark harness; JMH does the real measurements):
 * {@code java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes dev.kullback.cpu.CpuThroughput [rows cols]}.
 * Prints GB/s (bytes read + written) of each op next to System.arraycopy of the same bytes.
 */
public final class CpuThroughput {
    public static void main(String[] args) {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 1024;
        int cols = args.length > 1 ? Integer.parseInt(args[1]) : 32768;
        float[] data = new float[rows * cols];
        Random random = new Random(1);
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) random.nextGaussian() * 3;
        }
        float[] copy = new float[data.length];
        double bytes = 8.0 * data.length; // read + write
        for (CpuDevice device : new CpuDevice[] {new CpuDevice(), new CpuDevice(1), new CpuDevice(CpuDevice.defaultThreads(), false)}) {
            Tensor x = device.upload(data, rows, cols);
            Tensor t = device.softmax(x);
            System.out.println(device.name() + ", [" + rows + ", " + cols + "]");
            time("arraycopy", bytes, () -> System.arraycopy(data, 0, copy, 0, data.length));
            time("logSoftmax", bytes, () -> device.logSoftmax(x).close());
            time("softmax", bytes, () -> device.softmax(x).close());
            time("logSoftmaxBackward", 12.0 * data.length, () -> device.logSoftmaxBackward(x, x).close());
            time("klDiv NONE", 12.0 * data.length, () -> device.klDiv(x, t, Reduction.NONE, false).close());
            time("klDiv SUM", 8.0 * data.length, () -> device.klDiv(x, t, Reduction.SUM, false).close());
            time("klDiv SUM logTarget", 8.0 * data.length, () -> device.klDiv(x, x, Reduction.SUM, true).close());
            time("distillationKl", 12.0 * data.length, () -> device.distillationKl(x, t, 1f).close());
            time("jsd beta 0.5", 16.0 * data.length, () -> device.jsd(x, t, 0.5f, Reduction.BATCHMEAN).close());
            time("jsd beta 0", 16.0 * data.length, () -> device.jsd(x, t, 0f, Reduction.BATCHMEAN).close());
            time("symmetricKl", 16.0 * data.length, () -> device.symmetricKl(x, t, Reduction.BATCHMEAN).close());
            time("sum", 4.0 * data.length, () -> device.sum(x).close());
            time("rowSum", 4.0 * data.length, () -> device.rowSum(x).close());
            device.close();
        }
    }

    private static void time(String what, double bytes, Runnable op) {
        for (int i = 0; i < 5; i++) {
            op.run();
        }
        int reps = 0;
        long start = System.nanoTime();
        long elapsed;
        do {
            op.run();
            reps++;
            elapsed = System.nanoTime() - start;
        } while (elapsed < 1_000_000_000L || reps < 5);
        double seconds = elapsed / 1e9 / reps;
        System.out.printf("  %-22s %8.2f ms  %6.1f GB/s%n", what, seconds * 1e3, bytes / seconds / 1e9);
    }
}
