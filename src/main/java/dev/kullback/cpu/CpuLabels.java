package dev.kullback.cpu;

import dev.kullback.internal.AbstractLabels;

/** Labels on the CPU: the host copy is all there is. */
final class CpuLabels extends AbstractLabels {
    CpuLabels(CpuDevice device, int[] labels) {
        super(device, labels);
    }

    /** The labels, not to be modified. */
    int[] data() {
        return host();
    }

    @Override
    protected void release() {
        // the array goes with the object
    }
}
