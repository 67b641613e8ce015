package dev.kullback.cpu;

/**
 * exp in plain float arithmetic, for loops on one float at a time: a range reduction and a degree-6 polynomial
 * (Cephes' expf) with fma, 2^k built from its bits. No call C2 cannot inline (Math.fma is an intrinsic), unlike
 * Math.exp, whose stub is a call per element that no loop can overlap or vectorize. It is also the scalar twin of the
 * Vector API exp ({@code PanamaKernels.exp}): the same operations in the same order, so the same bits.
 */
final class ScalarMath {
    static final float EXP_HI = 88.8f;       // exp(88.8) overflows to +inf, as must everything above
    static final float EXP_LO = -104f;       // exp(-104) rounds to 0, as must everything below
    static final float LOG2E = 1.44269504088896341f;
    static final float MAGIC = 12582912f;    // 1.5 * 2^23: adding it rounds to an integer, to nearest even
    static final int MAGIC_BITS = 0x4B400000;
    static final float LN2_HI = 0.693359375f; // ln 2 = LN2_HI - LN2_LO, LN2_HI exact in few bits
    static final float LN2_LO = 2.12194440e-4f;
    static final float E0 = 1.9875691500e-4f;
    static final float E1 = 1.3981999507e-3f;
    static final float E2 = 8.3334519073e-3f;
    static final float E3 = 4.1665795894e-2f;
    static final float E4 = 1.6666665459e-1f;
    static final float E5 = 5.0000001201e-1f;

    private ScalarMath() {
    }

    /**
     * exp(x) = 2^k exp(r), k = round(x / ln 2), r = x - k ln 2 in [-ln2/2, ln2/2]; 2^k applied in two halves so that
     * subnormal results and overflow to +inf come out right. exp(-inf) = 0, exp(+inf) = +inf, exp(NaN) = NaN,
     * exp(0) = 1 exactly.
     */
    static float exp(float x) {
        if (x > EXP_HI) {
            x = EXP_HI;
        }
        if (x < EXP_LO) {
            x = EXP_LO;
        }
        float t = Math.fma(x, LOG2E, MAGIC);
        float k = t - MAGIC;
        float r = Math.fma(k, -LN2_HI, x);
        r = Math.fma(k, LN2_LO, r);
        float p = Math.fma(E0, r, E1);
        p = Math.fma(p, r, E2);
        p = Math.fma(p, r, E3);
        p = Math.fma(p, r, E4);
        p = Math.fma(p, r, E5);
        p = Math.fma(p, r * r, r) + 1f;
        int ki = Float.floatToRawIntBits(t) - MAGIC_BITS;
        int k1 = ki >> 1;
        int k2 = ki - k1;
        return p * Float.intBitsToFloat((k1 + 127) << 23) * Float.intBitsToFloat((k2 + 127) << 23);
    }
}
