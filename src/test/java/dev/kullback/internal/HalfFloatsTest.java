package dev.kullback.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kullback.DType;
import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The conversions bit for bit against PyTorch's own ({@code Tensor.to(torch.bfloat16 / torch.float16)} and back),
 * exhaustively: every one of the 65,536 patterns widened; and narrowed, every value that can round differently —
 * each pattern's exact value, the midpoint to its successor (a tie), and the floats one ulp either side of that
 * midpoint — plus the overflow threshold, float subnormals, infinities and NaN. A NaN narrows to some NaN:
 * PyTorch's vectorized bfloat16 path gives 0xFFFF, its scalar {@code c10::BFloat16} 0x7FC0 (ours).
 */
class HalfFloatsTest {
    private static final int PATTERNS = 1 << 16;

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void widensEveryPatternAsPyTorchDoes(DType type) {
        short[] all = new short[PATTERNS];
        for (int i = 0; i < PATTERNS; i++) {
            all[i] = (short) i;
        }
        float[] ours = new float[PATTERNS];
        HalfFloats.toFloat(type, all, 0, ours, 0, PATTERNS);
        float[] torchs = torchWiden(type, all);
        for (int i = 0; i < PATTERNS; i++) {
            assertSameFloat(torchs[i], ours[i], type + " pattern 0x" + Integer.toHexString(i));
            assertSameFloat(ours[i], HalfFloats.toFloat(type, (short) i), "scalar form, 0x" + Integer.toHexString(i));
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void everyPatternRoundTrips(DType type) {
        for (int i = 0; i < PATTERNS; i++) {
            float wide = HalfFloats.toFloat(type, (short) i);
            short back = HalfFloats.fromFloat(type, wide);
            if (Float.isNaN(wide)) {
                assertTrue(Float.isNaN(HalfFloats.toFloat(type, back)), "NaN 0x" + Integer.toHexString(i));
            } else {
                assertEquals((short) i, back, type + " pattern 0x" + Integer.toHexString(i));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void narrowsEveryRoundingCaseAsPyTorchDoes(DType type) {
        float[] values = roundingCases(type);
        short[] ours = new short[values.length];
        HalfFloats.fromFloat(type, values, 0, ours, 0, values.length);
        short[] torchs = torchNarrow(type, values);
        for (int i = 0; i < values.length; i++) {
            boolean bothNaN = Float.isNaN(HalfFloats.toFloat(type, ours[i]))
                    && Float.isNaN(HalfFloats.toFloat(type, torchs[i]));
            if (ours[i] != torchs[i] && !bothNaN) {
                fail(type + " of " + values[i] + " (0x" + Integer.toHexString(Float.floatToRawIntBits(values[i]))
                        + "): ours 0x" + Integer.toHexString(ours[i] & 0xFFFF) + ", PyTorch 0x"
                        + Integer.toHexString(torchs[i] & 0xFFFF));
            }
            assertEquals(ours[i], HalfFloats.fromFloat(type, values[i]), "scalar form");
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void tiesGoToEven(DType type) {
        float one = 1f;
        float ulp = type == DType.BFLOAT16 ? 0x1p-7f : 0x1p-10f;
        assertEquals(HalfFloats.fromFloat(type, one), HalfFloats.fromFloat(type, one + ulp / 2), "1 + ulp/2 → 1");
        assertEquals(HalfFloats.fromFloat(type, one + 2 * ulp), HalfFloats.fromFloat(type, one + 1.5f * ulp),
                "1 + 1.5 ulp → 1 + 2 ulp");
        assertEquals((short) 0x3C00, HalfFloats.floatToFp16(1f));
        assertEquals((short) 0x3F80, HalfFloats.floatToBf16(1f));
        assertEquals((short) 0x7BFF, HalfFloats.floatToFp16(65519.996f), "just below the overflow midpoint");
        assertEquals((short) 0x7C00, HalfFloats.floatToFp16(65520f), "the overflow midpoint ties to infinity");
        assertEquals((short) 0x0001, HalfFloats.floatToFp16(0x1p-24f), "the smallest subnormal");
        assertEquals((short) 0x0000, HalfFloats.floatToFp16(0x1p-25f), "half the smallest subnormal ties to 0");
        assertEquals((short) 0x8001, HalfFloats.floatToFp16(-Math.nextUp(0x1p-25f)), "just above it rounds away");
    }

    /** Every value whose rounding can differ: pattern values, midpoints, their float neighbours, and specials. */
    private static float[] roundingCases(DType type) {
        float[] out = new float[PATTERNS * 4 + 32];
        int n = 0;
        for (int i = 0; i < PATTERNS; i++) {
            float v = HalfFloats.toFloat(type, (short) i);
            if (Float.isNaN(v) || Float.isInfinite(v)) {
                continue;
            }
            float next = HalfFloats.toFloat(type, (short) (i + 1));
            out[n++] = v;
            if (!Float.isNaN(next) && Math.getExponent(next) <= Float.MAX_EXPONENT && ((i + 1) & 0x7FFF) != 0) {
                float mid = midpoint(v, next);
                out[n++] = mid;
                out[n++] = Math.nextDown(mid);
                out[n++] = Math.nextUp(mid);
            }
        }
        float[] specials = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, 0x1p-25f, 0x1p-24f,
            0x1.8p-24f, 0x1p-14f, 0x1.ff8p-15f, 65504f, 65519.996f, 65520f, 65536f, -65520f, 1e10f, Float.MAX_VALUE,
            -Float.MAX_VALUE, 0x1.fffffep127f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
            Float.intBitsToFloat(0x7F800001), Float.intBitsToFloat(0xFFC00001), 3.0e38f, 3.4e38f, 1e-40f,
            0x1.fep127f, 0x1.ff8p127f, -0x1.ffp127f, 1f / 3, -2f / 3};
        for (float s : specials) {
            out[n++] = s;
        }
        return Arrays.copyOf(out, n);
    }

    /** The exact midpoint of two adjacent 16-bit values (float32 holds it: it needs one bit more than they do). */
    private static float midpoint(float a, float b) {
        return (float) (((double) a + b) / 2);
    }

    private static void assertSameFloat(float expected, float actual, String what) {
        if (Float.isNaN(expected) && Float.isNaN(actual)) {
            return;
        }
        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual),
                what + ": expected " + expected + ", got " + actual);
    }

    private static ScalarType torchType(DType type) {
        return type == DType.BFLOAT16 ? ScalarType.BFloat16 : ScalarType.Half;
    }

    private static float[] torchWiden(DType type, short[] bits) {
        try (PointerScope scope = new PointerScope()) {
            Tensor raw = torch.empty(new long[] {bits.length},
                    new TensorOptions().dtype(new ScalarTypeOptional(ScalarType.Short)), new MemoryFormatOptional());
            raw.data_ptr_short().put(bits, 0, bits.length);
            Tensor wide = raw.view(torchType(type)).to(ScalarType.Float).contiguous();
            float[] out = new float[bits.length];
            wide.data_ptr_float().get(out, 0, out.length);
            return out;
        }
    }

    private static short[] torchNarrow(DType type, float[] values) {
        try (PointerScope scope = new PointerScope()) {
            Tensor wide = torch.empty(new long[] {values.length},
                    new TensorOptions().dtype(new ScalarTypeOptional(ScalarType.Float)), new MemoryFormatOptional());
            wide.data_ptr_float().put(values, 0, values.length);
            Tensor bits = wide.to(torchType(type)).view(ScalarType.Short).contiguous();
            short[] out = new short[values.length];
            bits.data_ptr_short().get(out, 0, out.length);
            return out;
        }
    }
}
