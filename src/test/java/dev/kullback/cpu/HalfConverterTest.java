package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.DType;
import dev.kullback.internal.HalfFloats;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The CPU device's bulk conversions bit for bit against {@link HalfFloats} (itself checked against PyTorch on every
 * pattern, HalfFloatsTest): all 65,536 patterns widened, and narrowed every value whose rounding can differ (each
 * pattern's value, the midpoints to its neighbour and their float neighbours, the dropped bits at 0, 1, just below,
 * at and above the tie, all ones), specials and random floats, at odd offsets so vector bodies and scalar tails both run.
 */
class HalfConverterTest {
    private static final int PATTERNS = 1 << 16;

    @Test
    void theVectorConverterIsInUseWhereTheVectorKernelsAre() {
        KernelsProvider.vector().ifPresent(k -> assertTrue(HalfConverter.of(k) instanceof VectorHalfConverter,
                "vector kernels present but the converter is " + HalfConverter.of(k)));
        assertTrue(HalfConverter.of(KernelsProvider.scalar()) == HalfConverter.SCALAR);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void widensEveryPatternExactly(DType type) {
        for (HalfConverter c : converters()) {
            for (int offset : new int[] {0, 3}) {
                short[] all = new short[PATTERNS + offset];
                for (int i = 0; i < PATTERNS; i++) {
                    all[offset + i] = (short) i;
                }
                float[] out = new float[PATTERNS + 5];
                c.widen(type, all, offset, out, 5, PATTERNS);
                for (int i = 0; i < PATTERNS; i++) {
                    int want = Float.floatToRawIntBits(HalfFloats.toFloat(type, (short) i));
                    int got = Float.floatToRawIntBits(out[5 + i]);
                    if (want != got) {
                        assertEquals(Integer.toHexString(want), Integer.toHexString(got),
                                c + " " + type + " widening 0x" + Integer.toHexString(i));
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void narrowsEveryRoundingCaseAsHalfFloats(DType type) {
        float[] cases = roundingCases(type);
        for (HalfConverter c : converters()) {
            for (int offset : new int[] {0, 1, 7}) {
                float[] in = new float[cases.length + offset];
                System.arraycopy(cases, 0, in, offset, cases.length);
                short[] out = new short[cases.length + 2];
                c.narrow(type, in, offset, out, 2, cases.length);
                for (int i = 0; i < cases.length; i++) {
                    short want = HalfFloats.fromFloat(type, cases[i]);
                    if (want != out[2 + i]) {
                        assertEquals(Integer.toHexString(want & 0xFFFF), Integer.toHexString(out[2 + i] & 0xFFFF),
                                c + " " + type + " narrowing " + cases[i] + " (0x"
                                        + Integer.toHexString(Float.floatToRawIntBits(cases[i])) + ")");
                    }
                }
            }
        }
    }

    private static HalfConverter[] converters() {
        return KernelsProvider.vector().isPresent()
                ? new HalfConverter[] {HalfConverter.SCALAR, HalfConverter.of(KernelsProvider.vector().get())}
                : new HalfConverter[] {HalfConverter.SCALAR};
    }

    private static float[] roundingCases(DType type) {
        int dropped = type == DType.BFLOAT16 ? 16 : 13;
        int half = 1 << (dropped - 1);
        int[] lows = {0, 1, half - 1, half, half + 1, (1 << dropped) - 1};
        Random random = new Random(10);
        float[] out = new float[PATTERNS * 10 + 200_000 + 64];
        int n = 0;
        for (int i = 0; i < PATTERNS; i++) {
            float v = HalfFloats.toFloat(type, (short) i);
            out[n++] = v;
            if (!Float.isFinite(v)) {
                continue;
            }
            int bits = Float.floatToRawIntBits(v);
            for (int low : lows) {
                out[n++] = Float.intBitsToFloat(bits + low); // past the largest finite value this reaches inf/NaN too
            }
            out[n++] = Math.nextDown(v);
            out[n++] = Math.nextUp(v);
        }
        for (int i = 0; i < 200_000; i++) {
            out[n++] = Float.intBitsToFloat(random.nextInt());
        }
        float[] specials = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, 0x1p-25f, 0x1p-24f,
            0x1.8p-24f, 0x1p-14f, 0x1.ff8p-15f, 65504f, 65519.996f, 65520f, 65536f, -65520f, 1e10f, Float.MAX_VALUE,
            -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
            Float.intBitsToFloat(0x7F800001), Float.intBitsToFloat(0xFFC00001), Float.intBitsToFloat(0x7FFFFFFF),
            3.4e38f, 1e-40f, 0x1.fep127f, 0x1.ff8p127f, -0x1.ffp127f, 1f / 3, -2f / 3};
        for (float s : specials) {
            out[n++] = s;
        }
        return java.util.Arrays.copyOf(out, n);
    }
}
