package dev.kullback.demo;

import dev.kullback.Device;
import dev.kullback.Devices;
import java.util.List;
import java.util.Locale;

/** The main job: which device kullback picks and why, the worked examples, and a throughput table. */
public final class Demo {
    private static final int ROWS = 1024;
    private static final int COLS = 32768;

    private Demo() {
    }

    public static void main(String[] args) {
        Device device = Devices.best();
        System.out.println("kullback demo");
        System.out.println("device: " + device.name());
        System.out.println("why:    " + Devices.reason());
        System.out.println();

        WorkedExamples examples = WorkedExamples.load();
        List<WorkedExamples.Result> results = examples.evaluate(device);
        int matched = 0;
        System.out.println("Worked examples (expected values computed by PyTorch 2.10):");
        for (WorkedExamples.Result result : results) {
            boolean ok = result.matches(examples.absTolerance(), examples.relTolerance());
            matched += ok ? 1 : 0;
            System.out.printf(Locale.ROOT, "  %s %-70s expected %s got %s%n", ok ? "ok  " : "FAIL",
                    result.name, format(result.expected), format(result.actual));
        }
        List<String> notCovered = examples.notCovered();
        System.out.printf(Locale.ROOT, "  %d of %d match PyTorch%s%n%n", matched, results.size(),
                notCovered.isEmpty() ? "" : "; not covered: " + String.join("; ", notCovered));

        System.out.printf(Locale.ROOT, "Throughput on [%d, %d] float32 (effective bandwidth: bytes an op must "
                + "move / its time; best of %d; the copy bound is System.arraycopy on every core):%n", ROWS, COLS,
                Throughput.REPEATS);
        // the host's copy bound is this machine's limit for the CPU device; a GPU's is its own memory bandwidth
        boolean host = !device.isGpu();
        System.out.printf(Locale.ROOT, "  %-26s %10s %s%n", "op", "GB/s", host ? "   x copy bound" : "");
        for (Throughput.Row row : Throughput.measure(device, ROWS, COLS)) {
            System.out.printf(Locale.ROOT, "  %-26s %10.1f %s%n", row.op, row.gigabytesPerSecond,
                    host ? String.format(Locale.ROOT, "%15.2f", row.ofCopy) : "");
        }
        if (matched != results.size()) {
            System.exit(1);
        }
    }

    private static String format(float[] values) {
        if (values.length == 1) {
            return String.format(Locale.ROOT, "%.7g", values[0]);
        }
        StringBuilder text = new StringBuilder("[");
        for (int i = 0; i < values.length; i++) {
            text.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.5g", values[i]));
        }
        return text.append(']').toString();
    }
}
