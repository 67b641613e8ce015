package dev.kullback.internal;

/**
 * One vocabulary-parallel loss call as the devices' three passes see it (kernels/vocab_parallel.cu gives the
 * formulas). Per row, the ranks exchange {@link #maxWidth()} floats by all-reduce MAX, then {@link #sumWidth()}
 * floats by all-reduce SUM:
 * <ul>
 *   <li>cross-entropy: max M; sums S = Σ exp(z - M), the target's logit z_y (0 on ranks that do not hold it), and
 *       with label smoothing Σ z;</li>
 *   <li>distillation: the maxima Ms, Mt of s and t; sums Ss = Σ exp((s - Ms) / T), St likewise and Σ e·d with,
 *       forward, e = exp((t - Mt) / T) and d = ((t - Mt) - (s - Ms)) / T; reverse, the roles of s and t swapped;</li>
 *   <li>entropy: max M; sums S and Σ e·(x - M).</li>
 * </ul>
 *
 * @param kind         which loss
 * @param offset       the class of local column 0
 * @param classes      how many local columns are classes; the rest are padding (no part of the loss, gradient 0)
 * @param vocabSize    classes in the full vocabulary
 * @param invTemperature 1 / T for distillation, 1 otherwise
 * @param ignoreIndex  rows labelled with it give 0 loss and 0 gradient (when there are labels)
 * @param smoothing    cross-entropy's label smoothing ε
 * @param zLoss        cross-entropy's z-loss scale
 * @param lossScale    each row's loss is multiplied by it (T² for distillation, 1 otherwise)
 * @param gradScale    the gradient of the row loss is multiplied by it (1 / the reduction's divisor)
 */
public record VocabPass(Kind kind, int offset, int classes, int vocabSize, float invTemperature, int ignoreIndex,
                        float smoothing, float zLoss, float lossScale, float gradScale) {
    /** The losses, with the kernel's numbering. */
    public enum Kind {
        CROSS_ENTROPY, FORWARD_KL, REVERSE_KL, ENTROPY;

        /** Whether there are two inputs (student, teacher). */
        public boolean distillation() {
            return this == FORWARD_KL || this == REVERSE_KL;
        }
    }

    /** Floats per row of the MAX all-reduce. */
    public int maxWidth() {
        return kind.distillation() ? 2 : 1;
    }

    /** Floats per row of the SUM all-reduce. */
    public int sumWidth() {
        switch (kind) {
            case CROSS_ENTROPY:
                return smoothing != 0f ? 3 : 2;
            case ENTROPY:
                return 2;
            default:
                return 3;
        }
    }
}
