package dev.kullback.bench;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * Runs {@code body(from, to)} over [0, n) cut into {@code threads} contiguous slices: the calling thread takes the
 * first, helpers of a fork/join pool the others (the way the CPU device spreads its work), so the bound and the scalar
 * loops use the same cores as kullback and PyTorch.
 */
final class Parallel implements AutoCloseable {
    interface Body {
        void run(int from, int to);
    }

    private final int threads;
    private final ForkJoinPool helpers;
    private final ForkJoinTask<?>[] tasks;

    Parallel(int threads) {
        this.threads = threads;
        this.helpers = threads > 1 ? new ForkJoinPool(threads - 1) : null;
        this.tasks = new ForkJoinTask<?>[threads];
    }

    void forRange(int n, Body body) {
        int slices = Math.max(1, Math.min(threads, n));
        for (int s = 1; s < slices; s++) {
            int from = (int) ((long) n * s / slices);
            int to = (int) ((long) n * (s + 1) / slices);
            tasks[s] = helpers.submit(() -> body.run(from, to));
        }
        body.run(0, (int) ((long) n / slices));
        for (int s = 1; s < slices; s++) {
            tasks[s].join();
        }
    }

    @Override
    public void close() {
        if (helpers != null) {
            helpers.shutdownNow();
        }
    }
}
