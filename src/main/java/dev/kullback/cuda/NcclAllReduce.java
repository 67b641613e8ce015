package dev.kullback.cuda;

import dev.kullback.AllReduce;
import dev.kullback.Tensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The collective seam of the vocabulary-parallel losses on NCCL: one rank's communicator, bound to that rank's
 * {@link CudaDevice}. {@link #max} and {@link #sum} are {@code ncclAllReduce} in place over the float32 buffer
 * ({@code ncclFloat32}, {@code ncclMax} / {@code ncclSum}) on the device's stream, so they run in order with the
 * loss's kernels without a host synchronization.
 *
 * <p>Needs org.bytedeco:cuda (an optional dependency of kullback: declare it) and NCCL's native library; if they
 * cannot be loaded, the factories throw an {@link IllegalStateException} that names the library. Across processes,
 * rank 0 calls {@link #uniqueId()} and sends the bytes to the other ranks by its own means (as torch.distributed's
 * store does); every rank then calls {@link #join}. In one process driving several GPUs, {@link #forDevices} makes
 * all the communicators at once ({@code ncclCommInitAll}); each rank's loss must then run on its own thread: a
 * thread that drives several GPUs through ungrouped NCCL calls can wait on itself (NCCL's documented deadlock).
 */
public final class NcclAllReduce implements AllReduce, AutoCloseable {
    private final NcclLibrary nccl;
    private final CudaDevice device;
    private final long comm;
    private final int rank;
    private final int ranks;
    private volatile boolean closed;

    private NcclAllReduce(NcclLibrary nccl, CudaDevice device, long comm, int rank, int ranks) {
        this.nccl = nccl;
        this.device = device;
        this.comm = comm;
        this.rank = rank;
        this.ranks = ranks;
    }

    /** A fresh NCCL unique id ({@code ncclGetUniqueId}, 128 bytes), made by rank 0. */
    public static byte[] uniqueId() {
        return BytedecoNccl.load().uniqueId();
    }

    /**
     * Rank {@code rank} of {@code ranks} on {@code device}'s GPU ({@code ncclCommInitRank}); blocks until every rank
     * has joined with the same {@code uniqueId}.
     */
    public static NcclAllReduce join(CudaDevice device, int ranks, int rank, byte[] uniqueId) {
        checkJoin(device, ranks, rank, uniqueId); // before loading NCCL: bad arguments say so wherever NCCL is absent
        return join(BytedecoNccl.load(), device, ranks, rank, uniqueId);
    }

    /** One communicator per device, rank i on devices.get(i), in one call ({@code ncclCommInitAll}). */
    public static List<NcclAllReduce> forDevices(List<CudaDevice> devices) {
        int[] ordinals = ordinals(devices);
        return forDevices(BytedecoNccl.load(), devices, ordinals);
    }

    static NcclAllReduce join(NcclLibrary nccl, CudaDevice device, int ranks, int rank, byte[] uniqueId) {
        int ordinal = checkJoin(device, ranks, rank, uniqueId);
        return new NcclAllReduce(nccl, device, nccl.commInitRank(ordinal, ranks, uniqueId.clone(), rank), rank, ranks);
    }

    static List<NcclAllReduce> forDevices(NcclLibrary nccl, List<CudaDevice> devices, int[] ordinals) {
        long[] comms = nccl.commInitAll(ordinals);
        List<NcclAllReduce> all = new ArrayList<>();
        for (int i = 0; i < comms.length; i++) {
            all.add(new NcclAllReduce(nccl, devices.get(i), comms[i], i, comms.length));
        }
        return List.copyOf(all);
    }

    private static int checkJoin(CudaDevice device, int ranks, int rank, byte[] uniqueId) {
        if (ranks < 1 || rank < 0 || rank >= ranks) {
            throw new IllegalArgumentException("rank " + rank + " is not in [0, ranks = " + ranks + ")");
        }
        if (uniqueId == null || uniqueId.length != NcclLibrary.UNIQUE_ID_BYTES) {
            throw new IllegalArgumentException("uniqueId must be the " + NcclLibrary.UNIQUE_ID_BYTES + " bytes of "
                    + "NcclAllReduce.uniqueId(), got " + (uniqueId == null ? "null" : uniqueId.length + " bytes"));
        }
        return ordinalOf(device, "device");
    }

    /** The devices' CUDA ordinals, checked: open GPUs, each once. */
    static int[] ordinals(List<CudaDevice> devices) {
        if (devices == null || devices.isEmpty()) {
            throw new IllegalArgumentException("devices is " + (devices == null ? "null" : "empty"));
        }
        int[] ordinals = new int[devices.size()];
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < ordinals.length; i++) {
            ordinals[i] = ordinalOf(devices.get(i), "devices[" + i + "]");
            if (!seen.add(ordinals[i])) {
                throw new IllegalArgumentException("devices[" + i + "] is cuda:" + ordinals[i] + " again; "
                        + "ncclCommInitAll takes each GPU once");
            }
        }
        return ordinals;
    }

    private static int ordinalOf(CudaDevice device, String argument) {
        if (device == null) {
            throw new IllegalArgumentException(argument + " is null");
        }
        if (device.isClosed()) {
            throw new IllegalStateException(argument + " " + device.name() + " is closed");
        }
        int ordinal = device.gpu().ordinal();
        if (ordinal < 0) {
            throw new IllegalArgumentException(argument + " " + device.name() + " is not a CUDA GPU that NCCL can use");
        }
        return ordinal;
    }

    public int rank() {
        return rank;
    }

    public int ranks() {
        return ranks;
    }

    @Override
    public void max(Tensor buffer) {
        allReduce(buffer, NcclLibrary.MAX);
    }

    @Override
    public void sum(Tensor buffer) {
        allReduce(buffer, NcclLibrary.SUM);
    }

    private void allReduce(Tensor buffer, int op) {
        if (closed) {
            throw new IllegalStateException("the NCCL communicator of rank " + rank + " is closed");
        }
        if (buffer == null) {
            throw new IllegalArgumentException("buffer is null");
        }
        if (buffer.device() != device || !(buffer instanceof CudaTensor)) {
            throw new IllegalStateException("buffer lives on " + buffer.device() + ", not on " + device.name()
                    + ", the device of rank " + rank + "'s communicator");
        }
        if (buffer.isClosed()) {
            throw new IllegalStateException("buffer [" + buffer.rows() + ", " + buffer.cols() + "] is closed");
        }
        long address = ((CudaTensor) buffer).address();
        nccl.allReduce(address, address, buffer.size(), NcclLibrary.FLOAT32, op, comm, device.gpu().streamHandle());
    }

    /** Destroys the communicator ({@code ncclCommDestroy}); the device stays open. Idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            nccl.commDestroy(comm);
        }
    }
}
