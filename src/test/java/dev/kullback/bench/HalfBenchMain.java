package dev.kullback.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * bf16 beside float32 on the CPU ({@code mvn -q test-compile exec:exec@bench-half}): runs {@link HalfBench} with the
 * settings of {@link BenchConfig} (ops, shapes, threads, iterations) and writes {@code half-precision.md}: per op and
 * shape the times, the bf16 op's bandwidth by the bytes model at 2 bytes per element, and the two target ratios.
 */
public final class HalfBenchMain {
    private static final List<String> OPS = List.of("logSoftmax", "crossEntropy", "distillation");
    private static final List<String> CONTENDERS = List.of("kullback-bf16", "kullback-f32", "pytorch-bf16");

    private HalfBenchMain() {
    }

    public static void main(String[] args) throws Exception {
        List<String> shapes = BenchConfig.shapes();
        List<String> ops = OPS.stream().filter(BenchConfig.ops()::contains).toList();
        if (ops.isEmpty()) {
            ops = OPS;
        }
        int threads = BenchConfig.threads();
        Options options = new OptionsBuilder()
                .include(HalfBench.class.getName() + ".run$")
                .param("op", ops.toArray(String[]::new))
                .param("shape", shapes.toArray(String[]::new))
                .param("contender", CONTENDERS.toArray(String[]::new))
                .forks(BenchConfig.forks())
                .warmupIterations(BenchConfig.warmup())
                .measurementIterations(BenchConfig.measurement())
                .warmupTime(TimeValue.seconds(BenchConfig.seconds()))
                .measurementTime(TimeValue.seconds(BenchConfig.seconds()))
                .jvmArgsAppend("--add-modules", "jdk.incubator.vector", "-Xmx8g", "-Dkullback.bench.threads=" + threads)
                .shouldFailOnError(false)
                .verbosity(VerboseMode.NORMAL)
                .build();
        Collection<RunResult> results = new Runner(options).run();
        Map<String, double[]> ms = new LinkedHashMap<>();
        for (RunResult r : results) {
            var p = r.getParams();
            String key = p.getParam("op") + " " + p.getParam("shape");
            ms.computeIfAbsent(key, k -> new double[3])[CONTENDERS.indexOf(p.getParam("contender"))] =
                    r.getPrimaryResult().getScore();
        }
        write(Path.of(BenchConfig.out()).resolve("half-precision.md"), ops, shapes, ms, threads);
    }

    private static void write(Path file, List<String> ops, List<String> shapes, Map<String, double[]> ms,
                              int threads) throws IOException {
        StringBuilder sb = new StringBuilder();
        sb.append("# bfloat16 on the CPU (issue 10)\n\n");
        sb.append(String.format(Locale.ROOT, "`mvn -q test-compile exec:exec@bench-half`: JMH, %d threads, %d warmup + "
                        + "%d measurement iterations of %d s, %d fork(s). Times in ms (lower is better); bf16 GB/s by the "
                        + "bytes model at 2 bytes per element (`bytes-model.md`); the targets: bf16 at least 1.0x "
                        + "PyTorch's bf16 and faster than our float32.%n%n", threads, BenchConfig.warmup(),
                BenchConfig.measurement(), BenchConfig.seconds(), BenchConfig.forks()));
        sb.append("| op | shape | kullback bf16 | kullback f32 | PyTorch bf16 | bf16 GB/s | vs PyTorch bf16 | "
                + "vs our f32 |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
        for (String op : ops) {
            for (String shape : shapes) {
                double[] t = ms.get(op + " " + shape);
                if (t == null) {
                    continue;
                }
                double gbs = BenchConfig.bytes(op, shape) / 2 / (t[0] * 1e-3) / 1e9;
                sb.append(String.format(Locale.ROOT, "| %s | %s | %.3f | %.3f | %.3f | %.1f | %.2fx | %.2fx |%n",
                        BenchConfig.describe(op), BenchConfig.label(shape), t[0], t[1], t[2], gbs, t[2] / t[0],
                        t[1] / t[0]));
            }
        }
        Files.createDirectories(file.getParent());
        Files.writeString(file, sb.toString());
        System.out.print(sb);
    }
}
