package dev.kullback.cuda;

import dev.kullback.Tensor;

/** Test access: overwrites a CUDA tensor's values in place, in stream order (what an all-reduce does to its buffer). */
public final class CudaTensorWrites {
    private CudaTensorWrites() {
    }

    public static boolean owns(Tensor t) {
        return t instanceof CudaTensor;
    }

    public static void write(Tensor t, float[] values) {
        CudaTensor c = (CudaTensor) t;
        ((CudaDevice) c.device()).gpu().copyToDevice(values, 0, c.address(), values.length);
    }
}
