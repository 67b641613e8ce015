package dev.kullback.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The JMH benchmark: one op on one shape for one contender per fork (see {@link Workloads}). {@link BenchMain} runs
 * it with the parameters and iteration counts of {@link BenchConfig}; the defaults below are for running JMH by hand.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class LossBench {
    @Param({"logSoftmax", "klDiv", "distillation", "crossEntropy"})
    public String op;

    @Param({"8192x128", "1024x32768", "16x262144"})
    public String shape;

    @Param({"kullback", "pytorch", "bound", "scalar", "fallback"})
    public String contender;

    private Workloads workload;

    @Setup
    public void setUp() {
        workload = Workloads.create(op, shape, contender, BenchConfig.threads());
        workload.run(); // fail here, before any timing, if the contender cannot run
    }

    @Benchmark
    public void run() {
        workload.run();
    }

    @TearDown
    public void tearDown() {
        workload.close();
    }
}
