package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kullback.DType;
import dev.kullback.internal.HalfFloats;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The kernels' element layer ({@code kernels/elems.cuh}) on the simulator: its conversions give exactly the bits of
 * {@link HalfFloats} (checked against PyTorch), NaN included (PyTorch's quiet NaN, not CUDA's 0x7FFF), on every 16-bit
 * pattern and every rounding case; and its row offsets are 64-bit, so rows past 2^31 elements are addressed right
 * (checked on the address arithmetic itself: no test allocates the 4+ GB such a tensor needs).
 */
class SimElemsTest {
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
        float[] wide = HalfPatterns.widenAll(gpu, "sim_elems", "elems_widen", type);
        for (int i = 0; i < HalfPatterns.PATTERNS; i++) {
            assertEquals(Float.floatToRawIntBits(HalfFloats.toFloat(type, (short) i)), Float.floatToRawIntBits(wide[i]),
                    type + " 0x" + Integer.toHexString(i));
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void narrowsEveryRoundingCaseAsTheHostDoes(DType type) {
        float[] specials = {65519.996f, 65520f, -65520f, 1e10f, Float.MAX_VALUE, 0x1.ff8p127f, Float.MIN_VALUE,
            0x1p-25f, Math.nextUp(0x1p-25f), 0x1.8p-24f, -0f, Float.NaN, Float.intBitsToFloat(0xFF800001),
            Float.intBitsToFloat(0x7FC12345), Float.intBitsToFloat(0xFFFFFFFF), Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY};
        float[] values = HalfPatterns.roundingCases(type, specials);
        int[] narrow = HalfPatterns.narrow(gpu, "sim_elems", "elems_narrow", type, values);
        for (int i = 0; i < values.length; i++) {
            assertEquals(HalfFloats.fromFloat(type, values[i]) & 0xFFFF, narrow[i], type + " of " + values[i] + " (0x"
                    + Integer.toHexString(Float.floatToRawIntBits(values[i])) + ")");
        }
    }

    @Test
    void rowOffsetsAre64Bit() {
        long[] rows = {1, 2, 1, 3, 65535, (1L << 31) - 1};
        long[] strides = {(1L << 31) + 5, (1L << 31) + 5, (1L << 32) + 8, 1_500_000_000L, 65_600, 3};
        int n = rows.length;
        long r = gpu.malloc(8L * n);
        long s = gpu.malloc(8L * n);
        long out = gpu.malloc(16L * n);
        gpu.copyToDevice(rows, r);
        gpu.copyToDevice(strides, s);
        gpu.launch(gpu.function("sim_elems", "elems_row_offsets"), 1, 32, 0, r, s, out, n);
        long[] offsets = new long[2 * n];
        gpu.copyToHost(out, offsets);
        long[] expected = new long[2 * n];
        for (int k = 0; k < n; k++) {
            expected[2 * k] = 2 * rows[k] * strides[k];
            expected[2 * k + 1] = 4 * rows[k] * strides[k];
        }
        assertArrayEquals(expected, offsets, "byte offsets of (row, stride) pairs past 2^31 elements");
    }
}
