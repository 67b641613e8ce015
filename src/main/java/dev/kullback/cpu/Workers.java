package dev.kullback.cpu;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs a loop over {@code [0, n)} on a fixed number of threads: the calling thread plus {@code threads - 1} helper
 * threads of its own. The range is cut into units of {@code grain} indices that threads claim one at a time, so a
 * slow or busy thread never holds up the others. Which thread runs a unit never changes a result: callers only write
 * results to fixed places (an output element, a slot of a partials array) and combine partials afterwards in a fixed
 * order.
 *
 * <h2>Helpers that stay awake</h2>
 * Waking a parked thread takes 40 to 80 µs here (more on a busy virtual machine), as long as a whole log-softmax of
 * [8192, 128]. So a helper that finishes its part spins for {@link #SPIN_NANOS} before it parks, and an operation
 * that follows soon after (a training step's next op) finds it awake, as OpenMP's spinning threads do for PyTorch.
 * One operation at a time has the helpers; an operation that starts while another holds them (a second calling thread)
 * runs on its own thread, which gives the same bits.
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

    /** How long an idle helper, or a caller waiting for its helpers, spins before it parks. */
    static final long SPIN_NANOS = 200_000;
    /** How long a helper waits for work before its thread ends. */
    static final long KEEP_ALIVE_NANOS = 60_000_000_000L;

    /** {@link Body#run}; deliberately not final, so that C2 sees no constant handle and cannot inline through it. */
    @SuppressWarnings("FieldMayBeFinal")
    private static MethodHandle run = findRun();

    private final int threads;
    private final Helper[] helpers;
    /** Held by the operation that uses the helpers. */
    private final AtomicBoolean taken = new AtomicBoolean();
    private volatile Job job;
    /** Jobs started so far (written only by the operation holding {@link #taken}). */
    private long jobs;
    private volatile boolean shutdown;

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

    /** {@code threads} threads in all: the caller's and {@code threads - 1} daemon helpers named {@code name-i}. */
    Workers(int threads, String name) {
        this.threads = threads;
        this.helpers = new Helper[threads - 1];
        for (int i = 0; i < helpers.length; i++) {
            helpers[i] = new Helper(i, name + "-" + i);
        }
    }

    int threads() {
        return threads;
    }

    /** One operation: its units, the next one to claim, the helpers at work on it, the first failure. */
    private static final class Job {
        /** Added to {@link #working} when the caller has claimed its last unit: no helper joins after that. */
        private static final int CLOSED = 1 << 30;

        final long id;
        final Body body;
        final int n;
        final int grain;
        final int units;
        final int helpers;
        final Thread caller = Thread.currentThread();
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger working = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Job(long id, Body body, int n, int grain, int units, int helpers) {
            this.id = id;
            this.body = body;
            this.n = n;
            this.grain = grain;
            this.units = units;
            this.helpers = helpers;
        }

        /** Claims and runs units until none is left; a failure ends the claiming for every thread. */
        void work() {
            int u;
            while ((u = next.getAndIncrement()) < units) {
                long from = (long) u * grain;
                try {
                    call(body, (int) from, (int) Math.min(n, from + grain));
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                    next.set(units);
                }
            }
        }

        /** A helper's part: nothing if the caller has already closed the job (a helper that woke late). */
        void help() {
            int w;
            do {
                w = working.get();
                if (w >= CLOSED) {
                    return;
                }
            } while (!working.compareAndSet(w, w + 1));
            work();
            if (working.decrementAndGet() == CLOSED) {
                LockSupport.unpark(caller);
            }
        }

        /**
         * The caller's end: closes the job and waits (spinning, then parked until the last helper unparks it) for
         * the helpers that joined. It never waits for one that did not: a helper still waking up finds it closed.
         */
        void closeAndAwait() {
            long start = System.nanoTime();
            working.addAndGet(CLOSED);
            while (working.get() != CLOSED) {
                if (System.nanoTime() - start < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
        }
    }

    /** Runs {@code body} over {@code [0, n)} in units of {@code grain} (≥ 1) indices. */
    void forEach(int n, int grain, Body body) {
        if (n <= 0) {
            return;
        }
        int units = (int) ((n + (long) grain - 1) / grain);
        int wanted = Math.min(threads, units) - 1;
        if (wanted <= 0 || shutdown || !taken.compareAndSet(false, true)) {
            call(body, 0, n);
            return;
        }
        try {
            Job j = new Job(++jobs, body, n, grain, units, wanted);
            job = j;
            for (int i = 0; i < wanted; i++) {
                helpers[i].wake();
            }
            j.work();
            j.closeAndAwait();
            job = null; // holds the operation's arrays through its body
            Throwable failure = j.failure.get();
            if (failure instanceof RuntimeException) {
                throw (RuntimeException) failure;
            }
            if (failure instanceof Error) {
                throw (Error) failure;
            }
            if (failure != null) {
                throw new IllegalStateException(failure);
            }
        } finally {
            taken.set(false);
        }
    }

    /** A grain that gives each thread about four units of at least {@code minGrain} indices. */
    int grain(int n, int minGrain) {
        long perUnit = ((long) n + 4L * threads - 1) / (4L * threads);
        return (int) Math.max(Math.max(1, minGrain), perUnit);
    }

    /** A pool of a device made with an explicit thread count: its helpers end. */
    void shutdown() {
        shutdown = true;
        for (Helper h : helpers) {
            h.stop();
        }
    }

    /**
     * A helper thread: takes part in each job that wants it, spins a while between jobs, then parks. Started on first
     * use, it ends after {@link #KEEP_ALIVE_NANOS} without work (a device nobody closed leaves no thread behind) and
     * is started again by the next job that wants it.
     */
    private final class Helper implements Runnable {
        private final int index;
        private final String name;
        private volatile Thread thread;
        private volatile boolean parked;

        Helper(int index, String name) {
            this.index = index;
            this.name = name;
        }

        /** After {@link #job} is set; both are volatile, so either this sees the helper parked or it sees the job. */
        void wake() {
            Thread t = thread;
            if (t == null) {
                start();
            } else if (parked) {
                LockSupport.unpark(t);
            }
        }

        /** Starts the thread; when the JVM cannot (out of native threads), the job runs without this helper. */
        private synchronized void start() {
            if (thread == null && !shutdown) {
                Thread t = new Thread(this, name);
                t.setDaemon(true);
                thread = t;
                try {
                    t.start();
                } catch (OutOfMemoryError | SecurityException e) {
                    thread = null;
                }
            }
        }

        void stop() {
            Thread t = thread;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }

        @Override
        public void run() {
            long done = 0;
            long idleSince = System.nanoTime();
            while (!shutdown) {
                Job j = job;
                if (j != null && j.id != done) {
                    done = j.id;
                    if (index < j.helpers) {
                        j.help();
                    }
                    idleSince = System.nanoTime();
                    continue;
                }
                long idle = System.nanoTime() - idleSince;
                if (idle < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else if (idle > KEEP_ALIVE_NANOS) {
                    break;
                } else {
                    parked = true;
                    Job now = job;
                    if ((now == null || now.id == done) && !shutdown) {
                        LockSupport.parkNanos(this, KEEP_ALIVE_NANOS);
                    }
                    parked = false;
                }
            }
            thread = null; // a job that wakes this one now starts a new thread; one that missed it runs without it
        }
    }
}
