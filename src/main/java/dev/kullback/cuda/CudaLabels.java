package dev.kullback.cuda;

import dev.kullback.internal.AbstractLabels;

/** Labels as int32 in device memory (from the device's pool), with the host copy the checks use. */
final class CudaLabels extends AbstractLabels {
    private final CudaDevice device;
    private final long address;

    CudaLabels(CudaDevice device, int[] labels, long address) {
        super(device, labels);
        this.device = device;
        this.address = address;
    }

    long address() {
        return address;
    }

    long bytes() {
        return 4L * size();
    }

    @Override
    protected void release() {
        device.pool().release(address, bytes());
    }
}
