package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/entropy.cu}; logits and gradient share one element type. */
final class EntropyKernels {
    private static final String MODULE = "entropy";

    private final TypedRows rows;

    EntropyKernels(Gpu gpu) {
        rows = new TypedRows(gpu, MODULE, "entropy_rows");
    }

    void rows(CudaTensor logits, CudaTensor grad, long rowLoss, float gradDivisor) {
        rows.launch(logits.dtype(), logits.rows(), logits.cols(), logits.address(), logits.rowStride(), grad.address(),
                grad.rowStride(), rowLoss, logits.rows(), logits.cols(), gradDivisor);
    }
}
