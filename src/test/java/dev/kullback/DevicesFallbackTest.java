package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.cuda.CudaDevice;
import dev.kullback.cuda.CudaException;
import dev.kullback.cuda.Gpu;
import org.junit.jupiter.api.Test;

/**
 * Devices' probe with an injected opener: a driver too old for the shipped PTX (the module load fails with
 * CUDA_ERROR_UNSUPPORTED_PTX_VERSION or CUDA_ERROR_NO_BINARY_FOR_GPU) gives a reason naming the driver needed and
 * the one installed; any other failure keeps its one-line message.
 */
class DevicesFallbackTest {
    /** A GPU whose modules fail to load with {@code error}, as cuModuleLoadDataEx does on an old driver. */
    private static Gpu failingToLoad(String error) {
        return new Gpu() {
            @Override
            public String name() {
                return "fake:0";
            }

            @Override
            public long totalMemory() {
                return 1L << 30;
            }

            @Override
            public long malloc(long bytes) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void free(long address) {
            }

            @Override
            public void copyToDevice(float[] src, int srcOffset, long dst, int count) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void copyToDevice(int[] src, long dst) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void copyToHost(long src, float[] dst, int dstOffset, int count) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void memsetZero(long dst, long bytes) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Function function(String module, String kernel) {
                throw new CudaException("cuModuleLoadDataEx(" + module + ".ptx)", error);
            }

            @Override
            public void launch(Function function, int gridX, int blockX, int sharedBytes, Object... args) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void synchronize() {
            }

            @Override
            public void close() {
            }
        };
    }

    @Test
    void anUnsupportedPtxVersionFallsBackToTheCpuNamingTheDriverNeededAndInstalled() {
        Devices.Probe probe = Devices.probe(() -> new CudaDevice(failingToLoad("CUDA_ERROR_UNSUPPORTED_PTX_VERSION")),
                () -> 11080);
        assertNull(probe.cuda, "no device");
        assertNotNull(probe.failure);
        String reason = probe.reason;
        assertTrue(reason.contains("PTX ISA 8.0"), reason);
        assertTrue(reason.contains("CUDA 12.0 or newer"), reason);
        assertTrue(reason.contains("the installed driver supports CUDA 11.8 (cuDriverGetVersion 11080)"), reason);
        assertTrue(reason.contains("update the driver"), reason);
        assertTrue(reason.contains("CUDA_ERROR_UNSUPPORTED_PTX_VERSION"), reason);
        assertFalse(reason.contains("\n"), reason);
        assertSame(Devices.cpu(), Devices.autoChoice(probe), "best() falls back to the CPU");
        assertTrue(Devices.autoReason(probe).startsWith("no usable GPU: kullback's kernels are PTX ISA 8.0"),
                Devices.autoReason(probe));
    }

    @Test
    void noBinaryForGpuAlsoNamesTheArchitecture() {
        Devices.Probe probe = Devices.probe(() -> new CudaDevice(failingToLoad("CUDA_ERROR_NO_BINARY_FOR_GPU")),
                () -> 11040);
        assertTrue(probe.reason.contains("CUDA 12.0 or newer"), probe.reason);
        assertTrue(probe.reason.contains("CUDA 11.4"), probe.reason);
        assertTrue(probe.reason.contains("older than sm_75"), probe.reason);
        assertTrue(probe.reason.contains("CUDA_ERROR_NO_BINARY_FOR_GPU"), probe.reason);
    }

    @Test
    void anUnknownDriverVersionIsSaidSo() {
        Devices.Probe probe = Devices.probe(() -> new CudaDevice(failingToLoad("CUDA_ERROR_UNSUPPORTED_PTX_VERSION")),
                () -> {
                    throw new UnsatisfiedLinkError("no driver");
                });
        assertTrue(probe.reason.contains("the installed driver supports CUDA unknown"), probe.reason);
    }

    @Test
    void otherFailuresKeepTheirOneLineMessage() {
        Devices.Probe outOfMemory = Devices.probe(() -> new CudaDevice(failingToLoad("CUDA_ERROR_OUT_OF_MEMORY")),
                () -> 12040);
        assertTrue(outOfMemory.reason.equals("cuModuleLoadDataEx(log_softmax.ptx) failed: CUDA_ERROR_OUT_OF_MEMORY"),
                outOfMemory.reason);
        Devices.Probe noDriver = Devices.probe(() -> {
            throw new UnsatisfiedLinkError("Error while loading native library\nlibcuda.so.1: cannot open shared "
                    + "object file: No such file or directory\n\tat ...");
        }, () -> 0);
        assertTrue(noDriver.reason.equals("libcuda.so.1 not found (no NVIDIA driver is installed)"), noDriver.reason);
    }

    @Test
    void versionNumbersReadAsCuda() {
        assertTrue(Devices.cudaVersion(12040).equals("12.4"));
        assertTrue(Devices.cudaVersion(11080).equals("11.8"));
        assertTrue(Devices.cudaVersion(0).equals("unknown"));
    }
}
