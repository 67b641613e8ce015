package dev.kullback.cuda;

/**
 * The NCCL calls {@link NcclAllReduce} makes, on raw handles: {@link BytedecoNccl} is NCCL itself (through
 * org.bytedeco:cuda's binding); tests put a recorder here to check the argument mapping without a GPU.
 */
interface NcclLibrary {
    /** {@code ncclFloat32} of nccl.h's ncclDataType_t. */
    int FLOAT32 = 7;
    /** {@code ncclSum} of nccl.h's ncclRedOp_t. */
    int SUM = 0;
    /** {@code ncclMax} of nccl.h's ncclRedOp_t. */
    int MAX = 2;
    /** {@code NCCL_UNIQUE_ID_BYTES}. */
    int UNIQUE_ID_BYTES = 128;

    /** ncclGetUniqueId, as bytes. */
    byte[] uniqueId();

    /** cudaSetDevice(ordinal), then ncclCommInitRank; returns the communicator handle. */
    long commInitRank(int ordinal, int ranks, byte[] uniqueId, int rank);

    /** ncclCommInitAll over the devices {@code ordinals}; returns one communicator handle per device, in order. */
    long[] commInitAll(int[] ordinals);

    /** ncclAllReduce(send, recv, count, datatype, op, comm, stream). */
    void allReduce(long send, long recv, long count, int datatype, int op, long comm, long stream);

    /** ncclCommDestroy. */
    void commDestroy(long comm);
}
