package dev.kullback.cuda;

/**
 * The CUDA device on a real GPU against the CPU device. Each test skips, with the reason, where no GPU is
 * usable; {@code -Dkullback.requireGpu=true} (CUDA CI runners) makes that a failure.
 */
class GpuParityTest extends CudaParityContract {
    @Override
    CudaDevice cuda() {
        return RealGpu.require("GPU parity");
    }
}
