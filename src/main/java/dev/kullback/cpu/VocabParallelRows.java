package dev.kullback.cpu;

import dev.kullback.internal.VocabPass;
import java.util.Arrays;

/**
 * The CPU's three passes of the vocabulary-parallel losses (formulas: kernels/vocab_parallel.cu and
 * {@link VocabPass}), rows in parallel, each row's sums in double and in column order, so that a row's result does
 * not depend on the thread count. Only the shard's class columns are read; padding columns get a 0 gradient.
 */
final class VocabParallelRows {
    private VocabParallelRows() {
    }

    private static int grain(int rows, int cols) {
        return Math.max(1, 16384 / Math.max(1, cols));
    }

    private static boolean ignored(int[] labels, int r, int ignoreIndex) {
        return labels != null && labels[r] == ignoreIndex;
    }

    static void max(Workers workers, VocabPass pass, CpuTensor a, CpuTensor b, CpuTensor maxes) {
        float[] x = a.data();
        float[] t = b == null ? null : b.data();
        float[] m = maxes.data();
        int cols = a.cols();
        int n = pass.classes();
        float invT = pass.invTemperature();
        int width = pass.maxWidth();
        workers.forEach(a.rows(), grain(a.rows(), cols), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                m[r * width] = rowMax(x, r * cols, n, invT);
                if (t != null) {
                    m[r * width + 1] = rowMax(t, r * cols, n, invT);
                }
            }
        });
    }

    /** The maximum of x[base + c] · invT over c < n, NaNs passed over (the sums carry them); -inf when n is 0. */
    private static float rowMax(float[] x, int base, int n, float invT) {
        float m = Float.NEGATIVE_INFINITY;
        for (int c = 0; c < n; c++) {
            m = Math.max(m, Float.isNaN(x[base + c]) ? m : x[base + c] * invT);
        }
        return m;
    }

    static void sums(Workers workers, VocabPass pass, CpuTensor a, CpuTensor b, CpuLabels labels, CpuTensor maxes,
                     CpuTensor sums) {
        float[] x = a.data();
        float[] t = b == null ? null : b.data();
        int[] y = labels == null ? null : labels.data();
        float[] m = maxes.data();
        float[] out = sums.data();
        int cols = a.cols();
        int n = pass.classes();
        int mw = pass.maxWidth();
        int sw = pass.sumWidth();
        float invT = pass.invTemperature();
        workers.forEach(a.rows(), grain(a.rows(), cols), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int base = r * cols;
                int o = r * sw;
                Arrays.fill(out, o, o + sw, 0f);
                if (ignored(y, r, pass.ignoreIndex())) {
                    continue;
                }
                switch (pass.kind()) {
                    case CROSS_ENTROPY: {
                        float mx = m[r * mw];
                        double s = 0;
                        double sz = 0;
                        for (int c = 0; c < n; c++) {
                            s += Math.exp((double) x[base + c] - mx);
                            sz += x[base + c];
                        }
                        long local = (long) y[r] - pass.offset();
                        out[o] = (float) s;
                        out[o + 1] = local >= 0 && local < n ? x[base + (int) local] : 0f;
                        if (sw == 3) {
                            out[o + 2] = (float) sz;
                        }
                        break;
                    }
                    case FORWARD_KL:
                    case REVERSE_KL: {
                        boolean forward = pass.kind() == VocabPass.Kind.FORWARD_KL;
                        float ms = m[r * mw];
                        float mt = m[r * mw + 1];
                        double ss = 0;
                        double st = 0;
                        double d = 0;
                        for (int c = 0; c < n; c++) {
                            double ls = (double) (x[base + c] * invT) - ms;
                            double lt = (double) (t[base + c] * invT) - mt;
                            double es = Math.exp(ls);
                            double et = Math.exp(lt);
                            ss += es;
                            st += et;
                            double e = forward ? et : es;
                            if (e != 0) {
                                d += e * (forward ? lt - ls : ls - lt);
                            }
                        }
                        out[o] = (float) ss;
                        out[o + 1] = (float) st;
                        out[o + 2] = (float) d;
                        break;
                    }
                    default: {
                        float mx = m[r * mw];
                        double s = 0;
                        double sx = 0;
                        for (int c = 0; c < n; c++) {
                            double l = (double) x[base + c] - mx;
                            double e = Math.exp(l);
                            s += e;
                            if (e != 0) {
                                sx += e * l;
                            }
                        }
                        out[o] = (float) s;
                        out[o + 1] = (float) sx;
                    }
                }
            }
        });
    }

    static void write(Workers workers, VocabPass pass, CpuTensor a, CpuTensor b, CpuLabels labels, CpuTensor maxes,
                      CpuTensor sums, CpuTensor grad, CpuTensor rowLoss) {
        float[] x = a.data();
        float[] t = b == null ? null : b.data();
        int[] y = labels == null ? null : labels.data();
        float[] m = maxes.data();
        float[] in = sums.data();
        float[] g = grad.data();
        float[] loss = rowLoss.data();
        int cols = a.cols();
        int n = pass.classes();
        int mw = pass.maxWidth();
        int sw = pass.sumWidth();
        double invT = pass.invTemperature();
        double k = pass.gradScale();
        workers.forEach(a.rows(), grain(a.rows(), cols), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int base = r * cols;
                int o = r * sw;
                Arrays.fill(g, base + n, base + cols, 0f); // padding
                if (ignored(y, r, pass.ignoreIndex())) {
                    Arrays.fill(g, base, base + n, 0f);
                    loss[r] = 0f;
                    continue;
                }
                double value;
                switch (pass.kind()) {
                    case CROSS_ENTROPY: {
                        float mx = m[r * mw];
                        double logS = Math.log(in[o]);
                        double lse = mx + logS;
                        double eps = pass.smoothing();
                        double sz = sw == 3 ? in[o + 2] : 0;
                        value = (1 - eps) * (lse - in[o + 1]) + (eps == 0 ? 0 : eps * (lse - sz / pass.vocabSize()))
                                + pass.zLoss() * lse * lse;
                        if (!Float.isFinite(mx)) {
                            value = Double.NaN;
                        }
                        double pScale = k * (1 + 2 * pass.zLoss() * lse);
                        double uniform = k * eps / pass.vocabSize();
                        for (int c = 0; c < n; c++) {
                            double p = Math.exp((double) x[base + c] - mx - logS);
                            g[base + c] = (float) (p * pScale - uniform);
                        }
                        long local = (long) y[r] - pass.offset();
                        if (local >= 0 && local < n) {
                            g[base + (int) local] -= (float) (k * (1 - eps));
                        }
                        if (!Float.isFinite(mx)) {
                            Arrays.fill(g, base, base + n, Float.NaN);
                        }
                        break;
                    }
                    case FORWARD_KL:
                    case REVERSE_KL: {
                        boolean forward = pass.kind() == VocabPass.Kind.FORWARD_KL;
                        float ms = m[r * mw];
                        float mt = m[r * mw + 1];
                        double logSs = Math.log(in[o]);
                        double logSt = Math.log(in[o + 1]);
                        double kl = forward ? in[o + 2] / in[o + 1] - logSt + logSs
                                : in[o + 2] / in[o] - logSs + logSt;
                        value = kl;
                        for (int c = 0; c < n; c++) {
                            double logQ = ((double) (x[base + c] * (float) invT) - ms) - logSs;
                            double logP = ((double) (t[base + c] * (float) invT) - mt) - logSt;
                            double q = Math.exp(logQ);
                            g[base + c] = (float) (forward ? (q - Math.exp(logP)) * k
                                    : q == 0 ? 0 : q * ((logQ - logP) - kl) * k);
                        }
                        break;
                    }
                    default: {
                        float mx = m[r * mw];
                        double logS = Math.log(in[o]);
                        double h = logS - in[o + 1] / in[o];
                        value = h;
                        for (int c = 0; c < n; c++) {
                            double lp = ((double) x[base + c] - mx) - logS;
                            double p = Math.exp(lp);
                            g[base + c] = (float) (p == 0 ? 0 : -p * (lp + h) * k);
                        }
                    }
                }
                loss[r] = (float) (pass.lossScale() * value);
            }
        });
    }
}
