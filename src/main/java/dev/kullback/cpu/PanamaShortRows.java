package dev.kullback.cpu;

import static jdk.incubator.vector.FloatVector.fromArray;
import static jdk.incubator.vector.VectorOperators.MAX;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The short-row kernels of {@link PanamaKernels} (rows of at most {@link Kernels#SHORT_ROW} values): softmax,
 * log-softmax and the log-softmax backward over a range of whole rows, several rows per call.
 *
 * <p>On a 32- to 1,024-value row the per-row horizontal work (lane sums, a log, the bookkeeping of one-read
 * statistics) costs as much as the exps. Here rows go by groups of L (the vector's lanes): the group's maxima first
 * (one intrinsic max reduction per row, exact; L independent reductions overlap), then each row's Σ exp(x - max)
 * ({@link ShortRowExp}'s cheaper exp) kept as one vector of lane partials; each row's partials are added in lane order
 * in scalar code (L independent chains for L rows, cheaper than L gathers or L horizontal sums), and one vector log
 * (or reciprocal) serves the L rows. Rows this short stay in L1/L2 between the passes, so reading a row three times
 * (max, exps, write) costs no memory traffic.
 *
 * <p>Every row's result is a function of that row alone, whatever group or thread range it falls in: its partials
 * add in a fixed order (lane l of the partial vector: the row's vectors in order; then lanes 0, 1, ..., L - 1 in order,
 * then the scalar tail past the last full vector), and the log, reciprocal and exps are lanewise, with scalar twins
 * that give the same bits for the tail. {@code KernelsTest} replays that order in scalar code and compares bits.
 *
 * <p>Loops: one exp per loop body and the log outside every loop, as {@link PanamaKernels} requires; loads are the
 * JDK's {@code fromArray}.
 */
final class PanamaShortRows {
    private static final VectorSpecies<Float> SPECIES = PanamaKernels.SPECIES;
    private static final int L = SPECIES.length();
    private static final FloatVector V_ONE = FloatVector.broadcast(SPECIES, 1f);

    private PanamaShortRows() {
    }

    /** Rows [r0, r1) of a log-softmax of [*, cols]: out = (x - max) - log Σ exp(x - max). */
    static void logSoftmax(float[] a, float[] out, int r0, int r1, int cols) {
        Group group = new Group();
        for (int g = r0; g < r1; g += L) {
            int n = Math.min(L, r1 - g);
            maxima(a, g, n, cols, group);
            sumExps(a, g, n, cols, group);
            logOfSums(group, n);
            writeLog(a, out, g, n, cols, group);
        }
    }

    /** Rows [r0, r1) of a softmax of [*, cols]: out = exp(x - max) · (1 / Σ exp(x - max)), the exps stored first. */
    static void softmax(float[] a, float[] out, int r0, int r1, int cols) {
        Group group = new Group();
        for (int g = r0; g < r1; g += L) {
            int n = Math.min(L, r1 - g);
            maxima(a, g, n, cols, group);
            sumExpsStored(a, 1f, out, 0, g, n, cols, group);
            reciprocalOfSums(group, n);
            scaleRows(out, g, n, cols, group);
        }
    }

    /**
     * Softmax statistics of rows [r0, r1) for a loss: the exps exp((x - max) · invT) stored in {@code out} (entry i at
     * {@code i - outOff}), and by row index each row's max, S, log S and 1 / S.
     */
    static void softmaxStats(float[] a, float invT, float[] out, int outOff, int r0, int r1, int cols,
                             ShortRowStats stats) {
        Group group = new Group();
        for (int g = r0; g < r1; g += L) {
            int n = Math.min(L, r1 - g);
            maxima(a, g, n, cols, group);
            sumExpsStored(a, invT, out, outOff, g, n, cols, group);
            System.arraycopy(group.max, 0, stats.max(), g, n);
            FloatVector s = sumsOfPartialsVector(group, n);
            System.arraycopy(group.rowValue, 0, stats.sum(), g, n);
            PanamaKernels.log(s).intoArray(group.rowValue, 0);
            System.arraycopy(group.rowValue, 0, stats.logSum(), g, n);
            V_ONE.div(s).intoArray(group.rowValue, 0);
            System.arraycopy(group.rowValue, 0, stats.invSum(), g, n);
        }
    }

    /** Rows [r0, r1) of the log-softmax backward: out = g - exp(y) · Σ_row g. */
    static void logSoftmaxBackward(float[] gr, float[] y, float[] out, int r0, int r1, int cols) {
        Group group = new Group();
        for (int g = r0; g < r1; g += L) {
            int n = Math.min(L, r1 - g);
            sums(gr, g, n, cols, group);
            sumsOfPartials(group, n);
            writeBackward(gr, y, out, g, n, cols, group);
        }
    }

    /** One group's per-row state: max, the lane partials (row r at r · L), the tail sums, the row's final value. */
    private static final class Group {
        final float[] max = new float[L];
        final float[] partials = new float[L * L];
        final float[] tail = new float[L];
        final float[] rowValue = new float[L];
    }

    /** Each row's max; all the group's first: L independent reductions overlap, and so do the rows' exps after. */
    private static void maxima(float[] a, int g, int n, int cols, Group group) {
        for (int k = 0; k < n; k++) {
            group.max[k] = max(a, (g + k) * cols, (g + k + 1) * cols);
        }
    }

    /** Each row's Σ exp(x - max) as lane partials and tail (log-softmax: nothing stored, no 1/T). */
    private static void sumExps(float[] a, int g, int n, int cols, Group group) {
        for (int k = 0; k < n; k++) {
            int from = (g + k) * cols;
            int to = from + cols;
            float m = group.max[k];
            FloatVector vm = FloatVector.broadcast(SPECIES, m);
            FloatVector acc = FloatVector.zero(SPECIES);
            int i = from;
            for (; i <= to - L; i += L) {
                acc = acc.add(ShortRowExp.exp(fromArray(SPECIES, a, i).sub(vm)));
            }
            acc.intoArray(group.partials, k * L);
            float t = 0f;
            for (; i < to; i++) {
                t += ShortRowExp.expScalar(a[i] - m);
            }
            group.tail[k] = t;
        }
    }

    /**
     * Each row's Σ exp((x - max) · invT) as lane partials and tail, the exps stored in {@code store} (entry i at
     * {@code i - storeOff}). With invT = 1 the product is exact: the same exps as {@link #sumExps}.
     */
    private static void sumExpsStored(float[] a, float invT, float[] store, int storeOff, int g, int n, int cols,
                                      Group group) {
        FloatVector vt = FloatVector.broadcast(SPECIES, invT);
        for (int k = 0; k < n; k++) {
            int from = (g + k) * cols;
            int to = from + cols;
            float m = group.max[k];
            FloatVector vm = FloatVector.broadcast(SPECIES, m);
            FloatVector acc = FloatVector.zero(SPECIES);
            int i = from;
            for (; i <= to - L; i += L) {
                FloatVector e = ShortRowExp.exp(fromArray(SPECIES, a, i).sub(vm).mul(vt));
                e.intoArray(store, i - storeOff);
                acc = acc.add(e);
            }
            acc.intoArray(group.partials, k * L);
            float t = 0f;
            for (; i < to; i++) {
                float e = ShortRowExp.expScalar((a[i] - m) * invT);
                store[i - storeOff] = e;
                t += e;
            }
            group.tail[k] = t;
        }
    }

    /** Each row's Σ x as lane partials and tail. */
    private static void sums(float[] a, int g, int n, int cols, Group group) {
        for (int k = 0; k < n; k++) {
            int from = (g + k) * cols;
            int to = from + cols;
            FloatVector acc = FloatVector.zero(SPECIES);
            int i = from;
            for (; i <= to - L; i += L) {
                acc = acc.add(fromArray(SPECIES, a, i));
            }
            acc.intoArray(group.partials, k * L);
            float t = 0f;
            for (; i < to; i++) {
                t += a[i];
            }
            group.tail[k] = t;
        }
    }

    /** The row's max: an intrinsic reduction (max is exact and order-free: NaN wins either way), then the tail. */
    private static float max(float[] a, int from, int to) {
        float m = Float.NEGATIVE_INFINITY;
        int i = from;
        if (to - from >= L) {
            FloatVector v = fromArray(SPECIES, a, i);
            for (i += L; i <= to - L; i += L) {
                v = v.max(fromArray(SPECIES, a, i));
            }
            m = v.reduceLanes(MAX);
        }
        for (; i < to; i++) {
            m = Math.max(m, a[i]);
        }
        return m;
    }

    /**
     * Row r's partials added in lane order, then its tail, into {@code rowValue[r]} for the group's n rows. Scalar
     * adds: the same order as a gather per lane (lane r of gather l reading row r's lane l), and on x86 L gathers cost
     * more than the L (L - 1) scalar adds, which run as L independent chains.
     */
    private static void sumsOfPartials(Group group, int n) {
        float[] p = group.partials;
        for (int r = 0; r < n; r++) {
            int at = r * L;
            float s = p[at];
            for (int l = 1; l < L; l++) {
                s += p[at + l];
            }
            group.rowValue[r] = s + group.tail[r];
        }
    }

    /** The group's row sums as one vector (lanes past its n rows hold leftovers). */
    private static FloatVector sumsOfPartialsVector(Group group, int n) {
        sumsOfPartials(group, n);
        return FloatVector.fromArray(SPECIES, group.rowValue, 0);
    }

    private static void logOfSums(Group group, int n) {
        PanamaKernels.log(sumsOfPartialsVector(group, n)).intoArray(group.rowValue, 0);
    }

    private static void reciprocalOfSums(Group group, int n) {
        V_ONE.div(sumsOfPartialsVector(group, n)).intoArray(group.rowValue, 0);
    }

    private static void writeLog(float[] a, float[] out, int g, int n, int cols, Group group) {
        for (int k = 0; k < n; k++) {
            int from = (g + k) * cols;
            int to = from + cols;
            FloatVector vm = FloatVector.broadcast(SPECIES, group.max[k]);
            FloatVector vl = FloatVector.broadcast(SPECIES, group.rowValue[k]);
            int i = from;
            for (; i <= to - L; i += L) {
                fromArray(SPECIES, a, i).sub(vm).sub(vl).intoArray(out, i);
            }
            for (; i < to; i++) {
                out[i] = (a[i] - group.max[k]) - group.rowValue[k];
            }
        }
    }

    private static void scaleRows(float[] out, int g, int n, int cols, Group group) {
        for (int k = 0; k < n; k++) {
            int from = (g + k) * cols;
            int to = from + cols;
            float s = group.rowValue[k];
            FloatVector vs = FloatVector.broadcast(SPECIES, s);
            int i = from;
            for (; i <= to - L; i += L) {
                fromArray(SPECIES, out, i).mul(vs).intoArray(out, i);
            }
            for (; i < to; i++) {
                out[i] *= s;
            }
        }
    }

    private static void writeBackward(float[] gr, float[] y, float[] out, int g, int n, int cols, Group group) {
        for (int k = 0; k < n; k++) {
            int from = (g + k) * cols;
            int to = from + cols;
            float s = group.rowValue[k];
            FloatVector vs = FloatVector.broadcast(SPECIES, s);
            int i = from;
            for (; i <= to - L; i += L) {
                fromArray(SPECIES, gr, i).sub(PanamaKernels.exp(fromArray(SPECIES, y, i)).mul(vs)).intoArray(out, i);
            }
            for (; i < to; i++) {
                out[i] = gr[i] - PanamaKernels.expScalar(y[i]) * s;
            }
        }
    }
}
