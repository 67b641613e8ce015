package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/tvd.cu}. */
final class TvdKernels {
    private static final String MODULE = "tvd";

    private final Gpu gpu;
    private final Gpu.Function rowsWarp;
    private final Gpu.Function rowsBlock;

    TvdKernels(Gpu gpu) {
        this.gpu = gpu;
        rowsWarp = gpu.function(MODULE, "tvd_rows_warp");
        rowsBlock = gpu.function(MODULE, "tvd_rows_block");
    }

    /** rowLoss[r] = row r's distance; the gradients of the row sum / gradDivisor. labels: 0 for none. */
    void rows(CudaTensor student, CudaTensor teacher, CudaTensor gradStudent, CudaTensor gradTeacher, long rowLoss,
              long labels, int ignoreIndex, float gradDivisor) {
        Launch.rowwise(gpu, rowsWarp, rowsBlock, student.rows(), student.cols(), student.address(), teacher.address(),
                gradStudent.address(), gradTeacher.address(), rowLoss, student.rows(), student.cols(), labels,
                ignoreIndex, gradDivisor);
    }
}
