package dev.kullback.cpu;

import dev.kullback.internal.AbstractTensor;

/** A tensor of the {@link CpuDevice}: a row-major float[] on the Java heap. */
public final class CpuTensor extends AbstractTensor {
    private final CpuDevice owner;
    private volatile float[] data;

    CpuTensor(CpuDevice device, float[] data, int rows, int cols) {
        super(device, rows, cols);
        this.owner = device;
        this.data = data;
    }

    /** The live row-major values, not a copy; for the device's kernels. */
    float[] data() {
        float[] d = data;
        if (d == null) {
            throw new IllegalStateException("tensor " + shape() + " is closed");
        }
        return d;
    }

    @Override
    protected float[] download() {
        return data().clone();
    }

    /** Hands the array back to the device's pool (or to the collector); the tensor object keeps nothing. */
    @Override
    protected void release() {
        float[] d = data;
        data = null;
        if (d != null) {
            owner.recycle(d);
        }
    }
}
