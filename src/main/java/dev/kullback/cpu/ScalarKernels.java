package dev.kullback.cpu;

/**
 * The portable kernels: plain Java loops, {@link Math#exp} and {@link Math#log} in double rounded to float, sums in
 * double. HotSpot computes {@code Math.exp}/{@code Math.log} with the same stubs in the interpreter and in compiled
 * code, so results do not change when a loop gets compiled.
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
        return (float) Math.exp(x);
    }

    /** xlogy(t, t): 0 for t == 0 (either sign), t * log(t) otherwise (NaN for t < 0 or NaN). */
    static float xlogx(float t) {
        return t == 0f ? 0f : t * (float) Math.log(t);
    }

    @Override
    public float max(float[] a, int from, int to) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = from; i < to; i++) {
            m = Math.max(m, a[i]);
        }
        return m;
    }

    @Override
    public double sumExpStore(float[] a, int from, int to, float m, float[] out) {
        double s = 0;
        for (int i = from; i < to; i++) {
            double e = Math.exp(a[i] - m);
            out[i] = (float) e;
            s += e;
        }
        return s;
    }

    @Override
    public void logSoftmaxWrite(float[] a, int from, int to, float m, float logSum, float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = (a[i] - m) - logSum;
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
        double s = 0;
        for (int i = from; i < to; i++) {
            s += (float) Math.exp((a[i] - m) * invT);
        }
        return s;
    }

    @Override
    public double sumExpScaledStore(float[] a, int from, int to, float m, float invT, float[] out) {
        double s = 0;
        for (int i = from; i < to; i++) {
            float e = (float) Math.exp((a[i] - m) * invT);
            out[i] = e;
            s += e;
        }
        return s;
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
    public void expDiffWrite(float[] a, int from, int to, float ma, float invT, float aScale, float outScale,
                             float k, float[] out) {
        for (int i = from; i < to; i++) {
            out[i] = k * ((float) Math.exp((a[i] - ma) * invT) * aScale - out[i] * outScale);
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
}
