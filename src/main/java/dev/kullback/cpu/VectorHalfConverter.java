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
                        .and(0xFFFF);
                IntVector sign = h.and(0x8000).lanewise(LSHL, 16);
                IntVector magnitude = h.and(0x7FFF);
                // normal: rebias the exponent (15 → 127); inf/NaN: exponent all ones, payload kept
                IntVector normal = magnitude.lanewise(LSHL, 13).add(112 << 23);
                IntVector special = magnitude.lanewise(LSHL, 13).or(0x7F80_0000);
                // zero or subnormal: the mantissa times 2^-24, exact in float32
                IntVector tiny = ((FloatVector) magnitude.convert(I2F, 0)).mul(0x1p-24f).reinterpretAsInts();
                IntVector bits = normal.blend(special, magnitude.compare(GE, 0x7C00))
                        .blend(tiny, magnitude.compare(LT, 0x0400));
                bits.or(sign).reinterpretAsFloats().intoArray(dst, d + i);
            }
        }
        HalfFloats.toFloat(type, src, s + i, dst, d + i, n - i);
    }

    @Override
    public void narrow(DType type, float[] src, int s, short[] dst, int d, int n) {
        int i = 0;
        if (type == DType.BFLOAT16) {
            for (; i <= n - L; i += L) {
                IntVector u = FloatVector.fromArray(FLOATS, src, s + i).reinterpretAsInts();
                IntVector rounded = u.add(0x7FFF).add(u.lanewise(LSHR, 16).and(1)).lanewise(LSHR, 16);
                VectorMask<Integer> nan = u.and(0x7FFF_FFFF).compare(GT, 0x7F80_0000);
                store(rounded.blend(0x7FC0, nan), dst, d + i);
            }
        } else {
            for (; i <= n - L; i += L) {
                IntVector u = FloatVector.fromArray(FLOATS, src, s + i).reinterpretAsInts();
                IntVector sign = u.lanewise(LSHR, 16).and(0x8000);
                IntVector abs = u.and(0x7FFF_FFFF);
                IntVector rebiased = abs.sub(112 << 23);
                IntVector bits = rebiased.add(0xFFF).add(rebiased.lanewise(LSHR, 13).and(1)).lanewise(LSHR, 13);
                // below 2^-14: adding 0.5 makes the float adder round to a multiple of 2^-24, ties to even
                IntVector subnormal = abs.reinterpretAsFloats().add(0.5f).reinterpretAsInts().sub(0x3F00_0000);
                bits = bits.blend(subnormal, abs.compare(LT, 0x3880_0000))
                        .blend(0x7C00, abs.compare(GE, 0x477F_F000))
                        .blend(0x7E00, abs.compare(GT, 0x7F80_0000));
                store(bits.or(sign), dst, d + i);
            }
        }
        HalfFloats.fromFloat(type, src, s + i, dst, d + i, n - i);
    }

    /** The low 16 bits of each lane. */
    private static void store(IntVector bits, short[] dst, int d) {
        ((ShortVector) bits.convertShape(I2S, SHORTS, 0)).intoArray(dst, d);
    }
}
