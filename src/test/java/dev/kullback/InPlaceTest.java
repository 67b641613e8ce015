package dev.kullback;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.cuda.CudaDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Cross-entropy's in-place gradient ({@link CrossEntropy#inPlace}) on every device: bitwise the out-of-place result,
 * the gradient is the logits tensor itself, and (on a CUDA device, by its own memory accounting) no [rows, cols]
 * buffer is allocated. Options that read the logits twice (label smoothing's Σ w z, the target logit, the z-loss)
 * are all on, and rows short and long (the warp and block kernels; the CPU's row and chunk schedules).
 */
class InPlaceTest {
    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (int[] shape : new int[][] {{7, 37}, {3, 5000}, {40, 9000}}) {
                for (boolean weights : new boolean[] {false, true}) {
                    for (Reduction r : new Reduction[] {Reduction.MEAN, Reduction.NONE}) {
                        if (!(d.isGpu() && shape[0] == 40)) {
                            out.add(Arguments.of(d, shape[0], shape[1], weights, r));
                        }
                    }
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} [{1}, {2}] weights {3} {4}", autoCloseArguments = false)
    @MethodSource("cases")
    void crossEntropyInPlaceIsBitwiseOutOfPlace(Device device, int rows, int cols, boolean withWeights,
                                                Reduction reduction) {
        Random random = new Random(rows * 7L + cols);
        float[] x = FusedLinearTest.values(random, rows * cols, 3f);
        int[] y = FusedLinearTest.labels(rows, cols, 1, random);
        float[] cw = withWeights ? FusedLinearTest.positive(random, cols) : null;
        try (Tensor weights = cw == null ? null : device.upload(cw, 1, cols);
             Labels labels = device.uploadLabels(y);
             Tensor logits = device.upload(x, rows, cols);
             Tensor logits2 = device.upload(x, rows, cols)) {
            CrossEntropy options = CrossEntropy.options().reduction(reduction).weights(weights).labelSmoothing(0.1f)
                    .zLoss(1e-3f);
            try (Loss out = device.crossEntropy(logits, labels, options)) {
                long before = live(device);
                Loss in = device.crossEntropy(logits2, labels, options.inPlace(true));
                if (device instanceof CudaDevice) {
                    long valueBytes = 4L * (reduction == Reduction.NONE ? rows : 1);
                    assertTrue(live(device) - before == valueBytes, "in place allocated more than the value");
                }
                assertSame(logits2, in.gradient(), "the gradient is the logits tensor");
                assertArrayEquals(out.value().toArray(), in.value().toArray(), "value");
                assertArrayEquals(out.gradient().toArray(), in.gradient().toArray(), "gradient");
                in.close();
                assertTrue(logits2.isClosed(), "closing the loss closes the consumed logits");
            }
            assertThrows(IllegalArgumentException.class, () -> device.crossEntropy(logits, logits,
                    CrossEntropy.options().inPlace(true)));
        }
    }

    static Stream<Arguments> tileCases() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            // CUDA's rows-in-registers kernels (no smoothing, 4-aligned rows): one warp a row (128, 1024 columns),
            // one block a row (4096), and a long row cut into chunks over two kernels (8192 columns, 2 rows)
            for (int[] shape : new int[][] {{64, 128}, {16, 1024}, {4, 4096}, {2, 8192}}) {
                out.add(Arguments.of(d, shape[0], shape[1]));
            }
        }
        return out.stream();
    }

    /**
     * Without label smoothing (the kernels that hold a row in registers on CUDA): the target logit must be taken
     * before any thread or block writes the gradient over it. Labels sit in the first thread's elements, at the end
     * of the row and in every chunk, where a late read of the logits would see the gradient.
     */
    @ParameterizedTest(name = "{0} [{1}, {2}]", autoCloseArguments = false)
    @MethodSource("tileCases")
    void crossEntropyInPlaceIsBitwiseOutOfPlaceWithoutSmoothing(Device device, int rows, int cols) {
        Random random = new Random(rows * 31L + cols);
        float[] x = FusedLinearTest.values(random, rows * cols, 3f);
        int[] spots = {0, 1, 2, 3, cols - 1, cols / 2, cols / 2 + 5, 4, cols - 4};
        int[] y = new int[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = spots[r % spots.length];
        }
        for (Reduction reduction : new Reduction[] {Reduction.NONE, Reduction.MEAN}) {
            try (Labels labels = device.uploadLabels(y);
                 Tensor logits = device.upload(x, rows, cols);
                 Tensor logits2 = device.upload(x, rows, cols)) {
                CrossEntropy options = CrossEntropy.options().reduction(reduction).zLoss(1e-3f);
                try (Loss out = device.crossEntropy(logits, labels, options);
                     Loss in = device.crossEntropy(logits2, labels, options.inPlace(true))) {
                    assertArrayEquals(out.value().toArray(), in.value().toArray(), reduction + " value");
                    assertArrayEquals(out.gradient().toArray(), in.gradient().toArray(), reduction + " gradient");
                }
            }
        }
    }

    private static long live(Device device) {
        return device instanceof CudaDevice ? ((CudaDevice) device).liveBytes() : 0;
    }
}
