package dev.kullback.cuda;

import dev.kullback.DType;
import dev.kullback.internal.HalfFloats;
import java.util.Arrays;

/**
 * The inputs and launches of the simulator's half-conversion tests ({@link SimHalfConversionsTest} for the simulated
 * CUDA headers, {@link SimElemsTest} for the kernels' element layer): every 16-bit pattern widened, and every rounding
 * case narrowed, by a test kernel {@code (const in*, out*, int n, int bf16)}.
 */
final class HalfPatterns {
    static final int PATTERNS = 1 << 16;

    private HalfPatterns() {
    }

    /** Every pattern 0..0xFFFF widened to float by {@code kernel} of {@code module}. */
    static float[] widenAll(SimGpu gpu, String module, String kernel, DType type) {
        int[] bits = new int[PATTERNS];
        Arrays.setAll(bits, i -> i);
        long in = gpu.malloc(4L * PATTERNS);
        long out = gpu.malloc(4L * PATTERNS);
        gpu.copyToDevice(bits, in);
        gpu.launch(gpu.function(module, kernel), PATTERNS / 256, 256, 0, in, out, PATTERNS, flag(type));
        float[] wide = new float[PATTERNS];
        gpu.copyToHost(out, wide, 0, PATTERNS);
        return wide;
    }

    /**
     * {@code specials}, then every finite value of the type, and between each two neighbours their midpoint (a tie)
     * and the floats just below and above it.
     */
    static float[] roundingCases(DType type, float... specials) {
        float[] values = Arrays.copyOf(specials, PATTERNS * 4 + specials.length);
        int n = specials.length;
        for (int i = 0; i < PATTERNS; i++) {
            float v = HalfFloats.toFloat(type, (short) i);
            float next = HalfFloats.toFloat(type, (short) (i + 1));
            values[n++] = v;
            if (Float.isFinite(v) && Float.isFinite(next) && ((i + 1) & 0x7FFF) != 0) {
                float mid = (float) (((double) v + next) / 2);
                values[n++] = mid;
                values[n++] = Math.nextDown(mid);
                values[n++] = Math.nextUp(mid);
            }
        }
        return Arrays.copyOf(values, n);
    }

    /** {@code values} narrowed to 16-bit patterns (in the low bits of each int) by {@code kernel} of {@code module}. */
    static int[] narrow(SimGpu gpu, String module, String kernel, DType type, float[] values) {
        int count = values.length;
        long in = gpu.malloc(4L * count);
        long out = gpu.malloc(4L * count);
        gpu.copyToDevice(values, 0, in, count);
        gpu.launch(gpu.function(module, kernel), (count + 255) / 256, 256, 0, in, out, count, flag(type));
        int[] narrow = new int[count];
        gpu.copyToHost(out, narrow);
        return narrow;
    }

    private static int flag(DType type) {
        return type == DType.BFLOAT16 ? 1 : 0;
    }
}
