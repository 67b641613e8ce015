package dev.kullback;

/**
 * The element type of a {@link Tensor}. Half types hold 16-bit patterns; every op computes in float32 and rounds
 * half results to nearest even, as PyTorch and Liger-Kernel do.
 */
public enum DType {
    /** IEEE 754 binary32. */
    FLOAT32(4),
    /** bfloat16: the upper 16 bits of a float32 (8 exponent bits, 7 mantissa bits). */
    BFLOAT16(2),
    /** IEEE 754 binary16 (5 exponent bits, 10 mantissa bits; subnormals below 2^-14). */
    FLOAT16(2);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** Whether elements are 16-bit patterns. */
    public boolean isHalf() {
        return bytes == 2;
    }
}
