package dev.kullback.cuda;

import jcuda.CudaException;

/**
 * An error reported by the host simulator, named like the CUDA driver's error it stands for. It extends
 * {@link CudaException}, what JCuda throws when its exceptions are enabled, so code that handles a real
 * driver's errors handles the simulator's the same way. The message starts with the error name, then
 * the kernel (for launches) and what went wrong.
 */
public class SimCudaException extends CudaException {
    private final int code;
    private final String kernel;

    public SimCudaException(int code, String kernel, String message) {
        super(message);
        this.code = code;
        this.kernel = kernel;
    }

    /** The CUresult value, e.g. 700 for CUDA_ERROR_ILLEGAL_ADDRESS. */
    public int code() {
        return code;
    }

    /** e.g. "CUDA_ERROR_ILLEGAL_ADDRESS". */
    public String errorName() {
        String m = getMessage();
        int colon = m.indexOf(':');
        return colon > 0 ? m.substring(0, colon) : m;
    }

    /** The kernel whose launch failed, or null when the error is not a launch's. */
    public String kernel() {
        return kernel;
    }
}
