package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The kernels themselves: the vector exp/log against their scalar twins and Math, NaN rules, range splits. */
class KernelsTest {
    private static final int L = PanamaKernels.SPECIES.length();

    /** Runs the vector function over {@code x} (length a multiple of L). */
    private static float[] vectorApply(float[] x, java.util.function.UnaryOperator<FloatVector> f) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i += L) {
            f.apply(FloatVector.fromArray(PanamaKernels.SPECIES, x, i)).intoArray(out, i);
        }
        return out;
    }

    private static float[] padded(float[] x) {
        return java.util.Arrays.copyOf(x, (x.length + L - 1) / L * L);
    }

    private static final float[] SPECIALS = {0f, -0f, 1f, -1f, Float.NaN, Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE,
        -Float.MAX_VALUE, 88.72283f, 88.72284f, 88.8f, 89f, -87.33654f, -87.5f, -103.9f, -103.98f, -104f, -105f,
        1e-30f, 0.5f, 2f, 0.70710677f, 0.7071068f, 1.0000001f, 0.99999994f};

    private static float[] expInputs() {
        Random random = new Random(11);
        float[] x = new float[200_000];
        int n = 0;
        for (float s : SPECIALS) {
            x[n++] = s;
        }
        while (n < 150_000) {
            x[n++] = (float) (-110 + 200 * random.nextDouble());
        }
        while (n < x.length) {
            x[n++] = (float) (random.nextGaussian() * 3);
        }
        return padded(x);
    }

    private static float[] logInputs() {
        Random random = new Random(12);
        float[] x = new float[200_000];
        int n = 0;
        for (float s : SPECIALS) {
            x[n++] = s;
        }
        while (n < 150_000) {
            x[n++] = Float.intBitsToFloat(1 + random.nextInt(0x7f7fffff)); // every positive finite float
        }
        while (n < x.length) {
            x[n++] = (float) (1 + random.nextGaussian() * 0.01); // near 1, where log is near 0
        }
        return padded(x);
    }

    @Test
    void vectorExpMatchesItsScalarTwinBitwise() {
        CpuTesting.vectorKernels();
        float[] x = expInputs();
        float[] v = vectorApply(x, PanamaKernels::exp);
        for (int i = 0; i < x.length; i++) {
            float s = PanamaKernels.expScalar(x[i]);
            assertEquals(Float.floatToIntBits(s), Float.floatToIntBits(v[i]), () -> "exp(" + x[0] + ")");
        }
    }

    @Test
    void vectorLogAndXlogxMatchTheirScalarTwinsBitwise() {
        CpuTesting.vectorKernels();
        float[] x = logInputs();
        float[] v = vectorApply(x, PanamaKernels::log);
        float[] w = vectorApply(x, PanamaKernels::xlogx);
        for (int i = 0; i < x.length; i++) {
            float xi = x[i];
            assertEquals(Float.floatToIntBits(PanamaKernels.logScalar(xi)), Float.floatToIntBits(v[i]), () -> "log(" + xi + ")");
            assertEquals(Float.floatToIntBits(PanamaKernels.xlogxScalar(xi)), Float.floatToIntBits(w[i]),
                    () -> "xlogx(" + xi + ")");
        }
    }

    /** The error of {@code got} against the exact {@code exact}, in units of the last place of float. */
    private static double ulps(float got, double exact) {
        return Math.abs(got - exact) / Math.ulp((float) exact);
    }

    @Test
    void expIsWithinTwoUlpsAndExactWhereItMatters() {
        float[] x = expInputs();
        double worst = 0;
        for (float xi : x) {
            float got = PanamaKernels.expScalar(xi);
            double exact = Math.exp(xi);
            if (Float.isNaN(xi)) {
                assertTrue(Float.isNaN(got));
            } else if (exact >= Float.MAX_VALUE) {
                assertTrue(got == Float.POSITIVE_INFINITY || got == Float.MAX_VALUE, () -> "exp(" + xi + ") = " + got);
            } else if (exact < Float.MIN_NORMAL) {
                assertTrue(Math.abs(got - exact) <= 2 * Float.MIN_VALUE, () -> "exp(" + xi + ") = " + got);
            } else {
                double u = ulps(got, exact);
                assertTrue(u <= 2, () -> "exp(" + xi + ") = " + got + ", exactly " + exact + ": " + u + " ulps");
                worst = Math.max(worst, u);
            }
        }
        assertEquals(1f, PanamaKernels.expScalar(0f));
        assertEquals(1f, PanamaKernels.expScalar(-0f));
        assertEquals(0f, PanamaKernels.expScalar(Float.NEGATIVE_INFINITY));
        assertEquals(0f, PanamaKernels.expScalar(-1000f));
        assertEquals(Float.POSITIVE_INFINITY, PanamaKernels.expScalar(Float.POSITIVE_INFINITY));
        assertEquals(Float.POSITIVE_INFINITY, PanamaKernels.expScalar(1000f));
        assertTrue(worst > 0, "the sweep measured nothing");
    }

    @Test
    void logIsWithinTwoUlpsAndExactWhereItMatters() {
        float[] x = logInputs();
        for (float xi : x) {
            float got = PanamaKernels.logScalar(xi);
            if (Float.isNaN(xi) || xi < 0) {
                assertTrue(Float.isNaN(got), () -> "log(" + xi + ") = " + got);
            } else if (xi == 0 || Float.isInfinite(xi)) {
                assertEquals((float) Math.log(xi), got, () -> "log(" + xi + ")");
            } else {
                double exact = Math.log(xi);
                double u = ulps(got, exact);
                assertTrue(u <= 2, () -> "log(" + xi + ") = " + got + ", exactly " + exact + ": " + u + " ulps");
            }
        }
        assertEquals(0f, PanamaKernels.logScalar(1f));
        assertEquals(Float.floatToIntBits(0f), Float.floatToIntBits(PanamaKernels.logScalar(1f)));
    }

    @Test
    void xlogxFollowsXlogy() {
        assertEquals(Float.floatToIntBits(0f), Float.floatToIntBits(PanamaKernels.xlogxScalar(0f)));
        assertEquals(Float.floatToIntBits(0f), Float.floatToIntBits(PanamaKernels.xlogxScalar(-0f)));
        assertEquals(0f, PanamaKernels.xlogxScalar(1f));
        assertEquals(Float.POSITIVE_INFINITY, PanamaKernels.xlogxScalar(Float.POSITIVE_INFINITY));
        assertTrue(Float.isNaN(PanamaKernels.xlogxScalar(-1f)));
        assertTrue(Float.isNaN(PanamaKernels.xlogxScalar(Float.NaN)));
        float tiny = 1e-39f; // subnormal, while t log t is a normal float
        assertEquals(tiny * Math.log(tiny), PanamaKernels.xlogxScalar(tiny), 1e-6 * Math.abs(tiny * Math.log(tiny)));
    }

    /**
     * max must propagate NaN (Math.max semantics) wherever the NaN is: in a vector lane, in a tail, among -inf.
     * Repeated so that C2 compiles the loops, whose vector max must keep the interpreter's semantics.
     */
    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void maxPropagatesNaNAnywhere(String which) {
        Kernels k = CpuTesting.kernels(which);
        float[] a = new float[150];
        for (int round = 0; round < 80; round++) {
            for (int pos = 0; pos < a.length; pos++) {
                java.util.Arrays.fill(a, round % 2 == 0 ? Float.NEGATIVE_INFINITY : -3f);
                a[pos] = Float.NaN;
                float m = k.max(a, 0, a.length);
                if (!Float.isNaN(m)) {
                    throw new AssertionError(which + " max missed a NaN at " + pos + " of " + a.length + ": " + m);
                }
            }
        }
        java.util.Arrays.fill(a, Float.NEGATIVE_INFINITY);
        assertEquals(Float.NEGATIVE_INFINITY, k.max(a, 0, a.length));
        assertEquals(Float.NEGATIVE_INFINITY, k.max(a, 5, 5));
        a[77] = 2.5f;
        a[149] = 2.25f;
        assertEquals(2.5f, k.max(a, 0, a.length));
        assertEquals(2.25f, k.max(a, 78, a.length));
    }

    /**
     * An elementwise kernel's result for an element must not depend on where its range starts or ends: threads
     * split ranges differently, and the results must still be the same bits.
     */
    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void elementwiseResultsDoNotDependOnRangeSplits(String which) {
        Kernels k = CpuTesting.kernels(which);
        Random random = new Random(5);
        int n = 1000;
        float[] x = CpuTesting.logits(random, n, 4);
        float[] t = CpuTesting.probabilities(random, 1, n, 0.1);
        float[] g = CpuTesting.logits(random, n, 1);
        int[] cuts = {0, 3, 17, 64, 65, 200, 333, 512, 999, n};
        for (int op = 0; op < 7; op++) {
            float[] whole = new float[n];
            float[] split = new float[n];
            run(k, op, x, t, g, 0, n, whole);
            for (int c = 0; c + 1 < cuts.length; c++) {
                run(k, op, x, t, g, cuts[c], cuts[c + 1], split);
            }
            int diff = CpuTesting.firstDifference(whole, split);
            assertEquals(-1, diff, "op " + op + " of " + which + " differs at " + diff);
        }
    }

    private static void run(Kernels k, int op, float[] x, float[] t, float[] g, int from, int to, float[] out) {
        switch (op) {
            case 0:
                k.klDiv(x, t, from, to, out);
                break;
            case 1:
                k.klDivLogTarget(x, x, from, to, out);
                break;
            case 2:
                k.klDivBackwardLogTarget(0.37f, x, from, to, out);
                break;
            case 3:
                k.klDivBackwardLogTarget(g, x, from, to, out);
                break;
            case 4:
                k.logSoftmaxBackward(g, x, from, to, 1.7f, out);
                break;
            case 5:
                k.logSoftmaxWrite(x, from, to, 3.1f, 0.7f, out);
                break;
            default:
                System.arraycopy(x, from, out, from, to - from);
                k.scale(out, from, to, 0.3f);
                break;
        }
    }

    /** Sums of a range: accurate against double, whichever implementation. */
    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void rangeSumsAreAccurate(String which) {
        Kernels k = CpuTesting.kernels(which);
        Random random = new Random(9);
        float[] x = CpuTesting.logits(random, 4096 + 13, 5);
        for (int[] range : new int[][] {{0, 4096}, {13, 4109}, {7, 8}, {3, 40}, {0, 0}}) {
            double exact = 0;
            double abs = 0;
            double exactExp = 0;
            float m = k.max(x, range[0], range[1]);
            for (int i = range[0]; i < range[1]; i++) {
                exact += x[i];
                abs += Math.abs(x[i]);
                exactExp += Math.exp((double) x[i] - m);
            }
            assertEquals(exact, k.sum(x, range[0], range[1]), 1e-6 * abs + 1e-12);
            if (range[1] > range[0]) {
                float[] out = new float[x.length];
                assertEquals(exactExp, k.sumExpStore(x, range[0], range[1], m, out), 1e-6 * exactExp);
                for (int i = range[0]; i < range[1]; i++) {
                    double e = Math.exp(x[i] - m); // of the float difference, as the kernels compute it
                    assertEquals(e, out[i], 2.5e-7 * e);
                }
            }
        }
    }

    /** Inputs for the one-pass log-softmax statistics: every way a lane's reference can move, and the edge values. */
    private static float[][] logStatsInputs(int n) {
        Random random = new Random(n);
        float[] gaussian = CpuTesting.logits(random, n, 3);
        float[] rising = new float[n]; // every lane passes its reference by far more than the headroom, often
        float[] falling = new float[n];
        float[] wide = new float[n];
        float[] masked = CpuTesting.logits(random, n, 3);
        for (int i = 0; i < n; i++) {
            rising[i] = -300f + 600f * i / Math.max(1, n - 1);
            falling[i] = -rising[i];
            wide[i] = (float) (random.nextDouble() * 2000 - 1000);
            if (random.nextInt(3) == 0) {
                masked[i] = Float.NEGATIVE_INFINITY;
            }
        }
        float[] negInf = new float[n];
        float[] lowest = new float[n];
        java.util.Arrays.fill(negInf, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(lowest, -Float.MAX_VALUE);
        return new float[][] {gaussian, rising, falling, wide, masked, negInf, lowest};
    }

    /**
     * logStats: m + log s is log Σ exp(x) (in double), the reference is within the headroom below the maximum; NaN or
     * +inf anywhere makes the row's statistics non-finite; only -inf gives -inf and 0. The fused write-and-stats gives
     * the same bits and writes (x - m) - logSum.
     */
    @ParameterizedTest
    @ValueSource(strings = {"scalar", "vector"})
    void oneReadLogSoftmaxStatisticsAreExact(String which) {
        Kernels k = CpuTesting.kernels(which);
        float[] m = new float[2];
        double[] s = new double[2];
        for (int n : new int[] {1, 3, L - 1, L, L + 1, 2 * L + 5, 17 * L + 3, 255, 1000, 4096, 4099}) {
            for (float[] x : logStatsInputs(n)) {
                for (int special = -1; special < 4; special++) {
                    float[] a = x.clone();
                    if (special >= 0) { // one NaN or +inf, at the start, in a vector, in the tail
                        a[special % 2 == 0 ? (special == 0 ? 0 : n / 2) : n - 1] =
                                special < 2 ? Float.NaN : Float.POSITIVE_INFINITY;
                    }
                    k.logStats(a, 0, n, m, s, 0);
                    float[] out = new float[2 * n];
                    float[] both = new float[2 * n];
                    System.arraycopy(a, 0, both, n, n);
                    System.arraycopy(a, 0, both, 0, n);
                    k.logSoftmaxWriteAndStats(both, out, 0, 0.5f, 0.25f, n, n, m, s, 1);
                    String where = which + ", n = " + n + ", a[0] = " + a[0] + ", special " + special;
                    assertEquals(Float.floatToIntBits(m[0]), Float.floatToIntBits(m[1]), where);
                    assertEquals(Double.doubleToLongBits(s[0]), Double.doubleToLongBits(s[1]), where);
                    for (int i = 0; i < n; i++) {
                        assertEquals((both[i] - 0.5f) - 0.25f, out[i], where);
                    }
                    double max = Double.NEGATIVE_INFINITY;
                    boolean poisoned = false;
                    for (float v : a) {
                        poisoned |= Float.isNaN(v) || v == Float.POSITIVE_INFINITY;
                        max = Math.max(max, v);
                    }
                    if (poisoned) {
                        assertTrue(!Float.isFinite(m[0]) || Double.isNaN(s[0]), where + ": " + m[0] + ", " + s[0]);
                    } else if (max == Double.NEGATIVE_INFINITY) {
                        assertEquals(Float.NEGATIVE_INFINITY, m[0], where);
                        assertEquals(0.0, s[0], where);
                    } else {
                        double exact = 0;
                        for (float v : a) {
                            exact += Math.exp(v - max);
                        }
                        assertTrue(m[0] <= max && m[0] >= max - Kernels.LOG_STATS_HEADROOM, where + ": " + m[0]);
                        assertEquals(max + Math.log(exact), m[0] + Math.log(s[0]), 2e-6 * Math.max(1, Math.abs(max)),
                                where);
                    }
                }
            }
        }
    }
}
