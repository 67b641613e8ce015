package dev.kullback;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * PyTorch autograd of the compositions the fused linear losses replace, float32, on the same data: {@code logits =
 * hidden @ weight.T (+ bias)} then {@code F.cross_entropy} (plus the z-loss, as {@link TorchOracle#crossEntropy}
 * adds it) or the distillation KL of the log-softmaxes (as {@link TorchOracle#distillation}), with an optional soft
 * cap {@code cap · tanh(logits / cap)} between. {@code grads} are those of hidden, weight and bias (if any) / of the
 * student's hidden and weight.
 */
final class TorchLinearOracle {
    private static final Object LOCK = new Object();

    static {
        torch.set_num_threads(1);
    }

    private TorchLinearOracle() {
    }

    static TorchOracle.LossOut crossEntropy(float[] hidden, float[] weight, float[] bias, int rows, int h, int v,
                                            int[] labels, float[] classWeights, Reduction reduction, int ignoreIndex,
                                            float smoothing, float zLoss, float softCap) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor x = leaf(hidden, rows, h);
                Tensor w = leaf(weight, v, h);
                Tensor b = bias == null ? null : leaf(bias, 1, v);
                Tensor logits = x.matmul(w.t());
                if (b != null) {
                    logits = logits.add(b);
                }
                Tensor value = crossEntropy(cap(logits, softCap), rows, v, labels, classWeights, reduction,
                        ignoreIndex, smoothing, zLoss);
                return finish(value, b == null ? new Tensor[] {x, w} : new Tensor[] {x, w, b});
            }
        }
    }

    /** {@code cross_entropy(cap · tanh(logits / cap), ...)}: the gradient is the logits'. */
    static TorchOracle.LossOut crossEntropyOfLogits(float[] logits, int rows, int v, int[] labels, Reduction reduction,
                                                    float smoothing, float zLoss, float softCap) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor z = leaf(logits, rows, v);
                return finish(crossEntropy(cap(z, softCap), rows, v, labels, null, reduction, -100, smoothing, zLoss),
                        z);
            }
        }
    }

    /** {@code T² kl_div} of the capped logits (both capped), gradient the student's. */
    static TorchOracle.LossOut distillationOfLogits(float[] s, float[] t, int rows, int v, float temperature,
                                                    boolean reverse, Reduction reduction, float softCap) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor student = leaf(s, rows, v);
                Tensor value = distillation(cap(student, softCap), cap(tensor(t, rows, v), softCap), rows, v,
                        temperature, reverse, reduction, null, -100);
                return finish(value, student);
            }
        }
    }

    private static Tensor crossEntropy(Tensor logits, int rows, int v, int[] labels, float[] classWeights,
                                       Reduction reduction, int ignoreIndex, float smoothing, float zLoss) {
        long[] target = new long[rows];
        for (int i = 0; i < rows; i++) {
            target[i] = labels[i];
        }
        TensorOptional cw = classWeights == null ? new TensorOptional()
                : new TensorOptional(tensor(classWeights, 1, v).view(v));
        long red = reduction == Reduction.NONE ? torch.Reduction.None.value
                : reduction == Reduction.SUM ? torch.Reduction.Sum.value : torch.Reduction.Mean.value;
        Tensor value = torch.cross_entropy_loss(logits, longs(target), cw, red, ignoreIndex, smoothing);
        if (zLoss != 0) {
            float[] mask = new float[rows];
            int kept = 0;
            for (int r = 0; r < rows; r++) {
                mask[r] = labels[r] == ignoreIndex ? 0 : 1;
                kept += labels[r] == ignoreIndex ? 0 : 1;
            }
            Tensor lse = torch.logsumexp(logits, new long[] {1}, false);
            Tensor z = lse.pow(new Scalar(2.0)).mul(new Scalar((double) zLoss)).mul(tensor(mask, 1, rows).view(rows));
            value = value.add(reduction == Reduction.NONE ? z : reduction == Reduction.SUM ? z.sum()
                    : z.sum().div(new Scalar((long) kept)));
        }
        return value;
    }

    static TorchOracle.LossOut distillation(float[] sh, float[] sw, float[] th, float[] tw, int rows, int hs, int ht,
                                            int v, float temperature, boolean reverse, Reduction reduction,
                                            int[] labels, int ignoreIndex, float softCap) {
        return distillation(sh, sw, th, tw, rows, hs, ht, v, temperature, reverse, reduction, labels, ignoreIndex,
                softCap, 0f, 1f);
    }

    /**
     * {@code weightHard · cross_entropy(student logits, labels) + weightSoft · KD}, the CE reduced as the KD is (SUM:
     * sum; MEAN, BATCHMEAN: mean over the kept rows; NONE: per row, 0 for an ignored one).
     */
    static TorchOracle.LossOut distillation(float[] sh, float[] sw, float[] th, float[] tw, int rows, int hs, int ht,
                                            int v, float temperature, boolean reverse, Reduction reduction,
                                            int[] labels, int ignoreIndex, float softCap, float weightHard,
                                            float weightSoft) {
        synchronized (LOCK) {
            try (PointerScope scope = new PointerScope()) {
                Tensor x = leaf(sh, rows, hs);
                Tensor w = leaf(sw, v, hs);
                Tensor student = cap(x.matmul(w.t()), softCap);
                Tensor teacher = cap(tensor(th, rows, ht).matmul(tensor(tw, v, ht).t()), softCap);
                Tensor value = distillation(student, teacher, rows, v, temperature, reverse, reduction, labels,
                        ignoreIndex);
                if (weightHard != 0) {
                    Reduction ce = reduction == Reduction.BATCHMEAN ? Reduction.MEAN : reduction;
                    value = value.mul(new Scalar((double) weightSoft)).add(crossEntropy(student, rows, v, labels, null,
                            ce, ignoreIndex, 0f, 0f).mul(new Scalar((double) weightHard)));
                }
                return finish(value, x, w);
            }
        }
    }

    private static Tensor distillation(Tensor student, Tensor teacher, int rows, int v, float temperature,
                                       boolean reverse, Reduction reduction, int[] labels, int ignoreIndex) {
        Scalar temp = new Scalar((double) temperature);
        Tensor ls = torch.log_softmax(student.div(temp), 1);
        Tensor lt = torch.log_softmax(teacher.div(temp), 1);
        Tensor pointwise = reverse ? torch.kl_div(lt, ls, torch.Reduction.None.value, true)
                : torch.kl_div(ls, lt.exp(), torch.Reduction.None.value, false);
        Tensor rowLoss = pointwise.sum(new long[] {1}, false, new ScalarTypeOptional())
                .mul(new Scalar((double) temperature * temperature));
        float[] mask = new float[rows];
        int kept = 0;
        for (int r = 0; r < rows; r++) {
            boolean counted = labels == null || labels[r] != ignoreIndex;
            mask[r] = counted ? 1 : 0;
            kept += counted ? 1 : 0;
        }
        Tensor masked = rowLoss.mul(tensor(mask, 1, rows).view(rows));
        if (reduction == Reduction.NONE) {
            return masked;
        }
        double divisor = reduction == Reduction.MEAN ? (double) kept * v : reduction == Reduction.BATCHMEAN ? kept : 1;
        return masked.sum().div(new Scalar(divisor));
    }

    private static Tensor cap(Tensor logits, float softCap) {
        if (softCap == 0) {
            return logits;
        }
        Scalar c = new Scalar((double) softCap);
        return torch.tanh(logits.div(c)).mul(c);
    }

    private static TorchOracle.LossOut finish(Tensor value, Tensor... inputs) {
        Tensor scalar = value.dim() == 0 ? value : value.sum();
        scalar.backward();
        float[][] grads = new float[inputs.length][];
        for (int i = 0; i < inputs.length; i++) {
            grads[i] = read(inputs[i].grad());
        }
        return new TorchOracle.LossOut(read(value), grads);
    }

    private static Tensor leaf(float[] data, int rows, int cols) {
        Tensor t = tensor(data, rows, cols);
        t.set_requires_grad(true);
        return t;
    }

    private static Tensor tensor(float[] data, int rows, int cols) {
        Tensor t = torch.empty(new long[] {rows, cols}, new TensorOptions(torch.ScalarType.Float),
                new MemoryFormatOptional());
        t.data_ptr_float().put(data, 0, data.length);
        return t;
    }

    private static Tensor longs(long[] values) {
        Tensor t = torch.empty(new long[] {values.length}, new TensorOptions(torch.ScalarType.Long),
                new MemoryFormatOptional());
        t.data_ptr_long().put(values, 0, values.length);
        return t;
    }

    private static float[] read(Tensor t) {
        Tensor c = t.detach().contiguous();
        float[] out = new float[Math.toIntExact(c.numel())];
        c.data_ptr_float().get(out, 0, out.length);
        return out;
    }
}
