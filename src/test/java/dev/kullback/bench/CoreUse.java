package dev.kullback.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.Map;
import java.util.ArrayList;
import java.util.List;

/**
 * Does an op use every core? For each shape, kullback's logSoftmax and distillation run for about a second on all
 * threads and on one: the process's CPU time over the wall time (cores busy) and the speed-up over one thread. Runs in
 * the suite's own JVM after JMH (no other work then), so the process CPU time is the op's.
 */
final class CoreUse {
    record Row(String op, String shape, int threads, double coresBusy, double speedUp, int working) {
    }

    private CoreUse() {
    }

    static List<Row> measure(List<String> shapes, int threads) {
        List<Row> rows = new ArrayList<>();
        for (String shape : shapes) {
            for (String op : new String[] {"logSoftmax", "distillation"}) {
                double[] all = time(op, shape, threads);
                double[] one = time(op, shape, 1);
                Row row = new Row(op, shape, threads, all[1], one[0] / all[0], (int) all[2]);
                System.out.printf("  core use: %-12s %-16s %d threads did work, %.2f cores busy on %d threads, "
                        + "%.2fx one thread%n", op, BenchConfig.label(shape), row.working(), row.coresBusy(), threads,
                        row.speedUp());
                rows.add(row);
            }
        }
        return rows;
    }

    /**
     * {seconds per op, process CPU seconds per wall second, threads that did work}: a thread did work when its CPU
     * time grew by at least a fifth of the busiest thread's (robust to other load on the machine, which the first two
     * are not).
     */
    private static double[] time(String op, String shape, int threads) {
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        try (Workloads w = new Workloads.Kullback(op, BenchConfig.rows(shape), BenchConfig.cols(shape), threads)) {
            long warm = System.nanoTime();
            while (System.nanoTime() - warm < 300_000_000L) {
                w.run();
            }
            ThreadMXBean threadBean = ManagementFactory.getThreadMXBean();
            Map<Long, Long> before = new HashMap<>();
            for (long id : threadBean.getAllThreadIds()) {
                before.put(id, threadBean.getThreadCpuTime(id));
            }
            long cpu = os.getProcessCpuTime();
            long start = System.nanoTime();
            int reps = 0;
            long elapsed;
            do {
                w.run();
                reps++;
                elapsed = System.nanoTime() - start;
            } while (elapsed < 1_000_000_000L || reps < 3);
            double cpuSeconds = (os.getProcessCpuTime() - cpu) / 1e9;
            List<Long> deltas = new ArrayList<>();
            for (long id : threadBean.getAllThreadIds()) {
                long now = threadBean.getThreadCpuTime(id);
                Long then = before.get(id);
                if (now >= 0) {
                    deltas.add(now - (then == null || then < 0 ? 0 : then));
                }
            }
            long busiest = deltas.stream().mapToLong(Long::longValue).max().orElse(0);
            long working = deltas.stream().filter(d -> d >= busiest / 5 && d > 0).count();
            return new double[] {elapsed / 1e9 / reps, cpuSeconds / (elapsed / 1e9), working};
        }
    }
}
