package dev.kullback.cuda;

import dev.kullback.internal.AbstractLabels;

/**
 * Labels as int32 in device memory (from the device's pool), with the host copy the checks use. Returned to the
 * pool by {@code close()}, or by a Cleaner if the labels are garbage collected unclosed.
 */
final class CudaLabels extends AbstractLabels {
    private final long address;
    private final DeviceMemory memory;

    CudaLabels(CudaDevice device, int[] labels, long address) {
        this(device, labels, address, true);
    }

    private CudaLabels(CudaDevice device, int[] labels, long address, boolean pooled) {
        super(device, labels);
        this.address = address;
        this.memory = pooled ? DeviceMemory.labels(this, device.pool(), address, labels.length, device.name()) : null;
    }

    /** Labels over memory owned by other labels (a range of them): closing it frees nothing. */
    static CudaLabels view(CudaDevice device, int[] labels, long address) {
        return new CudaLabels(device, labels, address, false);
    }

    long address() {
        return address;
    }

    long bytes() {
        return 4L * size();
    }

    @Override
    protected void release() {
        if (memory != null) {
            memory.release();
        }
    }
}
