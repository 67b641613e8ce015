package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/keras_kl.cu}; inputs and gradient share one element type. */
final class KerasKlKernels {
    private static final String MODULE = "keras_kl";

    private final TypedRows rows;

    KerasKlKernels(Gpu gpu) {
        rows = new TypedRows(gpu, MODULE, "keras_kl_rows");
    }

    void rows(CudaTensor yTrue, CudaTensor yPred, CudaTensor gradPred, long rowLoss, boolean bits, float gradDivisor) {
        this.rows.launch(yTrue.dtype(), yTrue.rows(), yTrue.cols(), yTrue.address(), yTrue.rowStride(), yPred.address(),
                yPred.rowStride(), gradPred.address(), gradPred.rowStride(), rowLoss, yTrue.rows(), yTrue.cols(),
                bits ? 1 : 0, gradDivisor);
    }
}
