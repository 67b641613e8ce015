package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/kl_div.cu}. */
final class KlDivKernels {
    private static final String MODULE = "kl_div";

    private final Gpu gpu;
    private final Gpu.Function pointwise;
    private final Gpu.Function partialSums;
    private final Gpu.Function backward;

    KlDivKernels(Gpu gpu) {
        this.gpu = gpu;
        pointwise = gpu.function(MODULE, "kl_div_pointwise");
        partialSums = gpu.function(MODULE, "kl_div_partial_sums");
        backward = gpu.function(MODULE, "kl_div_backward");
    }

    void pointwise(CudaTensor input, CudaTensor target, CudaTensor out, boolean logTarget) {
        long n = input.size();
        gpu.launch(pointwise, Launch.flatGrid(n), Launch.FLAT_BLOCK, 0, input.address(), target.address(),
                out.address(), n, logTarget ? 1 : 0);
    }

    /** Writes one partial sum per block into {@code partials}, which holds {@link Launch#partials}(n) floats. */
    void partialSums(CudaTensor input, CudaTensor target, long partials, boolean logTarget) {
        long n = input.size();
        gpu.launch(partialSums, Launch.partials(n), Launch.FLAT_BLOCK, 0, input.address(), target.address(),
                partials, n, logTarget ? 1 : 0);
    }

    void backward(CudaTensor gradOutput, CudaTensor target, CudaTensor gradInput, boolean logTarget,
                  boolean scalarGrad, float divisor) {
        long n = target.size();
        gpu.launch(backward, Launch.flatGrid(n), Launch.FLAT_BLOCK, 0, gradOutput.address(), target.address(),
                gradInput.address(), n, logTarget ? 1 : 0, scalarGrad ? 1 : 0, divisor);
    }
}
