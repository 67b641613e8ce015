package dev.kullback.internal;

import dev.kullback.Device;
import dev.kullback.Tensor;
import java.util.concurrent.atomic.AtomicBoolean;

/** What every device's tensor shares: its shape, its owner, and an idempotent close. */
public abstract class AbstractTensor implements Tensor {
    private final AbstractDevice<?, ?> device;
    private final int rows;
    private final int cols;
    private final AtomicBoolean closed = new AtomicBoolean();

    protected AbstractTensor(AbstractDevice<?, ?> device, int rows, int cols) {
        this.device = device;
        this.rows = rows;
        this.cols = cols;
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
        return closed.get();
    }

    @Override
    public final float[] toArray() {
        device.requireUsable(this, "tensor");
        return download();
    }

    @Override
    public final float item() {
        if (rows != 1 || cols != 1) {
            throw new IllegalArgumentException("item() needs a [1, 1] tensor, got " + shape());
        }
        return toArray()[0];
    }

    @Override
    public final void close() {
        if (closed.compareAndSet(false, true)) {
            release();
        }
    }

    /** "[rows, cols]", for messages. */
    public final String shape() {
        return "[" + rows + ", " + cols + "]";
    }

    @Override
    public String toString() {
        return "Tensor" + shape() + " on " + device.name() + (isClosed() ? " (closed)" : "");
    }

    /** Copies the values back to the host; called only on an open tensor of an open device. */
    protected abstract float[] download();

    /** Frees the memory; called exactly once. */
    protected abstract void release();
}
