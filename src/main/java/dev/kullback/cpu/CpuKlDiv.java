package dev.kullback.cpu;

import static dev.kullback.cpu.RowSchedule.BLOCK;
import static dev.kullback.cpu.RowSchedule.blockEnd;

/**
 * kl_div on the CPU: pointwise, its whole-tensor sum, its backward; Each operation has its
 * own loop over blocks (no shared "block sum" callback), and each target kind its own kernel, so that no compilation
 * holds two kernels' loops (see Kernels).
 */
final class CpuKlDiv {
    private final Kernels kernels;
    private final RowSchedule schedule;

    CpuKlDiv(Kernels kernels, RowSchedule schedule) {
        this.kernels = kernels;
        this.schedule = schedule;
    }

    void pointwise(float[] x, float[] t, float[] o, boolean logTarget) {
        if (logTarget) {
            schedule.elements(x.length, (from, to) -> kernels.klDivLogTarget(x, t, from, to, o));
        } else {
            schedule.elements(x.length, (from, to) -> kernels.klDiv(x, t, from, to, o));
        }
    }

    /** Σ kl_div / divisor: block partials in parallel, added in block order. */
    float sum(float[] x, float[] t, boolean logTarget, float divisor) {
        int n = x.length;
        double[] partials = new double[RowSchedule.blocks(n)];
        if (logTarget) {
            schedule.blocks(n, (b0, b1) -> {
                for (int b = b0; b < b1; b++) {
                    partials[b] = kernels.klDivSumLogTarget(x, t, b * BLOCK, blockEnd(b, n));
                }
            });
        } else {
            schedule.blocks(n, (b0, b1) -> {
                for (int b = b0; b < b1; b++) {
                    partials[b] = kernels.klDivSum(x, t, b * BLOCK, blockEnd(b, n));
                }
            });
        }
        return (float) (RowSchedule.sum(partials, 0, partials.length) / divisor);
    }

    void backward(float[] g, float[] t, float[] o, boolean logTarget, boolean scalarGrad, float divisor) {
        int n = t.length;
        if (scalarGrad) {
            float scale = g[0] / divisor;
            if (logTarget) {
                schedule.elements(n, (from, to) -> kernels.klDivBackwardLogTarget(scale, t, from, to, o));
            } else {
                schedule.elements(n, (from, to) -> kernels.klDivBackward(scale, t, from, to, o));
            }
        } else if (logTarget) {
            schedule.elements(n, (from, to) -> kernels.klDivBackwardLogTarget(g, t, from, to, o));
        } else {
            schedule.elements(n, (from, to) -> kernels.klDivBackward(g, t, from, to, o));
        }
    }
}
