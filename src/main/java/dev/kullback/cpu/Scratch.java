package dev.kullback.cpu;

import java.lang.ref.SoftReference;

/** A thread's scratch row, held softly and reused from one operation to the next. */
final class Scratch {
    private static final ThreadLocal<SoftReference<float[]>> ROW = new ThreadLocal<>();

    private Scratch() {
    }

    /**
     * A scratch array of at least {@code length} values, contents unspecified, reused by the calling thread (one per
     * thread: a thread runs one row at a time, so nothing else uses it meanwhile).
     */
    static float[] row(int length) {
        SoftReference<float[]> ref = ROW.get();
        float[] a = ref == null ? null : ref.get();
        if (a == null || a.length < length) {
            a = new float[length];
            ROW.set(new SoftReference<>(a));
        }
        return a;
    }
}
