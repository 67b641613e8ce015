package dev.kullback.cpu;

/**
 * A thread's chunk-sized scratch arrays for the in-place gradients: a family whose gradient overwrites its input runs
 * its kernels on a copy of one chunk at a time ([0, n) here standing for [from, from + n) there), which gives the same
 * bits, since a kernel's results depend only on where an element lies relative to the start of its range (see
 * {@link Kernels}), and then copies the chunk's gradient back. So nothing reads an input element after its gradient
 * was written, and the only memory is {@value #ARRAYS} arrays of {@link RowSchedule#CHUNK} values per thread.
 */
final class ChunkScratch {
    static final int ARRAYS = 5;
    private static final ThreadLocal<float[][]> ARRAYS_OF_THREAD =
            ThreadLocal.withInitial(() -> new float[ARRAYS][RowSchedule.CHUNK]);

    private ChunkScratch() {
    }

    /** The calling thread's arrays (each of {@link RowSchedule#CHUNK} values, contents unspecified). */
    static float[][] get() {
        return ARRAYS_OF_THREAD.get();
    }

    /** Copies {@code a[from, from + n)} to {@code into[0, n)} and returns {@code into}. */
    static float[] copy(float[] a, int from, int n, float[] into) {
        System.arraycopy(a, from, into, 0, n);
        return into;
    }
}
