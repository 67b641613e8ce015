package dev.kullback.cpu;

import dev.kullback.internal.RowReduction;

/**
 * The diagonal Gaussian KL on the CPU: a sum per row, the four gradients written by the same pass. In place (each
 * gradient over its input) it runs unchanged: the kernel reads an element of every input before it writes any of the
 * element's gradients.
 */
final class CpuGaussianKl {
    private final Kernels kernels;
    private final RowSchedule schedule;

    CpuGaussianKl(Kernels kernels, RowSchedule schedule) {
        this.kernels = kernels;
        this.schedule = schedule;
    }

    void run(CpuDevice device, CpuTensor mu1, CpuTensor logvar1, CpuTensor mu2, CpuTensor logvar2,
             RowReduction reduction, CpuTensor value, CpuTensor gradMu1, CpuTensor gradLogvar1, CpuTensor gradMu2,
             CpuTensor gradLogvar2) {
        try (CpuStaging s = new CpuStaging(device)) {
            run(s.in(mu1).data(), s.in(logvar1).data(), mu2 == null ? null : s.in(mu2).data(),
                    logvar2 == null ? null : s.in(logvar2).data(), reduction, s.out(value).data(),
                    s.out(gradMu1).data(), s.out(gradLogvar1).data(), gradMu2 == null ? null : s.out(gradMu2).data(),
                    gradLogvar2 == null ? null : s.out(gradLogvar2).data(), mu1.rows(), mu1.cols());
        }
    }

    /** {@code m2}, {@code v2} (and their gradients) null: against the standard normal. */
    void run(float[] m1, float[] v1, float[] m2, float[] v2, RowReduction reduction, float[] value, float[] g1,
             float[] h1, float[] g2, float[] h2, int rows, int cols) {
        double[] loss = new double[rows];
        float k = 1f / reduction.divisor();
        schedule.run(rows, cols, (slots, rowSlots, whole) -> new ChunkSums(
                (from, to) -> kernels.gaussianKl(m1, v1, m2, v2, from, to, k, g1, h1, g2, h2), loss, slots));
        CpuReductions.writeLoss(value, loss, reduction);
    }
}
