package dev.kullback.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Peak extra memory of one fused linear step, measured by the operating system in a fresh process (run by
 * {@link FusedLinearBenchMain} as {@code java ... FusedLinearMemory contender shape threads}): with the inputs in
 * place, the process's resident-memory high-water mark (VmHWM) is reset (writing 5 to /proc/self/clear_refs) and
 * read again after one cold step; the extra is that rise less the returned gradients. Heap arrays count when first
 * touched, native buffers (libtorch's, OpenBLAS staging) when touched; a cold step also pays for JIT-compiled code,
 * against kullback. Prints {@code extraBytes=<n>}. Linux only.
 */
public final class FusedLinearMemory {
    private FusedLinearMemory() {
    }

    public static void main(String[] args) throws IOException {
        try (FusedLinearWorkload w = FusedLinearWorkload.create(args[0], args[1], Integer.parseInt(args[2]))) {
            System.gc();
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            long before = status("VmHWM:");
            w.run();
            long peak = status("VmHWM:");
            System.out.println("riseBytes=" + (peak - before) + " gradientBytes=" + w.gradientBytes());
            System.out.println("extraBytes=" + Math.max(0, peak - before - w.gradientBytes()));
        }
    }

    /** A /proc/self/status field in bytes. */
    static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field)) {
                return 1024L * Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
            }
        }
        throw new IOException(field + " not in /proc/self/status");
    }
}
