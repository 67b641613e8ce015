package dev.kullback.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * The benchmark suite's entry point ({@code mvn -q test-compile exec:exec@bench}): on the CPU (default), JMH times
 * every op, shape and contender in forked JVMs, then the results go to {@code docs/benchmarks/cpu-results.md} and
 * {@code cpu-results.png}; with {@code -Dkullback.bench.device=cuda}, {@link GpuBench} times the CUDA kernels with
 * CUDA events (and says that it skipped when no GPU is usable). Settings: {@link BenchConfig}.
 */
public final class BenchMain {
    private BenchMain() {
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of(BenchConfig.out());
        if (BenchConfig.device().equals("cuda")) {
            GpuBench.run(out);
            return;
        }
        if (!BenchConfig.device().equals("cpu")) {
            throw new IllegalArgumentException("kullback.bench.device must be cpu or cuda, not " + BenchConfig.device());
        }
        int threads = BenchConfig.threads();
        List<String> ops = BenchConfig.ops();
        List<String> shapes = BenchConfig.shapes();
        List<String> contenders = BenchConfig.contenders();
        int runs = ops.size() * shapes.size() * contenders.size();
        System.out.printf("kullback CPU benchmarks: %d ops x %d shapes x %d contenders = %d JMH runs, %d threads, "
                        + "%d warmup + %d measurement iterations of %d s, %d fork(s) each%n", ops.size(), shapes.size(),
                contenders.size(), runs, threads, BenchConfig.warmup(), BenchConfig.measurement(),
                BenchConfig.seconds(), BenchConfig.forks());
        Options options = new OptionsBuilder()
                .include(LossBench.class.getName() + ".run$")
                .param("op", ops.toArray(String[]::new))
                .param("shape", shapes.toArray(String[]::new))
                .param("contender", contenders.toArray(String[]::new))
                .forks(BenchConfig.forks())
                .warmupIterations(BenchConfig.warmup())
                .measurementIterations(BenchConfig.measurement())
                .warmupTime(TimeValue.seconds(BenchConfig.seconds()))
                .measurementTime(TimeValue.seconds(BenchConfig.seconds()))
                .jvmArgsAppend("--add-modules", "jdk.incubator.vector", "-Xmx8g", "-Djava.awt.headless=true",
                        "-Dkullback.bench.threads=" + threads)
                .shouldFailOnError(false)
                .verbosity(VerboseMode.NORMAL)
                .build();
        long start = System.nanoTime();
        Collection<RunResult> results = new Runner(options).run();
        System.out.printf("JMH done in %.0f s; measuring core use ...%n", (System.nanoTime() - start) / 1e9);
        List<Report.Measurement> measurements = new ArrayList<>();
        for (RunResult result : results) {
            var params = result.getParams();
            var primary = result.getPrimaryResult();
            measurements.add(new Report.Measurement(params.getParam("op"), params.getParam("shape"),
                    params.getParam("contender"), primary.getScore(), primary.getScoreError()));
        }
        // one very wide row as well: it can only use every core by cutting the row itself
        List<String> coreShapes = new java.util.ArrayList<>(shapes);
        if (!coreShapes.contains("1x262144")) {
            coreShapes.add("1x262144");
        }
        List<CoreUse.Row> coreUse = CoreUse.measure(coreShapes, threads);
        Report.write(out, measurements, coreUse, ops, shapes, contenders, threads);
    }
}
