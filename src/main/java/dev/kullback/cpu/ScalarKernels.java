package dev.kullback.cpu;

/**
 * The portable kernels: plain Java loops, sums in double. The hot loops (max, the softmax exps and their sums) are
 * written for C2: no call per element it cannot inline ({@link ScalarMath#exp}, plain float arithmetic with fma,
 * rather than the {@code Math.exp} stub), and independent accumulators so that iterations overlap. The rest use
 * {@link Math#exp} and {@link Math#log} in double rounded to float; HotSpot computes them with the same stubs in the
 * interpreter and in compiled code, so results do not change when a loop gets compiled. Every result is a function of
 * the range alone (and elementwise ones of the element alone), as {@link Kernels} requires.
 */
final class ScalarKernels implements Kernels {
    static final ScalarKernels INSTANCE = new ScalarKernels();

    private ScalarKernels() {
    }

    @Override
    public String description() {
        return "scalar";
    }

    @Override
    public boolean isVectorized() {
        return false;
    }

    static float exp(float x) {
        return ScalarMath.exp(x);
    }

    /** xlogy(t, t): 0 for t == 0 (either sign), t * log(t) otherwise (NaN for t < 0 or NaN). */
    static float xlogx(float t) {
        return t == 0f ? 0f : t * (float) Math.log(t);
    }

    @Override
    public float max(float[] a, int from, int to) {
        // four maxima, so that iterations overlap; max is exact, so any grouping gives the same bits
        float m0 = Float.NEGATIVE_INFINITY, m1 = m0, m2 = m0, m3 = m0;
        int i = from;
        for (; i + 3 < to; i += 4) {
            m0 = Math.max(m0, a[i]);
            m1 = Math.max(m1, a[i + 1]);
            m2 = Math.max(m2, a[i + 2]);
            m3 = Math.max(m3, a[i + 3]);
        }
        for (; i < to; i++) {
            m0 = Math.max(m0, a[i]);
        }
        return Math.max(Math.max(m0, m1), Math.max(m2, m3));
    }

    @Override
    public double sumExpStore(float[] a, int from, int to, float m, float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = ScalarMath.exp(a[i] - m);
        }
        return sum(out, from, to);
    }

    @Override
    public void logSoftmaxWrite(float[] a, int from, int to, float m, float logSum, float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = (a[i] - m) - logSum;
        }
    }

    @Override
    public void logStats(float[] a, int from, int to, float[] m, double[] s, int slot) {
        float max = max(a, from, to);
        m[slot] = max;
        s[slot] = Float.isFinite(max) ? sumExp(a, from, to, max) : max == Float.NEGATIVE_INFINITY ? 0 : Double.NaN;
    }

    private static double sumExp(float[] a, int from, int to, float m) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = from;
        for (; i + 3 < to; i += 4) {
            s0 += ScalarMath.exp(a[i] - m);
            s1 += ScalarMath.exp(a[i + 1] - m);
            s2 += ScalarMath.exp(a[i + 2] - m);
            s3 += ScalarMath.exp(a[i + 3] - m);
        }
        for (; i < to; i++) {
            s0 += ScalarMath.exp(a[i] - m);
        }
        return (s0 + s1) + (s2 + s3);
    }

    @Override
    public void logSoftmaxWriteAndStats(float[] a, float[] out, int w, float wm, float wLogSum, int from, int n,
                                        float[] m, double[] s, int slot) {
        logSoftmaxWrite(a, w, w + n, wm, wLogSum, out);
        logStats(a, from, from + n, m, s, slot);
    }

    @Override
    public void logSoftmaxShortRows(float[] a, float[] out, int r0, int r1, int cols) {
        for (int r = r0; r < r1; r++) {
            int from = r * cols;
            int to = from + cols;
            float m = max(a, from, to);
            float logSum = Float.isFinite(m) ? (float) Math.log(sumExp(a, from, to, m)) : Float.NaN;
            logSoftmaxWrite(a, from, to, m, logSum, out);
        }
    }

    @Override
    public void softmaxShortRows(float[] a, float[] out, int r0, int r1, int cols) {
        for (int r = r0; r < r1; r++) {
            int from = r * cols;
            int to = from + cols;
            float m = max(a, from, to);
            if (Float.isFinite(m)) {
                scale(out, from, to, (float) (1.0 / sumExpStore(a, from, to, m, out)));
            } else {
                java.util.Arrays.fill(out, from, to, Float.NaN);
            }
        }
    }

    @Override
    public void softmaxStatsShortRows(float[] a, float invT, float[] out, int outOff, int r0, int r1, int cols,
                                      ShortRowStats stats) {
        for (int r = r0; r < r1; r++) {
            int from = r * cols;
            int to = from + cols;
            float m = max(a, from, to);
            stats.max()[r] = m;
            if (Float.isFinite(m)) {
                double s = sumExpScaledStore(a, from, to, m, invT, out, outOff);
                stats.sum()[r] = (float) s;
                stats.logSum()[r] = (float) Math.log(s);
                stats.invSum()[r] = (float) (1.0 / s);
            }
        }
    }

    @Override
    public void logSoftmaxBackwardShortRows(float[] g, float[] y, float[] out, int r0, int r1, int cols) {
        for (int r = r0; r < r1; r++) {
            int from = r * cols;
            logSoftmaxBackward(g, y, from, from + cols, (float) sum(g, from, from + cols), out);
        }
    }

    @Override
    public void scale(float[] a, int from, int to, float s) {
        for (int i = from; i < to; i++) {
            a[i] *= s;
        }
    }

    @Override
    public double sum(float[] a, int from, int to) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = from;
        for (; i + 3 < to; i += 4) {
            s0 += a[i];
            s1 += a[i + 1];
            s2 += a[i + 2];
            s3 += a[i + 3];
        }
        for (; i < to; i++) {
            s0 += a[i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    @Override
    public void logSoftmaxBackward(float[] g, float[] y, int from, int to, float gSum, float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = g[i] - exp(y[i]) * gSum;
        }
    }

    static float klDiv(float x, float t) {
        return xlogx(t) - t * x;
    }

    static float klDivLogTarget(float x, float t) {
        return exp(t) * (t - x);
    }

    @Override
    public void klDiv(float[] x, float[] t, int from, int to, float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = klDiv(x[i], t[i]);
        }
    }

    @Override
    public void klDivLogTarget(float[] x, float[] t, int from, int to, float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = klDivLogTarget(x[i], t[i]);
        }
    }

    @Override
    public double klDivSum(float[] x, float[] t, int from, int to) {
        double s0 = 0, s1 = 0;
        int i = from;
        for (; i + 1 < to; i += 2) {
            s0 += klDiv(x[i], t[i]);
            s1 += klDiv(x[i + 1], t[i + 1]);
        }
        if (i < to) {
            s0 += klDiv(x[i], t[i]);
        }
        return s0 + s1;
    }

    @Override
    public double klDivSumLogTarget(float[] x, float[] t, int from, int to) {
        double s0 = 0, s1 = 0;
        int i = from;
        for (; i + 1 < to; i += 2) {
            s0 += klDivLogTarget(x[i], t[i]);
            s1 += klDivLogTarget(x[i + 1], t[i + 1]);
        }
        if (i < to) {
            s0 += klDivLogTarget(x[i], t[i]);
        }
        return s0 + s1;
    }

    @Override
    public void klDivBackward(float g, float[] t, int from, int to, float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = -(g * t[i]);
        }
    }

    @Override
    public void klDivBackwardLogTarget(float g, float[] t, int from, int to, float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = -(g * exp(t[i]));
        }
    }

    @Override
    public void klDivBackward(float[] g, float[] t, int from, int to, float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = -(g[i] * t[i]);
        }
    }

    @Override
    public void klDivBackwardLogTarget(float[] g, float[] t, int from, int to, float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = -(g[i] * exp(t[i]));
        }
    }

    // ---- losses -------------------------------------------------------------------------------

    @Override
    public double sumExpScaled(float[] a, int from, int to, float m, float invT) {
        double s0 = 0, s1 = 0;
        int i = from;
        for (; i + 1 < to; i += 2) {
            s0 += ScalarMath.exp((a[i] - m) * invT);
            s1 += ScalarMath.exp((a[i + 1] - m) * invT);
        }
        if (i < to) {
            s0 += ScalarMath.exp((a[i] - m) * invT);
        }
        return s0 + s1;
    }

    @Override
    public double sumExpScaledStore(float[] a, int from, int to, float m, float invT, float[] out, int outOff) {
        for (int i = from; i < to; i++) {
            out[i - outOff] = ScalarMath.exp((a[i] - m) * invT);
        }
        return sum(out, from - outOff, to - outOff);
    }

    @Override
    public double weightedDiff(float[] w, float[] a, float ma, float[] b, float mb, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            if (w[i] != 0f) {
                s += w[i] * ((a[i] - ma) - (b[i] - mb));
            }
        }
        return s;
    }

    @Override
    public double weightedOffset(float[] w, float[] a, float ma, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            if (w[i] != 0f) {
                s += w[i] * (a[i] - ma);
            }
        }
        return s;
    }

    @Override
    public void scaledDiffWrite(float[] e, int eOff, int from, int to, float eScale, float outScale, float k,
                                float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = k * (e[i - eOff] * eScale - out[i] * outScale);
        }
    }

    @Override
    public void xlogyGrad(float[] a, float ma, float[] b, float mb, int from, int to, float invT, float c, float sc,
                          float k, float[] out) {
        for (int i = from; i < to; i++) {
            float p = out[i] * sc;
            out[i] = p == 0f ? 0f : k * p * (((a[i] - ma) - (b[i] - mb)) * invT + c);
        }
    }

    @Override
    public void xlogyGrad(float[] a, float ma, int from, int to, float c, float sc, float k, float[] out) {
        for (int i = from; i < to; i++) {
            float p = out[i] * sc;
            out[i] = p == 0f ? 0f : k * p * ((a[i] - ma) + c);
        }
    }

    @Override
    public void scaleSub(float[] out, int from, int to, float a, float b) {
        for (int i = from; i < to; i++) {
            out[i] = out[i] * a - b;
        }
    }

    @Override
    public void scaleSubWeighted(float[] w, int wOff, int from, int to, float a, float b, float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = out[i] * a - b * w[i - wOff];
        }
    }

    @Override
    public double dotOffset(float[] w, int wOff, float[] z, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            s += w[i - wOff] * z[i];
        }
        return s;
    }

    @Override
    public double dot3Offset(float[] w, int wOff, float[] t, float[] z, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            s += w[i - wOff] * t[i] * z[i];
        }
        return s;
    }

    @Override
    public void softTargetWrite(float[] w, int wOff, float[] t, int from, int to, float a, float b, float e1, float e0,
                                float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = out[i] * a - b * w[i - wOff] * (e1 * t[i] + e0);
        }
    }

    static final float KERAS_EPS = 1e-7f;

    static float clip(float x) {
        float y = x < KERAS_EPS ? KERAS_EPS : x;
        return y > 1f ? 1f : y;
    }

    @Override
    public double kerasKl(float[] t, float[] q, int from, int to, float k, float[] out) {
        double s = 0;
        for (int i = from; i < to; i++) {
            float tc = clip(t[i]);
            float qc = clip(q[i]);
            float ratio = tc / qc;
            out[i] = q[i] >= KERAS_EPS && q[i] <= 1f ? -k * ratio : q[i] != q[i] ? Float.NaN : 0f;
            s += tc * (float) Math.log(ratio);
        }
        return s;
    }

    @Override
    public double gaussianKl(float[] mu1, float[] lv1, float[] mu2, float[] lv2, int from, int to, float k,
                             float[] gMu1, float[] gLv1, float[] gMu2, float[] gLv2) {
        return gaussianKlLoop(mu1, lv1, mu2, lv2, from, to, k, gMu1, gLv1, gMu2, gLv2);
    }

    /** Plain Java, in double per element; the vector kernels use it too (it is not a hot path of training). */
    static double gaussianKlLoop(float[] mu1, float[] lv1, float[] mu2, float[] lv2, int from, int to, float k,
                                 float[] gMu1, float[] gLv1, float[] gMu2, float[] gLv2) {
        double s = 0;
        if (mu2 == null) {
            for (int i = from; i < to; i++) {
                double m = mu1[i];
                double v = lv1[i];
                double e = Math.exp(v);
                s += 0.5 * (e + m * m - 1 - v);
                gMu1[i] = (float) (k * m);
                gLv1[i] = (float) (k * 0.5 * (e - 1));
            }
            return s;
        }
        for (int i = from; i < to; i++) {
            double d = (double) mu1[i] - mu2[i];
            double v1 = lv1[i];
            double v2 = lv2[i];
            double inv2 = Math.exp(-v2);
            double e1 = Math.exp(v1);
            double ratio = (e1 + d * d) * inv2;
            s += 0.5 * (v2 - v1 + ratio - 1);
            double gm = k * d * inv2;
            gMu1[i] = (float) gm;
            gMu2[i] = (float) -gm;
            gLv1[i] = (float) (k * 0.5 * (Math.exp(v1 - v2) - 1));
            gLv2[i] = (float) (k * 0.5 * (1 - ratio));
        }
        return s;
    }

    // ---- two-distribution losses --------------------------------------------------------------

    @Override
    public void klPairWrite(float[] f, float mf, float[] g, float mg, int from, int to, float c, float scF, float scG,
                            float kF, float kG, float[] outF, float[] outG) {
        for (int i = from; i < to; i++) {
            float pf = outF[i] * scF;
            float pg = outG[i] * scG;
            outG[i] = kG * (pg - pf);
            outF[i] = pf == 0f ? 0f : kF * pf * (((f[i] - mf) - (g[i] - mg)) + c);
        }
    }

    @Override
    public void symKlWrite(float[] f, float mf, float[] g, float mg, int from, int to, float c, float scF, float scG,
                           float aF, float aG, float k, float[] outF, float[] outG) {
        for (int i = from; i < to; i++) {
            float pf = outF[i] * scF;
            float pg = outG[i] * scG;
            float d = ((f[i] - mf) - (g[i] - mg)) + c;
            outF[i] = ((pf == 0f ? 0f : pf * (d + aF)) - pg) * k;
            outG[i] = ((pg == 0f ? 0f : pg * (aG - d)) - pf) * k;
        }
    }

    @Override
    public void jsdMix(int from, int to, float scF, float scG, float b, float b1, float[] outF, float[] outG,
                       float[] lm, int lmOff) {
        for (int i = from; i < to; i++) {
            float pf = outF[i] * scF;
            float pg = outG[i] * scG;
            outF[i] = pf;
            outG[i] = pg;
            lm[i - lmOff] = (float) Math.log(Math.max(pf * b + pg * b1, Float.MIN_NORMAL));
        }
    }

    @Override
    public void jsdSums(float[] f, float mf, float lf, float[] g, float mg, float lg, int from, int to, float[] lm,
                        int lmOff, float[] pf, float[] pg, double[] sums, int at) {
        double sf = 0;
        double sg = 0;
        for (int i = from; i < to; i++) {
            float m = lm[i - lmOff];
            if (pf[i] != 0f) {
                sf += pf[i] * (((f[i] - mf) - lf) - m);
            }
            if (pg[i] != 0f) {
                sg += pg[i] * (((g[i] - mg) - lg) - m);
            }
        }
        sums[at] = sf;
        sums[at + 1] = sg;
    }

    @Override
    public void jsdWrite(float[] f, float mf, float lf, float[] g, float mg, float lg, int from, int to, float[] lm,
                         int lmOff, float kF, float cF, float kG, float cG, float[] outF, float[] outG) {
        for (int i = from; i < to; i++) {
            float pf = outF[i];
            float pg = outG[i];
            float m = lm[i - lmOff];
            outF[i] = pf == 0f ? 0f : kF * pf * ((((f[i] - mf) - lf) - m) - cF);
            outG[i] = pg == 0f ? 0f : kG * pg * ((((g[i] - mg) - lg) - m) - cG);
        }
    }
}
