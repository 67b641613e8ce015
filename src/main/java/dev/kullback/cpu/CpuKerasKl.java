package dev.kullback.cpu;

import dev.kullback.internal.RowReduction;

/**
 * Keras's clipped KL on the CPU, in nats or bits: a sum per row, its gradient written by the same pass. In place (the
 * gradient over yPred) it runs unchanged: the kernel reads each element before it writes that element's gradient.
 */
final class CpuKerasKl {
    private static final double LN2 = Math.log(2);

    private final Kernels kernels;
    private final RowSchedule schedule;

    CpuKerasKl(Kernels kernels, RowSchedule schedule) {
        this.kernels = kernels;
        this.schedule = schedule;
    }

    void run(CpuDevice device, CpuTensor yTrue, CpuTensor yPred, boolean bits, RowReduction reduction,
             CpuTensor value, CpuTensor gradPred) {
        try (CpuStaging s = new CpuStaging(device)) {
            run(s.in(yTrue).data(), s.in(yPred).data(), bits, reduction, s.out(value).data(),
                    s.out(gradPred).data(), yTrue.rows(), yTrue.cols());
        }
    }

    void run(float[] t, float[] q, boolean bits, RowReduction reduction, float[] value, float[] o, int rows,
             int cols) {
        double[] loss = new double[rows];
        float k = (float) ((bits ? 1 / LN2 : 1.0) / reduction.divisor());
        schedule.run(rows, cols, (slots, rowSlots, whole) -> new ChunkSums(
                (from, to) -> kernels.kerasKl(t, q, from, to, k, o), loss, slots));
        if (bits) {
            for (int r = 0; r < rows; r++) {
                loss[r] /= LN2;
            }
        }
        CpuReductions.writeLoss(value, loss, reduction);
    }
}
