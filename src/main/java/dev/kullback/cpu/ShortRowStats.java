package dev.kullback.cpu;

/**
 * Softmax statistics of short rows, by row index ({@link Kernels#softmaxStatsShortRows}): each row's max, S = Σ
 * exp((x - max) / T), log S and 1 / S.
 */
record ShortRowStats(float[] max, float[] sum, float[] logSum, float[] invSum) {
    ShortRowStats(int rows) {
        this(new float[rows], new float[rows], new float[rows], new float[rows]);
    }
}
