package dev.kullback.cuda;

import dev.kullback.DType;

/**
 * Launches the kernels of {@code kernels/convert.cu}: one tensor's elements into another of the same shape, any row
 * strides, float32 to or from a half type (rounded to nearest even) or a half type to itself. The CUDA device copies
 * views with it, and stages half or strided tensors for the kernel families that take contiguous float32 only
 * ({@link Staging}).
 */
final class ConvertKernels {
    private static final String MODULE = "convert";
    /** Threads per block (one block per row). */
    private static final int BLOCK = 256;

    private final Gpu gpu;

    ConvertKernels(Gpu gpu) {
        this.gpu = gpu;
    }

    /** Whether {@link #copy} converts {@code from} to {@code to} in one kernel (else: through float32). */
    static boolean direct(DType from, DType to) {
        return from == to || from == DType.FLOAT32 || to == DType.FLOAT32;
    }

    /** to = from, elementwise; the types must be {@link #direct}. */
    void copy(CudaTensor from, CudaTensor to) {
        if (!direct(from.dtype(), to.dtype())) {
            throw new IllegalArgumentException("no direct conversion from " + from.dtype() + " to " + to.dtype());
        }
        Gpu.Function f = gpu.function(MODULE, "convert_rows_" + suffix(from.dtype()) + "_" + suffix(to.dtype()));
        gpu.launch(f, from.rows(), BLOCK, 0, from.address(), from.rowStride(), to.address(), to.rowStride(),
                from.rows(), from.cols());
    }

    /** The suffix of a type's kernel entries: "f32", "bf16", "f16". */
    static String suffix(DType type) {
        return switch (type) {
            case FLOAT32 -> "f32";
            case BFLOAT16 -> "bf16";
            case FLOAT16 -> "f16";
        };
    }
}
