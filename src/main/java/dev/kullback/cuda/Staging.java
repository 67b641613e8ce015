package dev.kullback.cuda;

import dev.kullback.DType;
import java.util.ArrayList;
import java.util.List;

/**
 * Half or strided tensors handed to a kernel family that takes contiguous float32 only (kernels/README.md lists
 * which): each such input is copied to a contiguous float32 tensor (widened exactly), each such output is written to
 * one and converted into the caller's tensor by {@link #finish()} (rounded to nearest even for a half output), so the
 * results are those of a native half kernel, which also computes in float32 and rounds once. Plain float32 tensors
 * (and null) pass through untouched. Costs a copy of each staged tensor; the families with native half and strided
 * kernels (log_softmax.cu) do not stage.
 */
final class Staging implements AutoCloseable {
    private final CudaDevice device;
    /** Whether the kernels take the tensors as they are (every type and stride): nothing is staged. */
    private final boolean typedKernels;
    private final List<CudaTensor> temporaries = new ArrayList<>();
    private final List<CudaTensor[]> pendingOutputs = new ArrayList<>();

    /** Stages every tensor that is not plain float32. */
    Staging(CudaDevice device) {
        this(device, false);
    }

    /** {@code typedKernels}: stage nothing, the kernels take every type and stride (a no-op staging). */
    Staging(CudaDevice device, boolean typedKernels) {
        this.device = device;
        this.typedKernels = typedKernels;
    }

    /** {@code t} itself when plain float32 (or null), else a contiguous float32 copy of it. */
    CudaTensor in(CudaTensor t) {
        if (t == null || typedKernels || t.isPlainFloat32()) {
            return t;
        }
        CudaTensor copy = device.copyAs(t, DType.FLOAT32);
        temporaries.add(copy);
        return copy;
    }

    /** {@code t} itself when plain float32 (or null), else a float32 tensor that {@link #finish()} copies into it. */
    CudaTensor out(CudaTensor t) {
        if (t == null || typedKernels || t.isPlainFloat32()) {
            return t;
        }
        CudaTensor scratch = device.scratch(t.rows(), t.cols());
        temporaries.add(scratch);
        pendingOutputs.add(new CudaTensor[] {scratch, t});
        return scratch;
    }

    /** Converts every staged output into the caller's tensor (in stream order, after the kernels). */
    void finish() {
        for (CudaTensor[] pair : pendingOutputs) {
            device.copy(pair[0], pair[1]);
        }
        pendingOutputs.clear();
    }

    /** Frees the temporaries (their memory is reused only by work queued after this). */
    @Override
    public void close() {
        temporaries.forEach(CudaTensor::close);
        temporaries.clear();
    }
}
