package dev.kullback.cpu;

/**
 * The inner loops of the CPU device: each method works on one contiguous range {@code [from, to)} of row-major
 * arrays that share their indexing (all operands have the same shape). {@link CpuDevice} decides how a tensor is cut
 * into ranges and in which order partial results are combined; a kernel only has to be deterministic for a given
 * range, and every elementwise result must be independent of where a range starts and ends, so that any split of a
 * pointwise operation across threads gives the same bits.
 *
 * <p>Each method holds at most one loop with an exp or a log, and kl_div has a method per target kind rather than a
 * flag: C2 stops inlining once a compilation grows past a node budget (NodeCountInliningCutoff), and a Vector API
 * helper left out of line boxes its vectors, which makes a loop ten times slower. One heavy loop per method keeps
 * every compilation of a kernel well inside the budget.
 *
 * <p>Two implementations, after Apache Lucene's {@code internal/vectorization}: {@link ScalarKernels}, plain Java that
 * runs everywhere, and {@code PanamaKernels} on the JDK Vector API ({@code jdk.incubator.vector}), loaded by
 * {@link KernelsProvider} only when that module is present and usable.
 */
interface Kernels {
    /** Short description for {@link CpuDevice#name()}, e.g. "scalar" or "AVX-512 512-bit vectors". */
    String description();

    /** Whether this implementation runs on the Vector API. */
    boolean isVectorized();

    /** The largest value of {@code a[from, to)}, with {@link Math#max} semantics: any NaN gives NaN; -inf if empty. */
    float max(float[] a, int from, int to);

    /** Σ exp(a[i] - m), for a finite {@code m} that is the range's maximum; stores {@code out[i] = exp(a[i] - m)}. */
    double sumExpStore(float[] a, int from, int to, float m, float[] out);

    /** out[i] = (a[i] - m) - logSum. */
    void logSoftmaxWrite(float[] a, int from, int to, float m, float logSum, float[] out);

    /** a[i] = a[i] * s. */
    void scale(float[] a, int from, int to, float s);

    /** Σ a[i]. */
    double sum(float[] a, int from, int to);

    /** out[i] = g[i] - exp(y[i]) * gSum: the log-softmax backward of one row, given that row's Σ g. */
    void logSoftmaxBackward(float[] g, float[] y, int from, int to, float gSum, float[] out);

    /** out[i] = xlogy(t, t) - t * x: pointwise kl_div of probabilities ({@code t == 0} gives 0, or NaN for x = -inf). */
    void klDiv(float[] x, float[] t, int from, int to, float[] out);

    /** out[i] = exp(t) * (t - x): pointwise kl_div of log-probabilities. */
    void klDivLogTarget(float[] x, float[] t, int from, int to, float[] out);

    /** Σ xlogy(t, t) - t * x over the range. */
    double klDivSum(float[] x, float[] t, int from, int to);

    /** Σ exp(t) * (t - x) over the range. */
    double klDivSumLogTarget(float[] x, float[] t, int from, int to);

    /** out[i] = -(g * t[i]). */
    void klDivBackward(float g, float[] t, int from, int to, float[] out);

    /** out[i] = -(g * exp(t[i])). */
    void klDivBackwardLogTarget(float g, float[] t, int from, int to, float[] out);

    /** out[i] = -(g[i] * t[i]). */
    void klDivBackward(float[] g, float[] t, int from, int to, float[] out);

    /** out[i] = -(g[i] * exp(t[i])). */
    void klDivBackwardLogTarget(float[] g, float[] t, int from, int to, float[] out);

    // ---- losses (see CpuDevice's loss section) -----------------------------------------------------

    /** Σ exp((a[i] - m) * invT), for a finite {@code m} that is the range's maximum and invT > 0. */
    double sumExpScaled(float[] a, int from, int to, float m, float invT);

    /** As {@link #sumExpScaled}, and stores {@code out[i] = exp((a[i] - m) * invT)}. */
    double sumExpScaledStore(float[] a, int from, int to, float m, float invT, float[] out);

    /** Σ over the i with {@code w[i] != 0} of {@code w[i] * ((a[i] - ma) - (b[i] - mb))} (xlogy: 0 where w is 0). */
    double weightedDiff(float[] w, float[] a, float ma, float[] b, float mb, int from, int to);

    /** Σ over the i with {@code w[i] != 0} of {@code w[i] * (a[i] - ma)}. */
    double weightedOffset(float[] w, float[] a, float ma, int from, int to);

    /** out[i] = k * (exp((a[i] - ma) * invT) * aScale - out[i] * outScale). */
    void expDiffWrite(float[] a, int from, int to, float ma, float invT, float aScale, float outScale, float k,
                      float[] out);

    /** p = out[i] * sc; out[i] = p == 0 ? 0 : k * p * (((a[i] - ma) - (b[i] - mb)) * invT + c). */
    void xlogyGrad(float[] a, float ma, float[] b, float mb, int from, int to, float invT, float c, float sc, float k,
                   float[] out);

    /** p = out[i] * sc; out[i] = p == 0 ? 0 : k * p * ((a[i] - ma) + c). */
    void xlogyGrad(float[] a, float ma, int from, int to, float c, float sc, float k, float[] out);

    /** out[i] = out[i] * a - b. */
    void scaleSub(float[] out, int from, int to, float a, float b);

    /** out[i] = out[i] * a - b * w[i - wOff] ({@code w} indexed from {@code wOff}: one row of class weights). */
    void scaleSubWeighted(float[] w, int wOff, int from, int to, float a, float b, float[] out);

    /** Σ w[i - wOff] * z[i]. */
    double dotOffset(float[] w, int wOff, float[] z, int from, int to);
}
