package dev.kullback;

/** How a pointwise loss is reduced, with the meanings of PyTorch's {@code reduction=} argument. */
public enum Reduction {
    /** No reduction: the result has the input's shape. */
    NONE,
    /** Sum of every element: a [1, 1] result. */
    SUM,
    /** Sum divided by rows * cols: a [1, 1] result. */
    MEAN,
    /** Sum divided by rows (the batch size): a [1, 1] result. PyTorch's recommended reduction for kl_div. */
    BATCHMEAN
}
