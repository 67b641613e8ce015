package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One device used from {@value #THREADS} threads at once gives the same bits as one thread: every operation, the
 * losses included, on inputs shared by all threads (read concurrently) and on inputs each thread uploads and closes
 * itself (the memory pools under contention); plus a bounded stress run of mixed operations and shapes.
 */
class ConcurrencyTest {
    static final int THREADS = 16;

    /** A long row (chunk-parallel on the CPU, a block per row on CUDA), warp-per-row rows, and many short rows. */
    static final List<Shape> SHAPES = TestDevices.shapes(List.of(new Shape(3, 5000), new Shape(33, 100),
            new Shape(300, 7)));

    static Stream<Arguments> devices() {
        return TestDevices.all().stream().map(Arguments::of);
    }

    /** The inputs of one shape, uploaded once and shared by every thread. */
    static final class Inputs implements AutoCloseable {
        final Shape s;
        final float[] xData;
        final Tensor x;
        final Tensor y;
        final Tensor logp;
        final Tensor p;
        final Tensor q;
        final Tensor g;
        final Tensor one;
        final Tensor weights;
        final Labels labels;
        private final Scope scope = new Scope();

        Inputs(Device d, Shape s) {
            this.s = s;
            Random rnd = Data.random("concurrency", s);
            xData = Data.logits(rnd, s);
            x = scope.upload(d, xData, s);
            y = scope.upload(d, Data.logits(rnd, s), s);
            logp = scope.upload(d, Data.logProbs(rnd, s), s);
            p = scope.upload(d, Data.probs(rnd, s, 0.1), s);
            q = scope.upload(d, Data.probs(rnd, s, 0), s);
            g = scope.upload(d, Data.normal(rnd, s), s);
            one = scope.add(d.upload(new float[] {0.75f}, 1, 1));
            float[] w = new float[s.cols()];
            for (int c = 0; c < w.length; c++) {
                w[c] = 0.5f + rnd.nextFloat();
            }
            weights = scope.add(d.upload(w, 1, s.cols()));
            int[] l = new int[s.rows()];
            for (int r = 0; r < l.length; r++) {
                l[r] = r % 5 == 1 ? -100 : rnd.nextInt(s.cols());
            }
            labels = d.uploadLabels(l);
        }

        @Override
        public void close() {
            labels.close();
            scope.close();
        }
    }

    /** An operation on shared inputs; returns every output as host arrays, its results already closed. */
    record Op(String name, Function<Inputs, List<float[]>> run) {
        @Override
        public String toString() {
            return name;
        }
    }

    static List<float[]> out(Tensor t) {
        try (t) {
            return List.of(t.toArray());
        }
    }

    static List<float[]> out(Loss loss) {
        try (loss) {
            List<float[]> o = new ArrayList<>();
            o.add(loss.value().toArray());
            for (int i = 0; i < loss.gradientCount(); i++) {
                o.add(loss.gradient(i).toArray());
            }
            return o;
        }
    }

    /** Every operation of the API, the losses with several of their options. */
    static List<Op> ops(Device d) {
        List<Op> ops = new ArrayList<>();
        ops.add(new Op("upload+toArray", in -> {
            try (Tensor t = d.upload(in.xData, in.s.rows(), in.s.cols()); Tensor z = d.zeros(in.s.rows(), in.s.cols())) {
                return List.of(t.toArray(), z.toArray());
            }
        }));
        ops.add(new Op("logSoftmax", in -> out(d.logSoftmax(in.x))));
        ops.add(new Op("softmax", in -> out(d.softmax(in.x))));
        ops.add(new Op("logSoftmaxBackward", in -> out(d.logSoftmaxBackward(in.g, in.logp))));
        // a chain on tensors this thread owns: logSoftmax of a fresh upload, then KL and its gradient
        ops.add(new Op("chain", in -> {
            try (Tensor t = d.upload(in.xData, in.s.rows(), in.s.cols()); Tensor lq = d.logSoftmax(t);
                 Tensor kl = d.klDiv(lq, in.p, Reduction.BATCHMEAN, false);
                 Tensor gk = d.klDivBackward(in.one, lq, in.p, Reduction.BATCHMEAN, false);
                 Tensor gx = d.logSoftmaxBackward(gk, lq)) {
                return List.of(kl.toArray(), gx.toArray());
            }
        }));
        for (boolean logTarget : new boolean[] {false, true}) {
            for (Reduction r : Reduction.values()) {
                boolean none = r == Reduction.NONE;
                ops.add(new Op("klDiv " + r + " logTarget=" + logTarget,
                        in -> out(d.klDiv(in.logp, logTarget ? in.logp : in.p, r, logTarget))));
                ops.add(new Op("klDivBackward " + r + " logTarget=" + logTarget,
                        in -> out(d.klDivBackward(none ? in.g : in.one, in.logp, logTarget ? in.logp : in.p, r,
                                logTarget))));
            }
        }
        ops.add(new Op("sum", in -> out(d.sum(in.x))));
        ops.add(new Op("mean", in -> out(d.mean(in.g))));
        ops.add(new Op("rowSum", in -> out(d.rowSum(in.x))));
        ops.add(new Op("distillationKl T=2", in -> out(d.distillationKl(in.x, in.y, 2f))));
        ops.add(new Op("distillationKl reverse, ignore, MEAN", in -> out(d.distillationKl(in.x, in.y,
                Distillation.options().temperature(1.5f).reverse(true).reduction(Reduction.MEAN)
                        .ignore(in.labels, -100)))));
        ops.add(new Op("distillationKl NONE", in -> out(d.distillationKl(in.x, in.y,
                Distillation.options().reduction(Reduction.NONE)))));
        ops.add(new Op("crossEntropy labels MEAN weights smoothing zLoss", in -> out(d.crossEntropy(in.x, in.labels,
                CrossEntropy.options().weights(in.weights).labelSmoothing(0.1f).zLoss(1e-4f)))));
        ops.add(new Op("crossEntropy labels NONE", in -> out(d.crossEntropy(in.x, in.labels,
                CrossEntropy.options().reduction(Reduction.NONE)))));
        ops.add(new Op("crossEntropy labels SUM", in -> out(d.crossEntropy(in.x, in.labels,
                CrossEntropy.options().reduction(Reduction.SUM)))));
        ops.add(new Op("crossEntropy probabilities MEAN", in -> out(d.crossEntropy(in.x, in.p,
                CrossEntropy.options().labelSmoothing(0.05f)))));
        ops.add(new Op("jsd 0.3 BATCHMEAN", in -> out(d.jsd(in.x, in.y, 0.3f, Reduction.BATCHMEAN))));
        ops.add(new Op("jsd 0.5 NONE", in -> out(d.jsd(in.x, in.y, 0.5f, Reduction.NONE))));
        ops.add(new Op("symmetricKl SUM", in -> out(d.symmetricKl(in.x, in.y, Reduction.SUM))));
        ops.add(new Op("entropy MEAN", in -> out(d.entropy(in.x, Reduction.MEAN))));
        ops.add(new Op("entropy NONE", in -> out(d.entropy(in.y, Reduction.NONE))));
        ops.add(new Op("kerasKl BATCHMEAN", in -> out(d.kerasKl(in.p, in.q, Reduction.BATCHMEAN, false))));
        ops.add(new Op("kerasKl bits SUM", in -> out(d.kerasKl(in.q, in.p, Reduction.SUM, true))));
        ops.add(new Op("gaussianKl standard", in -> out(d.gaussianKl(in.g, in.logp, Reduction.BATCHMEAN))));
        ops.add(new Op("gaussianKl NONE", in -> out(d.gaussianKl(in.g, in.logp, in.x, in.logp, Reduction.NONE))));
        ops.add(new Op("tvd MEAN ignore", in -> out(d.tvd(in.x, in.y, Reduction.MEAN, in.labels, -100))));
        return ops;
    }

    /** Each op's outputs on each shape, computed on this thread alone. */
    static List<List<List<float[]>>> expected(List<Inputs> inputs, List<Op> ops) {
        List<List<List<float[]>>> all = new ArrayList<>();
        for (Inputs in : inputs) {
            List<List<float[]>> perOp = new ArrayList<>();
            for (Op op : ops) {
                perOp.add(op.run().apply(in));
            }
            all.add(perOp);
        }
        return all;
    }

    /** Null when equal bit for bit (NaNs of any payload equal), else what differs. */
    static String difference(List<float[]> expected, List<float[]> actual) {
        if (expected.size() != actual.size()) {
            return expected.size() + " outputs, got " + actual.size();
        }
        for (int k = 0; k < expected.size(); k++) {
            float[] e = expected.get(k);
            float[] a = actual.get(k);
            if (e.length != a.length) {
                return "output " + k + ": " + e.length + " values, got " + a.length;
            }
            for (int i = 0; i < e.length; i++) {
                if (Float.floatToIntBits(e[i]) != Float.floatToIntBits(a[i])) {
                    return "output " + k + " at " + i + ": " + e[i] + ", got " + a[i];
                }
            }
        }
        return null;
    }

    /** Runs {@code body(threadIndex)} on {@value #THREADS} threads released together; returns their failures. */
    static List<String> onThreads(Function<Integer, List<String>> body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        CountDownLatch start = new CountDownLatch(1);
        try {
            List<Future<List<String>>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int index = t;
                Callable<List<String>> task = () -> {
                    start.await();
                    return body.apply(index);
                };
                futures.add(pool.submit(task));
            }
            start.countDown();
            List<String> failures = new ArrayList<>();
            for (Future<List<String>> f : futures) {
                failures.addAll(f.get(5, TimeUnit.MINUTES));
            }
            return failures;
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(1, TimeUnit.MINUTES), "threads did not end");
        }
    }

    static List<Inputs> inputs(Device d) {
        List<Inputs> inputs = new ArrayList<>();
        for (Shape s : SHAPES) {
            inputs.add(new Inputs(d, s));
        }
        return inputs;
    }

    static void closeAll(List<Inputs> inputs) {
        inputs.forEach(Inputs::close);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} every op from " + THREADS + " threads = one thread")
    @MethodSource("devices")
    void sameBitsFromManyThreads(Device d) throws Exception {
        List<Op> ops = ops(d);
        List<Inputs> inputs = inputs(d);
        try {
            List<List<List<float[]>>> expected = expected(inputs, ops);
            List<String> failures = onThreads(thread -> {
                List<String> f = new ArrayList<>();
                // every (shape, op) pair, in an order of this thread's own
                List<int[]> work = new ArrayList<>();
                for (int s = 0; s < inputs.size(); s++) {
                    for (int o = 0; o < ops.size(); o++) {
                        work.add(new int[] {s, o});
                    }
                }
                Collections.shuffle(work, new Random(thread));
                for (int[] w : work) {
                    String diff;
                    try {
                        diff = difference(expected.get(w[0]).get(w[1]), ops.get(w[1]).run().apply(inputs.get(w[0])));
                    } catch (RuntimeException | AssertionError e) {
                        diff = "threw " + e;
                    }
                    if (diff != null) {
                        f.add("thread " + thread + ", " + ops.get(w[1]) + " " + inputs.get(w[0]).s + ": " + diff);
                    }
                }
                return f;
            });
            assertEquals(List.of(), failures, d + ": results from " + THREADS + " threads differ from one thread's");
        } finally {
            closeAll(inputs);
        }
    }

    /** Mixed ops and shapes from every thread at once, for a bounded time and a bounded number of iterations. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0} stress: mixed ops from " + THREADS + " threads")
    @MethodSource("devices")
    void stress(Device d) throws Exception {
        long millis = 3000;
        int maxIterations = d.isGpu() ? 150 : 400;
        List<Op> ops = ops(d);
        List<Inputs> inputs = inputs(d);
        try {
            List<List<List<float[]>>> expected = expected(inputs, ops);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            int[] checks = new int[THREADS];
            List<String> failures = onThreads(thread -> {
                List<String> f = new ArrayList<>();
                Random rnd = new Random(1000 + thread);
                for (int i = 0; i < maxIterations && System.nanoTime() < deadline && f.size() < 5; i++) {
                    int s = rnd.nextInt(inputs.size());
                    int o = rnd.nextInt(ops.size());
                    String diff;
                    try {
                        diff = difference(expected.get(s).get(o), ops.get(o).run().apply(inputs.get(s)));
                    } catch (RuntimeException | AssertionError e) {
                        diff = "threw " + e;
                    }
                    if (diff != null) {
                        f.add("thread " + thread + " iteration " + i + ", " + ops.get(o) + " " + inputs.get(s).s + ": "
                                + diff);
                    }
                    checks[thread]++;
                }
                return f;
            });
            assertEquals(List.of(), failures, d + ": stress");
            for (int t = 0; t < THREADS; t++) {
                assertTrue(checks[t] > 0, "thread " + t + " checked nothing");
            }
        } finally {
            closeAll(inputs);
        }
        BadInputTest.stillWorks(d);
    }
}
