package dev.kullback.cuda;

import dev.kullback.internal.AbstractTensor;
import java.lang.ref.Reference;

/**
 * A contiguous row-major float32 matrix in device memory: either owned by its {@link CudaDevice}'s pool (returned
 * there by {@code close()}, or by a Cleaner if the tensor is garbage collected unclosed), or wrapped caller memory
 * ({@link CudaDevice#wrap(long, int, int)}), which kullback never frees: closing it only marks it closed.
 */
public final class CudaTensor extends AbstractTensor {
    private final CudaDevice device;
    private final long address;
    /** The pooled buffer's owner; null for wrapped memory. */
    private final DeviceMemory memory;

    private CudaTensor(CudaDevice device, int rows, int cols, long address, boolean pooled) {
        super(device, rows, cols);
        this.device = device;
        this.address = address;
        this.memory = pooled ? DeviceMemory.tensor(this, device.pool(), address, rows, cols, device.name()) : null;
    }

    /** A tensor that owns {@code address}, a buffer of 4 * rows * cols bytes from the device's pool. */
    static CudaTensor pooled(CudaDevice device, int rows, int cols, long address) {
        return new CudaTensor(device, rows, cols, address, true);
    }

    /** A view of caller memory, never freed by kullback. */
    static CudaTensor wrapped(CudaDevice device, int rows, int cols, long address) {
        return new CudaTensor(device, rows, cols, address, false);
    }

    /** The raw device address of element [0, 0], for passing to the caller's own kernels. */
    public long address() {
        return address;
    }

    /** Whether this tensor is a view of caller memory ({@link CudaDevice#wrap}) rather than kullback's own. */
    public boolean isWrapped() {
        return memory == null;
    }

    long bytes() {
        return 4L * size();
    }

    @Override
    protected float[] download() {
        float[] host = new float[Math.toIntExact(size())];
        try {
            device.gpu().copyToHost(address, host, 0, host.length);
        } finally {
            Reference.reachabilityFence(this); // not collected (and freed) while its memory is being read
        }
        return host;
    }

    @Override
    protected short[] downloadBits() {
        throw new UnsupportedOperationException("half tensors on " + device.name() + " are not in this build yet");
    }

    @Override
    protected void release() {
        if (memory != null) {
            memory.release();
        }
    }
}
