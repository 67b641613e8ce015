package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.Chunking;
import dev.kullback.CrossEntropy;
import dev.kullback.Distillation;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The fused linear losses' device memory, by the device's own accounting (the pool's peak of live bytes, every
 * tensor and scratch buffer included) on the simulated GPU: beyond the inputs and the returned loss and gradients,
 * the peak is the README's formula (chunk logits and gradient, plus O(rows + vocabulary)), never [rows, vocabulary].
 */
class FusedLinearMemoryTest {
    private static final int N = 96;
    private static final int H = 8;
    private static final int V = 500;
    private static final int CHUNK = 8;

    @Test
    void crossEntropyHoldsOneChunkOfLogits() {
        try (CudaDevice device = new CudaDevice(SimGpus.open());
             Tensor hidden = device.upload(new float[N * H], N, H);
             Tensor weight = device.upload(new float[V * H], V, H);
             Tensor bias = device.upload(new float[V], 1, V);
             Labels labels = device.uploadLabels(new int[N])) {
            long inputs = device.liveBytes();
            device.resetPeakBytes();
            try (Loss loss = device.linearCrossEntropy(hidden, weight, bias, labels, CrossEntropy.options(),
                    Chunking.rows(CHUNK))) {
                long results = 4L * (1 + N * H + V * H + V);
                assertEquals(inputs + results, device.liveBytes(), "held after the call: inputs and results only");
                long extra = device.peakBytes() - inputs - results;
                long formula = 4L * (CHUNK * V + 3L * CHUNK + N); // logits (gradient in place), ones, row losses
                assertTrue(extra <= formula, "extra peak " + extra + " bytes > formula " + formula);
                assertTrue(extra < 4L * N * V / 4, "extra peak " + extra + " bytes is not far below [N, V]");
            }
        }
    }

    @Test
    void softCappedCrossEntropyHoldsTheChunkGradientApart() {
        try (CudaDevice device = new CudaDevice(SimGpus.open());
             Tensor hidden = device.upload(new float[N * H], N, H);
             Tensor weight = device.upload(new float[V * H], V, H);
             Labels labels = device.uploadLabels(new int[N])) {
            long inputs = device.liveBytes();
            device.resetPeakBytes();
            try (Loss loss = device.linearCrossEntropy(hidden, weight, null, labels, CrossEntropy.options()
                    .softCap(3f), Chunking.rows(CHUNK))) {
                long results = 4L * (1 + N * H + V * H);
                long extra = device.peakBytes() - inputs - results;
                long formula = 4L * (2L * CHUNK * V + 3L * CHUNK + N);
                assertTrue(extra <= formula, "extra peak " + extra + " bytes > formula " + formula);
            }
        }
    }

    @Test
    void distillationHoldsOneChunkOfEachLogits() {
        try (CudaDevice device = new CudaDevice(SimGpus.open());
             Tensor sh = device.upload(new float[N * H], N, H);
             Tensor sw = device.upload(new float[V * H], V, H);
             Tensor th = device.upload(new float[N * H], N, H);
             Tensor tw = device.upload(new float[V * H], V, H)) {
            long inputs = device.liveBytes();
            device.resetPeakBytes();
            try (Loss loss = device.linearDistillationKl(sh, sw, th, tw, Distillation.options(),
                    Chunking.rows(CHUNK))) {
                long results = 4L * (1 + N * H + V * H);
                assertEquals(inputs + results, device.liveBytes());
                long extra = device.peakBytes() - inputs - results;
                // student logits (the gradient written over them) and teacher logits, O(N)
                long formula = 4L * (2L * CHUNK * V + 3L * CHUNK + N);
                assertTrue(extra <= formula, "extra peak " + extra + " bytes > formula " + formula);
            }
        }
    }
}
