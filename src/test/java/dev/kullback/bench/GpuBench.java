package dev.kullback.bench;

import dev.kullback.cuda.CudaDevice;
import dev.kullback.cuda.JCudaGpu;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * The GPU mode of the suite ({@code mvn -q test-compile exec:exec@bench -Dkullback.bench.device=cuda}): each kernel
 * of the same ops and shapes, timed with CUDA events on the device's stream ({@link JCudaGpu#time}), as GB/s of the
 * op's bytes ({@link BenchConfig#bytes}, the least it must move) and as a share of the device memory's peak
 * ({@link JCudaGpu#peakMemoryBandwidth}). Writes {@code docs/benchmarks/gpu-results.md}. Where no GPU is usable it
 * says so and why, writes nothing, and exits 0.
 */
final class GpuBench {
    private GpuBench() {
    }

    static void run(Path folder) throws IOException {
        JCudaGpu gpu;
        try {
            gpu = JCudaGpu.open(0);
        } catch (Throwable e) {
            System.out.println("GPU benchmarks SKIPPED: no usable CUDA device (" + e + "). Nothing was measured or "
                    + "written; run the CPU suite without -Dkullback.bench.device=cuda.");
            if (Boolean.getBoolean("kullback.requireGpu")) {
                throw new IllegalStateException("-Dkullback.requireGpu=true but no usable CUDA device", e);
            }
            return;
        }
        try (CudaDevice device = new CudaDevice(gpu)) {
            double peak = gpu.peakMemoryBandwidth();
            System.out.printf("GPU benchmarks on %s, peak memory bandwidth %.0f GB/s%n", gpu.name(), peak / 1e9);
            StringBuilder md = new StringBuilder("# GPU benchmark results\n\n");
            md.append("Written by `mvn -q test-compile exec:exec@bench -Dkullback.bench.device=cuda`. Each kernel "
                    + "(with its launcher's reductions) timed with CUDA events on the device's stream, averaged over "
                    + "repetitions after a warm-up. GB/s: the op's bytes (the least it must move, "
                    + "`cpu-results.md` and `bytes-model.md`) per second; peak: 2 · memory clock · bus width / 8 from "
                    + "the driver's attributes.\n\n");
            md.append("| machine | |\n|---|---|\n| GPU | ").append(gpu.name()).append(" |\n| peak memory bandwidth | ")
                    .append(fmt("%.0f", peak / 1e9)).append(" GB/s |\n| date | ")
                    .append(ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME).replaceAll("\\.\\d+", ""))
                    .append(" |\n\n");
            md.append("| op | shape | MB moved | ms | GB/s | % of peak |\n|---|---|---:|---:|---:|---:|\n");
            // the same figures for ci/gpu.sh, which puts the performance model's prediction beside them
            StringBuilder tsv = new StringBuilder("# gpu\t" + gpu.name() + "\t" + peak + "\n");
            for (String op : BenchConfig.ops()) {
                for (String shape : BenchConfig.shapes()) {
                    double ms;
                    try (Workloads w = new Workloads.Kullback(op, BenchConfig.rows(shape), BenchConfig.cols(shape),
                            device, false)) {
                        for (int i = 0; i < 5; i++) {
                            w.run();
                        }
                        device.synchronize();
                        float once = gpu.time(w::run);
                        int reps = (int) Math.max(10, Math.min(2000, 200 / Math.max(once, 1e-3f)));
                        ms = gpu.time(() -> {
                            for (int i = 0; i < reps; i++) {
                                w.run();
                            }
                        }) / reps;
                    }
                    double bytes = BenchConfig.bytes(op, shape);
                    double gbs = bytes / (ms / 1e3) / 1e9;
                    System.out.printf("  %-30s %-16s %9.4f ms %8.1f GB/s %5.1f%% of peak%n", BenchConfig.describe(op),
                            BenchConfig.label(shape), ms, gbs, 100 * gbs * 1e9 / peak);
                    tsv.append(op).append('\t').append(BenchConfig.rows(shape)).append('x').append(BenchConfig.cols(shape))
                            .append('\t').append(ms).append('\t').append(gbs).append('\n');
                    md.append("| ").append(BenchConfig.describe(op)).append(" | ").append(BenchConfig.label(shape))
                            .append(" | ").append(fmt("%.1f", bytes / 1e6)).append(" | ").append(fmt("%.4f", ms))
                            .append(" | ").append(fmt("%.0f", gbs)).append(" | ")
                            .append(fmt("%.0f%%", 100 * gbs * 1e9 / peak)).append(" |\n");
                }
            }
            Files.createDirectories(folder);
            Files.writeString(folder.resolve("gpu-results.md"), md.toString());
            Files.writeString(folder.resolve("gpu-results.tsv"), tsv.toString());
            System.out.println("wrote " + folder.resolve("gpu-results.md"));
        }
    }

    private static String fmt(String format, double value) {
        return String.format(Locale.ROOT, format, value);
    }
}
