package dev.kullback.cpu;

/**
 * Logit soft-capping on the CPU (the loops of kernels/soft_cap.cu): {@code out = cap · tanh(x / cap)} and the
 * backward {@code grad *= 1 - (capped / cap)²}, both elementwise (so any split across threads gives the same bits),
 * both allowed in place. tanh is computed in double from one exp, then rounded to float.
 */
final class SoftCap {
    /** Values per unit of work handed to a thread. */
    private static final int GRAIN = 16384;

    private SoftCap() {
    }

    static void forward(CpuDevice device, CpuTensor x, CpuTensor out, float cap) {
        try (CpuStaging s = new CpuStaging(device)) {
            forward(device.workers(), s.in(x).data(), s.out(out).data(), Math.toIntExact(x.size()), cap);
        }
    }

    /** grad is read and written: staged as an input, then registered as an output. */
    static void backward(CpuDevice device, CpuTensor capped, CpuTensor grad, float cap) {
        try (CpuStaging s = new CpuStaging(device)) {
            float[] c = s.in(capped).data();
            float[] g = s.in(grad).data();
            s.out(grad);
            backward(device.workers(), c, g, Math.toIntExact(capped.size()), cap);
        }
    }

    static void forward(Workers workers, float[] x, float[] out, int n, float cap) {
        float inv = 1f / cap;
        workers.forEach(n, workers.grain(n, GRAIN), (from, to) -> {
            for (int i = from; i < to; i++) {
                out[i] = cap * tanh(x[i] * inv);
            }
        });
    }

    static void backward(Workers workers, float[] capped, float[] grad, int n, float cap) {
        float inv = 1f / cap;
        workers.forEach(n, workers.grain(n, GRAIN), (from, to) -> {
            for (int i = from; i < to; i++) {
                float t = capped[i] * inv;
                grad[i] = grad[i] * (1f - t * t);
            }
        });
    }

    /** tanh(u) rounded to float: (1 - e) / (1 + e) with e = exp(-2|u|), the sign of u; NaN stays NaN. */
    static float tanh(float u) {
        double e = Math.exp(-2.0 * Math.abs((double) u));
        double t = (1.0 - e) / (1.0 + e);
        return (float) (u < 0 ? -t : t);
    }
}
