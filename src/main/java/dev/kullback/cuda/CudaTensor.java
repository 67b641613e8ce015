package dev.kullback.cuda;

import dev.kullback.DType;
import dev.kullback.internal.AbstractTensor;
import java.lang.ref.Reference;

/**
 * A row-major [rows, cols] matrix in device memory, of float32, bfloat16 or float16, whose rows may be strided: either
 * owned by its {@link CudaDevice}'s pool (returned there by {@code close()}, or by a Cleaner if the tensor is garbage
 * collected unclosed), wrapped caller memory ({@link CudaDevice#wrap(long, int, int, long, DType)}), which kullback
 * never frees (closing it only marks it closed), or a view of another tensor ({@link dev.kullback.Device#view}),
 * which frees nothing either and keeps its base reachable.
 */
public final class CudaTensor extends AbstractTensor {
    private final CudaDevice device;
    private final long address;
    /** The pooled buffer's owner; null for wrapped memory and views. */
    private final DeviceMemory memory;

    private CudaTensor(CudaDevice device, int rows, int cols, DType type, long rowStride, long offset,
                       CudaTensor base, long address, boolean pooled) {
        super(device, rows, cols, type, rowStride, offset, base);
        this.device = device;
        this.address = address;
        this.memory = pooled ? DeviceMemory.tensor(this, device.pool(), address, bytes(type, rows, cols), shape(),
                device.name()) : null;
    }

    /** A contiguous tensor that owns {@code address}, a buffer of {@link #bytes(DType, int, int)} from the pool. */
    static CudaTensor pooled(CudaDevice device, int rows, int cols, DType type, long address) {
        return new CudaTensor(device, rows, cols, type, cols, 0, null, address, true);
    }

    /** A view of caller memory, never freed by kullback; element [0, 0] at {@code address}. */
    static CudaTensor wrapped(CudaDevice device, int rows, int cols, long rowStride, DType type, long address) {
        return new CudaTensor(device, rows, cols, type, rowStride, 0, null, address, false);
    }

    /** A view of {@code base}'s memory whose element [0, 0] is element {@code offset} of base's root. */
    static CudaTensor view(CudaTensor base, long offset, int rows, int cols) {
        CudaTensor root = base.base() == null ? base : (CudaTensor) base.base();
        long address = root.address + offset * base.dtype().bytes();
        return new CudaTensor(base.device, rows, cols, base.dtype(), base.rowStride(), offset, root, address, false);
    }

    /** Bytes of a contiguous [rows, cols] tensor of {@code type}. */
    static long bytes(DType type, int rows, int cols) {
        return (long) type.bytes() * rows * cols;
    }

    /** The raw device address of element [0, 0], for passing to the caller's own kernels. */
    public long address() {
        return address;
    }

    /** Whether this tensor is a view of caller memory ({@link CudaDevice#wrap}) rather than kullback's own. */
    public boolean isWrapped() {
        return memory == null && base() == null;
    }

    /** Bytes of a contiguous tensor's data (its row stride is its cols). */
    long bytes() {
        return bytes(dtype(), rows(), cols());
    }

    /** Whether the kernel families that take contiguous float32 only can use this tensor as it is. */
    boolean isPlainFloat32() {
        return dtype() == DType.FLOAT32 && isContiguous();
    }

    @Override
    protected float[] download() {
        try {
            if (isPlainFloat32()) {
                float[] host = new float[Math.toIntExact(size())];
                device.gpu().copyToHost(address, host, 0, host.length);
                return host;
            }
            try (CudaTensor packed = device.copyAs(this, DType.FLOAT32)) { // widened exactly, rows packed
                return packed.download();
            }
        } finally {
            Reference.reachabilityFence(this); // not collected (and freed) while its memory is being read
        }
    }

    @Override
    protected short[] downloadBits() {
        try {
            if (isContiguous()) {
                short[] host = new short[Math.toIntExact(size())];
                device.gpu().copyToHost(address, host);
                return host;
            }
            try (CudaTensor packed = device.copyAs(this, dtype())) {
                return packed.downloadBits();
            }
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    @Override
    protected void release() {
        if (memory != null) {
            memory.release();
        }
    }
}
