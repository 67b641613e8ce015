package dev.kullback.cpu;

import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LT;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The cheaper exp of the short-row softmax sums and stores ({@link PanamaShortRows}), for arguments x - max (times
 * 1/T) that are at most 0, -inf or NaN; a Vector API version and its scalar twin (the same operations in the same
 * order, so the same bits). Like {@link PanamaKernels}, only IEEE-exact lanewise operations: interpreted or compiled,
 * the same bits. Loaded only with the vector module (see {@link KernelsProvider}).
 *
 * <p>exp(x) = 2^k p(r), k = round(x log2 e), r = x - k ln 2 (one fma with ln 2 in float), p a degree-5 minimax
 * polynomial of exp on [-ln2/2, ln2/2] with p(0) = 1 (relative error 6.4e-8 before rounding), 2^k built from k's bits
 * in one step. Results below 2^-126 (x < {@link #FLUSH}, where 2^k would be subnormal) are flushed to 0. 13 vector
 * operations against the 18 of {@link PanamaKernels#expNonPositive}: 8 multiplies or fmas (not 12), no upper clamp
 * (x <= 0 keeps k in [-126, 0], so k + 127 in [1, 127] is a normal exponent field that cannot wrap), no lower clamp
 * (the flush blend replaces whatever a far-out or -inf lane computed, intermediate inf and NaN included), and
 * one multiply by 2^k where the general exp needs two steps for subnormal results.
 *
 * <p><b>Error bound</b> (checked by {@code ShortRowExpTest} on a dense sweep of [-104, 0] against Math.exp in double):
 * within {@link #MAX_ULPS} ulp of exp(x) for x in [{@link #FLUSH}, 0]; exactly 1 at x = 0 and -0; exactly 0 for
 * x < FLUSH and -inf (an absolute error below 2^-126); NaN for NaN. The one-step reduction is what costs accuracy far
 * from 0 (k (ln 2 - float(ln 2)) is up to 2.4e-7 relative at k = -126); near 0, where a softmax row's mass is, the
 * error is that of the polynomial and its rounding.
 *
 * <p><b>Why the flush is invisible to softmax.</b> A row's sum S of exp(x - max) holds the max's term, exp(0) = 1, so
 * S >= 1; the flushed terms, at most {@link Kernels#SHORT_ROW} of them below 2^-126 each, move S by less than 2^-116,
 * some 2^-93 of S's last place. A softmax output of a flushed entry is 0 instead of a value below 2^-126 / S; a
 * log-softmax output does not go through exp at all.
 */
final class ShortRowExp {
    /** The error bound in ulps on [FLUSH, 0] (measured: 5.3; the test asserts this). */
    static final double MAX_ULPS = 6;
    /** log(2^-126), rounded to float: below it results are flushed to 0; at and above it, k >= -126. */
    static final float FLUSH = -87.33654f;
    static final float LN2 = 0.6931472f;       // float(ln 2): the one-step reduction
    static final int BIAS = 127 - ScalarMath.MAGIC_BITS;
    static final float C1 = 0.99999964237f;    // minimax on [-ln2/2, ln2/2] with C0 = 1, relative error 6.4e-8
    static final float C2 = 0.49999198318f;
    static final float C3 = 0.16667586565f;
    static final float C4 = 0.04189611971f;
    static final float C5 = 0.00830099639f;

    private static final VectorSpecies<Float> SPECIES = PanamaKernels.SPECIES;
    private static final FloatVector V_LOG2E = v(ScalarMath.LOG2E);
    private static final FloatVector V_MAGIC = v(ScalarMath.MAGIC);
    private static final FloatVector V_NEG_LN2 = v(-LN2);
    private static final FloatVector V_FLUSH = v(FLUSH);
    private static final FloatVector V_ZERO = v(0f);
    private static final FloatVector V_ONE = v(1f);
    private static final FloatVector V_C1 = v(C1);
    private static final FloatVector V_C2 = v(C2);
    private static final FloatVector V_C3 = v(C3);
    private static final FloatVector V_C4 = v(C4);
    private static final FloatVector V_C5 = v(C5);
    private static final IntVector V_BIAS = IntVector.broadcast(SPECIES.withLanes(int.class), BIAS);

    private ShortRowExp() {
    }

    private static FloatVector v(float c) {
        return FloatVector.broadcast(SPECIES, c);
    }

    /** exp(x) for x <= 0, -inf or NaN, within {@link #MAX_ULPS} ulp, flushed below 2^-126. */
    static FloatVector exp(FloatVector x) {
        FloatVector t = x.fma(V_LOG2E, V_MAGIC);
        FloatVector r = t.sub(V_MAGIC).fma(V_NEG_LN2, x);
        FloatVector p = V_C5.fma(r, V_C4).fma(r, V_C3).fma(r, V_C2).fma(r, V_C1).fma(r, V_ONE);
        FloatVector s = t.reinterpretAsInts().add(V_BIAS).lanewise(LSHL, 23).reinterpretAsFloats();
        return p.mul(s).blend(V_ZERO, x.compare(LT, V_FLUSH));
    }

    /** The scalar twin of {@link #exp(FloatVector)}: the same operations, so the same bits. */
    static float expScalar(float x) {
        float t = Math.fma(x, ScalarMath.LOG2E, ScalarMath.MAGIC);
        float r = Math.fma(t - ScalarMath.MAGIC, -LN2, x);
        float p = Math.fma(C5, r, C4);
        p = Math.fma(p, r, C3);
        p = Math.fma(p, r, C2);
        p = Math.fma(p, r, C1);
        p = Math.fma(p, r, 1f);
        float e = p * Float.intBitsToFloat((Float.floatToRawIntBits(t) + BIAS) << 23);
        return x < FLUSH ? 0f : e;
    }
}
