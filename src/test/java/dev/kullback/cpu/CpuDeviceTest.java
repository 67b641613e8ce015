package dev.kullback.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.Reduction;
import dev.kullback.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The device itself: names, threads, memory reuse, lifecycle, large reductions, and the scalar fallback. */
class CpuDeviceTest {
    @Test
    void namesSayKernelsAndThreads() {
        try (CpuDevice d = new CpuDevice(); CpuDevice s = new CpuDevice(1, false); CpuDevice v = new CpuDevice(3, true)) {
            assertFalse(d.isGpu());
            assertTrue(d.name().startsWith("cpu ("), d.name());
            assertEquals(CpuDevice.defaultThreads(), d.threads());
            assertEquals("cpu (scalar, 1 thread)", s.name());
            assertFalse(s.isVectorized());
            CpuTesting.vectorKernels();
            assertTrue(v.isVectorized());
            assertTrue(v.name().matches("cpu \\(.*\\d+-bit vectors, 3 threads\\)"), v.name());
            assertTrue(d.isVectorized(), "surefire runs with the Vector API, so the default device uses it");
        }
        assertThrows(IllegalArgumentException.class, () -> new CpuDevice(0));
    }

    @Test
    void uploadToArrayRoundTripsAndCopies() {
        try (CpuDevice d = new CpuDevice(2)) {
            float[] data = {1, 2, 3, 4, 5, 6};
            Tensor t = d.upload(data, 2, 3);
            data[0] = 99;
            float[] back = t.toArray();
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, back);
            back[1] = 42;
            assertEquals(2f, t.toArray()[1], "toArray returns a copy");
            t.close();
            t.close(); // idempotent
            assertThrows(IllegalStateException.class, t::toArray);
            assertThrows(IllegalStateException.class, () -> d.softmax(t));
        }
    }

    /** Arrays of closed tensors are reused: zeros() must still be zeros, and upload() the new data. */
    @Test
    void reusedArraysNeverLeakOldValues() {
        try (CpuDevice d = new CpuDevice(2)) {
            int rows = 4;
            int cols = ArrayPool.MIN_LENGTH; // large enough to be pooled
            float[] ones = new float[rows * cols];
            Arrays.fill(ones, 1f);
            for (int round = 0; round < 3; round++) {
                Tensor a = d.upload(ones, rows, cols);
                Tensor b = d.softmax(a);
                a.close();
                b.close();
                try (Tensor z = d.zeros(rows, cols)) {
                    float[] zs = z.toArray();
                    for (float v : zs) {
                        if (v != 0f) {
                            throw new AssertionError("zeros() returned a nonzero value from a reused array: " + v);
                        }
                    }
                }
                float[] data = new float[rows * cols];
                data[5] = round;
                try (Tensor u = d.upload(data, rows, cols); Tensor s = d.sum(u)) {
                    assertEquals(round, s.item());
                }
            }
        }
    }

    @Test
    void closedDeviceRefusesWork() {
        CpuDevice d = new CpuDevice(2);
        Tensor t = d.upload(new float[] {1, 2}, 1, 2);
        d.close();
        d.close();
        assertThrows(IllegalStateException.class, () -> d.softmax(t));
        assertThrows(IllegalStateException.class, () -> d.zeros(1, 1));
        t.close();
    }

    @Test
    void tensorsOfAnotherDeviceAreRefused() {
        try (CpuDevice a = new CpuDevice(1); CpuDevice b = new CpuDevice(1); Tensor t = a.upload(new float[] {1}, 1, 1)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.softmax(t));
            assertTrue(e.getMessage().contains("logits"), e.getMessage());
        }
    }

    @Test
    void tooLargeForAJavaArrayIsAnArgumentError() {
        try (CpuDevice d = new CpuDevice(1)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.zeros(65536, 65536));
            assertTrue(e.getMessage().contains("[65536, 65536]"), e.getMessage());
        }
    }

    /** 10^8 ones sum to exactly 10^8 (a float accumulator would stop at 2^24); the mean is exactly 1. */
    @Test
    void hundredMillionValueReductionsStayExact() {
        int n = 100_000_000;
        float[] ones = new float[n];
        Arrays.fill(ones, 1f);
        for (boolean vector : new boolean[] {false, true}) {
            try (CpuDevice d = new CpuDevice(2, vector); Tensor t = d.upload(ones, 10_000, 10_000);
                 Tensor s = d.sum(t); Tensor m = d.mean(t)) {
                assertEquals(1e8f, s.item(), d.name());
                assertEquals(1f, m.item(), d.name());
            }
        }
        float[] tenths = ones;
        Arrays.fill(tenths, 0.1f);
        double exact = 0.1f * (double) n;
        for (boolean vector : new boolean[] {false, true}) {
            try (CpuDevice d = new CpuDevice(2, vector); Tensor t = d.upload(tenths, 1, n); Tensor s = d.sum(t);
                 Tensor kl = d.klDiv(t, t, Reduction.SUM, true)) {
                assertEquals((float) exact, s.item(), d.name()); // double partials: exactly rounded
                assertEquals(0f, kl.item(), d.name()); // exp(t) * (t - t)
            }
        }
    }

    /** Runs {@link FallbackProbe} in a fresh JVM with these options; returns its output. */
    private static String runProbe(String... jvmOptions) throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        List<String> command = new ArrayList<>();
        command.add(java);
        command.addAll(List.of(jvmOptions));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), FallbackProbe.class.getName()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output;
        try (InputStream in = p.getInputStream()) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            in.transferTo(bytes);
            output = bytes.toString(StandardCharsets.UTF_8);
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), output);
        assertTrue(output.contains("logSoftmax=[0.0, -1000.0, -2000.0]"), output);
        return output;
    }

    /** Without the jdk.incubator.vector module, the CPU device runs scalar kernels and logs why, once. */
    @Test
    void fallsBackToScalarWithoutTheVectorModule() throws Exception {
        String output = runProbe();
        assertTrue(output.contains("name=cpu (scalar, "), output);
        assertTrue(output.contains("second=cpu (scalar, 2 threads)"), output);
        assertTrue(output.contains("jdk.incubator.vector module is not present"), output);
        assertEquals(output.indexOf("fall back to scalar"), output.lastIndexOf("fall back to scalar"),
                "logged once: " + output);
    }

    /** -Dkullback.cpu.vector=false forces the scalar kernels, and says so. */
    @Test
    void propertyForcesScalar() throws Exception {
        String output = runProbe("--add-modules", "jdk.incubator.vector", "-Dkullback.cpu.vector=false");
        assertTrue(output.contains("name=cpu (scalar, "), output);
        assertTrue(output.contains("-Dkullback.cpu.vector=false"), output);
        assertTrue(output.contains("second=cpu (") && output.contains("-bit vectors, 2 threads)"),
                "an explicit vectorize=true device still gets the vector kernels: " + output);
    }
}
