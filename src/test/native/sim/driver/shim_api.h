// shim_api.h: what the driver shim (libcuda.so.1, test infrastructure) exports besides the CUDA driver API.
//
// 1. For tests (through JNA): the last error's message, memory accounting, the configuration.
// 2. For other shims built on it, as libcublas_shim.cpp (cublasCreate_v2, cublasSetStream_v2,
//    cublasSgemm_v2 / cublasGemmEx): such a library links against libcuda.so.1 and
//      - resolves its stream argument with kullback_shim_stream_context (0 and CU_STREAM_LEGACY: the legacy
//        stream of the current context; a destroyed or unknown stream is CUDA_ERROR_INVALID_HANDLE),
//      - checks each matrix with kullback_shim_check_range (device memory of that context, whole range),
//      - queues the work with kullback_shim_enqueue on the stream: it then runs on that stream's worker, in
//        order with the kernels, copies and memsets queued there, and a failure (a code >= 700) becomes the
//        context's sticky error, reported by the next synchronizing call, as on a GPU;
//      - or launches a simulator kernel (e.g. a GEMM compiled from a .cu) with kullback_shim_launch_by_name.
//    The cuBLAS semantics (column-major, alpha/beta exactly: beta == 0 ignores C's NaNs) belong to that library.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Tests: the message of the last failing driver call of the calling thread ("" when none), e.g.
// "cuLaunchKernel(softmax_rows_block): CUDA_ERROR_INVALID_VALUE: kernelParams[0] (.u64 ...) = 0x2a is not ..."
const char* kullback_shim_last_error(void);
// Tests: device bytes and allocations live in all contexts.
uint64_t kullback_shim_live_bytes(void);
int kullback_shim_live_allocations(void);
// Tests: how many stream operations are queued and not yet run, in all contexts.
int kullback_shim_pending(void);
// Tests: lazy (1, the default) holds a stream's work until something waits for it; eager (0) runs it at once.
void kullback_shim_set_lazy(int lazy);

// Other shims: the context a stream belongs to (the current context for the legacy stream), or an error code.
int kullback_shim_stream_context(void* stream, void** context);
// Other shims: CUDA_SUCCESS when [address, address + bytes) lies in one live allocation of the current context.
int kullback_shim_check_range(uint64_t address, uint64_t bytes);
// Other shims: queues run(arg) on stream (0: legacy); release(arg) is called once it has run or been dropped.
// run returns a CUresult; `what` names the operation in error messages.
int kullback_shim_enqueue(void* stream, int (*run)(void* arg), void* arg, void (*release)(void* arg), const char* what);
// Other shims: queues a launch of the simulator kernel `kernel` of module `module` (target/sim/modules/<module>.so),
// its parameters' bytes copied now, as cuLaunchKernel copies them.
int kullback_shim_launch_by_name(void* stream, const char* module, const char* kernel, unsigned grid_x, unsigned grid_y,
                                 unsigned grid_z, unsigned block_x, unsigned block_y, unsigned block_z,
                                 unsigned shared_bytes, void** params);

#ifdef __cplusplus
}
#endif
