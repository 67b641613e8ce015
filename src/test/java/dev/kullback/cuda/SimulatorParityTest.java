package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.Reduction;
import dev.kullback.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The CUDA device's own Java path (pool, launch shapes, argument marshalling, multi-kernel reductions) with
 * the real kernels of {@code kernels/}, run by the host simulator, against the CPU device. The last test
 * fails when a {@code __global__} kernel of {@code kernels/} was never launched here.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SimulatorParityTest extends CudaParityContract {
    private static final Pattern GLOBAL = Pattern.compile("__global__\\s+(?:void\\s+)?(?:__launch_bounds__\\([^)]*\\)\\s*)?"
            + "(?:void\\s+)?(\\w+)\\s*\\(");
    private static CudaDevice simulated;

    @BeforeAll
    static void openSimulator() {
        simulated = new CudaDevice(SimGpus.open());
    }

    @AfterAll
    static void closeSimulator() {
        if (simulated != null) {
            simulated.close();
        }
    }

    @Override
    CudaDevice cuda() {
        return simulated;
    }

    @Test
    @Order(1)
    void steadyStateCallsAllocateNoDeviceMemory() {
        try (Tensor x = simulated.upload(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor one = simulated.upload(new float[] {1}, 1, 1)) {
            Runnable step = () -> {
                try (Tensor y = simulated.logSoftmax(x); Tensor p = simulated.softmax(x);
                     Tensor kl = simulated.klDiv(y, p, Reduction.BATCHMEAN, false);
                     Tensor g = simulated.klDivBackward(one, y, p, Reduction.BATCHMEAN, false);
                     Tensor gx = simulated.logSoftmaxBackward(g, y); Tensor s = simulated.sum(gx)) {
                    s.item();
                }
            };
            step.run();
            long allocations = simulated.deviceAllocations();
            long live = simulated.liveBytes();
            for (int i = 0; i < 50; i++) {
                step.run();
            }
            assertEquals(allocations, simulated.deviceAllocations(), "device allocations after warm-up");
            assertEquals(live, simulated.liveBytes(), "live bytes after the steps");
        }
    }

    @Test
    @Order(2)
    void closedTensorsReturnEveryByteToThePool() {
        long live = simulated.liveBytes();
        Tensor x = simulated.upload(new float[33], 1, 33);
        Tensor y = simulated.logSoftmax(x);
        assertEquals(live + 2 * 33 * 4, simulated.liveBytes());
        y.close();
        x.close();
        x.close(); // idempotent
        assertEquals(live, simulated.liveBytes());
    }

    /**
     * Every loss case once on a warp-per-row and a block-per-row shape, and on one of each row-tile kind (aligned
     * rows: RowTiles), so that the loss kernels are launched in
     * this class whatever order the test classes run in (SimulatorLossParityTest covers the whole grid).
     */
    @Test
    @Order(Integer.MAX_VALUE - 1)
    void everyLossKernelLaunches() {
        for (LossParityContract.Case c : LossParityContract.Case.values()) {
            for (int[] shape : new int[][] {{3, 33}, {1, 4097}, {5, 128}, {3, 1000}, {3, 2048}, {1, 32000}}) {
                LossParityContract.assertMatchesCpu(simulated, c, shape[0], shape[1], true);
            }
        }
        // soft_cap.cu (its parity: SoftCapTest, FusedLinearTest)
        try (dev.kullback.Tensor x = simulated.upload(new float[] {1f, -3f, 2f}, 1, 3);
             dev.kullback.Labels y = simulated.uploadLabels(new int[] {2});
             dev.kullback.Loss loss = simulated.crossEntropy(x, y, dev.kullback.CrossEntropy.options().softCap(2f))) {
            assertTrue(Float.isFinite(loss.value().item()));
        }
    }

    /** The bf16 / f16 kernels and the conversion kernels (issue 10; CudaHalfPrecisionTest covers them in depth). */
    @Test
    @Order(Integer.MAX_VALUE - 3)
    void everyHalfKernelLaunches() {
        HalfCases.launchAll(simulated, dev.kullback.Devices.cpu());
    }

    /** The vocabulary-parallel kernels, as one rank (VocabParallelLossTest runs N ranks). */
    @Test
    @Order(Integer.MAX_VALUE - 2)
    void everyVocabParallelKernelLaunches() {
        VocabParallelLaunches.launchAll(simulated);
    }

    @Test
    @Order(Integer.MAX_VALUE)
    void everyKernelInKernelsFolderRanUnderTheSimulator() throws IOException {
        Set<String> declared = declaredKernels();
        assertFalse(declared.isEmpty(), "no __global__ kernels found in kernels/");
        Set<String> missing = new TreeSet<>(declared);
        missing.removeAll(SimGpu.launchedKernels());
        assertTrue(missing.isEmpty(), "kernels with no simulator test: " + missing);
    }

    /** "module.kernel" for every __global__ function of kernels/*.cu. */
    static Set<String> declaredKernels() throws IOException {
        Set<String> kernels = new TreeSet<>();
        try (Stream<Path> files = Files.list(Path.of("kernels"))) {
            for (Path file : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".cu"))::iterator) {
                String module = file.getFileName().toString().replace(".cu", "");
                Matcher m = GLOBAL.matcher(Files.readString(file));
                while (m.find()) {
                    kernels.add(module + "." + m.group(1));
                }
            }
        }
        return kernels;
    }
}
