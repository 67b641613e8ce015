package dev.kullback;

import static org.bytedeco.openblas.global.openblas_full.CblasColMajor;
import static org.bytedeco.openblas.global.openblas_full.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_full.CblasTrans;
import static org.bytedeco.openblas.global.openblas_full.cblas_sgemm;

import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;

/**
 * A real BLAS (OpenBLAS's cblas_sgemm, column-major) as the oracle for the matrix products kullback issues: the
 * devices' GEMMs are held to it bit for bit on small-integer operands, whose products and sums are exact.
 */
public final class BlasOracle {
    private BlasOracle() {
    }

    /**
     * {@code C = alpha · op(A) · op(B) + beta · C}, column-major, op(A) m × k, op(B) k × n, on copies; A, B and C start
     * at offsets ao, bo, co of their arrays. Returns the whole C array after the product.
     */
    public static float[] sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int ao,
                                int lda, float[] b, int bo, int ldb, float beta, float[] c, int co, int ldc) {
        try (FloatPointer pa = new FloatPointer(a); FloatPointer pb = new FloatPointer(b);
             FloatPointer pc = new FloatPointer(c)) {
            cblas_sgemm(CblasColMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n, k,
                    alpha, pa.position(ao), lda, pb.position(bo), ldb, beta, pc.position(co), ldc);
            float[] out = new float[c.length];
            pc.position(0).get(out);
            return out;
        }
    }

    /** n small integers in [-3, 3]: every product and sum of a test-sized GEMM is exact in float32. */
    public static float[] ints(Random random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = random.nextInt(7) - 3;
        }
        return x;
    }
}
