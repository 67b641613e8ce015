package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/entropy.cu}. */
final class EntropyKernels {
    private static final String MODULE = "entropy";

    private final Gpu gpu;
    private final Gpu.Function rowsWarp;
    private final Gpu.Function rowsBlock;

    EntropyKernels(Gpu gpu) {
        this.gpu = gpu;
        rowsWarp = gpu.function(MODULE, "entropy_rows_warp");
        rowsBlock = gpu.function(MODULE, "entropy_rows_block");
    }

    void rows(CudaTensor logits, CudaTensor grad, long rowLoss, float gradDivisor) {
        Launch.rowwise(gpu, rowsWarp, rowsBlock, logits.rows(), logits.cols(), logits.address(), grad.address(), rowLoss,
                logits.rows(), logits.cols(), gradDivisor);
    }
}
