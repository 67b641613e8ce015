package dev.kullback;

import static dev.kullback.FusedLinearTest.assertClose;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The soft-cap option of {@link Device#crossEntropy} and {@link Device#distillationKl} on every device, against
 * PyTorch autograd of the loss of {@code cap · tanh(logits / cap)}: with caps that bite (logits of several caps),
 * rows short and long (warp and block kernels), and ±inf and NaN logits.
 */
class SoftCapTest {
    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Device d : TestDevices.all()) {
            for (int[] shape : new int[][] {{5, 37}, {2, 1500}}) {
                for (float cap : new float[] {0f, 1f, 30f}) {
                    for (Reduction r : new Reduction[] {Reduction.MEAN, Reduction.NONE}) {
                        out.add(Arguments.of(d, shape[0], shape[1], cap, r));
                    }
                }
            }
        }
        return out.stream();
    }

    static float[] logits(Random random, int n) {
        float[] x = FusedLinearTest.values(random, n, 4f);
        x[3] = Float.POSITIVE_INFINITY; // caps to +cap (a finite loss), where no cap gives NaN
        return x;
    }

    @ParameterizedTest(name = "{0} [{1}, {2}] cap {3} {4}", autoCloseArguments = false)
    @MethodSource("cases")
    void crossEntropyMatchesTorch(Device device, int rows, int cols, float cap, Reduction reduction) {
        Random random = new Random(rows + cols);
        float[] x = logits(random, rows * cols);
        int[] y = new int[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = random.nextInt(cols);
        }
        TorchOracle.LossOut want = TorchLinearOracle.crossEntropyOfLogits(x, rows, cols, y, reduction, 0.1f, 1e-3f,
                cap);
        try (Tensor t = device.upload(x, rows, cols);
             Labels labels = device.uploadLabels(y);
             Loss loss = device.crossEntropy(t, labels, CrossEntropy.options().reduction(reduction)
                     .labelSmoothing(0.1f).zLoss(1e-3f).softCap(cap))) {
            assertClose("value", want.value(), loss.value().toArray());
            assertClose("gradient", want.grads()[0], loss.gradient().toArray());
        }
    }

    @ParameterizedTest(name = "{0} [{1}, {2}] cap {3} {4}", autoCloseArguments = false)
    @MethodSource("cases")
    void distillationMatchesTorch(Device device, int rows, int cols, float cap, Reduction reduction) {
        if (cap == 0) {
            return; // +inf logits without a cap: the KL is NaN both ways; covered by the loss's own tests
        }
        Random random = new Random(rows * 3 + cols);
        float[] s = logits(random, rows * cols);
        float[] t = FusedLinearTest.values(random, rows * cols, 4f);
        Reduction r = reduction == Reduction.MEAN ? Reduction.BATCHMEAN : reduction;
        TorchOracle.LossOut want = TorchLinearOracle.distillationOfLogits(s, t, rows, cols, 2f, false, r, cap);
        try (Tensor a = device.upload(s, rows, cols);
             Tensor b = device.upload(t, rows, cols);
             Loss loss = device.distillationKl(a, b, Distillation.options().temperature(2f).reduction(r)
                     .softCap(cap))) {
            assertClose("value", want.value(), loss.value().toArray());
            assertClose("gradient", want.grads()[0], loss.gradient().toArray());
        }
    }
}
