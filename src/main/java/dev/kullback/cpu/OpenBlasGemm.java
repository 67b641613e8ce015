package dev.kullback.cpu;

import static org.bytedeco.openblas.global.openblas_full.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_full.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_full.CblasTrans;
import static org.bytedeco.openblas.global.openblas_full.cblas_sgemm;
import static org.bytedeco.openblas.global.openblas_full.openblas_set_num_threads;

import dev.kullback.internal.Gemm;
import java.util.IdentityHashMap;
import java.util.Map;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_full;

/**
 * cblas_sgemm of OpenBLAS over CPU tensors. A CPU tensor is a Java array, which JNI can hand to native code only by
 * copying it, so each product copies the part of each operand it touches into native memory (and C back), except the
 * tensors {@link #hold held} for the whole loss (the weight and its gradient, which every chunk's products touch in
 * full): those are copied once, and written back at {@link #close()}. The copies move memory at a small fraction of
 * the products' cost (a chunk of c rows costs c·V·H multiply-adds against c·(H + V) copied values).
 *
 * <p>Threads: OpenBLAS's results depend on how many threads it splits a product across, so it runs single-threaded
 * and the device's own workers split each product instead, into {@link #BLOCKS} blocks of C's rows or columns (the
 * longer side) that depend on the shape alone. Each element of C is computed by one call whatever the thread count,
 * so results are bitwise the same with any number of threads.
 */
final class OpenBlasGemm implements Gemm<CpuTensor> {
    /** Blocks a product is split into (fewer when a side is short), whatever the thread count. */
    static final int BLOCKS = 8;
    /** The fewest rows or columns of C a block gets. */
    static final int MIN_BLOCK = 256;

    private final Map<CpuTensor, Held> held = new IdentityHashMap<>();
    private final FloatPointer[] staging = new FloatPointer[3];
    private final Workers workers;

    OpenBlasGemm(Workers workers) {
        this.workers = workers;
    }

    /** Loads the native library and makes it single-threaded; throws when it cannot. */
    static void load() {
        Loader.load(openblas_full.class);
        openblas_set_num_threads(1);
    }

    private static final class Held {
        final FloatPointer memory;
        boolean written;

        Held(FloatPointer memory) {
            this.memory = memory;
        }
    }

    @Override
    public void hold(CpuTensor t) {
        if (!held.containsKey(t)) {
            float[] data = t.data();
            int n = Math.toIntExact(t.size());
            FloatPointer memory = new FloatPointer(Math.max(1, n));
            memory.put(data, 0, n);
            held.put(t, new Held(memory));
        }
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, CpuTensor a, long aOffset,
                     int lda, CpuTensor b, long bOffset, int ldb, float beta, CpuTensor c, long cOffset, int ldc) {
        if (m == 0 || n == 0) {
            return;
        }
        long aExtent = extent(transA ? k : m, transA ? m : k, lda);
        long bExtent = extent(transB ? n : k, transB ? k : n, ldb);
        long cExtent = extent(m, n, ldc);
        FloatPointer pa = operand(0, a, aOffset, aExtent);
        FloatPointer pb = operand(1, b, bOffset, bExtent);
        FloatPointer pc = operand(2, c, cOffset, cExtent);
        boolean byColumns = n >= m;
        int side = byColumns ? n : m;
        int block = Math.max(MIN_BLOCK, (side + BLOCKS - 1) / BLOCKS);
        int blocks = (side + block - 1) / block;
        workers.forEach(blocks, 1, (b0, b1) -> {
            for (int i = b0; i < b1; i++) {
                int from = i * block;
                int size = Math.min(block, side - from);
                if (byColumns) { // columns [from, from + size) of op(B) and of C
                    product(transA, transB, m, size, k, alpha, pa, 0, lda, pb, transB ? from : (long) from * ldb, ldb,
                            beta, pc, (long) from * ldc, ldc);
                } else { // rows [from, from + size) of op(A) and of C
                    product(transA, transB, size, n, k, alpha, pa, transA ? (long) from * lda : from, lda, pb, 0, ldb,
                            beta, pc, from, ldc);
                }
            }
        });
        Held h = held.get(c);
        if (h != null) {
            h.written = true;
        } else {
            pc.position(0).get(c.data(), Math.toIntExact(cOffset), Math.toIntExact(cExtent));
        }
    }

    private static void product(boolean transA, boolean transB, int m, int n, int k, float alpha, FloatPointer a,
                                long aShift, int lda, FloatPointer b, long bShift, int ldb, float beta, FloatPointer c,
                                long cShift, int ldc) {
        cblas_sgemm(CblasColMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n, k,
                alpha, shifted(a, aShift), lda, shifted(b, bShift), ldb, beta, shifted(c, cShift), ldc);
    }

    /** A pointer {@code shift} floats past {@code p} (a new object: each thread gets its own). */
    private static FloatPointer shifted(FloatPointer p, long shift) {
        return new FloatPointer(p).position(p.position() + shift);
    }

    /** Values spanned by a column-major rows × cols matrix with leading dimension ld. */
    private static long extent(int rows, int cols, int ld) {
        return rows == 0 || cols == 0 ? 0 : (long) (cols - 1) * ld + rows;
    }

    /** The operand in native memory: a held tensor's own copy at the offset, else a staging copy of its extent. */
    private FloatPointer operand(int slot, CpuTensor t, long offset, long extent) {
        Held h = held.get(t);
        if (h != null) {
            return new FloatPointer(h.memory).position(offset);
        }
        FloatPointer p = staging[slot];
        if (p == null || p.capacity() < Math.max(1, extent)) {
            if (p != null) {
                p.close();
            }
            p = new FloatPointer(Math.max(1, extent));
            staging[slot] = p;
        }
        p.position(0).put(t.data(), Math.toIntExact(offset), Math.toIntExact(extent));
        return p.position(0);
    }

    @Override
    public void close() {
        held.forEach((t, h) -> {
            if (h.written) {
                h.memory.position(0).get(t.data(), 0, Math.toIntExact(t.size()));
            }
            h.memory.close();
        });
        held.clear();
        for (int i = 0; i < staging.length; i++) {
            if (staging[i] != null) {
                staging[i].close();
                staging[i] = null;
            }
        }
    }
}
