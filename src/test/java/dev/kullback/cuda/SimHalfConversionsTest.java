package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.DType;
import dev.kullback.internal.HalfFloats;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The simulator's {@code cuda_fp16.h} / {@code cuda_bf16.h} conversions, as kernels use them, on every 16-bit
 * pattern and every rounding case: they must give the bits of the host conversions ({@link HalfFloats}, checked
 * against PyTorch in {@code HalfFloatsTest}), except that CUDA narrows any NaN to 0x7FFF where PyTorch gives its
 * own quiet NaN — both NaN.
 */
class SimHalfConversionsTest {
    private SimGpu gpu;

    @BeforeEach
    void open() {
        gpu = SimGpus.open();
    }

    @AfterEach
    void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void widensEveryPatternExactly(DType type) {
        float[] wide = HalfPatterns.widenAll(gpu, "sim_half", "half_widen", type);
        for (int i = 0; i < HalfPatterns.PATTERNS; i++) {
            float expected = HalfFloats.toFloat(type, (short) i);
            if (Float.isNaN(expected)) {
                assertTrue(Float.isNaN(wide[i]), type + " 0x" + Integer.toHexString(i));
            } else {
                assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(wide[i]),
                        type + " 0x" + Integer.toHexString(i));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void narrowsEveryRoundingCaseToNearestEven(DType type) {
        float[] specials = {65519.996f, 65520f, -65520f, 1e10f, Float.MAX_VALUE, 0x1.ff8p127f, Float.MIN_VALUE,
            0x1p-25f, Math.nextUp(0x1p-25f), 0x1.8p-24f, -0f, Float.NaN, Float.intBitsToFloat(0xFF800001)};
        float[] values = HalfPatterns.roundingCases(type, specials);
        int[] narrow = HalfPatterns.narrow(gpu, "sim_half", "half_narrow", type, values);
        for (int i = 0; i < values.length; i++) {
            short expected = HalfFloats.fromFloat(type, values[i]);
            String what = type + " of " + values[i] + " (0x" + Integer.toHexString(Float.floatToRawIntBits(values[i]))
                    + ")";
            if (Float.isNaN(values[i])) {
                assertEquals(0x7FFF, narrow[i], what + ": CUDA's canonical NaN");
            } else {
                assertEquals(expected & 0xFFFF, narrow[i], what);
            }
        }
    }
}
