package dev.kullback.cuda;

/** Launches the kernels of {@code kernels/jsd.cu}. */
final class JsdKernels {
    private static final String MODULE = "jsd";

    private final Gpu gpu;
    private final Gpu.Function jsdWarp;
    private final Gpu.Function jsdBlock;
    private final Gpu.Function symmetricWarp;
    private final Gpu.Function symmetricBlock;

    JsdKernels(Gpu gpu) {
        this.gpu = gpu;
        jsdWarp = gpu.function(MODULE, "jsd_rows_warp");
        jsdBlock = gpu.function(MODULE, "jsd_rows_block");
        symmetricWarp = gpu.function(MODULE, "symmetric_kl_rows_warp");
        symmetricBlock = gpu.function(MODULE, "symmetric_kl_rows_block");
    }

    void jsd(CudaTensor student, CudaTensor teacher, CudaTensor gradStudent, CudaTensor gradTeacher, long rowLoss,
             float beta, float gradDivisor) {
        Launch.rowwise(gpu, jsdWarp, jsdBlock, student.rows(), student.cols(), student.address(), teacher.address(),
                gradStudent.address(), gradTeacher.address(), rowLoss, student.rows(), student.cols(), beta, gradDivisor);
    }

    void symmetricKl(CudaTensor p, CudaTensor q, CudaTensor gradP, CudaTensor gradQ, long rowLoss, float gradDivisor) {
        Launch.rowwise(gpu, symmetricWarp, symmetricBlock, p.rows(), p.cols(), p.address(), q.address(), gradP.address(),
                gradQ.address(), rowLoss, p.rows(), p.cols(), gradDivisor);
    }
}
