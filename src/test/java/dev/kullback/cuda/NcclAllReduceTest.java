package dev.kullback.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kullback.CrossEntropy;
import dev.kullback.Labels;
import dev.kullback.Loss;
import dev.kullback.Tensor;
import dev.kullback.VocabShard;
import dev.kullback.cpu.CpuDevice;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.global.nccl;
import org.junit.jupiter.api.Test;

/**
 * NcclAllReduce without a GPU: its NCCL calls go to a recorder, its device is the host simulator behind a Gpu that
 * reports a CUDA ordinal and a stream handle. Checks what reaches ncclAllReduce (buffer pointers, count, datatype,
 * operation, communicator, stream), the communicator set-up calls, argument checks, and that a missing NCCL is an
 * exception naming the library.
 */
class NcclAllReduceTest {
    private static final int ORDINAL = 3;
    private static final long STREAM = 0x5e00L;

    /** Every call, as text. */
    static final class Recorder implements NcclLibrary {
        final List<String> calls = new ArrayList<>();
        final List<long[]> allReduces = new ArrayList<>();

        @Override
        public byte[] uniqueId() {
            calls.add("uniqueId");
            return new byte[UNIQUE_ID_BYTES];
        }

        @Override
        public long commInitRank(int ordinal, int ranks, byte[] uniqueId, int rank) {
            calls.add("commInitRank(" + ordinal + ", " + ranks + ", " + uniqueId[0] + ", " + rank + ")");
            return 0xc0ffeeL;
        }

        @Override
        public long[] commInitAll(int[] ordinals) {
            calls.add("commInitAll(" + java.util.Arrays.toString(ordinals) + ")");
            long[] comms = new long[ordinals.length];
            for (int i = 0; i < comms.length; i++) {
                comms[i] = 0x1000L + i;
            }
            return comms;
        }

        @Override
        public void allReduce(long send, long recv, long count, int datatype, int op, long comm, long stream) {
            allReduces.add(new long[] {send, recv, count, datatype, op, comm, stream});
        }

        @Override
        public void commDestroy(long comm) {
            calls.add("commDestroy(" + Long.toHexString(comm) + ")");
        }
    }

    /** The simulator as a GPU with a CUDA ordinal and a caller's stream. */
    private static CudaDevice device(int ordinal) {
        SimGpu sim = SimGpus.open();
        return new CudaDevice(new Gpu() {
            @Override
            public String name() {
                return "cuda:" + ordinal + " (host simulator)";
            }

            @Override
            public long totalMemory() {
                return sim.totalMemory();
            }

            @Override
            public long malloc(long bytes) {
                return sim.malloc(bytes);
            }

            @Override
            public void free(long address) {
                sim.free(address);
            }

            @Override
            public void requireAllocated(long address, long bytes) {
                sim.requireAllocated(address, bytes);
            }

            @Override
            public void copyToDevice(float[] src, int srcOffset, long dst, int count) {
                sim.copyToDevice(src, srcOffset, dst, count);
            }

            @Override
            public void copyToDevice(int[] src, long dst) {
                sim.copyToDevice(src, dst);
            }

            @Override
            public void copyToHost(long src, float[] dst, int dstOffset, int count) {
                sim.copyToHost(src, dst, dstOffset, count);
            }

            @Override
            public void memsetZero(long dst, long bytes) {
                sim.memsetZero(dst, bytes);
            }

            @Override
            public Function function(String module, String kernel) {
                return sim.function(module, kernel);
            }

            @Override
            public void launch(Function function, int gridX, int blockX, int sharedBytes, Object... args) {
                sim.launch(function, gridX, blockX, sharedBytes, args);
            }

            @Override
            public void synchronize() {
                sim.synchronize();
            }

            @Override
            public int ordinal() {
                return ordinal;
            }

            @Override
            public long streamHandle() {
                return STREAM;
            }

            @Override
            public void close() {
                sim.close();
            }
        });
    }

    @Test
    void constantsAreNcclsOwn() {
        assertEquals(nccl.ncclFloat32, NcclLibrary.FLOAT32);
        assertEquals(nccl.ncclSum, NcclLibrary.SUM);
        assertEquals(nccl.ncclMax, NcclLibrary.MAX);
        assertEquals(nccl.NCCL_UNIQUE_ID_BYTES, NcclLibrary.UNIQUE_ID_BYTES);
    }

    @Test
    void maxAndSumAreInPlaceFloat32AllReducesOnTheDevicesStream() {
        Recorder nccl = new Recorder();
        try (CudaDevice d = device(ORDINAL)) {
            byte[] id = new byte[NcclLibrary.UNIQUE_ID_BYTES];
            id[0] = 42;
            try (NcclAllReduce comm = NcclAllReduce.join(nccl, d, 2, 1, id);
                 CudaTensor buffer = (CudaTensor) d.zeros(4, 3)) {
                assertEquals(List.of("commInitRank(3, 2, 42, 1)"), nccl.calls);
                assertEquals(1, comm.rank());
                assertEquals(2, comm.ranks());
                comm.max(buffer);
                comm.sum(buffer);
                long a = buffer.address();
                assertArrayEquals(new long[] {a, a, 12, 7, 2, 0xc0ffeeL, STREAM}, nccl.allReduces.get(0));
                assertArrayEquals(new long[] {a, a, 12, 7, 0, 0xc0ffeeL, STREAM}, nccl.allReduces.get(1));
            }
            assertEquals(List.of("commInitRank(3, 2, 42, 1)", "commDestroy(c0ffee)"), nccl.calls);
        }
    }

    /** A whole loss through the seam: one rank, so NCCL's all-reduce is the identity; the recorder sees both calls. */
    @Test
    void aShardedLossMakesOneMaxAndOneSumOverItsBuffers() {
        Recorder nccl = new Recorder();
        try (CudaDevice d = device(ORDINAL);
             NcclAllReduce comm = NcclAllReduce.join(nccl, d, 1, 0, new byte[NcclLibrary.UNIQUE_ID_BYTES]);
             Tensor logits = d.upload(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Labels labels = d.uploadLabels(new int[] {0, 2});
             Loss loss = d.crossEntropy(logits, labels, VocabShard.of(0, 3), comm, CrossEntropy.options())) {
            assertEquals(2, nccl.allReduces.size());
            assertEquals(2, nccl.allReduces.get(0)[2], "max: one float per row");
            assertEquals(NcclLibrary.MAX, nccl.allReduces.get(0)[4]);
            assertEquals(4, nccl.allReduces.get(1)[2], "sum: two floats per row");
            assertEquals(NcclLibrary.SUM, nccl.allReduces.get(1)[4]);
            assertEquals(STREAM, nccl.allReduces.get(1)[6]);
            try (Loss plain = d.crossEntropy(logits, labels)) {
                assertEquals(plain.value().item(), loss.value().item(), 1e-6f);
            }
        }
    }

    @Test
    void forDevicesMakesOneCommunicatorPerGpuInOrder() {
        Recorder nccl = new Recorder();
        try (CudaDevice a = device(1); CudaDevice b = device(0)) {
            List<NcclAllReduce> comms = NcclAllReduce.forDevices(nccl, List.of(a, b),
                    NcclAllReduce.ordinals(List.of(a, b)));
            assertEquals(List.of("commInitAll([1, 0])"), nccl.calls);
            assertEquals(2, comms.size());
            try (Tensor x = b.zeros(1, 5)) {
                comms.get(1).sum(x);
                assertEquals(0x1001L, nccl.allReduces.get(0)[5]);
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> comms.get(0).sum(x));
                assertTrue(e.getMessage().contains("not on cuda:1"), e.getMessage());
            }
            comms.forEach(NcclAllReduce::close);
            comms.get(0).close(); // idempotent
            assertEquals(List.of("commInitAll([1, 0])", "commDestroy(1000)", "commDestroy(1001)"), nccl.calls);
            assertThrows(IllegalStateException.class, () -> comms.get(0).max(null));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NcclAllReduce.ordinals(List.of(a, a)));
            assertTrue(e.getMessage().contains("devices[1] is cuda:1 again"), e.getMessage());
        }
    }

    @Test
    void badArgumentsAreRejectedBeforeNcclIsTouched() {
        Recorder nccl = new Recorder();
        try (CudaDevice d = device(0); CpuDevice cpu = new CpuDevice(1); Tensor onCpu = cpu.zeros(1, 1);
             CudaDevice sim = new CudaDevice(SimGpus.open())) {
            byte[] id = new byte[NcclLibrary.UNIQUE_ID_BYTES];
            assertThrows(IllegalArgumentException.class, () -> NcclAllReduce.join(d, 2, 2, id));
            assertThrows(IllegalArgumentException.class, () -> NcclAllReduce.join(d, 2, -1, id));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NcclAllReduce.join(d, 2, 0, new byte[3]));
            assertTrue(e.getMessage().contains("128 bytes"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> NcclAllReduce.join(sim, 1, 0, id));
            assertTrue(e.getMessage().contains("not a CUDA GPU"), e.getMessage());
            try (NcclAllReduce comm = NcclAllReduce.join(nccl, d, 1, 0, id)) {
                IllegalStateException s = assertThrows(IllegalStateException.class, () -> comm.max(onCpu));
                assertTrue(s.getMessage().contains("not on cuda:0"), s.getMessage());
                assertThrows(IllegalArgumentException.class, () -> comm.sum(null));
                Tensor closed = d.zeros(1, 1);
                closed.close();
                assertThrows(IllegalStateException.class, () -> comm.sum(closed));
            }
            assertTrue(nccl.allReduces.isEmpty(), "no bad call reached NCCL");
        }
    }

    /** Here NCCL's native library is absent (no GPU machine): the factories say which library is missing. */
    @Test
    void missingNcclIsAnExceptionNamingTheLibrary() {
        byte[] id;
        try {
            id = NcclAllReduce.uniqueId();
        } catch (IllegalStateException e) {
            assertTrue(e.getMessage().contains("NCCL (libnccl.so.2, through org.bytedeco:cuda's nccl binding) could "
                    + "not be loaded"), e.getMessage());
            return;
        }
        assertEquals(NcclLibrary.UNIQUE_ID_BYTES, id.length, "NCCL is present here: its unique id");
    }
}
