package dev.kullback.internal;

import dev.kullback.Device;
import dev.kullback.Labels;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What every device's labels share. A host copy is kept (labels are one int per row, small next to the
 * logits) so that every call can check them against the number of classes before a kernel reads them.
 */
public abstract class AbstractLabels implements Labels {
    private final AbstractDevice<?, ?> device;
    private final int[] host;
    private final AtomicBoolean closed = new AtomicBoolean();

    protected AbstractLabels(AbstractDevice<?, ?> device, int[] labels) {
        this.device = device;
        this.host = labels.clone();
    }

    @Override
    public final int size() {
        return host.length;
    }

    @Override
    public final Device device() {
        return device;
    }

    @Override
    public final int[] toArray() {
        if (isClosed()) {
            throw new IllegalStateException("labels [" + host.length + "] are closed");
        }
        return host.clone();
    }

    /** The host copy, not to be modified. */
    protected final int[] host() {
        return host;
    }

    @Override
    public final boolean isClosed() {
        return closed.get();
    }

    @Override
    public final void close() {
        if (closed.compareAndSet(false, true)) {
            release();
        }
    }

    /** Throws unless every label is in [0, classes) or equal to {@code ignoreIndex}. */
    final void requireInRange(String argument, int classes, int ignoreIndex) {
        for (int i = 0; i < host.length; i++) {
            int label = host[i];
            if ((label < 0 || label >= classes) && label != ignoreIndex) {
                throw new IllegalArgumentException(argument + "[" + i + "] = " + label + " is not a class in [0, "
                        + classes + ") nor the ignore index " + ignoreIndex);
            }
        }
    }

    /** How many labels are not {@code ignoreIndex}. */
    public final int counted(int ignoreIndex) {
        int count = 0;
        for (int label : host) {
            count += label == ignoreIndex ? 0 : 1;
        }
        return count;
    }

    /** Frees the device copy; called exactly once. */
    protected abstract void release();
}
