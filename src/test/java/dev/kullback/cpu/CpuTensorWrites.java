package dev.kullback.cpu;

import dev.kullback.Tensor;

/** Test access: overwrites a CPU tensor's values in place (what an all-reduce does to its buffer). */
public final class CpuTensorWrites {
    private CpuTensorWrites() {
    }

    public static boolean owns(Tensor t) {
        return t instanceof CpuTensor;
    }

    public static void write(Tensor t, float[] values) {
        float[] data = ((CpuTensor) t).data();
        System.arraycopy(values, 0, data, 0, data.length);
    }
}
