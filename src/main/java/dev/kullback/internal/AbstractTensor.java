package dev.kullback.internal;

import dev.kullback.DType;
import dev.kullback.Device;
import dev.kullback.Tensor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What every device's tensor shares: its shape, type and layout, its owner, and an idempotent close. A view (see
 * {@link dev.kullback.Device#view}) names the tensor that owns its memory ({@link #base()}): closing the view frees
 * nothing, and the view counts as closed once its base is.
 */
public abstract class AbstractTensor implements Tensor {
    private final AbstractDevice<?, ?> device;
    private final int rows;
    private final int cols;
    private final DType dtype;
    private final long rowStride;
    private final long offset;
    private final AbstractTensor base;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** A contiguous float32 tensor that owns its memory. */
    protected AbstractTensor(AbstractDevice<?, ?> device, int rows, int cols) {
        this(device, rows, cols, DType.FLOAT32, cols, 0, null);
    }

    /**
     * A tensor of {@code dtype} whose element [r, c] lies at {@code offset + r * rowStride + c} of its memory (in
     * elements); {@code base} is the tensor owning that memory (this tensor's root, never a view), or null when this
     * tensor owns it.
     */
    protected AbstractTensor(AbstractDevice<?, ?> device, int rows, int cols, DType dtype, long rowStride, long offset,
                             AbstractTensor base) {
        this.device = device;
        this.rows = rows;
        this.cols = cols;
        this.dtype = dtype;
        this.rowStride = rowStride;
        this.offset = offset;
        this.base = base == null ? null : base.base == null ? base : base.base;
    }

    @Override
    public final DType dtype() {
        return dtype;
    }

    @Override
    public final long rowStride() {
        return rowStride;
    }

    @Override
    public final boolean isContiguous() {
        return rowStride == cols;
    }

    /** Where element [0, 0] lies in the memory this tensor shares with its base, in elements. */
    public final long offset() {
        return offset;
    }

    /** The tensor owning this view's memory; null when this tensor owns its own. */
    public final AbstractTensor base() {
        return base;
    }

    /** Whether this is a view of another tensor's memory. */
    public final boolean isView() {
        return base != null;
    }


    @Override
    public final int rows() {
        return rows;
    }

    @Override
    public final int cols() {
        return cols;
    }

    @Override
    public final Device device() {
        return device;
    }

    @Override
    public final boolean isClosed() {
        return closed.get() || (base != null && base.isClosed());
    }

    @Override
    public final float[] toArray() {
        device.requireUsable(this, "tensor");
        return download();
    }

    @Override
    public final short[] toBits() {
        if (!dtype.isHalf()) {
            throw new IllegalStateException("toBits() needs a BFLOAT16 or FLOAT16 tensor, this one " + shape()
                    + " is " + dtype + "; use toArray()");
        }
        device.requireUsable(this, "tensor");
        return downloadBits();
    }

    @Override
    public final float item() {
        if (rows != 1 || cols != 1) {
            throw new IllegalArgumentException("item() needs a [1, 1] tensor, got " + shape());
        }
        return toArray()[0];
    }

    /** Frees the memory, unless this is a view (which frees nothing). Idempotent. */
    @Override
    public final void close() {
        if (closed.compareAndSet(false, true) && base == null) {
            release();
        }
    }

    /** "[rows, cols]", for messages. */
    public final String shape() {
        return "[" + rows + ", " + cols + "]";
    }

    /** "BFLOAT16 [rows, cols]" (with the row stride when not contiguous), for messages. */
    public final String describe() {
        return dtype + " " + shape() + (isContiguous() ? "" : " (row stride " + rowStride + ")");
    }

    @Override
    public String toString() {
        return "Tensor" + shape() + (dtype == DType.FLOAT32 ? "" : " " + dtype)
                + (isContiguous() ? "" : " stride " + rowStride) + " on " + device.name() + (isClosed() ? " (closed)" : "");
    }

    /** Copies the values back to the host, row-major and packed; called only on an open tensor of an open device. */
    protected abstract float[] download();

    /** {@link #download()}'s twin for half tensors: the raw 16-bit patterns, row-major and packed. */
    protected abstract short[] downloadBits();

    /** Frees the memory; called exactly once. */
    protected abstract void release();
}
