package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The short-row exp ({@link ShortRowExp}): its stated error bound against Math.exp in double over a dense sweep of
 * [-104, 0], its exact and flushed values, and the vector version against its scalar twin bit for bit.
 */
class ShortRowExpTest {
    private static final int L = PanamaKernels.SPECIES.length();
    private static final float[] SPECIALS = {0f, -0f, Float.NaN, Float.NEGATIVE_INFINITY, -Float.MIN_VALUE,
        -Float.MIN_NORMAL, -1e-30f, -1e-7f, -0.34657359f, -0.34657362f, -0.6931472f, -1f, -2f, -10f, -50f,
        ShortRowExp.FLUSH, Math.nextUp(ShortRowExp.FLUSH), Math.nextDown(ShortRowExp.FLUSH), -87.5f, -87.68f, -88f,
        -100f, -103.97f, -104f, -105f, -150f, -1e30f, -3e38f, -Float.MAX_VALUE};

    /** The specials, then 2^23 evenly spaced points of [-104, 0], then 2^20 random points of [-2^-10, 0]. */
    private static float[] inputs() {
        int dense = 1 << 23;
        int small = 1 << 20;
        float[] x = new float[(SPECIALS.length + dense + small + L - 1) / L * L];
        System.arraycopy(SPECIALS, 0, x, 0, SPECIALS.length);
        int n = SPECIALS.length;
        for (int i = 0; i < dense; i++) {
            x[n++] = (float) (-104.0 * i / (dense - 1));
        }
        Random random = new Random(13);
        while (n < x.length) {
            x[n++] = (float) (-0x1p-10 * random.nextDouble());
        }
        return x;
    }

    @Test
    void isWithinItsStatedBoundAndExactWhereItMatters() {
        float[] x = inputs();
        double worst = 0;
        float worstAt = 0;
        for (float xi : x) {
            float got = ShortRowExp.expScalar(xi);
            if (Float.isNaN(xi)) {
                assertTrue(Float.isNaN(got), "exp(NaN) = " + got);
                continue;
            }
            double exact = Math.exp(xi);
            if (xi < ShortRowExp.FLUSH) { // flushed: the true value is below 2^-126
                assertEquals(0f, got, () -> "exp(" + xi + ")");
                assertTrue(exact < Float.MIN_NORMAL, () -> "exp(" + xi + ") = " + exact + " was flushed");
                continue;
            }
            double u = Math.abs(got - exact) / Math.ulp((float) exact);
            if (u > worst) {
                worst = u;
                worstAt = xi;
            }
        }
        double w = worst;
        float at = worstAt;
        assertTrue(w <= ShortRowExp.MAX_ULPS, () -> "max error " + w + " ulps at " + at);
        assertTrue(w > ShortRowExp.MAX_ULPS - 1, () -> "the bound is loose: max error " + w + " ulps at " + at);
        assertEquals(1f, ShortRowExp.expScalar(0f));
        assertEquals(1f, ShortRowExp.expScalar(-0f));
        assertEquals(0f, ShortRowExp.expScalar(Float.NEGATIVE_INFINITY));
        assertTrue(ShortRowExp.expScalar(ShortRowExp.FLUSH) >= Float.MIN_NORMAL, "no subnormal 2^k above the flush");
    }

    /** Near 0, where a softmax row's mass is, the one-step reduction costs nothing: the polynomial's error alone. */
    @Test
    void isWithinThreeUlpsOnTheUnitInterval() {
        for (float xi : inputs()) {
            if (xi >= -1f) {
                double exact = Math.exp(xi);
                double u = Math.abs(ShortRowExp.expScalar(xi) - exact) / Math.ulp((float) exact);
                assertTrue(u <= 3, () -> "exp(" + xi + "): " + u + " ulps");
            }
        }
    }

    @Test
    void vectorMatchesItsScalarTwinBitwise() {
        CpuTesting.vectorKernels();
        float[] x = inputs();
        for (int i = 0; i < x.length; i += L) {
            float[] v = ShortRowExp.exp(FloatVector.fromArray(PanamaKernels.SPECIES, x, i)).toArray();
            for (int l = 0; l < L; l++) {
                float xi = x[i + l];
                assertEquals(Float.floatToIntBits(ShortRowExp.expScalar(xi)), Float.floatToIntBits(v[l]),
                        () -> "exp(" + xi + ")");
            }
        }
    }
}
