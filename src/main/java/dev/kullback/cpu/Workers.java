package dev.kullback.cpu;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs a loop over {@code [0, n)} on a fixed number of threads: the calling thread plus {@code threads - 1} helpers
 * of a {@link ForkJoinPool}. The range is cut into units of {@code grain} indices that threads claim one at a time,
 * so a slow or busy thread never holds up the others. Which thread runs a unit never changes a result: callers only
 * write results to fixed places (an output element, a slot of a partials array) and combine partials afterwards in
 * a fixed order.
 *
 * <h2>A compilation barrier</h2>
 * Every body is called through {@link #call}, a {@link MethodHandle} that C2 cannot constant-fold, so C2 never inlines
 * a body into the code that started the operation (a user's hot loop, say). Each body is then compiled as its own
 * root, holding the one kernel loop it calls. Without the barrier C2 may inline a whole operation, kernels and all,
 * into a large caller, run out of its node budget (NodeCountInliningCutoff) before it reaches the Vector API helpers
 * inside the kernels, and leave them out of line, which boxes every vector: ten times slower. A call costs a few
 * nanoseconds, once per unit of at least tens of thousands of values, or per row range.
 */
final class Workers {
    /** A range body: processes indices {@code [from, to)}. */
    interface Body {
        void run(int from, int to);
    }

    /** {@link Body#run}; deliberately not final, so that C2 sees no constant handle and cannot inline through it. */
    @SuppressWarnings("FieldMayBeFinal")
    private static MethodHandle run = findRun();

    private final int threads;
    private final ForkJoinPool pool;

    private static MethodHandle findRun() {
        try {
            return MethodHandles.lookup().findVirtual(Body.class, "run",
                    MethodType.methodType(void.class, int.class, int.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** body.run(from, to), behind the compilation barrier. */
    private static void call(Body body, int from, int to) {
        try {
            run.invokeExact(body, from, to);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

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
            call(body, 0, n);
            return;
        }
        AtomicInteger next = new AtomicInteger();
        Runnable worker = () -> {
            int u;
            while ((u = next.getAndIncrement()) < units) {
                long from = (long) u * grain;
                call(body, (int) from, (int) Math.min(n, from + grain));
            }
        };
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[helpers];
        int submitted = 0;
        try {
            for (; submitted < helpers; submitted++) {
                tasks[submitted] = pool.submit(worker);
            }
        } catch (RejectedExecutionException e) {
            // the pool is shutting down (its device was closed during the call): the caller does the rest
        }
        Throwable failure = null;
        try {
            worker.run();
        } catch (Throwable t) {
            failure = t;
        }
        for (int i = 0; i < submitted; i++) {
            try {
                tasks[i].join();
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
