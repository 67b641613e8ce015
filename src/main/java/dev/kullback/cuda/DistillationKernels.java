package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/distillation.cu}. */
final class DistillationKernels {
    private static final String MODULE = "distillation";

    private final Gpu gpu;
    private final Gpu.Function rowsWarp;
    private final Gpu.Function rowsBlock;

    DistillationKernels(Gpu gpu) {
        this.gpu = gpu;
        rowsWarp = gpu.function(MODULE, "distillation_rows_warp");
        rowsBlock = gpu.function(MODULE, "distillation_rows_block");
    }

    /** rowLoss[r] = row r's loss; grad = the student gradient of the row sum / gradDivisor. labels: 0 for none. */
    void rows(CudaTensor student, CudaTensor teacher, CudaTensor grad, long rowLoss, long labels, int ignoreIndex,
              float temperature, boolean reverse, float gradDivisor) {
        Launch.rowwise(gpu, rowsWarp, rowsBlock, student.rows(), student.cols(), student.address(), teacher.address(),
                grad.address(), rowLoss, student.rows(), student.cols(), labels, ignoreIndex, temperature,
                reverse ? 1 : 0, gradDivisor);
    }
}
