package dev.kullback.cpu;

import java.lang.ref.SoftReference;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Arrays of closed tensors, kept for the next tensor of the same size, the way a GPU device keeps freed memory in a
 * pool: a loop that closes its results then allocates nothing in steady state, and skips both the zeroing of a fresh
 * array and the garbage collections its allocation would cause. Only large arrays are kept (small ones are cheap to
 * allocate), at most {@code capacityBytes} in all, and softly, so the collector may still take them under pressure.
 */
final class ArrayPool {
    /** Arrays shorter than this are left to the allocator. */
    static final int MIN_LENGTH = 1 << 16;

    private final long capacityBytes;
    private final Map<Integer, ArrayDeque<SoftReference<float[]>>> free = new HashMap<>();
    private long pooledBytes;

    ArrayPool(long capacityBytes) {
        this.capacityBytes = capacityBytes;
    }

    /** The default capacity: an eighth of the maximum heap, at most 4 GiB. */
    static long defaultCapacity() {
        return Math.min(Runtime.getRuntime().maxMemory() / 8, 4L << 30);
    }

    /** An array of exactly {@code length} values with unspecified contents. */
    float[] take(int length) {
        if (length >= MIN_LENGTH) {
            synchronized (this) {
                ArrayDeque<SoftReference<float[]>> queue = free.get(length);
                while (queue != null && !queue.isEmpty()) {
                    float[] array = queue.pollLast().get();
                    pooledBytes -= 4L * length;
                    if (array != null) {
                        return array;
                    }
                }
            }
        }
        return new float[length];
    }

    /** Keeps {@code array} for a later {@link #take}, if it is large and there is room. */
    void give(float[] array) {
        int length = array.length;
        if (length < MIN_LENGTH) {
            return;
        }
        synchronized (this) {
            if (pooledBytes + 4L * length > capacityBytes) {
                return;
            }
            free.computeIfAbsent(length, n -> new ArrayDeque<>()).addLast(new SoftReference<>(array));
            pooledBytes += 4L * length;
        }
    }

    synchronized void clear() {
        free.clear();
        pooledBytes = 0;
    }
}
