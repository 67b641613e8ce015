package dev.kullback.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A quick A/B of contenders on a shared, busy machine: the contenders of one op and shape run in turn in the same JVM,
 * round after round (each turn about 50 ms of calls), and each one's best turn is kept: a neighbour's load slows a
 * turn, it never speeds one up, so the best turns' ratio is the least disturbed estimate. Not a substitute for the
 * JMH suite (no forks, no error bars); for checking a change in minutes. Arguments: ops shapes contenders [threads]
 * [rounds], lists comma-separated, e.g. {@code logSoftmax,softmax 8192x128,65536x32 kullback,pytorch 2 15}. On one
 * thread every contender works on the calling thread (the CPU device and PyTorch run a single-thread call inline), so
 * the turns are timed in that thread's CPU time, which time spent descheduled by other processes does not inflate.
 */
public final class RatioCheck {
    public static void main(String[] args) {
        List<String> ops = Arrays.asList(args[0].split(","));
        List<String> shapes = Arrays.asList(args[1].split(","));
        List<String> contenders = Arrays.asList(args[2].split(","));
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : Runtime.getRuntime().availableProcessors();
        int rounds = args.length > 4 ? Integer.parseInt(args[4]) : 15;
        for (String op : ops) {
            for (String shape : shapes) {
                List<Workloads> w = new ArrayList<>();
                for (String c : contenders) {
                    w.add(Workloads.create(op, shape, c, threads));
                }
                double[] best = new double[w.size()];
                Arrays.fill(best, Double.MAX_VALUE);
                for (int round = 0; round < rounds; round++) {
                    for (int i = 0; i < w.size(); i++) {
                        best[i] = Math.min(best[i], turn(w.get(i), threads == 1));
                    }
                }
                StringBuilder line = new StringBuilder(String.format("%-14s %-11s", op, shape));
                for (int i = 0; i < w.size(); i++) {
                    line.append(String.format("  %s %.3f ms", contenders.get(i), best[i] * 1e3));
                    if (i > 0) {
                        line.append(String.format(" (%s ÷ it: %.2f×)", contenders.get(0), best[i] / best[0]));
                    }
                }
                System.out.println(line);
                for (Workloads x : w) {
                    x.close();
                }
            }
        }
    }

    private static final java.lang.management.ThreadMXBean THREADS =
            java.lang.management.ManagementFactory.getThreadMXBean();

    /** Seconds per call over about 50 ms of calls, of wall time or of the calling thread's CPU time. */
    private static double turn(Workloads w, boolean cpuTime) {
        long start = cpuTime ? THREADS.getCurrentThreadCpuTime() : System.nanoTime();
        long end = start + 50_000_000L;
        int calls = 0;
        long now;
        do {
            w.run();
            calls++;
        } while ((now = cpuTime ? THREADS.getCurrentThreadCpuTime() : System.nanoTime()) < end);
        return (now - start) / 1e9 / calls;
    }
}
