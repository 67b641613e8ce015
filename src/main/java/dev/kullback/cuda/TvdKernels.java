package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/tvd.cu}; inputs and gradients share one element type. */
final class TvdKernels {
    private static final String MODULE = "tvd";

    private final TypedRows rows;

    TvdKernels(Gpu gpu) {
        rows = new TypedRows(gpu, MODULE, "tvd_rows");
    }

    /** rowLoss[r] = row r's distance; the gradients of the row sum / gradDivisor. labels: 0 for none. */
    void rows(CudaTensor student, CudaTensor teacher, CudaTensor gradStudent, CudaTensor gradTeacher, long rowLoss,
              long labels, int ignoreIndex, float gradDivisor) {
        this.rows.launch(student.dtype(), student.rows(), student.cols(), student.address(), student.rowStride(),
                teacher.address(), teacher.rowStride(), gradStudent.address(), gradStudent.rowStride(),
                gradTeacher.address(), gradTeacher.rowStride(), rowLoss, student.rows(), student.cols(), labels,
                ignoreIndex, gradDivisor);
    }
}
