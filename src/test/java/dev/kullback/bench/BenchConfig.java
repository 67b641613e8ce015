package dev.kullback.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The suite's settings, from system properties (the {@code bench} execution in pom.xml forwards them from Maven's
 * command line, e.g. {@code mvn -q test-compile exec:exec@bench -Dkullback.bench.measurement=5}):
 * <ul>
 * <li>{@code kullback.bench.device}: {@code cpu} (default) or {@code cuda};</li>
 * <li>{@code kullback.bench.warmup}, {@code .measurement}: JMH iterations (2 and 3), {@code .time}: seconds per
 *     iteration (1), {@code .forks}: JMH forks per benchmark (1);</li>
 * <li>{@code kullback.bench.ops}, {@code .shapes}, {@code .contenders}: comma-separated subsets (empty: all), e.g.
 *     {@code -Dkullback.bench.shapes=16x262144};</li>
 * <li>{@code kullback.bench.threads}: cores for every contender (0 or empty: all available processors);</li>
 * <li>{@code kullback.bench.out}: where the results go (docs/benchmarks).</li>
 * </ul>
 */
final class BenchConfig {
    static final String OPS = "logSoftmax,klDiv,distillation,crossEntropy";
    static final String SHAPES = "8192x128,1024x32768,16x262144";
    static final String CONTENDERS = "kullback,pytorch,bound,scalar,fallback";

    private BenchConfig() {
    }

    static String device() {
        return text("kullback.bench.device", "cpu");
    }

    static int warmup() {
        return integer("kullback.bench.warmup", 2);
    }

    static int measurement() {
        return integer("kullback.bench.measurement", 3);
    }

    static int seconds() {
        return integer("kullback.bench.time", 1);
    }

    static int forks() {
        return integer("kullback.bench.forks", 1);
    }

    static int threads() {
        int threads = integer("kullback.bench.threads", 0);
        return threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
    }

    static String out() {
        return text("kullback.bench.out", "docs/benchmarks");
    }

    static List<String> ops() {
        return list("kullback.bench.ops", OPS);
    }

    static List<String> shapes() {
        return list("kullback.bench.shapes", SHAPES);
    }

    static List<String> contenders() {
        return list("kullback.bench.contenders", CONTENDERS);
    }

    static int rows(String shape) {
        return Integer.parseInt(shape.substring(0, shape.indexOf('x')));
    }

    static int cols(String shape) {
        return Integer.parseInt(shape.substring(shape.indexOf('x') + 1));
    }

    /** "[1024, 32768]" */
    static String label(String shape) {
        return "[" + rows(shape) + ", " + cols(shape) + "]";
    }

    /**
     * The bytes an op must move at the least (read + written), the model behind every GB/s figure: each input read
     * once, each [rows, cols] output written once; a [1, 1] result or a per-row loss is not counted.
     */
    static double bytes(String op, String shape) {
        double n = (double) rows(shape) * cols(shape);
        switch (op) {
            case "logSoftmax":    // read logits, write log-probabilities
            case "softmax":       // read logits, write probabilities
            case "klDiv":         // read input and target, write one value
            case "klDivBackward": // read the target, write the gradient (a scalar gradOutput)
                return 8 * n;
            case "logSoftmaxBackward": // read gradOutput and the output, write gradInput
                return 12 * n;
            case "distillation":  // read student and teacher logits, write the student's gradient
                return 12 * n;
            case "crossEntropy":  // read logits and int32 labels, write the gradient
                return 8 * n + 4.0 * rows(shape);
            default:
                throw new IllegalArgumentException("unknown op " + op);
        }
    }

    /** What the op's bound is: a copy of the same bytes, or (reductions) a streaming read of them. */
    static boolean reducesOnly(String op) {
        return op.equals("klDiv");
    }

    static String describe(String op) {
        switch (op) {
            case "logSoftmax":
                return "logSoftmax";
            case "klDiv":
                return "klDiv BATCHMEAN";
            case "distillation":
                return "distillation loss+grad (T=2)";
            case "crossEntropy":
                return "crossEntropy loss+grad";
            default:
                return op;
        }
    }

    private static List<String> list(String property, String all) {
        String value = text(property, "");
        List<String> values = new ArrayList<>(Arrays.asList((value.isBlank() ? all : value).split(",")));
        values.replaceAll(String::trim);
        values.removeIf(String::isEmpty);
        return values;
    }

    private static int integer(String property, int fallback) {
        String value = text(property, "");
        return value.isBlank() ? fallback : Integer.parseInt(value.trim());
    }

    private static String text(String property, String fallback) {
        String value = System.getProperty(property);
        return value == null || value.isBlank() ? fallback : value.trim();
    }
}
