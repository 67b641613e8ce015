package dev.kullback.bench;

import dev.kullback.cpu.CpuDevice;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import jdk.incubator.vector.FloatVector;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.CategoryStyler;
import org.knowm.xchart.style.Styler;

/** Writes the CPU results: a Markdown table (GB/s and ratios) and a bar chart (PNG), with the machine they came from. */
final class Report {
    record Measurement(String op, String shape, String contender, double ms, double msError) {
        double gbPerSecond() {
            return BenchConfig.bytes(op, shape) / (ms / 1e3) / 1e9;
        }
    }

    static final String[] NAMES = {"kullback", "pytorch", "bound", "scalar", "fallback"};
    static final String[] LEGEND = {"kullback (CPU device)", "PyTorch (libtorch CPU)", "bound (arraycopy / streaming read)",
        "scalar Java loop", "kullback without the Vector API (scalar fallback)"};
    static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x7f7f7f), new Color(0x2ca02c),
        new Color(0x9467bd)};

    private Report() {
    }

    static void write(Path folder, List<Measurement> results, List<CoreUse.Row> coreUse, List<String> ops,
                      List<String> shapes, List<String> contenders, int threads) throws IOException {
        Files.createDirectories(folder);
        String machine = machine(threads);
        StringBuilder md = new StringBuilder();
        md.append("# CPU benchmark results\n\n");
        md.append("Written by `mvn -q test-compile exec:exec@bench` (the suite: `src/test/java/dev/kullback/bench/`, "
                + "JMH; how to run it and what each contender is: `docs/benchmarks/README.md`). GB/s is the op's "
                + "bytes (below) divided by JMH's average time per op; higher is better. Chart: `cpu-results.png`.\n\n");
        md.append(machine).append('\n');
        md.append("## Bytes model (the least each op must read + write; N = rows × cols)\n\n");
        md.append("| op | bytes | bound it is compared with |\n|---|---|---|\n");
        md.append("| logSoftmax | read logits 4N + write log-probabilities 4N = 8N | System.arraycopy of N floats (8N) |\n");
        md.append("| klDiv BATCHMEAN | read input 4N + target 4N = 8N (the [1, 1] result is not counted) | a vectorized "
                + "streaming read of 2N floats (8N read) |\n");
        md.append("| distillation loss+grad (T=2) | read student 4N + teacher 4N + write the student's gradient 4N = 12N | "
                + "System.arraycopy of 1.5N floats (12N) |\n");
        md.append("| crossEntropy loss+grad | read logits 4N + int32 labels 4·rows + write the gradient 4N | "
                + "System.arraycopy of the same bytes |\n\n");
        md.append("## Results\n\n");
        md.append("The ratios divide kullback's GB/s by the other's, so they are also speed-ups: `÷ bound` near 1 means "
                + "kullback runs at the speed of memory; `÷ PyTorch` is how many times faster than PyTorch.\n\n");
        md.append("| op | shape | MB moved | kullback GB/s (ms) | PyTorch GB/s (ms) | scalar Java GB/s (ms) | bound GB/s "
                + "(ms) | kullback ÷ bound | kullback ÷ PyTorch | kullback ÷ scalar | scalar fallback GB/s (ms) "
                + "| kullback ÷ fallback |\n");
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (String op : ops) {
            for (String shape : shapes) {
                Measurement k = find(results, op, shape, "kullback");
                Measurement t = find(results, op, shape, "pytorch");
                Measurement s = find(results, op, shape, "scalar");
                Measurement b = find(results, op, shape, "bound");
                Measurement f = find(results, op, shape, "fallback");
                md.append("| ").append(BenchConfig.describe(op)).append(" | ").append(BenchConfig.label(shape))
                        .append(" | ").append(fmt("%.1f", BenchConfig.bytes(op, shape) / 1e6))
                        .append(" | ").append(cell(k)).append(" | ").append(cell(t)).append(" | ").append(cell(s))
                        .append(" | ").append(cell(b))
                        .append(" | ").append(ratio(k, b)).append(" | ").append(ratio(k, t))
                        .append(" | ").append(ratio(k, s)).append(" | ").append(cell(f))
                        .append(" | ").append(ratio(k, f)).append(" |\n");
            }
        }
        md.append("\n## Core use\n\n");
        md.append("kullback alone in the suite's JVM, about a second per line: how many threads did work (each thread's "
                + "CPU time; a thread counts when it got at least a fifth of the busiest one's), process CPU time over "
                + "wall time (cores busy, out of ").append(threads).append(") and the speed-up over the same op on one "
                + "thread. The last two also show whatever else the machine was running (load average above).\n\n");
        md.append("| op | shape | threads that did work | cores busy | speed-up over 1 thread |\n|---|---|---:|---:|---:|\n");
        for (CoreUse.Row row : coreUse) {
            md.append("| ").append(row.op()).append(" | ").append(BenchConfig.label(row.shape())).append(" | ")
                    .append(row.working()).append(" of ").append(row.threads()).append(" | ")
                    .append(fmt("%.2f", row.coresBusy())).append(" | ").append(fmt("%.2f×", row.speedUp()))
                    .append(" |\n");
        }
        md.append("\nA missing cell (—) is a run that failed or was left out (see the suite's output).\n");
        Files.writeString(folder.resolve("cpu-results.md"), md.toString());
        chart(folder.resolve("cpu-results.png"), results, ops, shapes, contenders, machineLine(threads));
        System.out.println(md);
        System.out.println("wrote " + folder.resolve("cpu-results.md") + " and " + folder.resolve("cpu-results.png"));
    }

    private static void chart(Path file, List<Measurement> results, List<String> ops, List<String> shapes,
                              List<String> contenders, String subtitle) throws IOException {
        List<CategoryChart> charts = new ArrayList<>();
        for (String op : ops) {
            CategoryChart chart = new CategoryChartBuilder().width(900).height(540)
                    .title(BenchConfig.describe(op) + "  (" + subtitle + ")")
                    .xAxisTitle("shape [rows, cols]").yAxisTitle("GB/s (higher is better)").build();
            CategoryStyler styler = chart.getStyler();
            styler.setLegendPosition(Styler.LegendPosition.OutsideS);
            styler.setLegendLayout(Styler.LegendLayout.Horizontal);
            styler.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
            styler.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
            styler.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
            styler.setChartBackgroundColor(Color.WHITE);
            styler.setDecimalPattern("#0.0");
            chart.getStyler().setLabelsVisible(true);
            chart.getStyler().setLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            List<String> x = new ArrayList<>();
            shapes.forEach(s -> x.add(BenchConfig.label(s)));
            List<Color> colors = new ArrayList<>();
            for (int c = 0; c < NAMES.length; c++) {
                if (!contenders.contains(NAMES[c])) {
                    continue;
                }
                List<Number> y = new ArrayList<>();
                for (String shape : shapes) {
                    Measurement m = find(results, op, shape, NAMES[c]);
                    y.add(m == null ? 0.0 : m.gbPerSecond());
                }
                chart.addSeries(LEGEND[c], x, y);
                colors.add(COLORS[c]);
            }
            styler.setSeriesColors(colors.toArray(Color[]::new));
            charts.add(chart);
        }
        int columns = charts.size() > 1 ? 2 : 1;
        int rows = (charts.size() + columns - 1) / columns;
        BitmapEncoder.saveBitmap(charts, rows, columns, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    static String machineLine(int threads) {
        return cpuModel() + ", " + threads + " threads, JDK " + System.getProperty("java.version");
    }

    static String machine(int threads) {
        String device;
        try (CpuDevice cpu = new CpuDevice(threads)) {
            device = cpu.name();
        }
        return "| machine | |\n|---|---|\n"
                + "| CPU | " + cpuModel() + " |\n"
                + "| cores | " + Runtime.getRuntime().availableProcessors() + " available; every contender on " + threads
                + " threads (PyTorch: `torch.set_num_threads(" + threads + ")`) |\n"
                + "| JDK | " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version") + " |\n"
                + "| vector width | " + FloatVector.SPECIES_PREFERRED.vectorBitSize() + " bits (" + device + ") |\n"
                + "| PyTorch | libtorch 2.10 (org.bytedeco:pytorch 2.10.0-1.5.13), CPU |\n"
                + "| date | " + ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME.withLocale(Locale.ROOT))
                .replaceAll("\\.\\d+", "") + " |\n"
                + "| load average (1, 5, 15 min) when written | " + loadAverage() + " (other processes on the machine "
                + "share its cores and memory bandwidth with the suite) |\n"
                + "| JMH | " + BenchConfig.warmup() + " warmup + " + BenchConfig.measurement() + " measurement iterations of "
                + BenchConfig.seconds() + " s, " + BenchConfig.forks() + " fork(s), average time |\n";
    }

    static String loadAverage() {
        try {
            String[] fields = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return fields[0] + ", " + fields[1] + ", " + fields[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return System.getProperty("os.arch");
    }

    private static Measurement find(List<Measurement> results, String op, String shape, String contender) {
        for (Measurement m : results) {
            if (m.op().equals(op) && m.shape().equals(shape) && m.contender().equals(contender)
                    && !Double.isNaN(m.ms())) {
                return m;
            }
        }
        return null;
    }

    private static String cell(Measurement m) {
        return m == null ? "—" : fmt("%.1f", m.gbPerSecond()) + " (" + fmt(m.ms() < 1 ? "%.3f" : "%.2f", m.ms()) + ")";
    }

    private static String ratio(Measurement a, Measurement b) {
        return a == null || b == null ? "—" : fmt("%.2f×", a.gbPerSecond() / b.gbPerSecond());
    }

    private static String fmt(String format, double value) {
        return String.format(Locale.ROOT, format, value);
    }
}
