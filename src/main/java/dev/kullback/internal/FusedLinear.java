package dev.kullback.internal;

import dev.kullback.Reduction;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The fused linear losses, written once for every device over its {@link Gemm} and its fused loss hooks. Rows are
 * taken a chunk at a time, in order: the chunk's logits = hidden[chunk] · Wᵀ (+ bias) by one product; the device's
 * fused loss writes the chunk's row losses and logit gradient G (unscaled: the loss of a sum of rows; either loss
 * writes it over the chunk's logits); then
 * grad_hidden[chunk] = s · G · W, grad_W += s · Gᵀ · hidden[chunk] and grad_bias += s · colsum(G), where s is the
 * reduction's scale over ALL rows (computed first, so chunking never changes what a row weighs). The row losses are
 * kept ([rows, 1]) and reduced once at the end by the device's deterministic sum. Memory beyond the inputs and the
 * results: the chunk's logits (the loss writes its gradient over them; a separate gradient only with a soft cap),
 * O(rows + vocabulary) besides.
 *
 * <p>Column-major view (see {@link Gemm}): a row-major [r, c] tensor is the c × r matrix with leading dimension c, so
 * logitsᵀ (V × c) = W_cm(H × V)ᵀ · hidden_cm(H × c), grad_hiddenᵀ (H × c) = W_cm(H × V) · Gᵀ(V × c),
 * grad_Wᵀ (H × V) += hidden_cm(H × c) · G_cm(V × c)ᵀ, grad_bias (V × 1) += G_cm(V × c) · ones(c × 1).
 *
 * <p>Half precision (bf16/fp16 hidden states and weights) would enter here: a Gemm taking the inputs' type with
 * float32 compute and accumulation (cublasGemmEx), everything else unchanged.
 */
final class FusedLinear<T extends AbstractTensor, L extends AbstractLabels> {
    private final AbstractDevice<T, L> device;
    private final List<T> scratch = new ArrayList<>();
    /** Whether the value is each row's loss ([rows, 1], reduction NONE) rather than their reduction. */
    private final boolean perRow;
    /** Whether the chunk's loss may write its gradient over its logits (set by the loss that can). */
    private boolean inPlace;

    FusedLinear(AbstractDevice<T, L> device, boolean perRow) {
        this.device = device;
        this.perRow = perRow;
    }

    /** What the cross-entropy of one chunk needs besides its logits and labels. */
    static final class CeOptions<T> {
        T classWeights;
        int ignoreIndex;
        float smoothing;
        float zLoss;
        float softCap;
        Reduction reduction;
    }

    /**
     * Cross-entropy: MEAN is SUM divided by W (the counted rows' class weights); its z-loss, averaged over the N counted
     * rows instead, is passed to the chunks as zLoss · W / N so that one scale 1 / W serves both terms.
     */
    void crossEntropy(T hidden, T weight, T bias, L labels, CeOptions<T> o, int chunkRows, T value, T gradHidden,
                      T gradWeight, T gradBias) {
        int[] y = labels.host();
        int counted = 0;
        double total = 0;
        float[] w = o.classWeights == null ? null : o.classWeights.toArray();
        for (int label : y) {
            if (label != o.ignoreIndex) {
                counted++;
                total += w == null ? 1.0 : w[label];
            }
        }
        boolean mean = o.reduction == Reduction.MEAN;
        float divisor = mean ? (float) total : 1f;
        float zLoss = mean && o.zLoss != 0 && counted > 0 ? (float) (o.zLoss * total / counted) : o.zLoss;
        float scale = divisor == 0 ? 0f : 1f / divisor;
        inPlace = true; // the fused cross-entropy reads each logit before it writes its gradient (see Device docs)
        run(hidden, weight, bias, y.length, chunkRows, value, divisor, scale, o.softCap, gradHidden, gradWeight,
                gradBias,
                (logits, first, rows, rowLoss, grad) -> {
                    L chunkLabels = device.labelRange(labels, first, Arrays.copyOfRange(y, first, first + rows));
                    try {
                        device.crossEntropyInto(logits, chunkLabels, o.classWeights, Reduction.NONE, o.ignoreIndex,
                                o.smoothing, zLoss, rowLoss, grad);
                    } finally {
                        chunkLabels.close();
                    }
                }, null);
    }

    /** Distillation: the teacher's chunk logits come from its own product; the gradient is the student's. */
    /**
     * Distillation: the teacher's chunk logits come from its own product; the gradient is the student's. With a hard
     * loss, each chunk's gradient is {@code a · G_kd + b · G_ce} (a = weightSoft / KD divisor, b = weightHard / CE
     * divisor), combined by one product with a [c, c] identity (exact but for the one rounding of a · x + b · y), and
     * the row losses likewise; the run's own scale is then 1.
     */
    void distillation(T studentHidden, T studentWeight, T teacherHidden, T teacherWeight, L labels, int ignoreIndex,
                      float temperature, boolean reverse, Reduction reduction, float softCap, float weightHard,
                      float weightSoft, int chunkRows, T value, T gradHidden, T gradWeight) {
        int rows = studentHidden.rows();
        int vocabulary = studentWeight.rows();
        int[] y = labels == null ? null : labels.host();
        long counted = labels == null ? rows : labels.counted(ignoreIndex);
        float divisor = reduction == Reduction.MEAN ? (float) ((double) counted * vocabulary)
                : reduction == Reduction.BATCHMEAN ? counted : 1f;
        boolean mixed = weightHard != 0f; // checked: weightSoft is 1 without a hard loss
        float ceDivisor = reduction == Reduction.MEAN || reduction == Reduction.BATCHMEAN ? counted : 1f;
        float a = divisor == 0 ? 0f : weightSoft / divisor;
        float b = weightHard == 0f ? 0f : ceDivisor == 0 ? 0f : weightHard / ceDivisor;
        float scale = mixed ? 1f : divisor == 0 ? 0f : 1f / divisor;
        T teacher = take(chunkRows, vocabulary);
        T ceGrad = weightHard == 0f ? null : take(chunkRows, vocabulary);
        T ceLoss = weightHard == 0f ? null : take(chunkRows, 1);
        T identity = mixed ? device.copyOf(identity(chunkRows), chunkRows, chunkRows) : null;
        T one = mixed ? device.copyOf(new float[] {1f}, 1, 1) : null;
        if (identity != null) {
            scratch.add(identity);
            scratch.add(one);
        }
        List<Gemm<T>> span = new ArrayList<>(1);
        // the distillation writes its gradient over the chunk's logits (bitwise as out of place); the hard loss reads
        // them first
        inPlace = true;
        // mixed: a and b hold the divisors; every row ignored still gives 0 / 0 = NaN, as PyTorch's mean would
        run(studentHidden, studentWeight, null, rows, chunkRows, value, mixed ? (divisor == 0 || ceDivisor == 0 ? 0f
                : 1f) : divisor, scale, softCap, gradHidden, gradWeight, null,
                (logits, first, n, rowLoss, grad) -> {
                    L chunkLabels = y == null ? null
                            : device.labelRange(labels, first, Arrays.copyOfRange(y, first, first + n));
                    try {
                        T g = mixed ? device.leadingRows(ceGrad, n) : null;
                        T l = mixed ? device.leadingRows(ceLoss, n) : null;
                        if (mixed) { // before the distillation, whose gradient may be written over the logits
                            device.crossEntropyInto(logits, chunkLabels, null, Reduction.NONE, ignoreIndex, 0f, 0f, l,
                                    g);
                        }
                        device.distillationInto(logits, device.leadingRows(teacher, n), chunkLabels, ignoreIndex,
                                temperature, reverse, new RowReduction(true, 1f), rowLoss, grad);
                        if (!mixed) {
                            return;
                        }
                        Gemm<T> gemm = span.get(0);
                        // grad = b · G_ce + a · G_kd; rowLoss = b · ce + a · kd
                        gemm.gemm(false, false, vocabulary, n, n, b, g, 0, vocabulary, identity, 0, chunkRows, a, grad,
                                0, vocabulary);
                        gemm.gemm(false, false, n, 1, 1, b, l, 0, n, one, 0, 1, a, rowLoss, 0, n);
                    } finally {
                        if (chunkLabels != null) {
                            chunkLabels.close();
                        }
                    }
                }, gemm -> {
                    span.add(gemm);
                    return (first, n) -> {
                        T chunk = device.leadingRows(teacher, n);
                        product(gemm, teacherHidden, teacherWeight, null, first, n, chunk, null);
                        if (softCap != 0) {
                            device.softCapInto(chunk, chunk, softCap);
                        }
                    };
                });
    }

    private static float[] identity(int n) {
        float[] eye = new float[n * n];
        for (int i = 0; i < n; i++) {
            eye[i * n + i] = 1f;
        }
        return eye;
    }

    /** One chunk's loss: row losses into rowLoss ([rows, 1]) and the unscaled logit gradient into grad. */
    interface ChunkLoss<T> {
        void apply(T logits, int first, int rows, T rowLoss, T grad);
    }

    /** Work before each chunk's loss (the teacher's logits), given the span's Gemm. */
    interface BeforeChunk<T extends AbstractTensor> {
        Prepare make(Gemm<T> gemm);
    }

    interface Prepare {
        void chunk(int first, int rows);
    }

    private void run(T hidden, T weight, T bias, int rows, int chunkRows, T value, float divisor, float scale,
                     float softCap, T gradHidden, T gradWeight, T gradBias, ChunkLoss<T> loss, BeforeChunk<T> before) {
        int h = hidden.cols();
        int v = weight.rows();
        try (Gemm<T> gemm = device.gemm()) {
            T logits = take(chunkRows, v);
            // the loss writes its gradient over the chunk's logits (they are not read again), unless the soft cap's
            // backward needs the capped logits after the loss
            T grad = inPlace && softCap == 0 ? logits : take(chunkRows, v);
            T ones = device.copyOf(filled(chunkRows), chunkRows, 1);
            scratch.add(ones);
            T chunkLoss = take(chunkRows, 1);
            T rowLoss = this.perRow ? value : take(rows, 1);
            gemm.hold(weight);
            gemm.hold(gradWeight);
            Prepare prepare = before == null ? null : before.make(gemm);
            for (int first = 0; first < rows; first += chunkRows) {
                int n = Math.min(chunkRows, rows - first);
                boolean firstChunk = first == 0;
                T chunkLogits = device.leadingRows(logits, n);
                T chunkGrad = device.leadingRows(grad, n);
                product(gemm, hidden, weight, bias, first, n, chunkLogits, ones);
                if (softCap != 0) {
                    device.softCapInto(chunkLogits, chunkLogits, softCap); // in place: the raw logits are not needed
                }
                if (prepare != null) {
                    prepare.chunk(first, n);
                }
                // an exact [n, 1] tensor for the row losses: a loss hook may tell per-row output by its length
                T losses = n == chunkRows ? chunkLoss : device.allocate(n, 1);
                try {
                    loss.apply(chunkLogits, first, n, losses, chunkGrad);
                    // rowLoss[first, first + n) = losses (a product with 1 is exact)
                    gemm.gemm(false, false, n, 1, 1, 1f, losses, 0, n, ones, 0, 1, 0f, rowLoss, first, n);
                } finally {
                    if (losses != chunkLoss) {
                        losses.close();
                    }
                }
                if (softCap != 0) {
                    device.softCapBackwardInto(chunkLogits, chunkGrad, softCap);
                }
                gemm.gemm(false, false, h, n, v, scale, weight, 0, h, chunkGrad, 0, v, 0f, gradHidden,
                        (long) first * h, h);
                gemm.gemm(false, true, h, v, n, scale, hidden, (long) first * h, h, chunkGrad, 0, v,
                        firstChunk ? 0f : 1f, gradWeight, 0, h);
                if (gradBias != null) {
                    gemm.gemm(false, false, v, 1, n, scale, chunkGrad, 0, v, ones, 0, n, firstChunk ? 0f : 1f,
                            gradBias, 0, v);
                }
            }
            if (rowLoss != value) {
                device.sumInto(rowLoss, value, divisor);
            }
        } finally {
            scratch.forEach(AbstractTensor::close);
            scratch.clear();
        }
    }

    /** logits[chunk] = hidden[first, first + n) · weightᵀ (+ bias, broadcast over the rows by a rank-1 product). */
    private void product(Gemm<T> gemm, T hidden, T weight, T bias, int first, int n, T logits, T ones) {
        int h = hidden.cols();
        int v = weight.rows();
        float beta = 0f;
        if (bias != null) {
            gemm.gemm(false, false, v, n, 1, 1f, bias, 0, v, ones, 0, 1, 0f, logits, 0, v);
            beta = 1f;
        }
        gemm.gemm(true, false, v, n, h, 1f, weight, 0, h, hidden, (long) first * h, h, beta, logits, 0, v);
    }

    private T take(int rows, int cols) {
        T t = device.allocate(rows, cols);
        scratch.add(t);
        return t;
    }

    private static float[] filled(int n) {
        float[] ones = new float[n];
        Arrays.fill(ones, 1f);
        return ones;
    }
}
