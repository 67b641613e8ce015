package dev.kullback.bench;

import dev.kullback.AllReduce;
import dev.kullback.CrossEntropy;
import dev.kullback.Device;
import dev.kullback.Devices;
import dev.kullback.Distillation;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Tensor;
import dev.kullback.VocabShard;
import java.util.Random;
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
 * The cost of the vocabulary-parallel form on one device, against the unsharded loss over the same logits: one rank
 * holding the whole vocabulary, whose all-reduce is the identity, so the ratio is the price of the three-pass form
 * (two kernels or row loops more, the packed buffers) without any communication. By hand:
 * {@code java --add-modules jdk.incubator.vector -cp <test classpath> org.openjdk.jmh.Main VocabParallelBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class VocabParallelBench {
    private static final AllReduce ONE_RANK = new AllReduce() {
        @Override
        public void max(Tensor buffer) {
        }

        @Override
        public void sum(Tensor buffer) {
        }
    };

    @Param({"crossEntropy", "distillation"})
    public String loss;

    @Param({"256x32768"})
    public String shape;

    @Param({"unsharded", "oneRank"})
    public String form;

    private Device device;
    private Tensor student;
    private Tensor teacher;
    private Labels labels;
    private VocabShard whole;
    private final CrossEntropy ce = CrossEntropy.options().labelSmoothing(0.1f);
    private final Distillation kd = Distillation.options().temperature(2f);

    @Setup
    public void setUp() {
        String[] dims = shape.split("x");
        int rows = Integer.parseInt(dims[0]);
        int cols = Integer.parseInt(dims[1]);
        device = Devices.best();
        Random random = new Random(1);
        float[] a = new float[rows * cols];
        float[] b = new float[rows * cols];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) random.nextGaussian();
            b[i] = (float) random.nextGaussian();
        }
        int[] y = new int[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = random.nextInt(cols);
        }
        student = device.upload(a, rows, cols);
        teacher = device.upload(b, rows, cols);
        labels = device.uploadLabels(y);
        whole = VocabShard.of(0, cols);
    }

    @Benchmark
    public float run() {
        boolean sharded = form.equals("oneRank");
        try (Loss l = loss.equals("crossEntropy")
                ? (sharded ? device.crossEntropy(student, labels, whole, ONE_RANK, ce) : device.crossEntropy(student,
                        labels, ce))
                : (sharded ? device.distillationKl(student, teacher, whole, ONE_RANK, kd)
                        : device.distillationKl(student, teacher, kd))) {
            return l.value().item();
        }
    }

    @TearDown
    public void tearDown() {
        student.close();
        teacher.close();
        labels.close();
    }
}
