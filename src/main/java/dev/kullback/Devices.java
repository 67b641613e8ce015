package dev.kullback;

import dev.kullback.cpu.CpuDevice;
import dev.kullback.cuda.CudaDevice;
import java.lang.System.Logger.Level;
import java.util.Locale;
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
    private static CudaDevice cuda;
    private static Throwable cudaFailure;

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
        if (cuda == null) {
            throw new IllegalStateException("no usable CUDA device: " + describe(cudaFailure), cudaFailure);
        }
        return cuda;
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
                if (cuda != null) {
                    reason = "a usable GPU was found";
                    return cuda;
                }
                reason = "no usable GPU: " + describe(cudaFailure);
                LOG.log(Level.INFO, "kullback runs on the CPU, " + reason);
                return cpu();
            default:
                throw new IllegalArgumentException("-Dkullback.device must be auto, cpu or cuda, got '" + wanted + "'");
        }
    }

    /** Opens CUDA device 0 once; any failure at all (no driver, no device, a module that will not load) is kept. */
    private static void probeCuda() {
        if (cuda != null || cudaFailure != null) {
            return;
        }
        try {
            cuda = CudaDevice.open(0);
            cuda.makeProcessWide();
        } catch (Throwable failure) {
            cudaFailure = failure;
        }
    }

    /** A one-line reason: JCuda's native-library errors carry whole nested stack traces in their message. */
    private static String describe(Throwable failure) {
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
}
