package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/log_softmax.cu}. */
final class LogSoftmaxKernels {
    private static final String MODULE = "log_softmax";

    private final Gpu gpu;
    private final Gpu.Function rowsWarp;
    private final Gpu.Function rowsBlock;
    private final Gpu.Function backwardWarp;
    private final Gpu.Function backwardBlock;

    LogSoftmaxKernels(Gpu gpu) {
        this.gpu = gpu;
        rowsWarp = gpu.function(MODULE, "softmax_rows_warp");
        rowsBlock = gpu.function(MODULE, "softmax_rows_block");
        backwardWarp = gpu.function(MODULE, "log_softmax_backward_warp");
        backwardBlock = gpu.function(MODULE, "log_softmax_backward_block");
    }

    void softmax(CudaTensor x, CudaTensor y, boolean log) {
        Launch.rowwise(gpu, rowsWarp, rowsBlock, x.rows(), x.cols(), x.address(), y.address(), x.rows(), x.cols(), log ? 1 : 0);
    }

    void logSoftmaxBackward(CudaTensor gradOutput, CudaTensor output, CudaTensor gradInput) {
        Launch.rowwise(gpu, backwardWarp, backwardBlock, output.rows(), output.cols(), gradOutput.address(), output.address(),
                gradInput.address(), output.rows(), output.cols());
    }
}
