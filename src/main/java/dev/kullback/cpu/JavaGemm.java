package dev.kullback.cpu;

import dev.kullback.internal.Gemm;

/**
 * A plain Java sgemm with cuBLAS's column-major contract: the fallback when OpenBLAS cannot load. Correct and
 * deterministic (each element's products are added in k order, in float), not fast: several times slower than
 * OpenBLAS on large products.
 */
final class JavaGemm implements Gemm<CpuTensor> {
    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, CpuTensor a, long aOffset,
                     int lda, CpuTensor b, long bOffset, int ldb, float beta, CpuTensor c, long cOffset, int ldc) {
        float[] x = a.data();
        float[] y = b.data();
        float[] z = c.data();
        int ao = Math.toIntExact(aOffset);
        int bo = Math.toIntExact(bOffset);
        int co = Math.toIntExact(cOffset);
        float[] column = new float[m];
        for (int j = 0; j < n; j++) {
            java.util.Arrays.fill(column, 0f);
            for (int p = 0; p < k; p++) {
                float bpj = transB ? y[bo + j + p * ldb] : y[bo + p + j * ldb];
                if (transA) {
                    for (int i = 0; i < m; i++) {
                        column[i] += x[ao + p + i * lda] * bpj;
                    }
                } else {
                    int base = ao + p * lda;
                    for (int i = 0; i < m; i++) {
                        column[i] += x[base + i] * bpj;
                    }
                }
            }
            int cj = co + j * ldc;
            for (int i = 0; i < m; i++) {
                z[cj + i] = beta == 0f ? alpha * column[i] : alpha * column[i] + beta * z[cj + i];
            }
        }
    }

    @Override
    public void close() {
    }
}
