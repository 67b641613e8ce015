package dev.kullback;

/**
 * Options of {@link Device#distillationKl}: {@code T² · KL(softmax(teacher / T) || softmax(student / T))}.
 * Immutable; each setter returns a new instance. Defaults: temperature 1, BATCHMEAN, forward direction, every
 * row counted.
 */
public final class Distillation {
    private static final Distillation DEFAULTS = new Distillation(1f, Reduction.BATCHMEAN, false, null, -100, 0f, 0f, 1f,
            false);

    private final boolean float32Gradients;
    private final float temperature;
    private final Reduction reduction;
    private final boolean reverse;
    private final Labels labels;
    private final int ignoreIndex;
    private final float softCap;
    private final float weightHard;
    private final float weightSoft;

    private Distillation(float temperature, Reduction reduction, boolean reverse, Labels labels, int ignoreIndex,
                         float softCap, float weightHard, float weightSoft, boolean float32Gradients) {
        this.float32Gradients = float32Gradients;
        this.temperature = temperature;
        this.reduction = reduction;
        this.reverse = reverse;
        this.labels = labels;
        this.ignoreIndex = ignoreIndex;
        this.softCap = softCap;
        this.weightHard = weightHard;
        this.weightSoft = weightSoft;
    }

    public static Distillation options() {
        return DEFAULTS;
    }

    /** The softening temperature T > 0; the loss is scaled by T² so gradients keep their size. */
    public Distillation temperature(float temperature) {
        return new Distillation(temperature, reduction, reverse, labels, ignoreIndex, softCap, weightHard, weightSoft,
                float32Gradients);
    }

    /**
     * SUM, MEAN (over kept rows × cols, as kl_div's mean), BATCHMEAN (over kept rows; the default) or NONE
     * (each row's loss, [rows, 1]; PyTorch's kl_div would give the [rows, cols] terms, whose row sums these are).
     */
    public Distillation reduction(Reduction reduction) {
        return new Distillation(temperature, reduction, reverse, labels, ignoreIndex, softCap, weightHard, weightSoft,
                float32Gradients);
    }

    /** KL(student || teacher) instead of KL(teacher || student): mode-seeking rather than mean-seeking. */
    public Distillation reverse(boolean reverse) {
        return new Distillation(temperature, reduction, reverse, labels, ignoreIndex, softCap, weightHard, weightSoft,
                float32Gradients);
    }

    /** Leaves out the rows whose label is {@code ignoreIndex} (padding), from the loss and from the mean. */
    public Distillation ignore(Labels labels, int ignoreIndex) {
        return new Distillation(temperature, reduction, reverse, labels, ignoreIndex, softCap, weightHard, weightSoft,
                float32Gradients);
    }

    /**
     * Logit soft-capping (Gemma 2) of both the student's and the teacher's logits, {@code cap · tanh(logits / cap)},
     * before the temperature; the student's gradient carries the chain factor {@code 1 - tanh²}. 0 (the default) for
     * none; otherwise positive and finite. Costs two [rows, cols] buffers for the capped logits (none in the fused
     * linear losses).
     */
    public Distillation softCap(float cap) {
        return new Distillation(temperature, reduction, reverse, labels, ignoreIndex, cap, weightHard, weightSoft,
                float32Gradients);
    }

    /**
     * For {@link Device#linearDistillationKl} only: the loss becomes {@code weightHard · CE + weightSoft · KD}, CE the
     * cross-entropy of the student's (capped) logits against the labels of {@link #ignore} (rows with the ignore index
     * left out), reduced like the KD: SUM sums, MEAN and BATCHMEAN average over the kept rows, NONE per row (Liger's
     * fused linear distillation). Defaults 0 and 1: the KD alone. Both finite and at least 0.
     */
    public Distillation hardLoss(float weightHard, float weightSoft) {
        return new Distillation(temperature, reduction, reverse, labels, ignoreIndex, softCap, weightHard, weightSoft,
                float32Gradients);
    }

    public float weightHard() {
        return weightHard;
    }

    public float weightSoft() {
        return weightSoft;
    }

    public float softCap() {
        return softCap;
    }

    public float temperature() {
        return temperature;
    }

    public Reduction reduction() {
        return reduction;
    }

    public boolean reverse() {
        return reverse;
    }

    /** The row labels of {@link #ignore}, or null when every row counts. */
    public Labels labels() {
        return labels;
    }

    public int ignoreIndex() {
        return ignoreIndex;
    }

    /**
     * Gradients in FLOAT32 whatever the logits' type (the default, false, gives each gradient the type of its input,
     * as autograd does): for a mixed-precision step that accumulates float32 gradients.
     */
    public Distillation float32Gradients(boolean float32Gradients) {
        return new Distillation(temperature, reduction, reverse, labels, ignoreIndex, softCap, weightHard, weightSoft,
                float32Gradients);
    }

    public boolean float32Gradients() {
        return float32Gradients;
    }
}
