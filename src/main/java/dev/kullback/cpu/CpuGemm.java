package dev.kullback.cpu;

import dev.kullback.internal.Gemm;
import java.lang.System.Logger.Level;

/**
 * The CPU device's matrix products for the fused linear losses: OpenBLAS ({@link OpenBlasGemm}) when its native
 * library loads (org.bytedeco:openblas on the class path, an optional dependency), else {@link JavaGemm}, the reason
 * logged once.
 */
final class CpuGemm {
    private static final Object OPENBLAS = probe(); // Boolean.TRUE, or the String reason OpenBLAS is unusable

    private CpuGemm() {
    }

    static Gemm<CpuTensor> open(Workers workers) {
        return OPENBLAS == Boolean.TRUE ? new OpenBlasGemm(workers) : new JavaGemm();
    }

    /** Which BLAS the fused linear losses use, e.g. "OpenBLAS" or "Java (OpenBLAS unavailable: ...)". */
    static String description() {
        return OPENBLAS == Boolean.TRUE ? "OpenBLAS" : "Java (" + OPENBLAS + ")";
    }

    private static Object probe() {
        if (Boolean.getBoolean("kullback.cpu.noBlas")) {
            return "-Dkullback.cpu.noBlas";
        }
        try {
            OpenBlasGemm.load();
            return Boolean.TRUE;
        } catch (Throwable t) { // NoClassDefFoundError without the jar, UnsatisfiedLinkError without its natives
            String reason = "OpenBLAS unavailable: " + t;
            System.getLogger("dev.kullback.cpu").log(Level.INFO, "kullback's fused linear losses use a plain Java "
                    + "matrix product, several times slower: " + reason + " (add org.bytedeco:openblas with its "
                    + "platform natives to the class path)");
            return reason;
        }
    }
}
