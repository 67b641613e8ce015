package dev.kullback.cpu;

import dev.kullback.DType;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one place where the CPU device meets half tensors and views: the family kernels take plain tensors (float32,
 * packed, owning their array), so for one operation {@link #in} hands them a plain copy of any other input (widened,
 * gathered), {@link #out} a plain scratch for any other output, and {@link #close} writes those scratches back
 * (narrowed to nearest even, scattered) and returns every scratch to the pool. A tensor that is both (an in-place
 * gradient) gets one scratch. The kernels see exactly the floats of the same data copied contiguous, so a view's
 * results are the bits of the copy's, and a half result is the float32 result rounded once.
 */
final class CpuStaging implements AutoCloseable {
    private final CpuDevice device;
    private final Map<CpuTensor, Scratch> staged = new IdentityHashMap<>(4);
    private final List<CpuTensor> outputs = new ArrayList<>(2);

    private static final class Scratch {
        final CpuTensor plain;
        boolean filled;

        Scratch(CpuTensor plain) {
            this.plain = plain;
        }
    }

    CpuStaging(CpuDevice device) {
        this.device = device;
    }

    /** {@code t} when plain (or null), else a plain copy of its values. */
    CpuTensor in(CpuTensor t) {
        if (t == null || t.isPlain()) {
            return t;
        }
        Scratch s = scratch(t);
        if (!s.filled) {
            device.copies().copy(t, s.plain);
            s.filled = true;
        }
        return s.plain;
    }

    /** {@code t} when plain (or null), else a plain tensor whose values {@link #close} writes into {@code t}. */
    CpuTensor out(CpuTensor t) {
        if (t == null || t.isPlain()) {
            return t;
        }
        Scratch s = scratch(t);
        if (!outputs.contains(t)) {
            outputs.add(t);
        }
        return s.plain;
    }

    private Scratch scratch(CpuTensor t) {
        return staged.computeIfAbsent(t, k -> new Scratch(device.allocate(k.rows(), k.cols(), DType.FLOAT32)));
    }

    /** Writes the outputs back, then frees every scratch. */
    @Override
    public void close() {
        try {
            for (CpuTensor t : outputs) {
                device.copies().copy(staged.get(t).plain, t);
            }
        } finally {
            for (Scratch s : staged.values()) {
                s.plain.close();
            }
        }
    }
}
