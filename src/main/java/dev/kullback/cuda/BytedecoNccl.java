package dev.kullback.cuda;

import static org.bytedeco.cuda.global.nccl.NCCL_UNIQUE_ID_BYTES;
import static org.bytedeco.cuda.global.nccl.ncclAllReduce;
import static org.bytedeco.cuda.global.nccl.ncclCommDestroy;
import static org.bytedeco.cuda.global.nccl.ncclCommInitAll;
import static org.bytedeco.cuda.global.nccl.ncclCommInitRank;
import static org.bytedeco.cuda.global.nccl.ncclGetErrorString;
import static org.bytedeco.cuda.global.nccl.ncclGetUniqueId;
import static org.bytedeco.cuda.global.nccl.ncclSuccess;

import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nccl;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.cuda.nccl.ncclUniqueId;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * NCCL through org.bytedeco:cuda's binding (an optional dependency: this class is loaded only when NCCL is used).
 * Every call's result is checked; a failure names the call and NCCL's own message.
 */
final class BytedecoNccl implements NcclLibrary {
    private static final String LIBRARY = "NCCL (libnccl.so.2, through org.bytedeco:cuda's nccl binding)";

    private BytedecoNccl() {
        Loader.load(nccl.class);
        Loader.load(cudart.class);
    }

    /** NCCL, loaded now; any failure to find the binding or the native library is a clear exception. */
    static NcclLibrary load() {
        try {
            return new BytedecoNccl();
        } catch (LinkageError | RuntimeException e) {
            throw new IllegalStateException(LIBRARY + " could not be loaded: " + e + ". Put org.bytedeco:cuda "
                    + "and its natives (org.bytedeco:cuda-platform, or the jar of your platform's classifier) on the "
                    + "class path, with NCCL itself (org.bytedeco:cuda-platform-redist, or libnccl on the library "
                    + "path).", e);
        }
    }

    /** A JavaCPP pointer at a raw address, without taking ownership of anything. */
    private static Pointer at(long address) {
        return new Pointer() {
            {
                this.address = address;
            }
        };
    }

    private static void check(int result, String call) {
        if (result != ncclSuccess) {
            throw new IllegalStateException(call + " failed: " + ncclGetErrorString(result).getString() + " (NCCL "
                    + "result " + result + ")");
        }
    }

    @Override
    public byte[] uniqueId() {
        ncclUniqueId id = new ncclUniqueId();
        check(ncclGetUniqueId(id), "ncclGetUniqueId");
        byte[] bytes = new byte[NCCL_UNIQUE_ID_BYTES];
        id.internal().get(bytes);
        return bytes;
    }

    @Override
    public long commInitRank(int ordinal, int ranks, byte[] uniqueId, int rank) {
        int set = cudart.cudaSetDevice(ordinal);
        if (set != cudart.cudaSuccess) {
            throw new IllegalStateException("cudaSetDevice(" + ordinal + ") failed: "
                    + cudart.cudaGetErrorString(set).getString());
        }
        ncclUniqueId id = new ncclUniqueId();
        id.internal().put(uniqueId);
        ncclComm comm = new ncclComm();
        check(ncclCommInitRank(comm, ranks, id, rank), "ncclCommInitRank(rank " + rank + " of " + ranks + ")");
        return comm.address();
    }

    @Override
    public long[] commInitAll(int[] ordinals) {
        PointerPointer<ncclComm> comms = new PointerPointer<>(ordinals.length);
        check(ncclCommInitAll(comms, ordinals.length, ordinals), "ncclCommInitAll");
        long[] handles = new long[ordinals.length];
        for (int i = 0; i < handles.length; i++) {
            handles[i] = comms.get(i).address();
        }
        return handles;
    }

    @Override
    public void allReduce(long send, long recv, long count, int datatype, int op, long comm, long stream) {
        check(ncclAllReduce(at(send), at(recv), count, datatype, op, new ncclComm(at(comm)),
                new CUstream_st(at(stream))), "ncclAllReduce");
    }

    @Override
    public void commDestroy(long comm) {
        check(ncclCommDestroy(new ncclComm(at(comm))), "ncclCommDestroy");
    }
}
