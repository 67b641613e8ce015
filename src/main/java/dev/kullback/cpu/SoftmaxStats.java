package dev.kullback.cpu;

import java.util.Arrays;

/**
 * Online-softmax statistics of chunks: each chunk's maximum and Σ exp((x - max) / T), merged per row in chunk order
 * into the row's maximum M and S = Σ_c s_c exp((m_c - M) / T). One type for every softmax-based family (T = 1 but
 * for distillation); the merge is exact in the sense that a chunk at the row maximum has weight exactly 1.
 */
record SoftmaxStats(float[] max, double[] sum) {
    SoftmaxStats(int n) {
        this(new float[n], new double[n]);
    }

    /**
     * Chunk i: its maximum, and Σ exp(a - max) with the exps stored in {@code o} (zeros for an all -inf chunk, and sum
     * 0; a chunk holding NaN or +inf has a maximum that is not finite: see {@link #rowSum}).
     */
    void store(Kernels kernels, float[] a, float[] o, int from, int to, int i) {
        float mc = kernels.max(a, from, to);
        max[i] = mc;
        if (Float.isFinite(mc)) {
            sum[i] = kernels.sumExpStore(a, from, to, mc, o);
        } else {
            sum[i] = 0;
            Arrays.fill(o, from, to, 0f);
        }
    }

    /** The exps {@link #store} stored for chunk i, again into {@code o} (an in-place gradient's recomputation). */
    void restore(Kernels kernels, float[] a, float[] o, int from, int to, int i) {
        if (Float.isFinite(max[i])) {
            kernels.sumExpStore(a, from, to, max[i], o);
        } else {
            Arrays.fill(o, from, to, 0f);
        }
    }

    /** The row maximum from chunks [first, first + chunks), NaN if any is NaN. */
    float rowMax(int first, int chunks) {
        float m = Float.NEGATIVE_INFINITY;
        for (int c = first; c < first + chunks; c++) {
            m = Math.max(m, max[c]);
        }
        return m;
    }

    /**
     * For rows of {@code chunks} consecutive chunks each: row r's maximum into {@code rowMax[r]} and log Σ exp(x - max)
     * (T = 1) into {@code rowLogSum[r]}, once per row (the log-softmax write then subtracts them).
     */
    void rowLogSums(int rows, int chunks, float[] rowMax, float[] rowLogSum) {
        for (int r = 0; r < rows; r++) {
            rowMax[r] = rowMax(r * chunks, chunks);
            rowLogSum[r] = (float) Math.log(rowSum(r * chunks, chunks, rowMax[r], 1f));
        }
    }

    /** exp((m_c - M) / T): 1 for a chunk at the row maximum, 0 for an all -inf chunk. */
    double weight(int c, float rowMax, float invT) {
        float m = max[c];
        if (m == Float.NEGATIVE_INFINITY) {
            return 0;
        }
        double d = (double) m - rowMax;
        return d == 0 ? 1.0 : Math.exp(d * invT);
    }

    /** Σ over the row, from the chunks in order; NaN if the row maximum is not finite. */
    double rowSum(int first, int chunks, float rowMax, float invT) {
        if (!Float.isFinite(rowMax)) {
            return Double.NaN;
        }
        double s = 0;
        for (int c = first; c < first + chunks; c++) {
            if (max[c] != Float.NEGATIVE_INFINITY) {
                s += weight(c, rowMax, invT) * sum[c];
            }
        }
        return s;
    }

    /** The factor that turns chunk c's stored exps into probabilities: weight / S. */
    float scale(int c, float rowMax, double rowSum, float invT) {
        return max[c] == Float.NEGATIVE_INFINITY ? 0f : (float) (weight(c, rowMax, invT) / rowSum);
    }
}
