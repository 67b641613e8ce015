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
 * JMH: one fused linear cross-entropy step (loss and the gradients of hidden and W) per invocation, for one shape
 * [N, H, V] and one contender ({@link FusedLinearWorkload}) per fork. Run by {@link FusedLinearBenchMain}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class FusedLinearBench {
    @Param({"4096x1024x32768", "2048x512x16384", "256x2048x65536"})
    public String shape;

    @Param({"kullback", "kullback-8x", "pytorch"})
    public String contender;

    private FusedLinearWorkload workload;

    @Setup
    public void setUp() {
        workload = FusedLinearWorkload.create(contender, shape, BenchConfig.threads());
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
