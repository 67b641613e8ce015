package dev.kullback.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kullback.CrossEntropy;
import dev.kullback.Device;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The worked examples of {@code seed-cases.json} (values computed by PyTorch) evaluated on a device: the
 * kl_div reductions, log-softmax edge cases, cross-entropy, entropy and Gaussian KL.
 */
public final class WorkedExamples {
    /** One expected value (or row of values) next to what the device computed. */
    public static final class Result {
        public final String name;
        public final float[] expected;
        public final float[] actual;

        Result(String name, float[] expected, float[] actual) {
            this.name = name;
            this.expected = expected;
            this.actual = actual;
        }

        /** Equal within the file's tolerance; NaN matches NaN and infinities match exactly. */
        public boolean matches(double abs, double rel) {
            if (expected.length != actual.length) {
                return false;
            }
            for (int i = 0; i < expected.length; i++) {
                float e = expected[i];
                float a = actual[i];
                boolean same = Float.isNaN(e) ? Float.isNaN(a)
                        : Float.isInfinite(e) ? e == a : Math.abs(a - e) <= abs + rel * Math.abs(e);
                if (!same) {
                    return false;
                }
            }
            return true;
        }
    }

    /** Values of the file that are losses rather than kl_div reductions. */
    private static final List<String> LOSS_KEYS = List.of("crossEntropyMean", "crossEntropyHpq", "entropyHp");

    private final JsonNode root;

    private WorkedExamples(JsonNode root) {
        this.root = root;
    }

    /** The examples shipped with kullback. */
    public static WorkedExamples load() {
        try (InputStream in = WorkedExamples.class.getResourceAsStream("seed-cases.json")) {
            return new WorkedExamples(new ObjectMapper().readTree(in));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read seed-cases.json", e);
        }
    }

    public double absTolerance() {
        return root.path("tolerance").path("abs").asDouble();
    }

    public double relTolerance() {
        return root.path("tolerance").path("rel").asDouble();
    }

    /** Every value of every case that this release's ops cover, computed on {@code device}. */
    public List<Result> evaluate(Device device) {
        List<Result> results = new ArrayList<>();
        for (JsonNode example : root.path("cases")) {
            String name = example.path("name").asText();
            if (example.has("cases")) {
                int i = 0;
                for (JsonNode nested : example.path("cases")) {
                    evaluate(device, name + " #" + ++i + " " + nested.path("op").asText(), nested, results);
                }
            } else {
                evaluate(device, name, example, results);
            }
        }
        return results;
    }

    /** Names of the values in the file that {@link #evaluate} does not know how to compute. */
    public List<String> notCovered() {
        List<String> names = new ArrayList<>();
        for (JsonNode example : root.path("cases")) {
            boolean gaussian = example.path("op").asText().equals("gaussianKl");
            for (Iterator<String> keys = example.path("expect").fieldNames(); keys.hasNext(); ) {
                String key = keys.next();
                if (!gaussian && !isReduction(key) && !LOSS_KEYS.contains(key)) {
                    names.add(example.path("name").asText() + ": " + key);
                }
            }
        }
        return names;
    }

    private static void evaluate(Device device, String name, JsonNode example, List<Result> results) {
        String op = example.path("op").asText();
        boolean logTarget = example.path("logTarget").asBoolean(false);
        if (op.equals("gaussianKl")) {
            // one dimension: KL(N(mu1, sigma1^2) || N(mu2, sigma2^2)) with logvar = 2 log sigma
            float[] lv1 = {(float) (2 * Math.log(example.path("sigma1").asDouble()))};
            float[] lv2 = {(float) (2 * Math.log(example.path("sigma2").asDouble()))};
            try (Tensor mu1 = device.upload(new float[] {example.path("mu1").floatValue()}, 1, 1);
                 Tensor logvar1 = device.upload(lv1, 1, 1);
                 Tensor mu2 = device.upload(new float[] {example.path("mu2").floatValue()}, 1, 1);
                 Tensor logvar2 = device.upload(lv2, 1, 1);
                 Loss kl = device.gaussianKl(mu1, logvar1, mu2, logvar2, Reduction.SUM)) {
                results.add(new Result(name, values(example.path("expect")), kl.value().toArray()));
            }
            return;
        }
        evaluateLosses(device, name, example, results);
        if (op.equals("logSoftmax")) {
            try (Tensor x = tensor(device, example.path("input")); Tensor y = device.logSoftmax(x)) {
                results.add(new Result(name, values(example.path("expect")), y.toArray()));
            }
            return;
        }
        try (Tensor input = klInput(device, op, example); Tensor target = klTarget(device, op, example)) {
            if (input == null) {
                return; // an op of a later release
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = example.path("expect").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> expect = it.next();
                if (!isReduction(expect.getKey())) {
                    continue;
                }
                try (Tensor kl = device.klDiv(input, target, Reduction.valueOf(expect.getKey()), logTarget)) {
                    results.add(new Result(name + " " + expect.getKey(), values(expect.getValue()), kl.toArray()));
                }
            }
        }
    }

    /** The cross-entropy and entropy values of a case, computed from its logits with the fused losses. */
    private static void evaluateLosses(Device device, String name, JsonNode example, List<Result> results) {
        JsonNode expect = example.path("expect");
        if (expect.has("crossEntropyMean")) {
            int[] labels = new int[example.path("labels").size()];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = example.path("labels").get(i).asInt();
            }
            try (Tensor logits = tensor(device, example.path("logits")); Labels y = device.uploadLabels(labels);
                 Loss ce = device.crossEntropy(logits, y)) {
                results.add(new Result(name + " crossEntropy", values(expect.path("crossEntropyMean")),
                        ce.value().toArray()));
            }
        }
        if (expect.has("crossEntropyHpq")) {
            try (Tensor x = tensor(device, example.path("x")); Tensor y = tensor(device, example.path("y"));
                 Tensor p = device.softmax(y);
                 Loss hpq = device.crossEntropy(x, p, CrossEntropy.options().reduction(Reduction.SUM));
                 Loss hp = device.entropy(y, Reduction.SUM)) {
                results.add(new Result(name + " H(p, q)", values(expect.path("crossEntropyHpq")), hpq.value().toArray()));
                results.add(new Result(name + " H(p)", values(expect.path("entropyHp")), hp.value().toArray()));
            }
        }
    }

    private static Tensor klInput(Device device, String op, JsonNode example) {
        switch (op) {
            case "klDiv":
                float[] input = values(example.path("input").has("data") ? example.path("input").path("data")
                        : example.path("input"));
                if (example.path("inputIsLogOf").asBoolean(false)) {
                    for (int i = 0; i < input.length; i++) {
                        input[i] = (float) Math.log(input[i]);
                    }
                }
                return upload(device, input, example.path("input"));
            case "klDiv(logSoftmax(logits), onehot)":
                try (Tensor logits = tensor(device, example.path("logits"))) {
                    return device.logSoftmax(logits);
                }
            case "klDiv(logSoftmax(x), softmax(y))":
                try (Tensor x = tensor(device, example.path("x"))) {
                    return device.logSoftmax(x);
                }
            default:
                return null;
        }
    }

    private static Tensor klTarget(Device device, String op, JsonNode example) {
        if (op.equals("klDiv(logSoftmax(x), softmax(y))")) {
            try (Tensor y = tensor(device, example.path("y"))) {
                return device.softmax(y);
            }
        }
        return example.has("target") ? tensor(device, example.path("target")) : null;
    }

    private static boolean isReduction(String key) {
        for (Reduction r : Reduction.values()) {
            if (r.name().equals(key)) {
                return true;
            }
        }
        return false;
    }

    /** A tensor given either as {"shape": [r, c], "data": [...]} or as nested rows [[...], ...]. */
    private static Tensor tensor(Device device, JsonNode node) {
        return upload(device, values(node.has("data") ? node.path("data") : node), node);
    }

    private static Tensor upload(Device device, float[] data, JsonNode node) {
        if (node.has("shape")) {
            return device.upload(data, node.path("shape").get(0).asInt(), node.path("shape").get(1).asInt());
        }
        return device.upload(data, node.size(), data.length / node.size());
    }

    /** Numbers, or the strings "NaN", "inf" and "-inf", flattened row by row. */
    private static float[] values(JsonNode node) {
        List<Float> flat = new ArrayList<>();
        flatten(node, flat);
        float[] values = new float[flat.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = flat.get(i);
        }
        return values;
    }

    private static void flatten(JsonNode node, List<Float> into) {
        if (node.isArray()) {
            node.forEach(child -> flatten(child, into));
        } else if (node.isTextual()) {
            String text = node.asText();
            into.add(text.equals("NaN") ? Float.NaN : text.equals("-inf") ? Float.NEGATIVE_INFINITY
                    : text.equals("inf") ? Float.POSITIVE_INFINITY : Float.parseFloat(text));
        } else {
            into.add(node.floatValue());
        }
    }
}
