package dev.kullback.cpu;

import dev.kullback.DType;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.SplittableRandom;

/**
 * Where a bf16 op's time goes on one thread (issue 10): the bulk widen and narrow of the whole tensor, the float32
 * op, and the half op, each timed in the calling thread's CPU time, best of rounds. Arguments: shapes, e.g.
 * {@code 8192x128,1024x32768,16x262144} [rounds].
 */
public final class HalfPhaseProfile {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        HalfConverter h = HalfConverter.VectorHolder.VECTOR;
        if (args[0].equals("kernels")) {
            kernels(rounds);
            return;
        }
        for (String shape : args[0].split(",")) {
            int rows = Integer.parseInt(shape.split("x")[0]);
            int cols = Integer.parseInt(shape.split("x")[1]);
            int n = rows * cols;
            float[] x = new float[n];
            SplittableRandom random = new SplittableRandom(1);
            for (int i = 0; i < n; i++) {
                x[i] = (float) (random.nextDouble() * 8 - 4);
            }
            short[] bits = new short[n];
            float[] f = new float[n];
            short[] outBits = new short[n];
            h.narrow(DType.BFLOAT16, x, 0, bits, 0, n);
            try (CpuDevice device = new CpuDevice(1)) {
                var xf = device.upload(x, rows, cols);
                var xh = device.upload(x, rows, cols, DType.BFLOAT16);
                var th = device.upload(x, rows, cols, DType.BFLOAT16);
                var tf = device.upload(x, rows, cols);
                int[] y = new int[rows];
                var labels = device.uploadLabels(y);
                StringBuilder line = new StringBuilder(shape);
                line.append(time("widen", rounds, () -> h.widen(DType.BFLOAT16, bits, 0, f, 0, n)));
                line.append(time("narrow", rounds, () -> h.narrow(DType.BFLOAT16, x, 0, outBits, 0, n)));
                line.append(time("fp16 narrow", rounds, () -> h.narrow(DType.FLOAT16, x, 0, outBits, 0, n)));
                line.append(time("fp16 widen", rounds, () -> h.widen(DType.FLOAT16, bits, 0, f, 0, n)));
                line.append(time("ls f32", rounds, () -> device.logSoftmax(xf).close()));
                line.append(time("ls bf16", rounds, () -> device.logSoftmax(xh).close()));
                line.append(time("ce f32", rounds, () -> device.crossEntropy(xf, labels).close()));
                line.append(time("ce bf16", rounds, () -> device.crossEntropy(xh, labels).close()));
                line.append(time("kd f32", rounds, () -> device.distillationKl(xf, tf, 2f).close()));
                line.append(time("kd bf16", rounds, () -> device.distillationKl(xh, th, 2f).close()));
                System.out.println(line);
            }
        }
    }

    /** The long-row log-softmax kernels on one chunk in L1, float32 against bf16 storage. */
    private static void kernels(int rounds) {
        Kernels k = KernelsProvider.vector().orElseThrow();
        int n = RowSchedule.CHUNK;
        float[] x = new float[2 * n];
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextDouble() * 8 - 4);
        }
        short[] b = new short[2 * n];
        HalfConverter.SCALAR.narrow(DType.BFLOAT16, x, 0, b, 0, 2 * n);
        float[] o = new float[2 * n];
        short[] ob = new short[2 * n];
        float[] m = new float[1];
        double[] s = new double[1];
        int reps = 100;
        StringBuilder line = new StringBuilder("per chunk of " + n + ", us:");
        line.append(time("stats f32", rounds, () -> { for (int i = 0; i < reps; i++) k.logStats(x, 0, n, m, s, 0); }));
        line.append(time("stats bf16", rounds, () -> { for (int i = 0; i < reps; i++) k.logStatsBf16(b, 0, n, m, s, 0); }));
        line.append(time("write f32", rounds,
                () -> { for (int i = 0; i < reps; i++) k.logSoftmaxWrite(x, 0, n, 1f, 2f, o); }));
        line.append(time("write bf16", rounds,
                () -> { for (int i = 0; i < reps; i++) k.logSoftmaxWriteBf16(b, 0, ob, 0, n, 1f, 2f); }));
        line.append(time("fused f32", rounds,
                () -> { for (int i = 0; i < reps; i++) k.logSoftmaxWriteAndStats(x, o, 0, 1f, 2f, n, n, m, s, 0); }));
        System.out.println(line + "  (ms per 100 chunks)");
    }

    private static String time(String name, int rounds, Runnable r) {
        double best = Double.MAX_VALUE;
        for (int round = 0; round < rounds; round++) {
            long start = THREADS.getCurrentThreadCpuTime();
            long end = start + 50_000_000L;
            int calls = 0;
            long now;
            do {
                r.run();
                calls++;
            } while ((now = THREADS.getCurrentThreadCpuTime()) < end);
            best = Math.min(best, (now - start) / 1e6 / calls);
        }
        return String.format("  %s %.3f", name, best);
    }
}
