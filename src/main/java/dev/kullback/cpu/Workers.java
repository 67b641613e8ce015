package dev.kullback.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs a loop over {@code [0, n)} on a fixed number of threads: the calling thread plus {@code threads - 1} helpers
 * of a {@link ForkJoinPool}. The range is cut into units of {@code grain} indices that threads claim one at a time,
 * so a slow or busy thread never holds up the others. Which thread runs a unit never changes a result: callers only
 * write results to fixed places (an output element, a slot of a partials array) and combine partials afterwards in
 * a fixed order.
 */
final class Workers {
    /** A range body: processes indices {@code [from, to)}. */
    interface Body {
        void run(int from, int to);
    }

    private final int threads;
    private final ForkJoinPool pool;

    /** {@code pool} holds the helpers ({@code threads - 1} of them); null when {@code threads} is 1. */
    Workers(int threads, ForkJoinPool pool) {
        this.threads = threads;
        this.pool = pool;
    }

    int threads() {
        return threads;
    }

    static ForkJoinPool newPool(int helpers, String name) {
        return new ForkJoinPool(helpers, pool -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
            t.setName(name + "-" + t.getPoolIndex());
            t.setDaemon(true);
            return t;
        }, null, false);
    }

    /** Runs {@code body} over {@code [0, n)} in units of {@code grain} (≥ 1) indices. */
    void forEach(int n, int grain, Body body) {
        if (n <= 0) {
            return;
        }
        int units = (int) ((n + (long) grain - 1) / grain);
        int helpers = Math.min(threads, units) - 1;
        if (helpers <= 0 || pool == null) {
            body.run(0, n);
            return;
        }
        AtomicInteger next = new AtomicInteger();
        Runnable worker = () -> {
            int u;
            while ((u = next.getAndIncrement()) < units) {
                long from = (long) u * grain;
                body.run((int) from, (int) Math.min(n, from + grain));
            }
        };
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[helpers];
        for (int i = 0; i < helpers; i++) {
            tasks[i] = pool.submit(worker);
        }
        Throwable failure = null;
        try {
            worker.run();
        } catch (Throwable t) {
            failure = t;
        }
        for (ForkJoinTask<?> task : tasks) {
            try {
                task.join();
            } catch (Throwable t) {
                if (failure == null) {
                    failure = t;
                } else if (failure != t) {
                    failure.addSuppressed(t);
                }
            }
        }
        if (failure instanceof RuntimeException) {
            throw (RuntimeException) failure;
        }
        if (failure instanceof Error) {
            throw (Error) failure;
        }
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
    }

    /** A grain that gives each thread about four units of at least {@code minGrain} indices. */
    int grain(int n, int minGrain) {
        long perUnit = ((long) n + 4L * threads - 1) / (4L * threads);
        return (int) Math.max(Math.max(1, minGrain), perUnit);
    }

    void shutdown() {
        if (pool != null) {
            pool.shutdown();
        }
    }
}
