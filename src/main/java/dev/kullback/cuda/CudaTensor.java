package dev.kullback.cuda;

import dev.kullback.internal.AbstractTensor;

/** A contiguous row-major float32 matrix in device memory, owned by its {@link CudaDevice}'s pool. */
public final class CudaTensor extends AbstractTensor {
    private final CudaDevice device;
    private final long address;

    CudaTensor(CudaDevice device, int rows, int cols, long address) {
        super(device, rows, cols);
        this.device = device;
        this.address = address;
    }

    /** The raw device address of element [0, 0], for passing to the caller's own kernels. */
    public long address() {
        return address;
    }

    long bytes() {
        return 4L * size();
    }

    @Override
    protected float[] download() {
        float[] host = new float[Math.toIntExact(size())];
        device.gpu().copyToHost(address, host, 0, host.length);
        return host;
    }

    @Override
    protected void release() {
        device.pool().release(address, bytes());
    }
}
