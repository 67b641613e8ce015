package dev.kullback;

/**
 * Options of {@link Device#crossEntropy}, with the meanings of {@code torch.nn.functional.cross_entropy}'s
 * arguments, plus an optional z-loss. Immutable; each setter returns a new instance. Defaults: MEAN,
 * ignoreIndex -100, no label smoothing, no class weights, no z-loss.
 */
public final class CrossEntropy {
    private static final CrossEntropy DEFAULTS = new CrossEntropy(Reduction.MEAN, -100, 0f, null, 0f, 0f, false, false);

    private final boolean float32Gradients;
    private final Reduction reduction;
    private final int ignoreIndex;
    private final float labelSmoothing;
    private final Tensor weights;
    private final float zLoss;
    private final float softCap;
    private final boolean inPlace;

    private CrossEntropy(Reduction reduction, int ignoreIndex, float labelSmoothing, Tensor weights, float zLoss,
                         float softCap, boolean inPlace, boolean float32Gradients) {
        this.float32Gradients = float32Gradients;
        this.reduction = reduction;
        this.ignoreIndex = ignoreIndex;
        this.labelSmoothing = labelSmoothing;
        this.weights = weights;
        this.zLoss = zLoss;
        this.softCap = softCap;
        this.inPlace = inPlace;
    }

    public static CrossEntropy options() {
        return DEFAULTS;
    }

    /** NONE (each row's loss, [rows, 1]), SUM or MEAN; MEAN over class-index labels is weighted as PyTorch weights it. */
    public CrossEntropy reduction(Reduction reduction) {
        return new CrossEntropy(reduction, ignoreIndex, labelSmoothing, weights, zLoss, softCap, inPlace,
                float32Gradients);
    }

    /** Rows with this label add nothing to the loss, the gradient or the mean's denominator. */
    public CrossEntropy ignoreIndex(int ignoreIndex) {
        return new CrossEntropy(reduction, ignoreIndex, labelSmoothing, weights, zLoss, softCap, inPlace,
                float32Gradients);
    }

    /** In [0, 1]: the target becomes (1 - s) · onehot + s / classes. */
    public CrossEntropy labelSmoothing(float labelSmoothing) {
        return new CrossEntropy(reduction, ignoreIndex, labelSmoothing, weights, zLoss, softCap, inPlace,
                float32Gradients);
    }

    /** A [1, classes] tensor of class weights on the same device, or null. */
    public CrossEntropy weights(Tensor weights) {
        return new CrossEntropy(reduction, ignoreIndex, labelSmoothing, weights, zLoss, softCap, inPlace,
                float32Gradients);
    }

    /**
     * Adds {@code scale · logsumexp(row)²} to each counted row's loss (the z-loss of PaLM, which keeps the
     * logits' normalizer near 1). Under MEAN it is averaged over the counted rows, unweighted.
     */
    public CrossEntropy zLoss(float scale) {
        return new CrossEntropy(reduction, ignoreIndex, labelSmoothing, weights, scale, softCap, inPlace,
                float32Gradients);
    }

    /**
     * Logit soft-capping (Gemma 2): the loss is taken of {@code cap · tanh(logits / cap)}, and the gradient carries the
     * chain factor {@code 1 - tanh²}. 0 (the default) for none; otherwise positive and finite. Costs a [rows, cols]
     * buffer for the capped logits (none in the fused linear losses, which cap each chunk where it lies).
     */
    public CrossEntropy softCap(float cap) {
        return new CrossEntropy(reduction, ignoreIndex, labelSmoothing, weights, zLoss, cap, inPlace, float32Gradients);
    }

    /**
     * Writes the gradient into the logits' own memory instead of a new [rows, cols] tensor, halving the loss's footprint
     * at large vocabularies (Liger-Kernel does the same): the logits are consumed, and the loss's {@code gradient(0)}
     * IS the logits tensor, so closing the loss closes it. Results are bitwise those of the out-of-place call. For
     * class-index labels only (the soft-target form refuses it).
     */
    public CrossEntropy inPlace(boolean inPlace) {
        return new CrossEntropy(reduction, ignoreIndex, labelSmoothing, weights, zLoss, softCap, inPlace,
                float32Gradients);
    }

    public boolean inPlace() {
        return inPlace;
    }

    public float softCap() {
        return softCap;
    }

    public Reduction reduction() {
        return reduction;
    }

    public int ignoreIndex() {
        return ignoreIndex;
    }

    public float labelSmoothing() {
        return labelSmoothing;
    }

    public Tensor weights() {
        return weights;
    }

    public float zLoss() {
        return zLoss;
    }

    /**
     * Gradients in FLOAT32 whatever the logits' type (the default, false, gives each gradient the type of its input,
     * as autograd does): for a mixed-precision step that accumulates float32 gradients.
     */
    public CrossEntropy float32Gradients(boolean float32Gradients) {
        return new CrossEntropy(reduction, ignoreIndex, labelSmoothing, weights, zLoss, softCap, inPlace,
                float32Gradients);
    }

    public boolean float32Gradients() {
        return float32Gradients;
    }
}
