package dev.kullback.cpu;

import dev.kullback.internal.VocabPass;
import java.lang.ref.SoftReference;
import java.util.Arrays;

/**
 * The CPU's three passes of the vocabulary-parallel losses (formulas: kernels/vocab_parallel.cu and
 * {@link VocabPass}), rows in parallel, each row on the device's {@link Kernels} (the Vector API where available), so
 * a row's result does not depend on the thread count. Only the shard's class columns are read; padding columns get
 * a 0 gradient. The sums pass stores one input's exps in the gradient row (the all-reduce only changes the row's
 * normalizers), so the write pass scales them instead of taking the exps again.
 */
final class VocabParallelRows {
    /** Values per unit of parallel work, at least one row. */
    private static final int GRAIN_VALUES = 16384;
    /** A thread's scratch row for the exps of distillation's second input, held softly. */
    private static final ThreadLocal<SoftReference<float[]>> SCRATCH = new ThreadLocal<>();

    private VocabParallelRows() {
    }

    static void max(CpuDevice device, VocabPass pass, CpuTensor a, CpuTensor b, CpuTensor maxes) {
        try (CpuStaging s = new CpuStaging(device)) {
            max(device.workers(), device.kernels(), pass, s.in(a), s.in(b), s.out(maxes));
        }
    }

    static void sums(CpuDevice device, VocabPass pass, CpuTensor a, CpuTensor b, CpuLabels labels, CpuTensor maxes,
                     CpuTensor sums, CpuTensor grad) {
        try (CpuStaging s = new CpuStaging(device)) {
            sums(device.workers(), device.kernels(), pass, s.in(a), s.in(b), labels, s.out(maxes), s.out(sums),
                    s.out(grad));
        }
    }

    static void write(CpuDevice device, VocabPass pass, CpuTensor a, CpuTensor b, CpuLabels labels, CpuTensor maxes,
                      CpuTensor sums, CpuTensor grad, CpuTensor rowLoss) {
        try (CpuStaging s = new CpuStaging(device)) {
            write(device.workers(), device.kernels(), pass, s.in(a), s.in(b), labels, s.out(maxes), s.out(sums),
                    s.out(grad), s.out(rowLoss));
        }
    }

    private static int grain(int cols) {
        return Math.max(1, GRAIN_VALUES / Math.max(1, cols));
    }

    private static boolean ignored(int[] labels, int r, int ignoreIndex) {
        return labels != null && labels[r] == ignoreIndex;
    }

    private static float[] scratch(int length) {
        SoftReference<float[]> ref = SCRATCH.get();
        float[] a = ref == null ? null : ref.get();
        if (a == null || a.length < length) {
            a = new float[length];
            SCRATCH.set(new SoftReference<>(a));
        }
        return a;
    }

    /** maxes[r, i] = the maximum of input i's classes in row r (any NaN gives NaN; -inf when the shard has none). */
    static void max(Workers workers, Kernels k, VocabPass pass, CpuTensor a, CpuTensor b, CpuTensor maxes) {
        float[] x = a.data();
        float[] t = b == null ? null : b.data();
        float[] m = maxes.data();
        int cols = a.cols();
        int n = pass.classes();
        int width = pass.maxWidth();
        workers.forEach(a.rows(), grain(cols), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                m[r * width] = k.max(x, r * cols, r * cols + n);
                if (t != null) {
                    m[r * width + 1] = k.max(t, r * cols, r * cols + n);
                }
            }
        });
    }

    static void sums(Workers workers, Kernels k, VocabPass pass, CpuTensor a, CpuTensor b, CpuLabels labels,
                     CpuTensor maxes, CpuTensor sums, CpuTensor grad) {
        float[] x = a.data();
        float[] t = b == null ? null : b.data();
        int[] y = labels == null ? null : labels.data();
        float[] m = maxes.data();
        float[] out = sums.data();
        float[] g = grad.data();
        int cols = a.cols();
        int n = pass.classes();
        int mw = pass.maxWidth();
        int sw = pass.sumWidth();
        float invT = pass.invTemperature();
        workers.forEach(a.rows(), grain(cols), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int from = r * cols;
                int to = from + n;
                int o = r * sw;
                Arrays.fill(out, o, o + sw, 0f);
                if (ignored(y, r, pass.ignoreIndex())) {
                    continue;
                }
                float m0 = m[r * mw];
                switch (pass.kind()) {
                    case CROSS_ENTROPY: {
                        out[o] = (float) k.sumExpStore(x, from, to, m0, g);
                        long local = (long) y[r] - pass.offset();
                        out[o + 1] = local >= 0 && local < n ? x[from + (int) local] : 0f;
                        if (sw == 3) {
                            out[o + 2] = (float) k.sum(x, from, to);
                        }
                        break;
                    }
                    case FORWARD_KL: { // the teacher's exps stay in g
                        float mt = m[r * mw + 1];
                        out[o] = (float) k.sumExpScaled(x, from, to, m0, invT);
                        out[o + 1] = (float) k.sumExpScaledStore(t, from, to, mt, invT, g, 0);
                        out[o + 2] = (float) (invT * k.weightedDiff(g, t, mt, x, m0, from, to));
                        break;
                    }
                    case REVERSE_KL: { // the student's exps stay in g
                        float mt = m[r * mw + 1];
                        out[o] = (float) k.sumExpScaledStore(x, from, to, m0, invT, g, 0);
                        out[o + 1] = (float) k.sumExpScaled(t, from, to, mt, invT);
                        out[o + 2] = (float) (invT * k.weightedDiff(g, x, m0, t, mt, from, to));
                        break;
                    }
                    default: {
                        out[o] = (float) k.sumExpStore(x, from, to, m0, g);
                        out[o + 1] = (float) k.weightedOffset(g, x, m0, from, to);
                    }
                }
            }
        });
    }

    static void write(Workers workers, Kernels k, VocabPass pass, CpuTensor a, CpuTensor b, CpuLabels labels,
                      CpuTensor maxes, CpuTensor sums, CpuTensor grad, CpuTensor rowLoss) {
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
        float invT = pass.invTemperature();
        double kg = pass.gradScale();
        workers.forEach(a.rows(), grain(cols), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int from = r * cols;
                int to = from + n;
                int o = r * sw;
                Arrays.fill(g, to, from + cols, 0f); // padding
                if (ignored(y, r, pass.ignoreIndex())) {
                    Arrays.fill(g, from, to, 0f);
                    loss[r] = 0f;
                    continue;
                }
                float m0 = m[r * mw];
                double value;
                switch (pass.kind()) {
                    case CROSS_ENTROPY: { // g holds exp(z - M)
                        double s = in[o];
                        double lse = m0 + Math.log(s);
                        double eps = pass.smoothing();
                        double sz = sw == 3 ? in[o + 2] : 0;
                        value = (1 - eps) * (lse - in[o + 1]) + (eps == 0 ? 0 : eps * (lse - sz / pass.vocabSize()))
                                + pass.zLoss() * lse * lse;
                        if (!Float.isFinite(m0)) {
                            value = Double.NaN;
                            Arrays.fill(g, from, to, Float.NaN);
                            break;
                        }
                        k.scaleSub(g, from, to, (float) (kg * (1 + 2 * pass.zLoss() * lse) / s),
                                (float) (kg * eps / pass.vocabSize()));
                        long local = (long) y[r] - pass.offset();
                        if (local >= 0 && local < n) {
                            g[from + (int) local] -= (float) (kg * (1 - eps));
                        }
                        break;
                    }
                    case FORWARD_KL: { // g holds the teacher's exps; grad = k (Q - P)
                        double ss = in[o];
                        double st = in[o + 1];
                        value = in[o + 2] / st - Math.log(st) + Math.log(ss);
                        float[] es = scratch(n);
                        k.sumExpScaledStore(x, from, to, m0, invT, es, from);
                        k.scaledDiffWrite(es, from, from, to, (float) (1 / ss), (float) (1 / st), (float) kg, g);
                        break;
                    }
                    case REVERSE_KL: { // g holds the student's exps; grad = k Q ((log Q - log P) - KL)
                        float mt = m[r * mw + 1];
                        double ss = in[o];
                        double st = in[o + 1];
                        double kl = in[o + 2] / ss - Math.log(ss) + Math.log(st);
                        value = kl;
                        k.xlogyGrad(x, m0, t, mt, from, to, invT, (float) (Math.log(st) - Math.log(ss) - kl),
                                (float) (1 / ss), (float) kg, g);
                        break;
                    }
                    default: { // g holds exp(z - M); grad = -k p (log p + H)
                        double s = in[o];
                        double logS = Math.log(s);
                        double h = logS - in[o + 1] / s;
                        value = h;
                        k.xlogyGrad(x, m0, from, to, (float) (h - logS), (float) (1 / s), (float) -kg, g);
                    }
                }
                loss[r] = (float) (pass.lossScale() * value);
            }
        });
    }
}
