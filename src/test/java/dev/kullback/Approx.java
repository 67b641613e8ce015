package dev.kullback;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * NaN- and infinity-aware comparisons. An expected NaN needs a NaN, an expected infinity the same infinity,
 * and an expected finite value a finite value within that element's tolerance; 0.0 and -0.0 are equal.
 * Failures list the first mismatches with their [row, col], the expected and actual values and the tolerance.
 */
public final class Approx {
    /** Relative tolerance of every elementwise comparison. */
    public static final double REL = 1e-5;
    /** float32 machine epsilon, 2^-23. */
    public static final double EPS = 0x1p-23;

    private Approx() {
    }

    public static boolean matches(double expected, double actual, double tol) {
        if (Double.isNaN(expected)) {
            return Double.isNaN(actual);
        }
        if (Double.isInfinite(expected)) {
            return actual == expected;
        }
        return Double.isFinite(actual) && Math.abs(actual - expected) <= tol;
    }

    /** |actual - expected| <= rel * |expected| + abs, elementwise. */
    public static void assertClose(String what, float[] expected, float[] actual, int cols, double rel, double abs) {
        double[] tol = new double[expected.length];
        for (int i = 0; i < tol.length; i++) {
            tol[i] = Double.isFinite(expected[i]) ? rel * Math.abs(expected[i]) + abs : 0;
        }
        assertClose(what, expected, actual, cols, tol);
    }

    /**
     * |actual - expected| <= rel * |expected| + abs * min(1, the largest finite |expected| of its row of cols): an
     * absolute term relative to the row's scale where that is below 1, so gradients divided by rows · cols are held
     * as tightly as undivided ones, and never looser than {@code abs} alone.
     */
    public static void assertCloseToRowScale(String what, float[] expected, float[] actual, int cols, double rel,
                                             double abs) {
        double[] tol = new double[expected.length];
        for (int r = 0; r * cols < expected.length; r++) {
            double max = 0;
            for (int i = r * cols; i < (r + 1) * cols; i++) {
                if (Float.isFinite(expected[i])) {
                    max = Math.max(max, Math.abs(expected[i]));
                }
            }
            for (int i = r * cols; i < (r + 1) * cols; i++) {
                tol[i] = Double.isFinite(expected[i]) ? rel * Math.abs(expected[i]) + abs * Math.min(1, max) : 0;
            }
        }
        assertClose(what, expected, actual, cols, tol);
    }

    /** |actual[i] - expected[i]| <= tol[i], elementwise. */
    public static void assertClose(String what, float[] expected, float[] actual, int cols, double[] tol) {
        if (actual == null) {
            fail(what + ": no result");
        }
        if (expected.length != actual.length) {
            fail(what + ": expected " + expected.length + " values, got " + actual.length);
        }
        int bad = 0;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < expected.length; i++) {
            if (!matches(expected[i], actual[i], tol[i])) {
                if (bad < 8) {
                    sb.append(String.format("%n  at [%d, %d]: expected %s, got %s (tolerance %.3g, diff %.3g)",
                            i / cols, i % cols, expected[i], actual[i], tol[i], Math.abs((double) actual[i] - expected[i])));
                }
                bad++;
            }
        }
        if (bad > 0) {
            fail(what + ": " + bad + " of " + expected.length + " values differ" + sb);
        }
    }

    public static void assertClose(String what, double expected, double actual, double tol) {
        if (!matches(expected, actual, tol)) {
            fail(String.format("%s: expected %s, got %s (tolerance %.3g, diff %.3g)", what, (float) expected,
                    (float) actual, tol, Math.abs(actual - expected)));
        }
    }

    /** Bitwise equality up to NaN payloads (every NaN equals every NaN; 0.0 and -0.0 differ). */
    public static void assertBitwise(String what, float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            fail(what + ": expected " + expected.length + " values, got " + actual.length);
        }
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToIntBits(expected[i]) != Float.floatToIntBits(actual[i])) {
                fail(what + ": at index " + i + " expected " + expected[i] + ", got " + actual[i] + " (bitwise)");
            }
        }
    }

    /** Sum of |x_i| in double. */
    public static double l1(float[] x) {
        double s = 0;
        for (float v : x) {
            s += Math.abs(v);
        }
        return s;
    }
}
