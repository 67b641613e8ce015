package dev.kullback.cuda;

import dev.kullback.internal.Gemm;

/** The fused linear losses' products on a GPU: cublasSgemm (through the {@link Gpu} seam) on the tensors in place. */
final class CudaGemm implements Gemm<CudaTensor> {
    private final Gpu gpu;

    CudaGemm(Gpu gpu) {
        this.gpu = gpu;
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, CudaTensor a, long aOffset,
                     int lda, CudaTensor b, long bOffset, int ldb, float beta, CudaTensor c, long cOffset, int ldc) {
        gpu.sgemm(transA, transB, m, n, k, alpha, a.address() + 4 * aOffset, lda, b.address() + 4 * bOffset, ldb,
                beta, c.address() + 4 * cOffset, ldc);
    }

    @Override
    public void close() {
    }
}
