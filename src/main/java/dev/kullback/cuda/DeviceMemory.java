package dev.kullback.cuda;

import java.lang.System.Logger.Level;
import java.lang.ref.Cleaner;

/**
 * One pooled device buffer owned by a tensor or labels, returned to its pool exactly once: by {@code close()}, or,
 * when the owner is garbage collected without it, by a {@link Cleaner}, which also logs the leak. The cleaning
 * action holds only the pool, the address, the size and a description, never the owner (that would keep the owner
 * reachable, and it would never be cleaned). Returning memory to a closed device's pool does nothing (the device
 * freed it all when it closed), so a leak collected after its device closed is safe.
 */
final class DeviceMemory {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final System.Logger LOG = System.getLogger("dev.kullback");

    private final Reclaim reclaim;
    private final Cleaner.Cleanable cleanable;

    private DeviceMemory(Object owner, MemoryPool pool, long address, long bytes, String kind, String shape,
                         String device) {
        this.reclaim = new Reclaim(pool, address, bytes, kind, shape, device);
        this.cleanable = CLEANER.register(owner, reclaim);
    }

    /** Registers a tensor of the given shape as holding a pooled buffer of {@code bytes}. */
    static DeviceMemory tensor(CudaTensor owner, MemoryPool pool, long address, long bytes, String shape,
                               String device) {
        return new DeviceMemory(owner, pool, address, bytes, "a CUDA tensor", shape, device);
    }

    /** Registers labels as holding a pooled buffer of 4 * size bytes. */
    static DeviceMemory labels(CudaLabels owner, MemoryPool pool, long address, int size, String device) {
        return new DeviceMemory(owner, pool, address, 4L * size, "CUDA labels", "[" + size + "]", device);
    }

    /** Returns the buffer now (the owner was closed): no log, and the Cleaner will not run again. */
    void release() {
        reclaim.closed = true;
        cleanable.clean();
    }

    /** The cleaning action: refers to no tensor, only to what freeing needs. */
    private static final class Reclaim implements Runnable {
        private final MemoryPool pool;
        private final long address;
        private final long bytes;
        private final String kind;
        private final String shape;
        private final String device;
        volatile boolean closed;

        Reclaim(MemoryPool pool, long address, long bytes, String kind, String shape, String device) {
            this.pool = pool;
            this.address = address;
            this.bytes = bytes;
            this.kind = kind;
            this.shape = shape;
            this.device = device;
        }

        private String what() {
            return kind + " " + shape + " on " + device;
        }

        @Override
        public void run() {
            if (!closed) {
                leaked();
            }
            try {
                pool.release(address, bytes);
            } catch (RuntimeException e) {
                // on the Cleaner's thread nobody can catch it: say so rather than lose it
                LOG.log(Level.WARNING, "kullback could not return the leaked " + what() + " to its pool", e);
            }
        }

        private void leaked() {
            int count = pool.leaked();
            String message = what() + " (" + bytes + " bytes) leaked: it was garbage collected without close(); "
                    + "kullback returned its device memory to the pool. Close tensors, labels and losses "
                    + "(try-with-resources) to free device memory when it is no longer needed, not when the GC runs";
            if (count == 1) {
                LOG.log(Level.WARNING, message + " (further leaks of this device are logged at DEBUG and counted by "
                        + "CudaDevice.leaks())");
            } else {
                LOG.log(Level.DEBUG, message);
            }
        }
    }
}
