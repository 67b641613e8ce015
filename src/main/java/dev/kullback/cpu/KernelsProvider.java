package dev.kullback.cpu;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.management.ManagementFactory;
import java.util.Optional;

/**
 * Chooses the CPU kernels once per JVM, after Apache Lucene's {@code VectorizationProvider}: the Vector API
 * kernels ({@code PanamaKernels}) when the {@code jdk.incubator.vector} module is in the boot layer, C2 is on, the CPU
 * has FMA, and the class loads and passes a quick self-check; otherwise the scalar kernels, with the reason logged once
 * (System.Logger {@code dev.kullback.cpu}).
 *
 * <p>{@code -Dkullback.cpu.vector=false} makes {@link #best()}, and so {@code new CpuDevice()} and
 * {@code new CpuDevice(threads)}, use the scalar kernels.
 */
final class KernelsProvider {
    static final String DISABLE_PROPERTY = "kullback.cpu.vector";
    private static final Logger LOG = System.getLogger("dev.kullback.cpu");

    private KernelsProvider() {
    }

    /** The scalar kernels, always available. */
    static Kernels scalar() {
        return ScalarKernels.INSTANCE;
    }

    /** The Vector API kernels, if this JVM can run them (whatever {@code kullback.cpu.vector} says). */
    static Optional<Kernels> vector() {
        return Optional.ofNullable(Holder.VECTOR);
    }

    /** Why {@link #vector()} is empty; null when it is not. */
    static String vectorUnavailableReason() {
        return Holder.REASON;
    }

    /** What a default device uses: the vector kernels unless unavailable or disabled, each fallback logged once. */
    static Kernels best() {
        return BestHolder.BEST;
    }

    private static final class BestHolder {
        static final Kernels BEST = chooseBest();

        private static Kernels chooseBest() {
            String flag = System.getProperty(DISABLE_PROPERTY, "true").trim();
            if (flag.equalsIgnoreCase("false")) {
                LOG.log(Level.INFO, "kullback CPU kernels: scalar, because -D" + DISABLE_PROPERTY + "=false");
                return scalar();
            }
            if (Holder.VECTOR != null) {
                LOG.log(Level.DEBUG, "kullback CPU kernels: Vector API, " + Holder.VECTOR.description());
                return Holder.VECTOR;
            }
            return scalar();
        }
    }

    /** Loads the vector kernels at most once, and logs the reason once when it cannot. */
    private static final class Holder {
        static final Kernels VECTOR;
        static final String REASON;

        static {
            Kernels vector = null;
            String reason;
            try {
                reason = checkEnvironment();
                if (reason == null) {
                    Class<?> type = Class.forName("dev.kullback.cpu.PanamaKernels");
                    vector = (Kernels) type.getDeclaredConstructor().newInstance();
                    reason = selfCheck(vector);
                    if (reason != null) {
                        vector = null;
                    }
                }
            } catch (Throwable t) {
                Throwable cause = t instanceof java.lang.reflect.InvocationTargetException && t.getCause() != null
                        ? t.getCause() : t;
                vector = null;
                reason = "the Vector API kernels failed to load: " + cause;
            }
            VECTOR = vector;
            REASON = reason;
            if (reason != null) {
                LOG.log(Level.WARNING, "kullback CPU kernels fall back to scalar code: " + reason);
            }
        }
    }

    /** The one-line warning without the module: the exact flags for java, Maven Surefire and Gradle. */
    static final String MODULE_MISSING = "the jdk.incubator.vector module is not present (about 10x slower); add"
            + " --add-modules jdk.incubator.vector: java --add-modules jdk.incubator.vector ...; Maven Surefire"
            + " <argLine>--add-modules jdk.incubator.vector</argLine>; Gradle tasks.withType(Test) { jvmArgs"
            + " '--add-modules', 'jdk.incubator.vector' } and application { applicationDefaultJvmArgs ="
            + " ['--add-modules', 'jdk.incubator.vector'] }";

    /** Null when the Vector API is usable, else why not. */
    private static String checkEnvironment() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return MODULE_MISSING;
        }
        try {
            return checkCompiler();
        } catch (Throwable t) {
            // jdk.management may be absent; the checks below are only an optimisation.
            return null;
        }
    }

    /** Without C2 the Vector API runs as slow Java fallbacks; without FMA its fma is a software routine. */
    private static String checkCompiler() {
        com.sun.management.HotSpotDiagnosticMXBean bean =
                ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
        if (bean == null) {
            return null;
        }
        if (optionIs(bean, "UseCompiler", "false")) {
            return "the JIT compiler is off (-Xint)";
        }
        String level = option(bean, "TieredStopAtLevel");
        if (level != null && !level.isEmpty() && Integer.parseInt(level) < 4) {
            return "C2 is off (-XX:TieredStopAtLevel=" + level + ")";
        }
        if (optionIs(bean, "UseFMA", "false")) {
            return "the CPU or JVM has no fused multiply-add (-XX:-UseFMA)";
        }
        return null;
    }

    private static boolean optionIs(com.sun.management.HotSpotDiagnosticMXBean bean, String name, String value) {
        return value.equals(option(bean, name));
    }

    private static String option(com.sun.management.HotSpotDiagnosticMXBean bean, String name) {
        try {
            return bean.getVMOption(name).getValue();
        } catch (IllegalArgumentException e) {
            return null; // not a HotSpot option on this JVM
        }
    }

    /** A few known values through both the vector and the scalar paths; null when right. */
    private static String selfCheck(Kernels k) {
        float[] x = new float[67];
        for (int i = 0; i < x.length; i++) {
            x[i] = (i - 33) * 0.37f;
        }
        float m = k.max(x, 0, x.length);
        double s = k.sumExpStore(x, 0, x.length, m, new float[x.length]);
        double expected = ScalarKernels.INSTANCE.sumExpStore(x, 0, x.length, m, new float[x.length]);
        if (m != x[x.length - 1] || !(Math.abs(s - expected) <= 1e-5 * expected)) {
            return "the Vector API kernels failed their self-check (max " + m + ", sum " + s + ", expected "
                    + expected + ")";
        }
        return null;
    }
}
