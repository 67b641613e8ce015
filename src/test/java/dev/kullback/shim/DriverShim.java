package dev.kullback.shim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The driver shim ({@code target/sim/driver/libcuda.so.1}, src/test/native/sim/README.md) from the tests: whether this
 * JVM runs on it (the Surefire execution {@code driver-shim} puts it on {@code LD_LIBRARY_PATH}), its own C API for
 * tests, and fresh JVMs with it and a chosen configuration (driver version, sm, memory size).
 */
public final class DriverShim {
    /** The shim's test API (shim_api.h). */
    public interface Api extends Library {
        String kullback_shim_last_error();

        long kullback_shim_live_bytes();

        int kullback_shim_live_allocations();

        int kullback_shim_pending();

        void kullback_shim_set_lazy(int lazy);

        /** Host work queued on a stream by another shim (as libcublas.so.12 queues its GEMMs): returns a CUresult. */
        interface Run extends Callback {
            int invoke(Pointer arg);
        }

        int kullback_shim_enqueue(Pointer stream, Run run, Pointer arg, Pointer release, String what);

        int kullback_shim_launch_by_name(Pointer stream, String module, String kernel, int gridX, int gridY,
                                         int gridZ, int blockX, int blockY, int blockZ, int sharedBytes,
                                         Pointer[] params);

        int kullback_shim_check_range(long address, long bytes);

        int kullback_shim_stream_context(Pointer stream, PointerByReference context);
    }

    private static Api api;

    private DriverShim() {
    }

    /** The folder that holds libcuda.so.1 ({@code -Dkullback.sim.dir}/driver, default target/sim/driver). */
    public static Path folder() {
        return Path.of(System.getProperty("kullback.sim.dir", "target/sim"), "driver").toAbsolutePath();
    }

    /** Whether the shim was built (g++ present). */
    public static boolean built() {
        return Files.isRegularFile(folder().resolve("libcuda.so.1"));
    }

    /** Whether this JVM was started with the shim as its CUDA driver (the driver-shim Surefire execution). */
    public static boolean active() {
        String path = System.getenv("LD_LIBRARY_PATH");
        return built() && path != null && List.of(path.split(":")).contains(folder().toString());
    }

    /** Skips the calling test unless this JVM runs on the shim (fails instead when the shim is required, in CI). */
    public static void assumeActive() {
        if (!active()) {
            if (required() && !built()) {
                Assertions.fail("the driver shim is required (CI=true) but was not built: see target/sim/build.log");
            }
            Assumptions.abort("this JVM does not run on the driver shim (the driver-shim Surefire execution does)");
        }
    }

    /** Same rule as the simulator: CI=true or -Dkullback.sim.required=true makes a missing shim a failure. */
    public static boolean required() {
        return "true".equalsIgnoreCase(System.getenv("CI")) || Boolean.getBoolean("kullback.sim.required");
    }

    /** The shim's own API, in this JVM (which must run on it). */
    public static synchronized Api api() {
        assumeActive();
        if (api == null) {
            api = Native.load(folder().resolve("libcuda.so.1").toString(), Api.class);
        }
        return api;
    }

    /**
     * Runs {@link ShimProbe} with {@code args} in a fresh JVM on the shim, with {@code environment} added (e.g.
     * KULLBACK_SHIM_DRIVER_VERSION); returns its output (stdout and stderr). Skips (fails in CI) without the shim.
     */
    public static String probe(Map<String, String> environment, String... args) throws Exception {
        if (!built()) {
            if (required()) {
                Assertions.fail("the driver shim is required (CI=true) but was not built");
            }
            Assumptions.abort("the driver shim was not built (no g++)");
        }
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        List<String> command = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "-Xmx512m",
                "-Dkullback.sim.dir=" + folder().getParent(), "-cp", System.getProperty("java.class.path"),
                ShimProbe.class.getName()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("LD_LIBRARY_PATH", folder().toString());
        builder.environment().putAll(environment);
        Process p = builder.start();
        String output;
        try (InputStream in = p.getInputStream()) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            in.transferTo(bytes);
            output = bytes.toString(StandardCharsets.UTF_8);
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the probe JVM did not finish");
        Assertions.assertEquals(0, p.exitValue(), output);
        return output;
    }
}
