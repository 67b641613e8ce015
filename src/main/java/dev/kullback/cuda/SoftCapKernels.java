package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/soft_cap.cu}; both may run in place. */
final class SoftCapKernels {
    private static final String MODULE = "soft_cap";

    private final Gpu gpu;
    private final Gpu.Function forward;
    private final Gpu.Function backward;

    SoftCapKernels(Gpu gpu) {
        this.gpu = gpu;
        forward = gpu.function(MODULE, "soft_cap_forward");
        backward = gpu.function(MODULE, "soft_cap_backward");
    }

    /** out = cap · tanh(x / cap) over x.size() values; out may be x. */
    void forward(CudaTensor x, CudaTensor out, float cap) {
        long n = x.size();
        gpu.launch(forward, Launch.flatGrid(n), Launch.FLAT_BLOCK, 0, x.address(), out.address(), n, cap);
    }

    /** grad *= 1 - (capped / cap)². */
    void backward(CudaTensor capped, CudaTensor grad, float cap) {
        long n = capped.size();
        gpu.launch(backward, Launch.flatGrid(n), Launch.FLAT_BLOCK, 0, capped.address(), grad.address(), n, cap);
    }
}
