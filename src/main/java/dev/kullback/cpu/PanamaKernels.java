package dev.kullback.cpu;

import static jdk.incubator.vector.FloatVector.fromArray;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.EQ;
import static jdk.incubator.vector.VectorOperators.F2D;
import static jdk.incubator.vector.VectorOperators.GT;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.IS_NAN;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.LT;
import static jdk.incubator.vector.VectorOperators.MAX;
import static jdk.incubator.vector.VectorOperators.SQRT;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The kernels on the JDK Vector API ({@code jdk.incubator.vector}), at the platform's preferred vector width.
 * Loaded only through {@link KernelsProvider}, after checking that the module is present: this class must never be
 * touched when it is not.
 *
 * <h2>Why exp and log are written out here</h2>
 * The Vector API has lanewise {@code EXP} and {@code LOG} (SVML on x86), but its Java fallback, which runs until C2
 * compiles a loop, computes them with {@code Math.exp}: the first calls of an operation and the later ones could then
 * differ in the last bit, and results would depend on JIT timing. Here exp and log are polynomials (Cephes' expf and
 * logf, within 2 ulp; checked against {@code Math.exp}/{@code Math.log} by the tests) made only of IEEE-exact lanewise
 * operations (add, mul, fma, compare, blend, bit casts), which give the same bits interpreted or compiled. Each also
 * has a scalar twin that repeats the same operations on one float, used for the elements past the last full vector:
 * an element's result is then the same whichever range it falls in, so any split across threads gives the same bits.
 *
 * <h2>Sums</h2>
 * {@link #sum} and {@link #klDivSum} add in double lanes (floats widened exactly): a sum of values is memory-bound
 * and a sum of kl_div terms is bound by the log, so the widening is free, and sums of 10^8 values come out right.
 * The sums of exp (softmax) add in float lanes, in blocks of 16 vectors whose sums are added into a running vector
 * (so a lane adds about 16 + n / (16 L) terms of [0, 1], a few dozen for the ranges {@link RowSchedule} makes): there
 * the widening would cost a tenth of the hottest loop, for terms that carry exp's own rounding anyway. Lanes are
 * added in double in lane order; the caller combines ranges in double.
 *
 * <h2>Loop shapes, and C2</h2>
 * A Vector API loop is fast only when C2 inlines every call in its body down to the intrinsics; a call left out of
 * line boxes its vectors and the loop runs about ten times slower, with the same results. C2 stops inlining our (not
 * {@code @ForceInline}) helpers once a compilation passes a node budget (NodeCountInliningCutoff), and each Vector API
 * call costs hundreds of nodes. Hence: one exp or log per loop body (four unrolled exps exceed the budget), at most one
 * such loop per method (see {@link Kernels}), helpers under C2's 325-byte inlining limit, constants as prebuilt
 * vectors, {@link Workers}' barrier so that no kernel is inlined into a large caller, and loads as the JDK's own
 * (force-inlined) {@code fromArray}, never through a helper of ours: a loss body that inlines a small kernel such as
 * max can still be past the budget there.
 * {@code VectorInliningTest} checks C2's decisions.
 */
final class PanamaKernels implements Kernels {
    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int L = SPECIES.length();
    /** Doubles in a vector of the preferred size: half as many lanes as {@link #SPECIES}. */
    private static final VectorSpecies<Double> DOUBLES =
            VectorSpecies.of(double.class, VectorShape.forBitSize(SPECIES.vectorBitSize()));
    /** Floats in half a vector, as many lanes as {@link #DOUBLES}: widened to doubles by one conversion. */
    private static final VectorSpecies<Float> HALF =
            VectorSpecies.of(float.class, VectorShape.forBitSize(SPECIES.vectorBitSize() / 2));
    private static final int H = HALF.length();

    private final String description;

    PanamaKernels() {
        if (L < 4) {
            throw new UnsupportedOperationException("the preferred float vector has " + L + " lanes ("
                    + SPECIES.vectorBitSize() + " bits); at least 4 are needed");
        }
        this.description = isa(SPECIES.vectorBitSize()) + SPECIES.vectorBitSize() + "-bit vectors";
    }

    private static String isa(int bits) {
        String arch = System.getProperty("os.arch", "");
        if (arch.equals("amd64") || arch.equals("x86_64")) {
            return bits >= 512 ? "AVX-512 " : bits >= 256 ? "AVX2 " : "SSE ";
        }
        if (arch.equals("aarch64")) {
            return bits > 128 ? "SVE " : "NEON ";
        }
        return "";
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public boolean isVectorized() {
        return true;
    }

    // ---- exp ------------------------------------------------------------------------------------
    // Constants the vector code uses are prebuilt vectors: each Vector API call inlines a deep call tree, and C2 stops
    // inlining past a node budget (NodeCountInliningCutoff), after which vectors are boxed and loops get 10x slower.
    // Fewer calls per element (no broadcast per use) keep exp and log well under it.

    private static final float EXP_HI = ScalarMath.EXP_HI;
    private static final float EXP_LO = ScalarMath.EXP_LO;
    private static final float LOG2E = ScalarMath.LOG2E;
    private static final float MAGIC = ScalarMath.MAGIC;
    private static final int MAGIC_BITS = ScalarMath.MAGIC_BITS;
    private static final float LN2_HI = ScalarMath.LN2_HI;
    private static final float LN2_LO = ScalarMath.LN2_LO;
    private static final float E0 = ScalarMath.E0;
    private static final float E1 = ScalarMath.E1;
    private static final float E2 = ScalarMath.E2;
    private static final float E3 = ScalarMath.E3;
    private static final float E4 = ScalarMath.E4;
    private static final float E5 = ScalarMath.E5;

    private static final FloatVector V_EXP_HI = v(EXP_HI);
    private static final FloatVector V_EXP_LO = v(EXP_LO);
    private static final FloatVector V_LOG2E = v(LOG2E);
    private static final FloatVector V_MAGIC = v(MAGIC);
    private static final FloatVector V_NEG_LN2_HI = v(-LN2_HI);
    private static final FloatVector V_LN2_LO = v(LN2_LO);
    private static final FloatVector V_NEG_LN2_LO = v(-LN2_LO);
    private static final FloatVector V_LN2_HI = v(LN2_HI);
    private static final FloatVector V_E0 = v(E0);
    private static final FloatVector V_E1 = v(E1);
    private static final FloatVector V_E2 = v(E2);
    private static final FloatVector V_E3 = v(E3);
    private static final FloatVector V_E4 = v(E4);
    private static final FloatVector V_E5 = v(E5);
    private static final FloatVector V_ONE = v(1f);
    private static final IntVector V_MAGIC_BITS = IntVector.broadcast(SPECIES.withLanes(int.class), MAGIC_BITS);
    private static final IntVector V_127 = IntVector.broadcast(SPECIES.withLanes(int.class), 127);

    private static FloatVector v(float c) {
        return FloatVector.broadcast(SPECIES, c);
    }

    /**
     * exp(x) = 2^k * exp(r), k = round(x / ln 2), r = x - k ln 2 in [-ln2/2, ln2/2]; 2^k is applied in two halves
     * so that results in the subnormal range and overflow to +inf come out right. exp(-inf) = 0, exp(+inf) = +inf,
     * exp(NaN) = NaN, exp(0) = 1 exactly.
     */
    static FloatVector exp(FloatVector x) {
        x = x.blend(V_EXP_HI, x.compare(GT, V_EXP_HI)); // compare and blend: NaN stays NaN, and in JDK 17
        x = x.blend(V_EXP_LO, x.compare(LT, V_EXP_LO)); // this is twice as fast as Java-semantics min/max
        FloatVector t = x.fma(V_LOG2E, V_MAGIC);
        FloatVector k = t.sub(V_MAGIC);
        FloatVector r = k.fma(V_NEG_LN2_HI, x);
        r = k.fma(V_LN2_LO, r);
        FloatVector p = V_E0.fma(r, V_E1).fma(r, V_E2).fma(r, V_E3).fma(r, V_E4).fma(r, V_E5);
        p = p.fma(r.mul(r), r).add(V_ONE);
        IntVector ki = t.reinterpretAsInts().sub(V_MAGIC_BITS);
        IntVector k1 = ki.lanewise(ASHR, 1);
        IntVector k2 = ki.sub(k1);
        FloatVector s1 = k1.add(V_127).lanewise(LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = k2.add(V_127).lanewise(LSHL, 23).reinterpretAsFloats();
        return p.mul(s1).mul(s2);
    }

    private static final IntVector V_BIAS_64 =
            IntVector.broadcast(SPECIES.withLanes(int.class), 127 + 64 - MAGIC_BITS);
    private static final FloatVector V_TWO_M64 = v(0x1p-64f);

    /**
     * {@link #exp(FloatVector)} for x <= 0 or -inf (as (a - max) * invT, with a finite max, always is), with the same
     * bits and seven fewer operations: no upper clamp, and 2^k applied as 2^(k + 64), exact for every k in
     * [-150, 0], then 2^-64, which rounds the exact p 2^k once, as exp's two halves do. Its scalar twin is
     * {@link #expScalar}.
     */
    static FloatVector expNonPositive(FloatVector x) {
        x = x.blend(V_EXP_LO, x.compare(LT, V_EXP_LO));
        FloatVector t = x.fma(V_LOG2E, V_MAGIC);
        FloatVector k = t.sub(V_MAGIC);
        FloatVector r = k.fma(V_NEG_LN2_HI, x);
        r = k.fma(V_LN2_LO, r);
        FloatVector p = V_E0.fma(r, V_E1).fma(r, V_E2).fma(r, V_E3).fma(r, V_E4).fma(r, V_E5);
        p = p.fma(r.mul(r), r).add(V_ONE);
        FloatVector s = t.reinterpretAsInts().add(V_BIAS_64).lanewise(LSHL, 23).reinterpretAsFloats();
        return p.mul(s).mul(V_TWO_M64);
    }

    /** The scalar twin of {@link #exp(FloatVector)}: the same operations, so the same bits. */
    static float expScalar(float x) {
        return ScalarMath.exp(x);
    }

    // ---- log ------------------------------------------------------------------------------------

    private static final float TWO_23 = 8388608f;
    private static final float SQRT_HALF = 0.707106781186547524f;
    private static final float L0 = 7.0376836292e-2f;
    private static final float L1 = -1.1514610310e-1f;
    private static final float L2 = 1.1676998740e-1f;
    private static final float L3 = -1.2420140846e-1f;
    private static final float L4 = 1.4249322787e-1f;
    private static final float L5 = -1.6668057665e-1f;
    private static final float L6 = 2.0000714765e-1f;
    private static final float L7 = -2.4999993993e-1f;
    private static final float L8 = 3.3333331174e-1f;

    private static final FloatVector V_MIN_NORMAL = v(Float.MIN_NORMAL);
    private static final FloatVector V_TWO_23 = v(TWO_23);
    private static final FloatVector V_23 = v(23f);
    private static final FloatVector V_SQRT_HALF = v(SQRT_HALF);
    private static final FloatVector V_MINUS_HALF = v(-0.5f);
    private static final FloatVector V_ZERO = v(0f);
    private static final FloatVector V_INF = v(Float.POSITIVE_INFINITY);
    private static final FloatVector V_NEG_INF = v(Float.NEGATIVE_INFINITY);
    private static final FloatVector V_L0 = v(L0);
    private static final FloatVector V_L1 = v(L1);
    private static final FloatVector V_L2 = v(L2);
    private static final FloatVector V_L3 = v(L3);
    private static final FloatVector V_L4 = v(L4);
    private static final FloatVector V_L5 = v(L5);
    private static final FloatVector V_L6 = v(L6);
    private static final FloatVector V_L7 = v(L7);
    private static final FloatVector V_L8 = v(L8);
    private static final IntVector V_126 = IntVector.broadcast(SPECIES.withLanes(int.class), 126);
    private static final IntVector V_MANTISSA = IntVector.broadcast(SPECIES.withLanes(int.class), 0x807fffff);
    private static final IntVector V_HALF_EXPONENT = IntVector.broadcast(SPECIES.withLanes(int.class), 0x3f000000);

    /**
     * log(x) for x in (0, +inf): e ln 2 + log(m), x = m 2^e with m in [sqrt(1/2), sqrt(2)); subnormals are scaled by
     * 2^23 first. Other inputs give unspecified values: {@link #log(FloatVector)} and {@link #xlogx} handle them.
     */
    private static FloatVector logPositive(FloatVector x) {
        VectorMask<Float> tiny = x.compare(LT, V_MIN_NORMAL);
        FloatVector xs = x.blend(x.mul(V_TWO_23), tiny);
        IntVector bits = xs.reinterpretAsInts();
        FloatVector e = (FloatVector) bits.lanewise(LSHR, 23).sub(V_126).convert(I2F, 0);
        e = e.blend(e.sub(V_23), tiny);
        FloatVector m = bits.and(V_MANTISSA).or(V_HALF_EXPONENT).reinterpretAsFloats();
        VectorMask<Float> low = m.compare(LT, V_SQRT_HALF);
        e = e.blend(e.sub(V_ONE), low);
        m = m.sub(V_ONE).blend(m.add(m).sub(V_ONE), low);
        FloatVector z = m.mul(m);
        FloatVector y = V_L0.fma(m, V_L1).fma(m, V_L2).fma(m, V_L3).fma(m, V_L4).fma(m, V_L5).fma(m, V_L6)
                .fma(m, V_L7).fma(m, V_L8).mul(m).mul(z);
        y = e.fma(V_NEG_LN2_LO, y);
        y = z.fma(V_MINUS_HALF, y);
        return e.fma(V_LN2_HI, m.add(y));
    }

    /** log(x): log(0) = -inf, log(+inf) = +inf, log(x < 0) = log(NaN) = NaN, log(1) = 0 exactly. */
    static FloatVector log(FloatVector x) {
        FloatVector r = logPositive(x);
        r = r.blend(V_NEG_INF, x.compare(EQ, V_ZERO));
        r = r.blend(V_INF, x.compare(EQ, V_INF));
        return r.blend(x.lanewise(SQRT), x.compare(LT, V_ZERO).or(x.test(IS_NAN))); // sqrt gives their NaN
    }

    /** xlogy(t, t) = t == 0 ? 0 : t * log(t); for +inf, +inf; for t < 0 or NaN, NaN. */
    static FloatVector xlogx(FloatVector t) {
        VectorMask<Float> regular = t.compare(GT, V_ZERO).and(t.compare(LT, V_INF));
        // the others: +-0 -> +0, +inf -> +inf, negative or NaN -> NaN, which is exactly sqrt(t) + 0
        return t.lanewise(SQRT).add(V_ZERO).blend(t.mul(logPositive(t)), regular);
    }

    /** The scalar twin of {@link #logPositive(FloatVector)}. */
    private static float logPositiveScalar(float x) {
        boolean tiny = x < Float.MIN_NORMAL;
        float xs = tiny ? x * TWO_23 : x;
        int bits = Float.floatToRawIntBits(xs);
        float e = (float) ((bits >>> 23) - 126);
        if (tiny) {
            e = e - 23f;
        }
        float m = Float.intBitsToFloat((bits & 0x807fffff) | 0x3f000000);
        if (m < SQRT_HALF) {
            e = e - 1f;
            m = (m + m) - 1f;
        } else {
            m = m - 1f;
        }
        float z = m * m;
        float y = Math.fma(L0, m, L1);
        y = Math.fma(y, m, L2);
        y = Math.fma(y, m, L3);
        y = Math.fma(y, m, L4);
        y = Math.fma(y, m, L5);
        y = Math.fma(y, m, L6);
        y = Math.fma(y, m, L7);
        y = Math.fma(y, m, L8);
        y = y * m * z;
        y = Math.fma(e, -LN2_LO, y);
        y = Math.fma(z, -0.5f, y);
        return Math.fma(e, LN2_HI, m + y);
    }

    /** The scalar twin of {@link #log(FloatVector)}. */
    static float logScalar(float x) {
        if (x == 0f) {
            return Float.NEGATIVE_INFINITY;
        }
        if (x == Float.POSITIVE_INFINITY) {
            return Float.POSITIVE_INFINITY;
        }
        if (x < 0f || x != x) {
            return Float.NaN;
        }
        return logPositiveScalar(x);
    }

    /** The scalar twin of {@link #xlogx(FloatVector)}. */
    static float xlogxScalar(float t) {
        return t > 0f && t < Float.POSITIVE_INFINITY ? t * logPositiveScalar(t) : (float) Math.sqrt(t) + 0f;
    }

    private static FloatVector klDivLogTargetTerm(FloatVector x, FloatVector t) {
        return exp(t).mul(t.sub(x));
    }

    private static FloatVector klDivTerm(FloatVector x, FloatVector t) {
        return xlogx(t).sub(t.mul(x));
    }

    private static float klDivLogTargetScalar(float x, float t) {
        return expScalar(t) * (t - x);
    }

    private static float klDivProbScalar(float x, float t) {
        return xlogxScalar(t) - t * x;
    }

    // ---- helpers ----------------------------------------------------------------------------------

    private static final int DL = DOUBLES.length();

    /**
     * The lanes added in lane order (from 0, as a loop over toArray() would). Lane reads with constant indices (the
     * loop has a constant trip count: C2 unrolls it), no toArray: that array, one per call, cost a fifth of a per-row
     * weighted sum on 32-value rows. Under 35 bytes, so C2 always inlines it and no vector crosses a call.
     */
    private static double lanes(DoubleVector v) {
        double s = 0;
        for (int l = 0; l < DL; l++) {
            s += v.lane(l);
        }
        return s;
    }

    /**
     * Σ of the lanes (of a FloatVector's toArray()) in double: lane i plus lane i + L/2 (widened, exact), then those
     * in lane order; a fixed order (so the same bits, compiled or not) with half the dependent adds of adding every
     * lane one by one. Takes an array so that no vector crosses a call.
     */
    static double lanes(float[] l) {
        int h = l.length / 2;
        double s = 0;
        for (int i = 0; i < h; i++) {
            s += (double) l[i] + l[i + h];
        }
        return s;
    }

    // ---- the kernels ------------------------------------------------------------------------------

    @Override
    public float max(float[] a, int from, int to) {
        FloatVector m0 = FloatVector.broadcast(SPECIES, Float.NEGATIVE_INFINITY);
        FloatVector m1 = m0, m2 = m0, m3 = m0;
        int i = from;
        for (; i <= to - 4 * L; i += 4 * L) {
            m0 = m0.max(fromArray(SPECIES, a, i));
            m1 = m1.max(fromArray(SPECIES, a, i + L));
            m2 = m2.max(fromArray(SPECIES, a, i + 2 * L));
            m3 = m3.max(fromArray(SPECIES, a, i + 3 * L));
        }
        for (; i <= to - L; i += L) {
            m0 = m0.max(fromArray(SPECIES, a, i));
        }
        // max is exact and order-free (NaN wins, 0 beats -0 either way), so an intrinsic reduction is deterministic
        float m = m0.max(m1).max(m2.max(m3)).reduceLanes(MAX);
        for (; i < to; i++) {
            m = Math.max(m, a[i]);
        }
        return m;
    }

    /**
     * The vectors of one accumulation block: a sum adds a block's vectors into a fresh accumulator and then the block
     * into the running one, so that no lane adds more than about 16 + (range / 16 L) terms in float.
     */
    static final int BLOCK_VECTORS = 16;

    @Override
    public double sumExpStore(float[] a, int from, int to, float m, float[] out) {
        FloatVector vm = FloatVector.broadcast(SPECIES, m);
        FloatVector acc = FloatVector.zero(SPECIES);
        int i = from;
        int last = to - L;
        while (i <= last) {
            int end = i + Math.min(last - i, (BLOCK_VECTORS - 1) * L); // no overflow near 2^31
            FloatVector block = FloatVector.zero(SPECIES);
            for (; i <= end; i += L) {
                FloatVector e = expNonPositive(fromArray(SPECIES, a, i).sub(vm));
                e.intoArray(out, i);
                block = block.add(e);
            }
            acc = acc.add(block);
        }
        double s = lanes(acc.toArray());
        for (; i < to; i++) {
            float e = expScalar(a[i] - m);
            out[i] = e;
            s += e;
        }
        return s;
    }

    @Override
    public void logSoftmaxWrite(float[] a, int from, int to, float m, float logSum, float[] out) {
        int i = from;
        for (; i <= to - L; i += L) {
            fromArray(SPECIES, a, i).sub(m).sub(logSum).intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = (a[i] - m) - logSum;
        }
    }

    @Override
    public void logStats(float[] a, int from, int to, float[] m, double[] s, int slot) {
        writeAndStats(a, null, 0, 0f, 0f, from, to - from, m, s, slot);
    }

    @Override
    public void logSoftmaxWriteAndStats(float[] a, float[] out, int w, float wm, float wLogSum, int from, int n,
                                        float[] m, double[] s, int slot) {
        writeAndStats(a, out, w, wm, wLogSum, from, n, m, s, slot);
    }

    /** a[l] = exp(a[l] - b[l]) for arguments <= 0, lane by lane with the scalar twin (the same bits as the vector). */
    static float[] expOfDifference(float[] a, float[] b) {
        for (int l = 0; l < a.length; l++) {
            a[l] = expScalar(a[l] - b[l]);
        }
        return a;
    }

    private static final FloatVector V_LOWEST = v(-Float.MAX_VALUE);
    private static final FloatVector V_HEADROOM = v(LOG_STATS_HEADROOM);

    /**
     * Online log-softmax statistics, one read of the range and one exp per value: each lane keeps a reference r
     * (seeded for every lane with the first vector's maximum, at least the lowest float so that -inf - r is -inf,
     * not NaN) and Σ exp(x - r).
     * A value more than the headroom above its lane's reference (rare after the seed: logits seldom span 16 nats
     * within a lane) makes that lane's reference the value and rescales its sums, so exp never sees an argument above
     * the headroom and the sums never overflow (expNonPositive's 2^(k + 64) scaling holds up to 43 nats). The lanes are
     * combined at their largest reference. With {@code out} not null, also writes {@code out[w + j]}: a second,
     * independent stream in the same loop, so memory and the exps overlap. C2 unswitches the loop on the null check.
     */
    private static void writeAndStats(float[] a, float[] out, int w, float wm, float wLogSum, int from, int n,
                                      float[] m, double[] s, int slot) {
        FloatVector vwm = FloatVector.broadcast(SPECIES, wm);
        FloatVector vwl = FloatVector.broadcast(SPECIES, wLogSum);
        FloatVector acc = FloatVector.zero(SPECIES);
        float ref = -Float.MAX_VALUE;
        double sum = 0;
        int j = 0;
        if (n >= L) {
            // one reference for every lane, the first vector's maximum, so that the lanes need no rescaling at the
            // end unless a value passed it by more than the headroom
            ref = Math.max(fromArray(SPECIES, a, from).reduceLanes(MAX), -Float.MAX_VALUE);
            FloatVector r = FloatVector.broadcast(SPECIES, ref);
            boolean shared = true;
            int last = n - L;
            while (j <= last) {
                int end = j + Math.min(last - j, (BLOCK_VECTORS - 1) * L); // no overflow near 2^31
                FloatVector block = FloatVector.zero(SPECIES);
                for (; j <= end; j += L) {
                    if (out != null) {
                        fromArray(SPECIES, a, w + j).sub(vwm).sub(vwl).intoArray(out, w + j);
                    }
                    FloatVector x = fromArray(SPECIES, a, from + j);
                    FloatVector d = x.sub(r);
                    VectorMask<Float> up = d.compare(GT, V_HEADROOM);
                    // rare, so lane by lane in scalar: on a cold path C2 may leave a vector helper out of line ("already
                    // compiled into a medium method"), boxing its vectors; the scalar twin gives the same bits
                    if (up.anyTrue()) {
                        FloatVector raised = r.blend(x, up);
                        FloatVector scale = fromArray(SPECIES, expOfDifference(r.toArray(), raised.toArray()), 0);
                        acc = acc.mul(scale);
                        block = block.mul(scale);
                        r = raised;
                        d = x.sub(r);
                        shared = false;
                    }
                    block = block.add(expNonPositive(d));
                }
                acc = acc.add(block);
            }
            if (!shared) { // rare too, as the rescaling above
                ref = r.reduceLanes(MAX);
                acc = acc.mul(fromArray(SPECIES, expOfDifference(r.toArray(), v(ref).toArray()), 0));
            }
            sum = lanes(acc.toArray());
        }
        for (; j < n; j++) {
            if (out != null) {
                out[w + j] = (a[w + j] - wm) - wLogSum;
            }
            float x = a[from + j];
            if (x - ref > LOG_STATS_HEADROOM) {
                sum *= Math.exp((double) ref - x);
                ref = x;
            }
            sum += expScalar(x - ref);
        }
        boolean allNegativeInfinity = ref == -Float.MAX_VALUE && sum == 0;
        m[slot] = allNegativeInfinity ? Float.NEGATIVE_INFINITY : ref;
        s[slot] = sum;
    }

    @Override
    public void logStatsBf16(short[] a, int from, int to, float[] m, double[] s, int slot) {
        PanamaBf16Rows.logStats(a, from, to - from, m, s, slot);
    }

    @Override
    public void logSoftmaxWriteBf16(short[] a, int from, short[] out, int to, int n, float m, float logSum) {
        PanamaBf16Rows.logSoftmaxWrite(a, from, out, to, n, m, logSum);
    }

    @Override
    public void logSoftmaxShortRows(float[] a, float[] out, int r0, int r1, int cols) {
        PanamaShortRows.logSoftmax(a, out, r0, r1, cols);
    }

    @Override
    public void softmaxShortRows(float[] a, float[] out, int r0, int r1, int cols) {
        PanamaShortRows.softmax(a, out, r0, r1, cols);
    }

    @Override
    public void softmaxStatsShortRows(float[] a, float invT, float[] out, int outOff, int r0, int r1, int cols,
                                      ShortRowStats stats) {
        PanamaShortRows.softmaxStats(a, invT, out, outOff, r0, r1, cols, stats);
    }

    @Override
    public void logSoftmaxBackwardShortRows(float[] g, float[] y, float[] out, int r0, int r1, int cols) {
        PanamaShortRows.logSoftmaxBackward(g, y, out, r0, r1, cols);
    }

    @Override
    public void scale(float[] a, int from, int to, float s) {
        int i = from;
        for (; i <= to - L; i += L) {
            fromArray(SPECIES, a, i).mul(s).intoArray(a, i);
        }
        for (; i < to; i++) {
            a[i] *= s;
        }
    }

    /** Σ a[i], in double lanes: each half-width float vector is widened to doubles, exactly, and added. */
    @Override
    public double sum(float[] a, int from, int to) {
        DoubleVector acc0 = DoubleVector.zero(DOUBLES);
        DoubleVector acc1 = acc0;
        int i = from;
        for (; i <= to - 2 * H; i += 2 * H) {
            acc0 = acc0.add(FloatVector.fromArray(HALF, a, i).convertShape(F2D, DOUBLES, 0));
            acc1 = acc1.add(FloatVector.fromArray(HALF, a, i + H).convertShape(F2D, DOUBLES, 0));
        }
        double s = lanes(acc0.add(acc1));
        for (; i < to; i++) {
            s += a[i];
        }
        return s;
    }

    @Override
    public void logSoftmaxBackward(float[] g, float[] y, int from, int to, float gSum, float[] out) {
        int i = from;
        for (; i <= to - L; i += L) {
            fromArray(SPECIES, g, i).sub(exp(fromArray(SPECIES, y, i)).mul(gSum)).intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = g[i] - expScalar(y[i]) * gSum;
        }
    }

    @Override
    public void klDiv(float[] x, float[] t, int from, int to, float[] out) {
        int i = from;
        for (; i <= to - L; i += L) {
            klDivTerm(fromArray(SPECIES, x, i), fromArray(SPECIES, t, i)).intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = klDivProbScalar(x[i], t[i]);
        }
    }

    @Override
    public void klDivLogTarget(float[] x, float[] t, int from, int to, float[] out) {
        int i = from;
        for (; i <= to - L; i += L) {
            klDivLogTargetTerm(fromArray(SPECIES, x, i), fromArray(SPECIES, t, i)).intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = klDivLogTargetScalar(x[i], t[i]);
        }
    }

    /** Σ kl_div: pointwise in float vectors, added in double lanes (the two halves of each vector widened). */
    @Override
    public double klDivSum(float[] x, float[] t, int from, int to) {
        DoubleVector acc0 = DoubleVector.zero(DOUBLES);
        DoubleVector acc1 = acc0;
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector kl = klDivTerm(fromArray(SPECIES, x, i), fromArray(SPECIES, t, i));
            acc0 = acc0.add(kl.convertShape(F2D, DOUBLES, 0));
            acc1 = acc1.add(kl.convertShape(F2D, DOUBLES, 1));
        }
        double s = lanes(acc0.add(acc1));
        for (; i < to; i++) {
            s += klDivProbScalar(x[i], t[i]);
        }
        return s;
    }

    @Override
    public double klDivSumLogTarget(float[] x, float[] t, int from, int to) {
        DoubleVector acc0 = DoubleVector.zero(DOUBLES);
        DoubleVector acc1 = acc0;
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector kl = klDivLogTargetTerm(fromArray(SPECIES, x, i), fromArray(SPECIES, t, i));
            acc0 = acc0.add(kl.convertShape(F2D, DOUBLES, 0));
            acc1 = acc1.add(kl.convertShape(F2D, DOUBLES, 1));
        }
        double s = lanes(acc0.add(acc1));
        for (; i < to; i++) {
            s += klDivLogTargetScalar(x[i], t[i]);
        }
        return s;
    }

    @Override
    public void klDivBackward(float g, float[] t, int from, int to, float[] out) {
        int i = from;
        for (; i <= to - L; i += L) {
            fromArray(SPECIES, t, i).mul(g).neg().intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = -(g * t[i]);
        }
    }

    @Override
    public void klDivBackwardLogTarget(float g, float[] t, int from, int to, float[] out) {
        int i = from;
        for (; i <= to - L; i += L) {
            exp(fromArray(SPECIES, t, i)).mul(g).neg().intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = -(g * expScalar(t[i]));
        }
    }

    @Override
    public void klDivBackward(float[] g, float[] t, int from, int to, float[] out) {
        int i = from;
        for (; i <= to - L; i += L) {
            fromArray(SPECIES, g, i).mul(fromArray(SPECIES, t, i)).neg().intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = -(g[i] * t[i]);
        }
    }

    @Override
    public void klDivBackwardLogTarget(float[] g, float[] t, int from, int to, float[] out) {
        int i = from;
        for (; i <= to - L; i += L) {
            fromArray(SPECIES, g, i).mul(exp(fromArray(SPECIES, t, i))).neg().intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = -(g[i] * expScalar(t[i]));
        }
    }

    // ---- losses -------------------------------------------------------------------------------
    // Same rules as above: one exp per loop body, at most one such loop per method, scalar twins for the tails.

    @Override
    public double sumExpScaled(float[] a, int from, int to, float m, float invT) {
        FloatVector vm = FloatVector.broadcast(SPECIES, m);
        FloatVector vt = FloatVector.broadcast(SPECIES, invT);
        FloatVector acc = FloatVector.zero(SPECIES);
        int i = from;
        int last = to - L;
        while (i <= last) {
            int end = i + Math.min(last - i, (BLOCK_VECTORS - 1) * L);
            FloatVector block = FloatVector.zero(SPECIES);
            for (; i <= end; i += L) {
                block = block.add(expNonPositive(fromArray(SPECIES, a, i).sub(vm).mul(vt)));
            }
            acc = acc.add(block);
        }
        double s = lanes(acc.toArray());
        for (; i < to; i++) {
            s += expScalar((a[i] - m) * invT);
        }
        return s;
    }

    @Override
    public double sumExpScaledStore(float[] a, int from, int to, float m, float invT, float[] out, int outOff) {
        FloatVector vm = FloatVector.broadcast(SPECIES, m);
        FloatVector vt = FloatVector.broadcast(SPECIES, invT);
        FloatVector acc = FloatVector.zero(SPECIES);
        int i = from;
        int last = to - L;
        while (i <= last) {
            int end = i + Math.min(last - i, (BLOCK_VECTORS - 1) * L);
            FloatVector block = FloatVector.zero(SPECIES);
            for (; i <= end; i += L) {
                FloatVector e = expNonPositive(fromArray(SPECIES, a, i).sub(vm).mul(vt));
                e.intoArray(out, i - outOff);
                block = block.add(e);
            }
            acc = acc.add(block);
        }
        double s = lanes(acc.toArray());
        for (; i < to; i++) {
            float e = expScalar((a[i] - m) * invT);
            out[i - outOff] = e;
            s += e;
        }
        return s;
    }

    @Override
    public double weightedDiff(float[] w, float[] a, float ma, float[] b, float mb, int from, int to) {
        FloatVector va = FloatVector.broadcast(SPECIES, ma);
        FloatVector vb = FloatVector.broadcast(SPECIES, mb);
        DoubleVector acc0 = DoubleVector.zero(DOUBLES);
        DoubleVector acc1 = acc0;
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector wv = fromArray(SPECIES, w, i);
            FloatVector t = wv.mul(fromArray(SPECIES, a, i).sub(va).sub(fromArray(SPECIES, b, i).sub(vb)));
            t = t.blend(V_ZERO, wv.compare(EQ, V_ZERO));
            acc0 = acc0.add(t.convertShape(F2D, DOUBLES, 0));
            acc1 = acc1.add(t.convertShape(F2D, DOUBLES, 1));
        }
        double s = lanes(acc0.add(acc1));
        for (; i < to; i++) {
            if (w[i] != 0f) {
                s += w[i] * ((a[i] - ma) - (b[i] - mb));
            }
        }
        return s;
    }

    @Override
    public double weightedOffset(float[] w, float[] a, float ma, int from, int to) {
        FloatVector va = FloatVector.broadcast(SPECIES, ma);
        DoubleVector acc0 = DoubleVector.zero(DOUBLES);
        DoubleVector acc1 = acc0;
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector wv = fromArray(SPECIES, w, i);
            FloatVector t = wv.mul(fromArray(SPECIES, a, i).sub(va));
            t = t.blend(V_ZERO, wv.compare(EQ, V_ZERO));
            acc0 = acc0.add(t.convertShape(F2D, DOUBLES, 0));
            acc1 = acc1.add(t.convertShape(F2D, DOUBLES, 1));
        }
        double s = lanes(acc0.add(acc1));
        for (; i < to; i++) {
            if (w[i] != 0f) {
                s += w[i] * (a[i] - ma);
            }
        }
        return s;
    }

    @Override
    public void scaledDiffWrite(float[] e, int eOff, int from, int to, float eScale, float outScale, float k,
                                float[] out) {
        FloatVector ve = FloatVector.broadcast(SPECIES, eScale);
        FloatVector vo = FloatVector.broadcast(SPECIES, outScale);
        FloatVector vk = FloatVector.broadcast(SPECIES, k);
        int i = from;
        for (; i <= to - L; i += L) {
            vk.mul(fromArray(SPECIES, e, i - eOff).mul(ve).sub(fromArray(SPECIES, out, i).mul(vo))).intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = k * (e[i - eOff] * eScale - out[i] * outScale);
        }
    }

    @Override
    public void xlogyGrad(float[] a, float ma, float[] b, float mb, int from, int to, float invT, float c, float sc,
                          float k, float[] out) {
        FloatVector va = FloatVector.broadcast(SPECIES, ma);
        FloatVector vb = FloatVector.broadcast(SPECIES, mb);
        FloatVector vt = FloatVector.broadcast(SPECIES, invT);
        FloatVector vc = FloatVector.broadcast(SPECIES, c);
        FloatVector vsc = FloatVector.broadcast(SPECIES, sc);
        FloatVector vk = FloatVector.broadcast(SPECIES, k);
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector p = fromArray(SPECIES, out, i).mul(vsc);
            FloatVector d = fromArray(SPECIES, a, i).sub(va).sub(fromArray(SPECIES, b, i).sub(vb)).mul(vt).add(vc);
            vk.mul(p).mul(d).blend(V_ZERO, p.compare(EQ, V_ZERO)).intoArray(out, i);
        }
        for (; i < to; i++) {
            float p = out[i] * sc;
            out[i] = p == 0f ? 0f : k * p * (((a[i] - ma) - (b[i] - mb)) * invT + c);
        }
    }

    @Override
    public void xlogyGrad(float[] a, float ma, int from, int to, float c, float sc, float k, float[] out) {
        FloatVector va = FloatVector.broadcast(SPECIES, ma);
        FloatVector vc = FloatVector.broadcast(SPECIES, c);
        FloatVector vsc = FloatVector.broadcast(SPECIES, sc);
        FloatVector vk = FloatVector.broadcast(SPECIES, k);
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector p = fromArray(SPECIES, out, i).mul(vsc);
            FloatVector d = fromArray(SPECIES, a, i).sub(va).add(vc);
            vk.mul(p).mul(d).blend(V_ZERO, p.compare(EQ, V_ZERO)).intoArray(out, i);
        }
        for (; i < to; i++) {
            float p = out[i] * sc;
            out[i] = p == 0f ? 0f : k * p * ((a[i] - ma) + c);
        }
    }

    @Override
    public void scaleSub(float[] out, int from, int to, float a, float b) {
        FloatVector va = FloatVector.broadcast(SPECIES, a);
        FloatVector vb = FloatVector.broadcast(SPECIES, b);
        int i = from;
        for (; i <= to - L; i += L) {
            fromArray(SPECIES, out, i).mul(va).sub(vb).intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = out[i] * a - b;
        }
    }

    @Override
    public void scaleSubWeighted(float[] w, int wOff, int from, int to, float a, float b, float[] out) {
        FloatVector va = FloatVector.broadcast(SPECIES, a);
        FloatVector vb = FloatVector.broadcast(SPECIES, b);
        int i = from;
        for (; i <= to - L; i += L) {
            fromArray(SPECIES, out, i).mul(va).sub(vb.mul(fromArray(SPECIES, w, i - wOff))).intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = out[i] * a - b * w[i - wOff];
        }
    }

    @Override
    public double dotOffset(float[] w, int wOff, float[] z, int from, int to) {
        DoubleVector acc0 = DoubleVector.zero(DOUBLES);
        DoubleVector acc1 = acc0;
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector t = fromArray(SPECIES, w, i - wOff).mul(fromArray(SPECIES, z, i));
            acc0 = acc0.add(t.convertShape(F2D, DOUBLES, 0));
            acc1 = acc1.add(t.convertShape(F2D, DOUBLES, 1));
        }
        double s = lanes(acc0.add(acc1));
        for (; i < to; i++) {
            s += w[i - wOff] * z[i];
        }
        return s;
    }

    @Override
    public double dot3Offset(float[] w, int wOff, float[] t, float[] z, int from, int to) {
        DoubleVector acc0 = DoubleVector.zero(DOUBLES);
        DoubleVector acc1 = acc0;
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector v = fromArray(SPECIES, w, i - wOff).mul(fromArray(SPECIES, t, i)).mul(fromArray(SPECIES, z, i));
            acc0 = acc0.add(v.convertShape(F2D, DOUBLES, 0));
            acc1 = acc1.add(v.convertShape(F2D, DOUBLES, 1));
        }
        double s = lanes(acc0.add(acc1));
        for (; i < to; i++) {
            s += w[i - wOff] * t[i] * z[i];
        }
        return s;
    }

    @Override
    public void softTargetWrite(float[] w, int wOff, float[] t, int from, int to, float a, float b, float e1, float e0,
                                float[] out) {
        FloatVector va = FloatVector.broadcast(SPECIES, a);
        FloatVector vb = FloatVector.broadcast(SPECIES, b);
        FloatVector v1 = FloatVector.broadcast(SPECIES, e1);
        FloatVector v0 = FloatVector.broadcast(SPECIES, e0);
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector tt = v1.mul(fromArray(SPECIES, t, i)).add(v0);
            fromArray(SPECIES, out, i).mul(va).sub(vb.mul(fromArray(SPECIES, w, i - wOff)).mul(tt)).intoArray(out, i);
        }
        for (; i < to; i++) {
            out[i] = out[i] * a - b * w[i - wOff] * (e1 * t[i] + e0);
        }
    }

    private static final float KERAS_EPS = 1e-7f;
    private static final FloatVector V_KERAS_EPS = v(KERAS_EPS);

    private static FloatVector clip(FloatVector x) {
        x = x.blend(V_KERAS_EPS, x.compare(LT, V_KERAS_EPS));
        return x.blend(V_ONE, x.compare(GT, V_ONE));
    }

    @Override
    public double kerasKl(float[] t, float[] q, int from, int to, float k, float[] out) {
        FloatVector vk = FloatVector.broadcast(SPECIES, -k);
        DoubleVector acc0 = DoubleVector.zero(DOUBLES);
        DoubleVector acc1 = acc0;
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector qv = fromArray(SPECIES, q, i);
            FloatVector tc = clip(fromArray(SPECIES, t, i));
            FloatVector ratio = tc.div(clip(qv));
            VectorMask<Float> out0 = qv.compare(LT, V_KERAS_EPS).or(qv.compare(GT, V_ONE));
            ratio.mul(vk).blend(V_ZERO, out0).intoArray(out, i);
            FloatVector term = tc.mul(log(ratio));
            acc0 = acc0.add(term.convertShape(F2D, DOUBLES, 0));
            acc1 = acc1.add(term.convertShape(F2D, DOUBLES, 1));
        }
        double s = lanes(acc0.add(acc1));
        for (; i < to; i++) {
            float tc = t[i] < KERAS_EPS ? KERAS_EPS : t[i];
            tc = tc > 1f ? 1f : tc;
            float qc = q[i] < KERAS_EPS ? KERAS_EPS : q[i];
            qc = qc > 1f ? 1f : qc;
            float ratio = tc / qc;
            out[i] = q[i] < KERAS_EPS || q[i] > 1f ? 0f : -k * ratio;
            s += tc * logScalar(ratio);
        }
        return s;
    }

    @Override
    public double gaussianKl(float[] mu1, float[] lv1, float[] mu2, float[] lv2, int from, int to, float k,
                             float[] gMu1, float[] gLv1, float[] gMu2, float[] gLv2) {
        return ScalarKernels.gaussianKlLoop(mu1, lv1, mu2, lv2, from, to, k, gMu1, gLv1, gMu2, gLv2);
    }

    // ---- two-distribution losses ------------------------------------------------------------------

    @Override
    public void klPairWrite(float[] f, float mf, float[] g, float mg, int from, int to, float c, float scF, float scG,
                            float kF, float kG, float[] outF, float[] outG) {
        FloatVector vmf = FloatVector.broadcast(SPECIES, mf);
        FloatVector vmg = FloatVector.broadcast(SPECIES, mg);
        FloatVector vc = FloatVector.broadcast(SPECIES, c);
        FloatVector vsf = FloatVector.broadcast(SPECIES, scF);
        FloatVector vsg = FloatVector.broadcast(SPECIES, scG);
        FloatVector vkf = FloatVector.broadcast(SPECIES, kF);
        FloatVector vkg = FloatVector.broadcast(SPECIES, kG);
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector pf = fromArray(SPECIES, outF, i).mul(vsf);
            FloatVector pg = fromArray(SPECIES, outG, i).mul(vsg);
            vkg.mul(pg.sub(pf)).intoArray(outG, i);
            FloatVector d = fromArray(SPECIES, f, i).sub(vmf).sub(fromArray(SPECIES, g, i).sub(vmg)).add(vc);
            vkf.mul(pf).mul(d).blend(V_ZERO, pf.compare(EQ, V_ZERO)).intoArray(outF, i);
        }
        for (; i < to; i++) {
            float pf = outF[i] * scF;
            float pg = outG[i] * scG;
            outG[i] = kG * (pg - pf);
            outF[i] = pf == 0f ? 0f : kF * pf * (((f[i] - mf) - (g[i] - mg)) + c);
        }
    }

    @Override
    public void symKlWrite(float[] f, float mf, float[] g, float mg, int from, int to, float c, float scF, float scG,
                           float aF, float aG, float k, float[] outF, float[] outG) {
        FloatVector vmf = FloatVector.broadcast(SPECIES, mf);
        FloatVector vmg = FloatVector.broadcast(SPECIES, mg);
        FloatVector vc = FloatVector.broadcast(SPECIES, c);
        FloatVector vsf = FloatVector.broadcast(SPECIES, scF);
        FloatVector vsg = FloatVector.broadcast(SPECIES, scG);
        FloatVector vaf = FloatVector.broadcast(SPECIES, aF);
        FloatVector vag = FloatVector.broadcast(SPECIES, aG);
        FloatVector vk = FloatVector.broadcast(SPECIES, k);
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector pf = fromArray(SPECIES, outF, i).mul(vsf);
            FloatVector pg = fromArray(SPECIES, outG, i).mul(vsg);
            FloatVector d = fromArray(SPECIES, f, i).sub(vmf).sub(fromArray(SPECIES, g, i).sub(vmg)).add(vc);
            pf.mul(d.add(vaf)).blend(V_ZERO, pf.compare(EQ, V_ZERO)).sub(pg).mul(vk).intoArray(outF, i);
            pg.mul(vag.sub(d)).blend(V_ZERO, pg.compare(EQ, V_ZERO)).sub(pf).mul(vk).intoArray(outG, i);
        }
        for (; i < to; i++) {
            float pf = outF[i] * scF;
            float pg = outG[i] * scG;
            float d = ((f[i] - mf) - (g[i] - mg)) + c;
            outF[i] = ((pf == 0f ? 0f : pf * (d + aF)) - pg) * k;
            outG[i] = ((pg == 0f ? 0f : pg * (aG - d)) - pf) * k;
        }
    }

    @Override
    public void jsdMix(int from, int to, float scF, float scG, float b, float b1, float[] outF, float[] outG,
                       float[] lm, int lmOff) {
        FloatVector vsf = FloatVector.broadcast(SPECIES, scF);
        FloatVector vsg = FloatVector.broadcast(SPECIES, scG);
        FloatVector vb = FloatVector.broadcast(SPECIES, b);
        FloatVector vb1 = FloatVector.broadcast(SPECIES, b1);
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector pf = fromArray(SPECIES, outF, i).mul(vsf);
            FloatVector pg = fromArray(SPECIES, outG, i).mul(vsg);
            pf.intoArray(outF, i);
            pg.intoArray(outG, i);
            logPositive(pf.mul(vb).add(pg.mul(vb1)).max(V_MIN_NORMAL)).intoArray(lm, i - lmOff);
        }
        for (; i < to; i++) {
            float pf = outF[i] * scF;
            float pg = outG[i] * scG;
            outF[i] = pf;
            outG[i] = pg;
            lm[i - lmOff] = logPositiveScalar(Math.max(pf * b + pg * b1, Float.MIN_NORMAL));
        }
    }

    @Override
    public void jsdSums(float[] f, float mf, float lf, float[] g, float mg, float lg, int from, int to, float[] lm,
                        int lmOff, float[] pf, float[] pg, double[] sums, int at) {
        FloatVector vmf = FloatVector.broadcast(SPECIES, mf);
        FloatVector vmg = FloatVector.broadcast(SPECIES, mg);
        FloatVector vlf = FloatVector.broadcast(SPECIES, lf);
        FloatVector vlg = FloatVector.broadcast(SPECIES, lg);
        DoubleVector af0 = DoubleVector.zero(DOUBLES);
        DoubleVector af1 = af0;
        DoubleVector ag0 = af0;
        DoubleVector ag1 = af0;
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector m = fromArray(SPECIES, lm, i - lmOff);
            FloatVector vf = fromArray(SPECIES, pf, i);
            FloatVector vg = fromArray(SPECIES, pg, i);
            FloatVector tf = vf.mul(fromArray(SPECIES, f, i).sub(vmf).sub(vlf).sub(m))
                    .blend(V_ZERO, vf.compare(EQ, V_ZERO));
            FloatVector tg = vg.mul(fromArray(SPECIES, g, i).sub(vmg).sub(vlg).sub(m))
                    .blend(V_ZERO, vg.compare(EQ, V_ZERO));
            af0 = af0.add(tf.convertShape(F2D, DOUBLES, 0));
            af1 = af1.add(tf.convertShape(F2D, DOUBLES, 1));
            ag0 = ag0.add(tg.convertShape(F2D, DOUBLES, 0));
            ag1 = ag1.add(tg.convertShape(F2D, DOUBLES, 1));
        }
        double sf = lanes(af0.add(af1));
        double sg = lanes(ag0.add(ag1));
        for (; i < to; i++) {
            float m = lm[i - lmOff];
            if (pf[i] != 0f) {
                sf += pf[i] * (((f[i] - mf) - lf) - m);
            }
            if (pg[i] != 0f) {
                sg += pg[i] * (((g[i] - mg) - lg) - m);
            }
        }
        sums[at] = sf;
        sums[at + 1] = sg;
    }

    @Override
    public void jsdWrite(float[] f, float mf, float lf, float[] g, float mg, float lg, int from, int to, float[] lm,
                         int lmOff, float kF, float cF, float kG, float cG, float[] outF, float[] outG) {
        FloatVector vmf = FloatVector.broadcast(SPECIES, mf);
        FloatVector vmg = FloatVector.broadcast(SPECIES, mg);
        FloatVector vlf = FloatVector.broadcast(SPECIES, lf);
        FloatVector vlg = FloatVector.broadcast(SPECIES, lg);
        FloatVector vkf = FloatVector.broadcast(SPECIES, kF);
        FloatVector vcf = FloatVector.broadcast(SPECIES, cF);
        FloatVector vkg = FloatVector.broadcast(SPECIES, kG);
        FloatVector vcg = FloatVector.broadcast(SPECIES, cG);
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector m = fromArray(SPECIES, lm, i - lmOff);
            FloatVector pf = fromArray(SPECIES, outF, i);
            FloatVector pg = fromArray(SPECIES, outG, i);
            vkf.mul(pf).mul(fromArray(SPECIES, f, i).sub(vmf).sub(vlf).sub(m).sub(vcf))
                    .blend(V_ZERO, pf.compare(EQ, V_ZERO)).intoArray(outF, i);
            vkg.mul(pg).mul(fromArray(SPECIES, g, i).sub(vmg).sub(vlg).sub(m).sub(vcg))
                    .blend(V_ZERO, pg.compare(EQ, V_ZERO)).intoArray(outG, i);
        }
        for (; i < to; i++) {
            float pf = outF[i];
            float pg = outG[i];
            float m = lm[i - lmOff];
            outF[i] = pf == 0f ? 0f : kF * pf * ((((f[i] - mf) - lf) - m) - cF);
            outG[i] = pg == 0f ? 0f : kG * pg * ((((g[i] - mg) - lg) - m) - cG);
        }
    }
}
