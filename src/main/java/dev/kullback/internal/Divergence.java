package dev.kullback.internal;

/**
 * The two-distribution divergences of P = softmax(teacher) and Q = softmax(student) that share one row pass: Liger's
 * generalized JSD at its two ends (plain KLs) and between them, and the symmetric KL. The names (and order) are those
 * of {@code enum Divergence} in {@code kernels/jsd.cu}.
 */
public enum Divergence {
    /** KL(P || Q): jsd with beta 0. */
    KL_PQ,
    /** KL(Q || P): jsd with beta 1. */
    KL_QP,
    /** beta KL(P || M) + (1 - beta) KL(Q || M), M = beta P + (1 - beta) Q: jsd with 0 < beta < 1. */
    JSD,
    /** KL(P || Q) + KL(Q || P). */
    SYMMETRIC_KL;

    /** Which divergence jsd computes for {@code beta} (as jsd.cu's jsd_mode). */
    public static Divergence ofBeta(float beta) {
        return beta == 0f ? KL_PQ : beta == 1f ? KL_QP : JSD;
    }
}
