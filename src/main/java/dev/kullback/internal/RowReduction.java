package dev.kullback.internal;

import dev.kullback.Reduction;

/**
 * A row-wise loss's reduction, resolved once by {@link AbstractDevice} for every device: either the row losses
 * themselves ({@code perRow}, the value is [rows, 1]), or their sum divided by {@code divisor} (the value is [1, 1]).
 * The gradients are those of the value: of each row's loss, or of the sum / divisor.
 *
 * @param perRow  whether the value holds one loss per row (Reduction.NONE)
 * @param divisor what the sum of the row losses is divided by (1 when perRow)
 */
public record RowReduction(boolean perRow, float divisor) {
    /** PyTorch's divisors: MEAN by every element, BATCHMEAN by the rows, SUM by nothing; NONE per row. */
    static RowReduction of(Reduction reduction, AbstractTensor x) {
        switch (reduction) {
            case NONE:
                return new RowReduction(true, 1f);
            case MEAN:
                return new RowReduction(false, (float) x.size());
            case BATCHMEAN:
                return new RowReduction(false, x.rows());
            default:
                return new RowReduction(false, 1f);
        }
    }

    /** Per row (NONE), else the sum divided by {@code divisor}. */
    static RowReduction of(Reduction reduction, float divisor) {
        return reduction == Reduction.NONE ? new RowReduction(true, 1f) : new RowReduction(false, divisor);
    }

    /** What each row's gradient is divided by: 1 per row, the divisor for a reduced value. */
    public float gradDivisor() {
        return perRow ? 1f : divisor;
    }
}
