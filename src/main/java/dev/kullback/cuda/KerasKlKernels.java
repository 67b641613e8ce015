package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/keras_kl.cu}. */
final class KerasKlKernels {
    private static final String MODULE = "keras_kl";

    private final Gpu gpu;
    private final Gpu.Function rowsWarp;
    private final Gpu.Function rowsBlock;

    KerasKlKernels(Gpu gpu) {
        this.gpu = gpu;
        rowsWarp = gpu.function(MODULE, "keras_kl_rows_warp");
        rowsBlock = gpu.function(MODULE, "keras_kl_rows_block");
    }

    void rows(CudaTensor yTrue, CudaTensor yPred, CudaTensor gradPred, long rowLoss, boolean bits, float gradDivisor) {
        Launch.rowwise(gpu, rowsWarp, rowsBlock, yTrue.rows(), yTrue.cols(), yTrue.address(), yPred.address(),
                gradPred.address(), rowLoss, yTrue.rows(), yTrue.cols(), bits ? 1 : 0, gradDivisor);
    }
}
