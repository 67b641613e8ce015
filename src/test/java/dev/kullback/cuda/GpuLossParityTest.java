package dev.kullback.cuda;

/**
 * Every loss kernel on a real GPU (see LossParityContract). Skips, with the reason, where no GPU is usable;
 * {@code -Dkullback.requireGpu=true} (CUDA CI runners) makes that a failure.
 */
class GpuLossParityTest extends LossParityContract {
    @Override
    CudaDevice cuda() {
        return RealGpu.require("GPU loss parity");
    }
}
