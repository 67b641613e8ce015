package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/reduce.cu}. */
final class ReduceKernels {
    private static final String MODULE = "reduce";
    private static final int FINALIZE_BLOCK = 256;

    private final Gpu gpu;
    private final Gpu.Function sumPartials;
    private final Gpu.Function sumFinalize;
    private final Gpu.Function rowSumWarp;
    private final Gpu.Function rowSumBlock;

    ReduceKernels(Gpu gpu) {
        this.gpu = gpu;
        sumPartials = gpu.function(MODULE, "sum_partials");
        sumFinalize = gpu.function(MODULE, "sum_finalize");
        rowSumWarp = gpu.function(MODULE, "row_sum_warp");
        rowSumBlock = gpu.function(MODULE, "row_sum_block");
    }

    /** Writes one partial sum per block into {@code partials}, which holds {@link Launch#partials}(n) floats. */
    void partialSums(CudaTensor x, long partials) {
        long n = x.size();
        gpu.launch(sumPartials, Launch.partials(n), Launch.FLAT_BLOCK, 0, x.address(), partials, n);
    }

    /** out[0] = (sum of the partials, in a fixed order) / divisor. */
    void finish(long partials, int count, CudaTensor out, float divisor) {
        gpu.launch(sumFinalize, 1, FINALIZE_BLOCK, 0, partials, count, out.address(), divisor);
    }

    void rowSum(CudaTensor x, CudaTensor out) {
        Launch.rowwise(gpu, rowSumWarp, rowSumBlock, x.rows(), x.cols(), x.address(), out.address(), x.rows(),
                x.cols());
    }
}
