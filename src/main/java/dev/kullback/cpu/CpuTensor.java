package dev.kullback.cpu;

import dev.kullback.DType;
import dev.kullback.internal.AbstractTensor;
import dev.kullback.internal.HalfFloats;

/**
 * A tensor of the {@link CpuDevice}: a row-major float[] (FLOAT32) or short[] of 16-bit patterns (BFLOAT16, FLOAT16)
 * on the Java heap, or a view of another tensor's array (element [r, c] at {@code offset() + r * rowStride() + c}).
 * The family kernels take plain tensors ({@link #isPlain()}: float32, owning a packed array); {@link CpuStaging}
 * hands them plain copies of the others.
 */
public final class CpuTensor extends AbstractTensor {
    private final CpuDevice owner;
    /** The viewed tensor (never itself a view); null when this tensor owns its array. */
    private final CpuTensor root;
    private volatile float[] data;
    private volatile short[] bits;

    CpuTensor(CpuDevice device, float[] data, int rows, int cols) {
        super(device, rows, cols);
        this.owner = device;
        this.root = null;
        this.data = data;
    }

    /** A half tensor owning {@code bits}. */
    CpuTensor(CpuDevice device, short[] bits, int rows, int cols, DType type) {
        super(device, rows, cols, type, cols, 0, null);
        this.owner = device;
        this.root = null;
        this.bits = bits;
    }

    /** A view of {@code base}'s array. */
    CpuTensor(CpuDevice device, CpuTensor base, long offset, int rows, int cols) {
        super(device, rows, cols, base.dtype(), base.rowStride(), offset, base);
        this.owner = device;
        this.root = base.root == null ? base : base.root;
    }

    /** Whether the family kernels take this tensor as it is: float32 and owning its packed array. */
    boolean isPlain() {
        return root == null && dtype() == DType.FLOAT32;
    }

    /** The live row-major values of a plain tensor, not a copy; for the device's kernels. */
    float[] data() {
        if (root != null || dtype() != DType.FLOAT32) {
            throw new IllegalStateException("internal: tensor " + describe() + " is not plain float32; stage it");
        }
        return floats();
    }

    /** The float32 array this tensor lies in (its root's, for a view). */
    float[] floats() {
        float[] d = root == null ? data : root.data;
        if (d == null) {
            throw new IllegalStateException("tensor " + shape() + " is closed");
        }
        return d;
    }

    /** The 16-bit array this half tensor lies in (its root's, for a view). */
    short[] halfBits() {
        short[] b = root == null ? bits : root.bits;
        if (b == null) {
            throw new IllegalStateException("tensor " + shape() + " is closed");
        }
        return b;
    }

    /** Where row r starts in {@link #floats()} or {@link #halfBits()}. */
    int rowStart(int r) {
        return Math.toIntExact(offset() + r * rowStride());
    }

    @Override
    protected float[] download() {
        if (isPlain()) {
            return data().clone();
        }
        int rows = rows();
        int cols = cols();
        float[] host = new float[Math.toIntExact(size())];
        for (int r = 0; r < rows; r++) {
            if (dtype() == DType.FLOAT32) {
                System.arraycopy(floats(), rowStart(r), host, r * cols, cols);
            } else {
                HalfFloats.toFloat(dtype(), halfBits(), rowStart(r), host, r * cols, cols);
            }
        }
        return host;
    }

    @Override
    protected short[] downloadBits() {
        int rows = rows();
        int cols = cols();
        short[] host = new short[Math.toIntExact(size())];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(halfBits(), rowStart(r), host, r * cols, cols);
        }
        return host;
    }

    /** Hands the array back to the device's pool (or to the collector); the tensor object keeps nothing. */
    @Override
    protected void release() {
        float[] d = data;
        data = null;
        bits = null;
        if (d != null) {
            owner.recycle(d);
        }
    }
}
