package dev.kullback.bench;

import dev.kullback.cuda.CudaDevice;
import dev.kullback.cuda.JCudaGpu;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * The fused linear cross-entropy benchmark ({@code mvn -q test-compile exec:exec@bench-linear}): on the CPU, JMH
 * times one step per shape and contender (single-shot, {@code kullback.bench.warmup} + {@code .measurement}
 * iterations, a fork each), and {@link FusedLinearMemory} measures each step's peak extra memory in a fresh process;
 * writes {@code docs/benchmarks/fused-linear.md}. With {@code -Dkullback.bench.device=cuda}: the same steps on the
 * GPU timed with CUDA events, peak extra device memory by the device's own accounting and cuMemGetInfo, written to
 * {@code fused-linear-gpu.md}; without a usable GPU it says why, writes nothing and exits 0. Shapes:
 * {@code -Dkullback.bench.shapes=NxHxV,...}.
 */
public final class FusedLinearBenchMain {
    static final String SHAPES = "4096x1024x32768,2048x512x16384,256x2048x65536";

    private FusedLinearBenchMain() {
    }

    public static void main(String[] args) throws Exception {
        List<String> shapes = shapes();
        Path out = Path.of(BenchConfig.out());
        if (BenchConfig.device().equals("cuda")) {
            gpu(shapes, out);
            return;
        }
        int threads = BenchConfig.threads();
        Options options = new OptionsBuilder()
                .include(FusedLinearBench.class.getName() + ".run$")
                .param("shape", shapes.toArray(String[]::new))
                .param("contender", "kullback", "kullback-8x", "pytorch")
                .forks(1)
                .warmupIterations(BenchConfig.warmup())
                .measurementIterations(BenchConfig.measurement())
                .jvmArgsAppend("--add-modules", "jdk.incubator.vector", "-Xmx8g", "-Dkullback.bench.threads=" + threads)
                .shouldFailOnError(true)
                .verbosity(VerboseMode.NORMAL)
                .build();
        Collection<RunResult> results = new Runner(options).run();
        Map<String, double[]> ms = new LinkedHashMap<>();
        for (RunResult r : results) {
            String key = r.getParams().getParam("shape") + " " + r.getParams().getParam("contender");
            ms.put(key, new double[] {r.getPrimaryResult().getScore(), r.getPrimaryResult().getScoreError()});
        }
        StringBuilder md = new StringBuilder("# Fused linear cross-entropy: kullback vs PyTorch on the CPU\n\n");
        md.append("Written by `mvn -q test-compile exec:exec@bench-linear`. One training step's loss: the mean "
                + "cross-entropy of `hidden @ W.T` ([N, H] hidden states, a [V, H] weight, float32) with the "
                + "gradients of hidden and W. **kullback**: `linearCrossEntropy` on the CPU device (auto chunking: "
                + "one chunk's logits ≈ the hidden states; OpenBLAS products). **pytorch**: libtorch "
                + "(org.bytedeco:pytorch) `cross_entropy(hidden.matmul(W.t()), labels)` then `backward()`. "
                + "**kullback-8x**: the same as kullback with `Chunking.memoryBudget` of 8× the hidden states. "
                + "Time: JMH single-shot, mean of " + BenchConfig.measurement() + " steps after "
                + BenchConfig.warmup() + ". Peak extra memory: the rise of the process's resident high-water mark "
                + "(VmHWM) over one cold step in a fresh JVM, less the returned gradients (see FusedLinearMemory).\n\n");
        md.append("| machine | |\n|---|---|\n| CPU | ").append(cpuModel()).append(" |\n| threads | ").append(threads)
                .append(" |\n| JVM | ").append(System.getProperty("java.vm.name")).append(' ')
                .append(System.getProperty("java.version")).append(" |\n| date | ")
                .append(ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME).replaceAll("\\.\\d+", ""))
                .append(" |\n\n");
        md.append("| [N, H, V] | logits MB | contender | ms per step | PyTorch time / this | extra MB "
                + "| this extra / PyTorch's |\n|---|---:|---|---:|---:|---:|---:|\n");
        for (String shape : shapes) {
            String[] d = shape.split("x");
            double logitsMb = 4.0 * Long.parseLong(d[0]) * Long.parseLong(d[2]) / 1e6;
            double[] p = ms.get(shape + " pytorch");
            long pm = memory("pytorch", shape, threads);
            for (String c : List.of("kullback", "kullback-8x", "pytorch")) {
                double[] t = ms.get(shape + " " + c);
                long m = c.equals("pytorch") ? pm : memory(c, shape, threads);
                md.append("| ").append(shape.replace("x", ", ")).append(" | ").append(fmt("%.0f", logitsMb))
                        .append(" | ").append(c).append(" | ")
                        .append(Double.isFinite(t[1]) ? fmt("%.0f ± %.0f", t[0], t[1]) : fmt("%.0f", t[0]))
                        .append(" | ").append(fmt("%.2f", p[0] / t[0])).append(" | ").append(fmt("%.0f", m / 1e6))
                        .append(" | ").append(pm > 0 ? fmt("%.2f", (double) m / pm) : "n/a").append(" |\n");
            }
        }
        Files.createDirectories(out);
        Files.writeString(out.resolve("fused-linear.md"), md.toString());
        System.out.println(md);
        System.out.println("wrote " + out.resolve("fused-linear.md"));
    }

    static List<String> shapes() {
        String s = System.getProperty("kullback.bench.shapes", "");
        return List.of((s.isBlank() || !s.contains("x") || s.split("x").length != 3 ? SHAPES : s).split(","));
    }

    /** {@link FusedLinearMemory} in a fresh JVM. */
    private static long memory(String contender, String shape, int threads) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "--add-modules", "jdk.incubator.vector", "-Xmx8g", "-cp",
                System.getProperty("java.class.path"), FusedLinearMemory.class.getName(), contender, shape,
                String.valueOf(threads)));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        for (String line : output.split("\n")) {
            if (line.startsWith("extraBytes=")) {
                return Long.parseLong(line.substring("extraBytes=".length()).trim());
            }
        }
        throw new IllegalStateException("memory probe failed: " + output);
    }

    private static String cpuModel() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
            if (line.startsWith("model name")) {
                return line.substring(line.indexOf(':') + 1).trim();
            }
        }
        return "unknown";
    }

    /** The GPU mode: CUDA events for time, the device pool's peak and cuMemGetInfo for memory. */
    private static void gpu(List<String> shapes, Path out) throws IOException {
        JCudaGpu gpu;
        try {
            gpu = JCudaGpu.open(0);
        } catch (Throwable e) {
            System.out.println("fused linear GPU benchmark SKIPPED: no usable CUDA device (" + e + "); nothing "
                    + "measured or written");
            return;
        }
        try (CudaDevice device = new CudaDevice(gpu)) {
            String blas = device.fusedLinearUnavailableReason();
            if (blas != null) {
                System.out.println("fused linear GPU benchmark SKIPPED: " + blas);
                return;
            }
            StringBuilder md = new StringBuilder("# Fused linear cross-entropy on the GPU\n\nWritten by "
                    + "`mvn -q test-compile exec:exec@bench-linear -Dkullback.bench.device=cuda` on " + gpu.name()
                    + ". Time: CUDA events around one step (mean of 5 after 2 warm-ups). Peak extra: the device "
                    + "pool's high-water mark of live bytes during the step less inputs and returned gradients; "
                    + "driver used: device memory in use by the process after the step (cuMemGetInfo), pool "
                    + "caching included.\n\n| [N, H, V] | ms | TFLOP/s (6·N·H·V) | peak extra MB | logits MB | "
                    + "driver used MB |\n|---|---:|---:|---:|---:|---:|\n");
            for (String shape : shapes) {
                try (FusedLinearWorkload.Kullback w = new FusedLinearWorkload.Kullback(shape, device, false, dev.kullback.Chunking.auto())) {
                    w.run();
                    w.run();
                    device.synchronize();
                    long inputs = device.liveBytes();
                    device.resetPeakBytes();
                    float ms = gpu.time(() -> {
                        for (int i = 0; i < 5; i++) {
                            w.run();
                        }
                    }) / 5;
                    long extra = device.peakBytes() - inputs - w.gradientBytes() - 4;
                    long[] free = {0};
                    long[] total = {0};
                    jcuda.driver.JCudaDriver.cuMemGetInfo(free, total);
                    double flops = 6.0 * w.n * w.h * w.v;
                    md.append("| ").append(shape.replace("x", ", ")).append(" | ").append(fmt("%.2f", ms))
                            .append(" | ").append(fmt("%.1f", flops / (ms / 1e3) / 1e12)).append(" | ")
                            .append(fmt("%.0f", extra / 1e6)).append(" | ")
                            .append(fmt("%.0f", 4.0 * w.n * w.v / 1e6)).append(" | ")
                            .append(fmt("%.0f", (total[0] - free[0]) / 1e6)).append(" |\n");
                }
            }
            Files.createDirectories(out);
            Files.writeString(out.resolve("fused-linear-gpu.md"), md.toString());
            System.out.println(md);
        }
    }

    private static String fmt(String format, double... values) {
        Object[] boxed = new Object[values.length];
        for (int i = 0; i < values.length; i++) {
            boxed[i] = values[i];
        }
        return String.format(Locale.ROOT, format, boxed);
    }
}
