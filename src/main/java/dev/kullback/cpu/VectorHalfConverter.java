package dev.kullback.cpu;

import static jdk.incubator.vector.VectorOperators.GE;
import static jdk.incubator.vector.VectorOperators.GT;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.I2S;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.LT;
import static jdk.incubator.vector.VectorOperators.S2I;

import dev.kullback.DType;
import dev.kullback.internal.HalfFloats;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link HalfConverter} on the Vector API: each step is HalfFloats' scalar formula lanewise on the int bits (bf16: a
 * shift and the carry trick; fp16: the normal, subnormal and inf/NaN forms computed for every lane and blended), so the
 * results are bit for bit HalfFloats' (HalfConverterTest checks all 65,536 patterns and the rounding cases). Tails
 * run HalfFloats itself.
 */
final class VectorHalfConverter implements HalfConverter {
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final int L = INTS.length();
    private static final VectorSpecies<Short> SHORTS =
            VectorSpecies.of(short.class, VectorShape.forBitSize(INTS.vectorBitSize() / 2));
    /** Constants as prebuilt vectors, as PanamaKernels keeps them: no broadcast left in a loop. */
    private static final IntVector V_FFFF = ints(0xFFFF);
    private static final IntVector V_SIGN16 = ints(0x8000);
    private static final IntVector V_7FFF = ints(0x7FFF);
    private static final IntVector V_REBIAS = ints(112 << 23);
    private static final IntVector V_F32_INF = ints(0x7F80_0000);
    private static final IntVector V_F16_INF = ints(0x7C00);
    private static final IntVector V_F16_MIN_NORMAL = ints(0x0400);
    private static final IntVector V_ONE = ints(1);
    private static final IntVector V_ABS = ints(0x7FFF_FFFF);
    private static final IntVector V_BF16_NAN = ints(0x7FC0);
    private static final IntVector V_FFF = ints(0xFFF);
    private static final IntVector V_HALF_BITS = ints(0x3F00_0000);
    private static final IntVector V_F16_SUBNORMAL_LIMIT = ints(0x3880_0000);
    private static final IntVector V_F16_OVERFLOW = ints(0x477F_F000);
    private static final IntVector V_F16_NAN = ints(0x7E00);
    private static final FloatVector V_TWO_M24 = FloatVector.broadcast(FLOATS, 0x1p-24f);
    private static final FloatVector V_HALF = FloatVector.broadcast(FLOATS, 0.5f);

    private static IntVector ints(int c) {
        return IntVector.broadcast(INTS, c);
    }

    @Override
    public void widen(DType type, short[] src, int s, float[] dst, int d, int n) {
        int i = 0;
        if (type == DType.BFLOAT16) {
            for (; i <= n - L; i += L) {
                IntVector h = (IntVector) ShortVector.fromArray(SHORTS, src, s + i).convertShape(S2I, INTS, 0);
                h.lanewise(LSHL, 16).reinterpretAsFloats().intoArray(dst, d + i);
            }
        } else {
            for (; i <= n - L; i += L) {
                IntVector h = ((IntVector) ShortVector.fromArray(SHORTS, src, s + i).convertShape(S2I, INTS, 0))
                        .and(V_FFFF);
                IntVector sign = h.and(V_SIGN16).lanewise(LSHL, 16);
                IntVector magnitude = h.and(V_7FFF);
                // normal: rebias the exponent (15 → 127); inf/NaN: exponent all ones, payload kept
                IntVector normal = magnitude.lanewise(LSHL, 13).add(V_REBIAS);
                IntVector special = magnitude.lanewise(LSHL, 13).or(V_F32_INF);
                // zero or subnormal: the mantissa times 2^-24, exact in float32
                IntVector tiny = ((FloatVector) magnitude.convert(I2F, 0)).mul(V_TWO_M24).reinterpretAsInts();
                IntVector bits = normal.blend(special, magnitude.compare(GE, V_F16_INF))
                        .blend(tiny, magnitude.compare(LT, V_F16_MIN_NORMAL));
                bits.or(sign).reinterpretAsFloats().intoArray(dst, d + i);
            }
        }
        if (i < n) {
            HalfFloats.toFloat(type, src, s + i, dst, d + i, n - i);
        }
    }

    @Override
    public void narrow(DType type, float[] src, int s, short[] dst, int d, int n) {
        int i = 0;
        if (type == DType.BFLOAT16) {
            for (; i <= n - L; i += L) {
                IntVector u = FloatVector.fromArray(FLOATS, src, s + i).reinterpretAsInts();
                IntVector rounded = u.add(V_7FFF).add(u.lanewise(LSHR, 16).and(V_ONE)).lanewise(LSHR, 16);
                VectorMask<Integer> nan = u.and(V_ABS).compare(GT, V_F32_INF);
                ((ShortVector) rounded.blend(V_BF16_NAN, nan).convertShape(I2S, SHORTS, 0)).intoArray(dst, d + i);
            }
        } else {
            for (; i <= n - L; i += L) {
                IntVector u = FloatVector.fromArray(FLOATS, src, s + i).reinterpretAsInts();
                IntVector sign = u.lanewise(LSHR, 16).and(V_SIGN16);
                IntVector abs = u.and(V_ABS);
                IntVector rebiased = abs.sub(V_REBIAS);
                IntVector bits = rebiased.add(V_FFF).add(rebiased.lanewise(LSHR, 13).and(V_ONE)).lanewise(LSHR, 13);
                // below 2^-14: adding 0.5 makes the float adder round to a multiple of 2^-24, ties to even
                IntVector subnormal = abs.reinterpretAsFloats().add(V_HALF).reinterpretAsInts().sub(V_HALF_BITS);
                bits = bits.blend(subnormal, abs.compare(LT, V_F16_SUBNORMAL_LIMIT))
                        .blend(V_F16_INF, abs.compare(GE, V_F16_OVERFLOW))
                        .blend(V_F16_NAN, abs.compare(GT, V_F32_INF));
                ((ShortVector) bits.or(sign).convertShape(I2S, SHORTS, 0)).intoArray(dst, d + i); // the low halves
            }
        }
        if (i < n) {
            HalfFloats.fromFloat(type, src, s + i, dst, d + i, n - i);
        }
    }
}
