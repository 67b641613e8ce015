package dev.kullback;

import dev.kullback.cpu.CpuDevice;
import dev.kullback.cuda.CudaDevice;
import dev.kullback.cuda.CudaException;
import dev.kullback.cuda.JCudaGpu;
import java.lang.System.Logger.Level;
import java.util.Locale;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where to run: {@link #best()} picks CUDA device 0 when it is usable and the CPU otherwise.
 * {@code -Dkullback.device=auto|cpu|cuda} overrides the choice ({@code cuda} fails, with the reason, when
 * no GPU is usable). The devices handed out here are shared by the whole process and stay open: their
 * {@code close()} does nothing. For a device with a lifetime of its own, use {@code new CpuDevice()} or
 * {@code CudaDevice.open(0)}.
 */
public final class Devices {
    private static final System.Logger LOG = System.getLogger("dev.kullback");
    private static final Pattern MISSING_LIBRARY = Pattern.compile("(\\S+): cannot open shared object file");

    private static CpuDevice cpu;
    private static Device best;
    private static String reason;
    private static Probe probe;

    private Devices() {
    }

    /** The best device here, chosen once: a usable GPU, else the CPU. Never throws for "no GPU". */
    public static synchronized Device best() {
        if (best == null) {
            best = choose();
        }
        return best;
    }

    /** Why {@link #best()} chose what it chose, e.g. "no usable GPU: libcuda.so.1 not found". */
    public static synchronized String reason() {
        best();
        return reason;
    }

    /** The CPU implementation, always available: one instance for the process, which close() leaves open. */
    public static synchronized Device cpu() {
        if (cpu == null) {
            cpu = new CpuDevice();
            cpu.makeProcessWide();
        }
        return cpu;
    }

    /** CUDA device 0; throws {@link IllegalStateException} with the reason when no GPU is usable. */
    public static synchronized Device cuda() {
        probeCuda();
        if (probe.cuda == null) {
            throw new IllegalStateException("no usable CUDA device: " + probe.reason, probe.failure);
        }
        return probe.cuda;
    }

    private static Device choose() {
        String wanted = System.getProperty("kullback.device", "auto").trim().toLowerCase(Locale.ROOT);
        switch (wanted) {
            case "cpu":
                reason = "-Dkullback.device=cpu";
                return cpu();
            case "cuda":
                Device device = cuda();
                reason = "-Dkullback.device=cuda";
                return device;
            case "auto":
                probeCuda();
                reason = autoReason(probe);
                if (probe.cuda == null) {
                    LOG.log(Level.INFO, "kullback runs on the CPU, " + reason);
                }
                return autoChoice(probe);
            default:
                throw new IllegalArgumentException("-Dkullback.device must be auto, cpu or cuda, got '" + wanted + "'");
        }
    }

    /** Opens CUDA device 0 once; any failure at all (no driver, no device, a module that will not load) is kept. */
    private static void probeCuda() {
        if (probe == null) {
            probe = probe(() -> CudaDevice.open(0), Devices::installedDriverVersion);
            if (probe.cuda != null) {
                probe.cuda.makeProcessWide();
            }
        }
    }

    /** What opening a CUDA device gave: the device, or null with the failure and a one-line reason. */
    static final class Probe {
        final CudaDevice cuda;
        final Throwable failure;
        final String reason;

        private Probe(CudaDevice cuda, Throwable failure, String reason) {
            this.cuda = cuda;
            this.failure = failure;
            this.reason = reason;
        }
    }

    /**
     * Runs {@code opener}; any failure at all becomes the reason. {@code driverVersion} is cuDriverGetVersion's
     * number (12040 for CUDA 12.4), asked only when the failure says the driver is too old for the kernels.
     */
    static Probe probe(Supplier<CudaDevice> opener, IntSupplier driverVersion) {
        try {
            CudaDevice cuda = opener.get();
            String blas = cuda.fusedLinearUnavailableReason();
            return new Probe(cuda, null, "a usable GPU was found" + (blas == null ? "" : "; but " + blas));
        } catch (Throwable failure) {
            return new Probe(null, failure, describe(failure, driverVersion));
        }
    }

    /** What {@code auto} picks after {@code probe}: its GPU, else the CPU. */
    static Device autoChoice(Probe probe) {
        return probe.cuda != null ? probe.cuda : cpu();
    }

    /** {@link #reason()} for {@code auto} after {@code probe}. */
    static String autoReason(Probe probe) {
        return probe.cuda != null ? probe.reason : "no usable GPU: " + probe.reason;
    }

    /** cuDriverGetVersion, or 0 when it cannot be asked. */
    private static int installedDriverVersion() {
        try {
            return JCudaGpu.driverVersionNumber();
        } catch (RuntimeException | LinkageError e) {
            return 0;
        }
    }

    /** "12.4" for 12040; "unknown" for 0. */
    static String cudaVersion(int driverVersion) {
        return driverVersion <= 0 ? "unknown" : driverVersion / 1000 + "." + driverVersion % 1000 / 10;
    }

    /** A one-line reason: JCuda's native-library errors carry whole nested stack traces in their message. */
    static String describe(Throwable failure, IntSupplier driverVersion) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof CudaException) {
                String error = ((CudaException) t).error();
                if ("CUDA_ERROR_UNSUPPORTED_PTX_VERSION".equals(error) || "CUDA_ERROR_NO_BINARY_FOR_GPU".equals(error)) {
                    return tooOldDriver((CudaException) t, driverVersion);
                }
            }
        }
        String message = failure.getMessage();
        if (message == null || message.isBlank()) {
            return failure.getClass().getName();
        }
        Matcher missing = MISSING_LIBRARY.matcher(message);
        if (missing.find()) {
            return missing.group(1) + " not found (no NVIDIA driver is installed)";
        }
        return message.lines().findFirst().orElse(message).strip();
    }

    private static String tooOldDriver(CudaException failure, IntSupplier driverVersion) {
        int installed;
        try {
            installed = driverVersion.getAsInt();
        } catch (RuntimeException | LinkageError e) {
            installed = 0;
        }
        String needs = "kullback's kernels are PTX ISA " + JCudaGpu.PTX_ISA + " for " + JCudaGpu.PTX_TARGET
                + ", which needs an NVIDIA driver for CUDA " + JCudaGpu.MIN_DRIVER_CUDA + " or newer";
        String has = "the installed driver supports CUDA " + cudaVersion(installed)
                + (installed > 0 ? " (cuDriverGetVersion " + installed + ")" : "");
        String advice = "CUDA_ERROR_NO_BINARY_FOR_GPU".equals(failure.error())
                ? "update the driver, or the GPU is older than " + JCudaGpu.PTX_TARGET + " (Turing)"
                : "update the driver";
        return needs + "; " + has + ": " + advice + " (" + failure.getMessage() + ")";
    }
}
