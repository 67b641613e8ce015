package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/cross_entropy.cu}. */
final class CrossEntropyKernels {
    private static final String MODULE = "cross_entropy";
    private static final int DIVISORS_BLOCK = 256;

    private final Gpu gpu;
    private final Gpu.Function divisors;
    private final Gpu.Function rowsWarp;
    private final Gpu.Function rowsBlock;
    private final Gpu.Function softRowsWarp;
    private final Gpu.Function softRowsBlock;

    CrossEntropyKernels(Gpu gpu) {
        this.gpu = gpu;
        divisors = gpu.function(MODULE, "ce_divisors");
        rowsWarp = gpu.function(MODULE, "ce_rows_warp");
        rowsBlock = gpu.function(MODULE, "ce_rows_block");
        softRowsWarp = gpu.function(MODULE, "soft_ce_rows_warp");
        softRowsBlock = gpu.function(MODULE, "soft_ce_rows_block");
    }

    /** out[0] = W (sum of the counted rows' class weights), out[1] = N (counted rows); weights: 0 for none. */
    void divisors(CudaLabels labels, long weights, int rows, int cols, int ignoreIndex, long out) {
        gpu.launch(divisors, 1, DIVISORS_BLOCK, 0, labels.address(), weights, rows, cols, ignoreIndex, out);
    }

    /** divisors: 0 (NONE, SUM), or the output of {@link #divisors} (MEAN: rowLoss is then already divided). */
    void rows(CudaTensor logits, CudaLabels labels, long weights, CudaTensor grad, long rowLoss, int ignoreIndex,
              float smoothing, float zLoss, long divisors) {
        Launch.rowwise(gpu, rowsWarp, rowsBlock, logits.rows(), logits.cols(), logits.address(), labels.address(), weights,
                grad.address(), rowLoss, logits.rows(), logits.cols(), ignoreIndex, smoothing, zLoss, divisors);
    }

    void softRows(CudaTensor logits, CudaTensor target, long weights, CudaTensor grad, long rowLoss, float smoothing,
                  float zLoss, float gradDivisor) {
        Launch.rowwise(gpu, softRowsWarp, softRowsBlock, logits.rows(), logits.cols(), logits.address(), target.address(),
                weights, grad.address(), rowLoss, logits.rows(), logits.cols(), smoothing, zLoss, gradDivisor);
    }
}
