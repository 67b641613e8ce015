package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kullback.AllReduce;
import dev.kullback.CrossEntropy;
import dev.kullback.Device;
import dev.kullback.Distillation;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Reduction;
import dev.kullback.Tensor;
import dev.kullback.VocabShard;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.Test;

/**
 * Two ranks on two GPUs joined by NCCL (one process, ncclCommInitAll, one thread per rank; and again through
 * ncclCommInitRank with a shared unique id): the sharded cross-entropy (smoothing, z-loss, an ignored row),
 * distillation and entropy over a vocabulary of 50,257 classes split unevenly into a padded pair equal the unsharded
 * losses on GPU 0 (values within 1e-4 + 2e-5·|loss|: float32 sums over 25,000 classes in another order; gradients
 * within 2e-6 + 1e-4·|g|, padding exactly 0), and both ranks return the same value bit for bit.
 * Skips with the reason where there are fewer than two GPUs or NCCL cannot load; {@code -Dkullback.requireGpu=true}
 * makes that a failure.
 */
class NcclTwoGpuTest {
    private static final int ROWS = 64;
    private static final int VOCAB = 50257;

    private static void assumeTwoGpusAndNccl() {
        RealGpu.require("the two-GPU NCCL test");
        int[] count = new int[1];
        JCudaDriver.cuDeviceGetCount(count);
        if (count[0] < 2) {
            RealGpu.skipOrFail("the two-GPU NCCL test needs two GPUs; the driver reports " + count[0]);
        }
        try {
            NcclAllReduce.uniqueId();
        } catch (IllegalStateException e) {
            RealGpu.skipOrFail(e.getMessage());
        }
    }

    @Test
    void twoRanksByCommInitAll() throws Exception {
        assumeTwoGpusAndNccl();
        try (CudaDevice g0 = CudaDevice.open(0); CudaDevice g1 = CudaDevice.open(1)) {
            List<NcclAllReduce> comms = NcclAllReduce.forDevices(List.of(g0, g1));
            try {
                checkAll(List.of(g0, g1), List.of(comms.get(0), comms.get(1)));
            } finally {
                comms.forEach(NcclAllReduce::close);
            }
        }
    }

    @Test
    void twoRanksByCommInitRank() throws Exception {
        assumeTwoGpusAndNccl();
        byte[] id = NcclAllReduce.uniqueId();
        try (CudaDevice g0 = CudaDevice.open(0); CudaDevice g1 = CudaDevice.open(1)) {
            ExecutorService threads = Executors.newFixedThreadPool(2);
            try {
                // ncclCommInitRank blocks until both ranks have joined: one thread each
                Future<NcclAllReduce> c0 = threads.submit(() -> NcclAllReduce.join(g0, 2, 0, id));
                Future<NcclAllReduce> c1 = threads.submit(() -> NcclAllReduce.join(g1, 2, 1, id));
                try (NcclAllReduce r0 = c0.get(120, TimeUnit.SECONDS); NcclAllReduce r1 = c1.get(120, TimeUnit.SECONDS)) {
                    checkAll(List.of(g0, g1), List.of(r0, r1));
                }
            } finally {
                threads.shutdownNow();
            }
        }
    }

    /** One device's inputs. */
    private record Inputs(Tensor a, Tensor b, Labels y) implements AutoCloseable {
        static Inputs upload(Device d, float[] a, float[] b, int[] y, int from, int width) {
            float[] sa = new float[ROWS * width];
            float[] sb = new float[ROWS * width];
            for (int r = 0; r < ROWS; r++) {
                for (int c = 0; c < width; c++) {
                    int j = from + c;
                    sa[r * width + c] = j < VOCAB ? a[r * VOCAB + j] : Float.NaN; // NaN padding: never read
                    sb[r * width + c] = j < VOCAB ? b[r * VOCAB + j] : Float.NaN;
                }
            }
            return new Inputs(d.upload(sa, ROWS, width), d.upload(sb, ROWS, width), d.uploadLabels(y));
        }

        @Override
        public void close() {
            a.close();
            b.close();
            y.close();
        }
    }

    private interface Unsharded {
        Loss call(Device d, Inputs in);
    }

    private interface Sharded {
        Loss call(Device d, Inputs in, VocabShard shard, AllReduce comm);
    }

    private static void checkAll(List<CudaDevice> gpus, List<? extends AllReduce> comms) throws Exception {
        Random random = new Random(12);
        float[] a = new float[ROWS * VOCAB];
        float[] b = new float[ROWS * VOCAB];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (3 * random.nextGaussian());
            b[i] = a[i] + (float) random.nextGaussian();
        }
        int[] y = new int[ROWS];
        for (int r = 0; r < ROWS; r++) {
            y[r] = r == 5 ? -100 : random.nextInt(VOCAB);
        }
        y[0] = VOCAB - 1; // in the last shard
        CrossEntropy ce = CrossEntropy.options().labelSmoothing(0.1f).zLoss(1e-4f);
        check(gpus, comms, a, b, y, (d, in) -> d.crossEntropy(in.a(), in.y(), ce),
                (d, in, shard, comm) -> d.crossEntropy(in.a(), in.y(), shard, comm, ce));
        Distillation kd = Distillation.options().temperature(2f).reverse(true);
        check(gpus, comms, a, b, y, (d, in) -> d.distillationKl(in.a(), in.b(), kd),
                (d, in, shard, comm) -> d.distillationKl(in.a(), in.b(), shard, comm, kd));
        check(gpus, comms, a, b, y, (d, in) -> d.entropy(in.a(), Reduction.NONE),
                (d, in, shard, comm) -> d.entropy(in.a(), shard, comm, Reduction.NONE));
    }

    private static void check(List<CudaDevice> gpus, List<? extends AllReduce> comms, float[] a, float[] b, int[] y,
                              Unsharded unsharded, Sharded sharded) throws Exception {
        float[] value;
        float[] grad;
        try (Inputs full = Inputs.upload(gpus.get(0), a, b, y, 0, VOCAB);
             Loss plain = unsharded.call(gpus.get(0), full)) {
            value = plain.value().toArray();
            grad = plain.gradient().toArray();
        }
        int width = VocabShard.paddedWidth(VOCAB, 2);
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try {
            List<Future<float[][]>> ranks = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                int rank = r;
                ranks.add(threads.submit(() -> {
                    CudaDevice d = gpus.get(rank);
                    try (Inputs in = Inputs.upload(d, a, b, y, rank * width, width);
                         Loss loss = sharded.call(d, in, VocabShard.evenSplit(rank, 2, VOCAB), comms.get(rank))) {
                        return new float[][] {loss.value().toArray(), loss.gradient().toArray()};
                    }
                }));
            }
            float[][] r0 = ranks.get(0).get(300, TimeUnit.SECONDS);
            float[][] r1 = ranks.get(1).get(300, TimeUnit.SECONDS);
            assertArrayEquals(r0[0], r1[0], "both ranks' values, bit for bit");
            for (int i = 0; i < value.length; i++) {
                assertEquals(value[i], r0[0][i], 1e-4 + 2e-5 * Math.abs(value[i]), "value[" + i + "]");
            }
            for (int rank = 0; rank < 2; rank++) {
                float[] g = rank == 0 ? r0[1] : r1[1];
                for (int row = 0; row < ROWS; row++) {
                    for (int c = 0; c < width; c++) {
                        int j = rank * width + c;
                        float got = g[row * width + c];
                        if (j >= VOCAB) {
                            assertEquals(0f, got, "padding gradient");
                        } else {
                            float want = grad[row * VOCAB + j];
                            assertEquals(want, got, 2e-6 + 1e-4 * Math.abs(want),
                                    "rank " + rank + " gradient [" + row + ", class " + j + "]");
                        }
                    }
                }
            }
        } finally {
            threads.shutdownNow();
        }
    }
}
