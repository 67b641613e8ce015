package dev.kullback.cpu;

import dev.kullback.DType;
import dev.kullback.internal.HalfFloats;

/**
 * The inner loops of the CPU device: each method works on one contiguous range {@code [from, to)} of row-major
 * arrays that share their indexing (all operands have the same shape). {@link RowSchedule} decides how a tensor is cut
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

    /**
     * Log-softmax statistics of {@code a[from, to)} in one read: a reference {@code m[slot]} (the range's maximum, or
     * a value at most {@link #LOG_STATS_HEADROOM} below it) and {@code s[slot] = Σ exp(a[i] - m[slot])}. A NaN or
     * +inf in the range makes the sum NaN (or the reference NaN or +inf); an all -inf range gives -inf and 0.
     */
    void logStats(float[] a, int from, int to, float[] m, double[] s, int slot);

    /**
     * {@code out[w + j] = (a[w + j] - wm) - wLogSum} and {@link #logStats} of {@code a[from, from + n)} for j in
     * [0, n), in one loop, so that the write's memory traffic overlaps the statistics' exps (one row's write with the
     * next row's statistics). The statistics have the same bits as {@link #logStats} gives.
     */
    void logSoftmaxWriteAndStats(float[] a, float[] out, int w, float wm, float wLogSum, int from, int n, float[] m,
                                 double[] s, int slot);

    /** How far above the reference of {@link #logStats} a value may be before the sums are rescaled to it. */
    float LOG_STATS_HEADROOM = 16f;

    // ---- bf16 storage: the float32 kernels on the widened values, results rounded to nearest even ----------------

    /**
     * {@link #logStats} of the bf16 values {@code a[from, to)} (at most {@link RowSchedule#CHUNK}), the same bits as on
     * their float32 widening. Here through a chunk of scratch; the vector kernels widen in registers.
     */
    default void logStatsBf16(short[] a, int from, int to, float[] m, double[] s, int slot) {
        float[] x = ChunkScratch.get()[0];
        HalfFloats.toFloat(DType.BFLOAT16, a, from, x, 0, to - from);
        logStats(x, 0, to - from, m, s, slot);
    }

    /** {@code out[to + j] = bf16((a[from + j] - m) - logSum)} for j in [0, n), rounded to nearest even. */
    default void logSoftmaxWriteBf16(short[] a, int from, short[] out, int to, int n, float m, float logSum) {
        for (int j = 0; j < n; j++) {
            out[to + j] = HalfFloats.floatToBf16((HalfFloats.bf16ToFloat(a[from + j]) - m) - logSum);
        }
    }

    // ---- short rows: several whole rows per call ----------------------------------------------------

    /**
     * Rows of at most this many values take the short-row kernels: on them the per-row horizontal work (lane sums, a
     * log, one-read statistics' bookkeeping) costs as much as the exps, and a row fits in L1 for three passes.
     */
    int SHORT_ROW = 1024;

    /** Whether [*, cols] takes the short-row kernels. */
    static boolean shortRows(int cols) {
        return cols > 0 && cols <= SHORT_ROW;
    }

    /**
     * Log-softmax of rows [r0, r1) of [*, cols] ({@link #shortRows}): out = (x - max) - log Σ exp(x - max), each row's
     * result a function of that row alone (whichever range it falls in). A row holding NaN or +inf, or only -inf, is
     * NaN throughout; -inf entries of a finite row give -inf.
     */
    void logSoftmaxShortRows(float[] a, float[] out, int r0, int r1, int cols);

    /** Softmax of rows [r0, r1), as {@link #logSoftmaxShortRows}: -inf entries of a finite row give 0. */
    void softmaxShortRows(float[] a, float[] out, int r0, int r1, int cols);

    /**
     * The softmax statistics of rows [r0, r1) for a loss ({@link #shortRows}): stores exp((x - max) · invT) in
     * {@code out} (entry i at {@code i - outOff}) and, by row index, each row's max, S = Σ of those exps, log S and
     * 1 / S. A row holding NaN or +inf, or only -inf, has a max that is not finite; its other values are then
     * unspecified.
     */
    void softmaxStatsShortRows(float[] a, float invT, float[] out, int outOff, int r0, int r1, int cols,
                               ShortRowStats stats);

    /** The log-softmax backward of rows [r0, r1): out = g - exp(y) · Σ_row g. */
    void logSoftmaxBackwardShortRows(float[] g, float[] y, float[] out, int r0, int r1, int cols);

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

    // ---- losses (see the Cpu<Family> classes) ------------------------------------------------------

    /** Σ exp((a[i] - m) * invT), for a finite {@code m} that is the range's maximum and invT > 0. */
    double sumExpScaled(float[] a, int from, int to, float m, float invT);

    /**
     * As {@link #sumExpScaled}, and stores {@code out[i - outOff] = exp((a[i] - m) * invT)} ({@code out} indexed from
     * {@code outOff}: the output itself with 0, or a scratch row with the row's start).
     */
    double sumExpScaledStore(float[] a, int from, int to, float m, float invT, float[] out, int outOff);

    /** Σ over the i with {@code w[i] != 0} of {@code w[i] * ((a[i] - ma) - (b[i] - mb))} (xlogy: 0 where w is 0). */
    double weightedDiff(float[] w, float[] a, float ma, float[] b, float mb, int from, int to);

    /** Σ over the i with {@code w[i] != 0} of {@code w[i] * (a[i] - ma)}. */
    double weightedOffset(float[] w, float[] a, float ma, int from, int to);

    /** out[i] = k * (e[i - eOff] * eScale - out[i] * outScale): a difference of two stored, scaled exps. */
    void scaledDiffWrite(float[] e, int eOff, int from, int to, float eScale, float outScale, float k, float[] out);

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

    /** Σ w[i - wOff] * t[i] * z[i]. */
    double dot3Offset(float[] w, int wOff, float[] t, float[] z, int from, int to);

    /** out[i] = out[i] * a - b * w[i - wOff] * (e1 * t[i] + e0): the soft-target cross-entropy gradient. */
    void softTargetWrite(float[] w, int wOff, float[] t, int from, int to, float a, float b, float e1, float e0,
                         float[] out);

    /**
     * Keras's KL: with t' = clip(t, 1e-7, 1), q' = clip(q, 1e-7, 1), writes out[i] = -k t'/q' where
     * 1e-7 <= q <= 1 (else 0) and returns Σ t' log(t' / q').
     */
    double kerasKl(float[] t, float[] q, int from, int to, float k, float[] out);

    /**
     * The diagonal Gaussian KL of each element (mu2, lv2 null: the standard normal), its gradients times k written to
     * the given outputs (gMu2, gLv2 null when mu2 is); returns the sum of the elements' KL.
     */
    double gaussianKl(float[] mu1, float[] lv1, float[] mu2, float[] lv2, int from, int to, float k, float[] gMu1,
                      float[] gLv1, float[] gMu2, float[] gLv2);

    // ---- two-distribution losses (jsd, symmetric KL): F = softmax(f), G = softmax(g) ----

    /**
     * The gradients of KL(F || G) for both logits. With F = outF[i] * scF, G = outG[i] * scG (stored exps):
     * outG[i] = kG * (G - F); outF[i] = F == 0 ? 0 : kF * F * (((f[i] - mf) - (g[i] - mg)) + c).
     */
    void klPairWrite(float[] f, float mf, float[] g, float mg, int from, int to, float c, float scF, float scG,
                     float kF, float kG, float[] outF, float[] outG);

    /**
     * The gradients of KL(F || G) + KL(G || F). With F, G as in {@link #klPairWrite} and
     * d = ((f[i] - mf) - (g[i] - mg)) + c: outF[i] = k * ((F == 0 ? 0 : F * (d + aF)) - G),
     * outG[i] = k * ((G == 0 ? 0 : G * (aG - d)) - F).
     */
    void symKlWrite(float[] f, float mf, float[] g, float mg, int from, int to, float c, float scF, float scG,
                    float aF, float aG, float k, float[] outF, float[] outG);

    /**
     * The generalized JSD's mixture: stores F = outF[i] * scF, G = outG[i] * scG, and
     * lm[i - lmOff] = log(max(b F + b1 G, MIN_NORMAL)) (the only loop with a log: the sums and the write read it).
     */
    void jsdMix(int from, int to, float scF, float scG, float b, float b1, float[] outF, float[] outG, float[] lm,
                int lmOff);

    /**
     * The generalized JSD's row sums over the stored F = pf[i], G = pg[i] and lm (see {@link #jsdMix}): writes
     * Σ F (((f - mf) - lf) - lm) (0 where F == 0) into sums[at] and the same of G into sums[at + 1].
     */
    void jsdSums(float[] f, float mf, float lf, float[] g, float mg, float lg, int from, int to, float[] lm, int lmOff,
                 float[] pf, float[] pg, double[] sums, int at);

    /**
     * The generalized JSD's gradients over the stored F = outF[i], G = outG[i] and lm (see {@link #jsdMix}):
     * outF[i] = F == 0 ? 0 : kF * F * ((((f - mf) - lf) - lm) - cF), outG likewise.
     */
    void jsdWrite(float[] f, float mf, float lf, float[] g, float mg, float lg, int from, int to, float[] lm,
                  int lmOff, float kF, float cF, float kG, float cG, float[] outF, float[] outG);
}
