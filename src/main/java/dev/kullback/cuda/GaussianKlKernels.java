package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/gaussian_kl.cu}. */
final class GaussianKlKernels {
    private static final String MODULE = "gaussian_kl";

    private final Gpu gpu;
    private final Gpu.Function rowsWarp;
    private final Gpu.Function rowsBlock;

    GaussianKlKernels(Gpu gpu) {
        this.gpu = gpu;
        rowsWarp = gpu.function(MODULE, "gaussian_kl_rows_warp");
        rowsBlock = gpu.function(MODULE, "gaussian_kl_rows_block");
    }

    /** mu2, logvar2, gradMu2, gradLogvar2: null for the standard normal. */
    void rows(CudaTensor mu1, CudaTensor logvar1, CudaTensor mu2, CudaTensor logvar2, CudaTensor gradMu1,
              CudaTensor gradLogvar1, CudaTensor gradMu2, CudaTensor gradLogvar2, long rowLoss, float gradDivisor) {
        Launch.rowwise(gpu, rowsWarp, rowsBlock, mu1.rows(), mu1.cols(), mu1.address(), logvar1.address(), address(mu2),
                address(logvar2), gradMu1.address(), gradLogvar1.address(), address(gradMu2), address(gradLogvar2),
                rowLoss, mu1.rows(), mu1.cols(), gradDivisor);
    }

    private static long address(CudaTensor t) {
        return t == null ? 0L : t.address();
    }
}
