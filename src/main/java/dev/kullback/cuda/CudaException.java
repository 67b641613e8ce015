package dev.kullback.cuda;

/** A CUDA driver call that failed: names the call and the CUresult (e.g. CUDA_ERROR_OUT_OF_MEMORY). */
public final class CudaException extends IllegalStateException {
    private final String error;

    public CudaException(String call, String error) {
        super(call + " failed: " + error);
        this.error = error;
    }

    /** The CUresult name, e.g. "CUDA_ERROR_UNSUPPORTED_PTX_VERSION". */
    public String error() {
        return error;
    }
}
