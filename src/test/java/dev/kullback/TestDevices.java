package dev.kullback;

import dev.kullback.cpu.CpuDevice;
import dev.kullback.cuda.CudaDevice;
import dev.kullback.cuda.SimGpu;
import dev.kullback.cuda.SimGpus;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;

/**
 * The devices every correctness test runs on. Each test class is parameterized over {@link #all()}
 * (JUnit {@code @MethodSource}), and its display names start with the device's {@code name()}, so a
 * report says which device failed.
 *
 * <p>To put another device under test (the CUDA device on the host simulator, a real GPU), add one
 * {@link Kind} to {@link #KINDS}: a label and a way to open a fresh instance. The shared instance of each
 * kind is opened on first use and stays open for the whole run; tests that close a device or need a
 * second instance (closed-device and mixed-device checks) get one from {@link #fresh(Device)}.
 *
 * <p>A {@link Device} is {@link AutoCloseable}, and JUnit closes AutoCloseable arguments after each parameterized
 * invocation unless told not to: every test that takes a shared device says
 * {@code @ParameterizedTest(autoCloseArguments = false, ...)}. {@link #all()} fails loudly if a shared device
 * was closed anyway.
 */
public final class TestDevices {
    /** A kind of device under test: a label for reports and a factory of fresh, independent instances. */
    public static final class Kind {
        private final String label;
        private final Supplier<Device> factory;

        public Kind(String label, Supplier<Device> factory) {
            this.label = Objects.requireNonNull(label);
            this.factory = Objects.requireNonNull(factory);
        }

        public String label() {
            return label;
        }

        /** A new instance that the caller owns and closes. */
        public Device open() {
            return Objects.requireNonNull(factory.get(), label + " factory returned null");
        }

        @Override
        public String toString() {
            return label;
        }
    }

    /**
     * The Surefire execution {@code driver-shim} (pom.xml, profile driver-shim) sets {@code -Dkullback.test.devices=driver-shim} in a JVM
     * whose libcuda.so.1 is the driver shim: there the suites run on that one kind only, on {@link #shapes}.
     */
    static final boolean DRIVER_SHIM = "driver-shim".equals(System.getProperty("kullback.test.devices"));

    private static final List<Kind> KINDS = DRIVER_SHIM ? driverShim() : kinds(
            // the CPU device as Devices.cpu() makes it: Vector API kernels where available, every core
            new Kind("cpu", CpuDevice::new),
            // its other configurations: the scalar kernels (the fallback without the Vector API), and an odd
            // thread count, so uneven row and chunk partitions are exercised
            new Kind("cpu scalar", () -> new CpuDevice(2, false)),
            new Kind("cpu 3 threads", () -> new CpuDevice(3)));

    /**
     * The CPU kinds, then the CUDA device's own Java path: on the host simulator when it is built (always in CI,
     * where a missing simulator fails the run), and on a real GPU when one is usable.
     */
    private static List<Kind> kinds(Kind... cpu) {
        List<Kind> kinds = new ArrayList<>(List.of(cpu));
        if (SimGpu.open().map(gpu -> {
            gpu.close();
            return true;
        }).orElse(false)) {
            kinds.add(new Kind("cuda (host simulator)", () -> new CudaDevice(SimGpu.open().orElseThrow())));
        } else if (SimGpus.required()) {
            throw new IllegalStateException("the CUDA host simulator is required (CI=true) but unavailable: "
                    + SimGpu.unavailableReason());
        }
        if (Devices.best().isGpu()) {
            kinds.add(new Kind("cuda (GPU)", () -> CudaDevice.open(0)));
        }
        return List.copyOf(kinds);
    }

    /**
     * The production CUDA path on the host simulator: {@code Devices.best()} must have opened CUDA device 0 through
     * JCudaGpu and JCuda's JNI on the shim (src/test/native/sim/README.md); fresh instances are
     * {@code CudaDevice.open(0)}, as users open them.
     */
    private static List<Kind> driverShim() {
        Device best = Devices.best();
        if (!best.isGpu() || !best.name().contains("driver shim")) {
            String why = "the JCuda + driver shim device is unavailable (Devices.best() is " + best.name() + ": "
                    + Devices.reason() + ")";
            if (SimGpus.required()) {
                throw new IllegalStateException(why);
            }
            return List.of(); // all() skips
        }
        return List.of(new Kind("cuda (JCuda + driver shim)", () -> CudaDevice.open(0)));
    }

    /**
     * The test shapes to run on this JVM's devices: all of them, except on the driver shim, whose JVM repeats the
     * suites on the production path and keeps CI time in check with every shape of at most 8192 elements and the
     * one of the longest rows (the long-row and block paths; the largest of them if several).
     */
    public static List<Shape> shapes(List<Shape> shapes) {
        if (!DRIVER_SHIM) {
            return shapes;
        }
        Shape longest = shapes.stream().max(Comparator.comparingInt(Shape::cols).thenComparingLong(Shape::size))
                .orElseThrow();
        return shapes.stream().filter(s -> s.size() <= 8192 || s == longest).collect(Collectors.toUnmodifiableList());
    }

    private static final Map<Kind, Device> SHARED = new ConcurrentHashMap<>();
    private static final Map<Device, Kind> KIND_OF = Collections.synchronizedMap(new java.util.IdentityHashMap<>());

    private TestDevices() {
    }

    public static List<Kind> kinds() {
        return KINDS;
    }

    /** One open instance of every kind under test, shared by all tests; never closed by a test. */
    public static List<Device> all() {
        List<Device> devices = new ArrayList<>();
        for (Kind kind : KINDS) {
            Device d = SHARED.computeIfAbsent(kind, k -> {
                Device opened = k.open();
                KIND_OF.put(opened, k);
                return opened;
            });
            if (d instanceof dev.kullback.internal.AbstractDevice && ((dev.kullback.internal.AbstractDevice<?, ?>) d).isClosed()) {
                throw new IllegalStateException("the shared " + kind + " device was closed by a test; shared devices "
                        + "must stay open (use @ParameterizedTest(autoCloseArguments = false))");
            }
            devices.add(d);
        }
        if (devices.isEmpty() && DRIVER_SHIM) {
            Assumptions.abort("no driver shim in this JVM (no g++ to build it)");
        }
        if (devices.isEmpty()) {
            throw new IllegalStateException("no device under test");
        }
        return List.copyOf(devices);
    }

    /**
     * Whether the CUDA device implements half precision and strided views (issue 10's CUDA side): the one switch that
     * puts the CUDA kinds under the half and view suites ({@link #halfCapable()}, {@link #stridesCapable()}).
     */
    static final boolean CUDA_HALF_AND_STRIDES = true;

    /** The devices under test that hold BFLOAT16 / FLOAT16 tensors: the CPU kinds, and CUDA once it does. */
    public static List<Device> halfCapable() {
        return capable();
    }

    /**
     * The devices under test whose views give exactly the bits of contiguous copies ({@link Device#view}): every kind,
     * the CUDA device included (its kernels and their order of additions follow the type and shape only; the
     * addresses decide only whether a row is read as vectors, kernels/README.md).
     */
    public static List<Device> stridesCapable() {
        return capable();
    }

    private static List<Device> capable() {
        List<Device> devices = all().stream().filter(d -> d instanceof CpuDevice || CUDA_HALF_AND_STRIDES)
                .collect(Collectors.toUnmodifiableList());
        if (devices.isEmpty()) {
            throw new IllegalStateException("no device under test takes half precision and views");
        }
        return devices;
    }

    /** A new, independent instance of the same kind as {@code device} (one of {@link #all()}); the caller closes it. */
    public static Device fresh(Device device) {
        Kind kind = KIND_OF.get(device);
        if (kind == null) {
            throw new IllegalArgumentException(device + " is not one of TestDevices.all()");
        }
        return kind.open();
    }

    /** A CPU device that is a different instance from every shared device: the "other device" of mixing checks. */
    public static Device otherCpu() {
        return new CpuDevice();
    }
}
