package dev.kullback.cpu;

import static dev.kullback.cpu.RowSchedule.BLOCK;
import static dev.kullback.cpu.RowSchedule.blockEnd;

/** Whole-tensor sums on the CPU, and a row loss's reduction to the loss value. */
final class CpuReductions {
    private final Kernels kernels;
    private final RowSchedule schedule;

    CpuReductions(Kernels kernels, RowSchedule schedule) {
        this.kernels = kernels;
        this.schedule = schedule;
    }

    void sum(CpuDevice device, CpuTensor x, CpuTensor out, float divisor) {
        try (CpuStaging s = new CpuStaging(device)) {
            s.out(out).data()[0] = sum(s.in(x).data(), divisor);
        }
    }

    /** Σ x / divisor over the flattened tensor: block partials in parallel, added in double in block order. */
    float sum(float[] a, float divisor) {
        int n = a.length;
        double[] partials = new double[RowSchedule.blocks(n)];
        schedule.blocks(n, (b0, b1) -> {
            for (int b = b0; b < b1; b++) {
                partials[b] = kernels.sum(a, b * BLOCK, blockEnd(b, n));
            }
        });
        return (float) (RowSchedule.sum(partials, 0, partials.length) / divisor);
    }

    /** value[r] = loss[r] when per row, else Σ loss (in row order, double) / divisor. */
    static void writeLoss(float[] value, double[] loss, dev.kullback.internal.RowReduction reduction) {
        if (reduction.perRow()) {
            for (int r = 0; r < loss.length; r++) {
                value[r] = (float) loss[r];
            }
        } else {
            value[0] = (float) (RowSchedule.sum(loss, 0, loss.length) / reduction.divisor());
        }
    }
}
