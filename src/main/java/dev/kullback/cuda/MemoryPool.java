package dev.kullback.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Device memory reused by exact size, so a training loop that calls the same ops on the same shapes
 * allocates nothing after its first step. Exact sizes (rather than size classes) keep every allocation's
 * end where the simulator's guard page can see an overrun. Work runs on one stream, so a buffer returned
 * here may be handed out again at once: its next user is queued after its last one.
 */
final class MemoryPool {
    /** Idle memory kept beyond this is given back to the driver. */
    private static final long MAX_POOLED_BYTES = 1L << 30;

    private final Gpu gpu;
    private final Map<Long, ArrayDeque<Long>> idle = new HashMap<>();
    private long liveBytes;
    private long peakLiveBytes;
    private long pooledBytes;
    private long deviceAllocations;
    private int leaks;
    private boolean closed;

    MemoryPool(Gpu gpu) {
        this.gpu = gpu;
    }

    /** A buffer of at least {@code bytes} (a multiple of 4), from the pool when one of that size is idle. */
    synchronized long acquire(long bytes) {
        if (closed) {
            throw new IllegalStateException("the device's memory pool is closed");
        }
        ArrayDeque<Long> sameSize = idle.get(bytes);
        long address;
        if (sameSize != null && !sameSize.isEmpty()) {
            address = sameSize.pop();
            pooledBytes -= bytes;
        } else {
            address = allocate(bytes);
        }
        liveBytes += bytes;
        peakLiveBytes = Math.max(peakLiveBytes, liveBytes);
        return address;
    }

    synchronized void release(long address, long bytes) {
        if (closed) {
            return; // the device is gone, and its memory with it
        }
        liveBytes -= bytes;
        if (pooledBytes + bytes > MAX_POOLED_BYTES) {
            gpu.synchronize(); // its last user may still be queued
            gpu.free(address);
            return;
        }
        idle.computeIfAbsent(bytes, b -> new ArrayDeque<>()).push(address);
        pooledBytes += bytes;
    }

    /** Bytes handed out and not yet released. */
    synchronized long liveBytes() {
        return liveBytes;
    }

    /** Most bytes handed out at once since the last {@link #resetPeak()}. */
    synchronized long peakLiveBytes() {
        return peakLiveBytes;
    }

    synchronized void resetPeak() {
        peakLiveBytes = liveBytes;
    }

    /** Bytes idle in the pool. */
    synchronized long pooledBytes() {
        return pooledBytes;
    }

    /** How many times the pool has asked the driver for memory. */
    synchronized long deviceAllocations() {
        return deviceAllocations;
    }

    /** Counts a buffer whose owner was garbage collected without close(); returns the count so far. */
    synchronized int leaked() {
        return ++leaks;
    }

    /** How many owners were garbage collected without close(). */
    synchronized int leaks() {
        return leaks;
    }

    /** Frees every idle buffer; live ones stay with their tensors. */
    synchronized void trim() {
        gpu.synchronize();
        idle.values().forEach(addresses -> addresses.forEach(gpu::free));
        idle.clear();
        pooledBytes = 0;
    }

    synchronized void close() {
        if (!closed) {
            trim();
            closed = true;
        }
    }

    private long allocate(long bytes) {
        deviceAllocations++;
        try {
            return gpu.malloc(bytes);
        } catch (CudaException e) {
            if (pooledBytes == 0) {
                throw e;
            }
            trim(); // idle buffers of other sizes may be what stands in the way
            return gpu.malloc(bytes);
        }
    }
}
