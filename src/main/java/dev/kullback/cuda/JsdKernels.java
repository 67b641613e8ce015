package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/jsd.cu}; inputs and gradients share one element type. */
final class JsdKernels {
    private static final String MODULE = "jsd";

    private final TypedRows jsd;
    private final TypedRows symmetric;

    JsdKernels(Gpu gpu) {
        jsd = new TypedRows(gpu, MODULE, "jsd_rows");
        symmetric = new TypedRows(gpu, MODULE, "symmetric_kl_rows");
    }

    void jsd(CudaTensor student, CudaTensor teacher, CudaTensor gradStudent, CudaTensor gradTeacher, long rowLoss,
             float beta, float gradDivisor) {
        jsd.launch(student.dtype(), student.rows(), student.cols(), student.address(), student.rowStride(),
                teacher.address(), teacher.rowStride(), gradStudent.address(), gradStudent.rowStride(),
                gradTeacher.address(), gradTeacher.rowStride(), rowLoss, student.rows(), student.cols(), beta, gradDivisor);
    }

    void symmetricKl(CudaTensor p, CudaTensor q, CudaTensor gradP, CudaTensor gradQ, long rowLoss, float gradDivisor) {
        symmetric.launch(p.dtype(), p.rows(), p.cols(), p.address(), p.rowStride(), q.address(), q.rowStride(),
                gradP.address(), gradP.rowStride(), gradQ.address(), gradQ.rowStride(), rowLoss, p.rows(), p.cols(),
                gradDivisor);
    }
}
