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

    void pointwise(CpuDevice device, CpuTensor input, CpuTensor target, CpuTensor out, boolean logTarget) {
        RowBlocks.runAny(device, new CpuTensor[] {input, target}, new CpuTensor[] {out}, input.rows(),
                input.cols(), (f, r, a, o, rows) -> f.klDiv().pointwise(a[0], a[1], o[0], logTarget));
    }

    void sum(CpuDevice device, CpuTensor input, CpuTensor target, CpuTensor out, boolean logTarget, float divisor) {
        try (CpuStaging s = new CpuStaging(device)) {
            s.out(out).data()[0] = sum(s.in(input).data(), s.in(target).data(), logTarget, divisor);
        }
    }

    /** A scalar gradOutput ([1, 1]) is read once, widened, before the blocks. */
    void backward(CpuDevice device, CpuTensor gradOutput, CpuTensor target, CpuTensor gradInput, boolean logTarget,
                  boolean scalarGrad, float divisor) {
        float[] scalar = scalarGrad ? new float[1] : null;
        if (scalarGrad) {
            device.copies().widenRows(gradOutput, 0, 1, scalar);
        }
        CpuTensor[] in = scalarGrad ? new CpuTensor[] {target} : new CpuTensor[] {target, gradOutput};
        RowBlocks.runAny(device, in, new CpuTensor[] {gradInput}, target.rows(), target.cols(),
                (f, r, a, o, rows) -> f.klDiv().backward(scalarGrad ? scalar : a[1], a[0], o[0], logTarget,
                        scalarGrad, divisor));
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
