package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.CrossEntropy;
import dev.kullback.Distillation;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Device memory on the CUDA device's own Java path, under the host simulator: everything is returned by close(),
 * a long loop of every op holds memory flat, a closed device gives back what it pooled, and a tensor or labels
 * dropped without close() is reclaimed by the Cleaner.
 */
class SimMemoryLifecycleTest {
    /** Iterations of the steady-state loop ({@code -Dkullback.test.leakIterations}). */
    private static final int ITERATIONS = Integer.getInteger("kullback.test.leakIterations", 10_000);

    @Test
    void closingEverythingReturnsEveryByteAndClosingTheDeviceFreesThePool() {
        try (SimGpu gpu = SimGpus.open()) {
            long processBefore = gpu.processLiveBytes();
            CudaDevice device = new CudaDevice(gpu);
            try (Inputs in = new Inputs(device)) {
                step(device, in);
                assertTrue(device.liveBytes() > 0, "the inputs are live");
            }
            assertEquals(0, device.liveBytes(), "live bytes after every tensor and labels was closed");
            assertTrue(device.pooledBytes() > 0, "the pool keeps the buffers for reuse");
            assertEquals(processBefore + device.pooledBytes(), gpu.processLiveBytes(),
                    "the simulator holds exactly the pooled bytes");
            device.close();
            assertEquals(processBefore, gpu.processLiveBytes(), "simulator bytes after the device was closed");
            assertEquals(0, gpu.liveBytes(), "allocations the device still held after close");
        }
    }

    @Test
    void aLongLoopOfEveryOpHoldsMemoryFlat() {
        try (SimGpu gpu = SimGpus.open(); CudaDevice device = new CudaDevice(gpu); Inputs in = new Inputs(device)) {
            step(device, in);
            long live = device.liveBytes();
            long allocations = device.deviceAllocations();
            long pooled = device.pooledBytes();
            long simulator = gpu.processLiveBytes();
            for (int i = 0; i < ITERATIONS; i++) {
                step(device, in);
            }
            assertEquals(live, device.liveBytes(), "live bytes after " + ITERATIONS + " steps");
            assertEquals(allocations, device.deviceAllocations(), "device allocations after " + ITERATIONS + " steps");
            assertEquals(pooled, device.pooledBytes(), "pooled bytes after " + ITERATIONS + " steps");
            assertEquals(simulator, gpu.processLiveBytes(), "simulator bytes after " + ITERATIONS + " steps");
            assertEquals(0, device.leaks(), "tensors garbage collected unclosed");
        }
    }

    @Test
    void aDroppedTensorAndLabelsAreReclaimedAfterGc() throws InterruptedException {
        try (SimGpu gpu = SimGpus.open(); CudaDevice device = new CudaDevice(gpu)) {
            dropTensorAndLabels(device);
            assertEquals(4L * (3 * 5 + 7), device.liveBytes(), "held by the dropped tensor and labels, before a GC");
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (device.liveBytes() != 0 && System.nanoTime() < deadline) {
                System.gc();
                Thread.sleep(20);
            }
            assertEquals(0, device.liveBytes(), () -> "live bytes 60 s after the tensor and labels became unreachable; "
                    + cleanerThreads());
            assertEquals(2, device.leaks(), "leaks counted");
            assertEquals(4L * (3 * 5 + 7), device.pooledBytes(), "their buffers went back to the pool");
            try (Tensor again = device.zeros(3, 5)) {
                assertEquals(2, device.deviceAllocations(), "the reclaimed buffer is reused");
            }
        }
    }

    @Test
    void aTensorCollectedAfterItsDeviceClosedIsHarmless() throws InterruptedException {
        try (SimGpu gpu = SimGpus.open()) {
            long processBefore = gpu.processLiveBytes();
            CudaDevice device = new CudaDevice(gpu);
            dropTensorAndLabels(device);
            device.close();
            assertEquals(processBefore, gpu.processLiveBytes(), "closing the device freed the leaked tensor's memory");
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (device.leaks() < 2 && System.nanoTime() < deadline) {
                System.gc();
                Thread.sleep(20);
            }
            assertEquals(2, device.leaks(), () -> "the Cleaner ran for both; " + cleanerThreads());
            assertEquals(processBefore, gpu.processLiveBytes(), "nothing freed twice, nothing allocated");
        }
    }

    @Test
    void closingIsIdempotentAndDoesNotCountAsALeak() throws InterruptedException {
        try (SimGpu gpu = SimGpus.open(); CudaDevice device = new CudaDevice(gpu)) {
            Tensor x = device.zeros(2, 2);
            x.close();
            x.close();
            x = null;
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.sleep(20);
            }
            assertEquals(0, device.leaks(), "a closed tensor is no leak");
            assertEquals(0, device.liveBytes());
            assertEquals(16, device.pooledBytes(), "returned once");
        }
    }

    /** The Cleaner threads' stacks, for a failure message. */
    private static String cleanerThreads() {
        StringBuilder out = new StringBuilder("Cleaner threads:");
        Thread.getAllStackTraces().forEach((thread, stack) -> {
            if (thread.getName().contains("Cleaner")) {
                out.append("\n").append(thread.getName()).append(" ").append(thread.getState());
                for (StackTraceElement e : stack) {
                    out.append("\n\tat ").append(e);
                }
            }
        });
        return out.toString();
    }

    /** Allocates a [3, 5] tensor and 7 labels in a frame of its own, so that nothing refers to them after it. */
    private static void dropTensorAndLabels(CudaDevice device) {
        device.zeros(3, 5);
        device.uploadLabels(new int[7]);
    }

    /** One call of every op of the device, each result closed. */
    private static void step(CudaDevice d, Inputs in) {
        try (Tensor up = d.upload(in.host, 2, 3); Tensor z = d.zeros(2, 3);
             Labels labels = d.uploadLabels(new int[] {1, -100});
             Tensor logQ = d.logSoftmax(in.student); Tensor p = d.softmax(in.teacher);
             Tensor klNone = d.klDiv(logQ, p, Reduction.NONE, false);
             Tensor kl = d.klDiv(logQ, p, Reduction.BATCHMEAN, false);
             Tensor klLog = d.klDiv(logQ, logQ, Reduction.SUM, true);
             Tensor g = d.klDivBackward(in.one, logQ, p, Reduction.BATCHMEAN, false);
             Tensor gNone = d.klDivBackward(klNone, logQ, p, Reduction.NONE, false);
             Tensor gx = d.logSoftmaxBackward(g, logQ);
             Tensor s = d.sum(gx); Tensor m = d.mean(gx); Tensor rs = d.rowSum(gx)) {
            List<Loss> losses = new ArrayList<>();
            try {
                losses.add(d.distillationKl(in.student, in.teacher, 2f));
                losses.add(d.distillationKl(in.student, in.teacher, Distillation.options().reverse(true)
                        .reduction(Reduction.NONE).ignore(labels, -100)));
                losses.add(d.crossEntropy(in.student, in.labels, CrossEntropy.options()));   // MEAN: the divisors kernel
                losses.add(d.crossEntropy(in.student, in.labels, CrossEntropy.options().reduction(Reduction.SUM)
                        .weights(in.weights).labelSmoothing(0.1f).zLoss(1e-4f)));
                losses.add(d.crossEntropy(in.student, p, CrossEntropy.options()));
                losses.add(d.jsd(in.student, in.teacher, 0.5f, Reduction.BATCHMEAN));
                losses.add(d.symmetricKl(in.student, in.teacher, Reduction.NONE));
                losses.add(d.entropy(in.student, Reduction.MEAN));
                losses.add(d.kerasKl(p, p, Reduction.BATCHMEAN, false));
                losses.add(d.gaussianKl(in.student, in.teacher, Reduction.SUM));
                losses.add(d.gaussianKl(in.student, in.teacher, in.teacher, in.student, Reduction.MEAN));
            } finally {
                losses.forEach(Loss::close);
            }
        }
    }

    /** The step's inputs: tiny, so the loop takes seconds. */
    private static final class Inputs implements AutoCloseable {
        final float[] host = {0.5f, -1f, 2f, 0f, 1f, -0.25f};
        final Tensor student;
        final Tensor teacher;
        final Tensor one;
        final Tensor weights;
        final Labels labels;

        Inputs(CudaDevice d) {
            student = d.upload(host, 2, 3);
            teacher = d.upload(new float[] {1f, 0f, -1f, 0.5f, 0.5f, 2f}, 2, 3);
            one = d.upload(new float[] {1f}, 1, 1);
            weights = d.upload(new float[] {1f, 0.5f, 2f}, 1, 3);
            labels = d.uploadLabels(new int[] {2, 0});
        }

        @Override
        public void close() {
            student.close();
            teacher.close();
            one.close();
            weights.close();
            labels.close();
        }
    }
}
