package dev.kullback.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kullback.Device;
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
 * The worked examples of {@code seed-cases.json} (values computed by PyTorch) evaluated on a device.
 * Cases of ops this release does not have yet (cross-entropy, entropy, Gaussian KL) are listed as such.
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

    /** Names of the cases (or their values) that need ops of a later release. */
    public List<String> notCovered() {
        List<String> names = new ArrayList<>();
        for (JsonNode example : root.path("cases")) {
            String op = example.path("op").asText();
            if (op.equals("gaussianKl")) {
                names.add(example.path("name").asText());
            }
            for (Iterator<String> keys = example.path("expect").fieldNames(); keys.hasNext(); ) {
                String key = keys.next();
                if (!isReduction(key)) {
                    names.add(example.path("name").asText() + ": " + key);
                }
            }
        }
        return names;
    }

    private static void evaluate(Device device, String name, JsonNode example, List<Result> results) {
        String op = example.path("op").asText();
        boolean logTarget = example.path("logTarget").asBoolean(false);
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
