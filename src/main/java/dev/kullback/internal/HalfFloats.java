package dev.kullback.internal;

import dev.kullback.DType;

/**
 * Exact conversions between float32 and the 16-bit types, with PyTorch's CPU semantics (Java 17 has no
 * {@code Float.float16ToFloat}): widening is exact; narrowing rounds to nearest, ties to even, overflows to
 * infinity, keeps subnormals, and turns NaN into PyTorch's quiet NaN (0x7FC0 for bfloat16, 0x7E00 for float16).
 * Widening keeps a NaN's payload. The bulk forms are plain loops over the scalar forms, which C2 inlines.
 */
public final class HalfFloats {
    private HalfFloats() {
    }

    /** bfloat16 bits → float32: the 16 bits become the upper half of the float. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /** float32 → bfloat16 bits, rounded to nearest even (c10::round_to_nearest_even). */
    public static short floatToBf16(float value) {
        int u = Float.floatToRawIntBits(value);
        if ((u & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) 0x7FC0;
        }
        // Adding 0x7FFF plus the lowest kept bit carries into the kept bits exactly when the dropped half is above
        // the midpoint, or at it with an odd kept part; the largest finite floats carry into infinity.
        return (short) ((u + 0x7FFF + ((u >>> 16) & 1)) >>> 16);
    }

    /** float16 bits → float32, exact (subnormals, infinities and NaN payloads included). */
    public static float fp16ToFloat(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        if (exponent == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F80_0000 | mantissa << 13);
        }
        if (exponent != 0) {
            return Float.intBitsToFloat(sign | (exponent + 112) << 23 | mantissa << 13);
        }
        float magnitude = mantissa * 0x1p-24f; // a subnormal (or zero): exact in float32
        return Float.intBitsToFloat(sign | Float.floatToRawIntBits(magnitude));
    }

    /** float32 → float16 bits, rounded to nearest even; beyond 65520 in magnitude gives infinity. */
    public static short floatToFp16(float value) {
        int u = Float.floatToRawIntBits(value);
        int sign = (u >>> 16) & 0x8000;
        int abs = u & 0x7FFF_FFFF;
        if (abs > 0x7F80_0000) {
            return (short) (sign | 0x7E00);
        }
        if (abs >= 0x477F_F000) { // 65520 = the midpoint between 65504 (the largest half) and 2^16: ties go up
            return (short) (sign | 0x7C00);
        }
        if (abs < 0x3880_0000) { // below 2^-14: a float16 subnormal, in units of 2^-24
            // Adding 0.5 makes the float adder round the magnitude to a multiple of 2^-24, ties to even:
            // 0.5 + m has an ulp of 2^-24, and m < 2^-14 so the sum stays in [0.5, 1).
            float shifted = Float.intBitsToFloat(abs) + 0.5f;
            return (short) (sign | (Float.floatToRawIntBits(shifted) - 0x3F00_0000));
        }
        // A normal half: rebias the exponent (127 → 15) and round the 23-bit mantissa to 10, ties to even; a carry
        // out of the mantissa moves the exponent up, as it should.
        int rebiased = abs - (112 << 23);
        return (short) (sign | (rebiased + 0xFFF + ((rebiased >>> 13) & 1)) >>> 13);
    }

    /** The float32 value of one element of type {@code type} held as 16 bits. */
    public static float toFloat(DType type, short bits) {
        return type == DType.BFLOAT16 ? bf16ToFloat(bits) : fp16ToFloat(bits);
    }

    /** {@code value} rounded to {@code type}'s 16 bits. */
    public static short fromFloat(DType type, float value) {
        return type == DType.BFLOAT16 ? floatToBf16(value) : floatToFp16(value);
    }

    /** Widens {@code count} patterns of {@code type} from {@code src[srcOffset..]} into {@code dst[dstOffset..]}. */
    public static void toFloat(DType type, short[] src, int srcOffset, float[] dst, int dstOffset, int count) {
        if (type == DType.BFLOAT16) {
            for (int i = 0; i < count; i++) {
                dst[dstOffset + i] = bf16ToFloat(src[srcOffset + i]);
            }
        } else {
            for (int i = 0; i < count; i++) {
                dst[dstOffset + i] = fp16ToFloat(src[srcOffset + i]);
            }
        }
    }

    /** Rounds {@code count} floats from {@code src[srcOffset..]} to {@code type} into {@code dst[dstOffset..]}. */
    public static void fromFloat(DType type, float[] src, int srcOffset, short[] dst, int dstOffset, int count) {
        if (type == DType.BFLOAT16) {
            for (int i = 0; i < count; i++) {
                dst[dstOffset + i] = floatToBf16(src[srcOffset + i]);
            }
        } else {
            for (int i = 0; i < count; i++) {
                dst[dstOffset + i] = floatToFp16(src[srcOffset + i]);
            }
        }
    }
}
