// Batch reductions over contiguous float32 data. Launcher: dev.kullback.cuda.ReduceKernels.
//
// sum / mean: two kernels, no float atomics. sum_partials is a grid-stride loop over float4s in
// which block b adds its share and writes partials[b]; sum_finalize (one block) adds the partials
// in a fixed order and divides. The result is bitwise reproducible: it depends on n, the grid and
// block sizes the launcher derives from n, and the data, never on scheduling or the GPU.
// row_sum: one warp per row for short rows, one block per row for long rows, as in log_softmax.cu.
#include "common.cuh"

// This thread's share of x[0, n) under the traversal of for_each_split.
__device__ __forceinline__ float thread_sum(const float* __restrict__ x, long long n, long long tid, long long nthreads) {
    const Split<long long> sp = make_split<long long>(n, aligned16(x));
    float acc = 0.0f;
    for_each_split<long long>(
        sp, tid, nthreads, [&](long long i) { acc += x[i]; },
        [&](long long j) {
            const float4 v = load4(x + 4 * j, sp.vector);
            acc += (v.x + v.y) + (v.z + v.w);
        });
    return acc;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    sum_partials(const float* __restrict__ x, float* __restrict__ partials, long long n) {
    const float sum = block_sum(thread_sum(x, n, global_tid(), global_threads()));
    if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

// One block (any blockDim.x that is a multiple of 32 up to 1024); count may be any size.
// out[0] = (sum of partials[0 .. count)) / divisor.
extern "C" __global__ void __launch_bounds__(1024, 1)
    sum_finalize(const float* __restrict__ partials, int count, float* __restrict__ out, float divisor) {
    if (blockIdx.x != 0) return;  // uniform per block; a larger grid would only repeat the write
    float acc = 0.0f;
    for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    const float sum = block_sum(acc);
    if (threadIdx.x == 0) out[0] = sum / divisor;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    row_sum_warp(const float* __restrict__ x, float* __restrict__ out, int rows, int cols) {
    const long long row = warp_row();
    if (row >= rows) return;  // the whole warp leaves together (see warp_row)
    const float sum = warp_sum(thread_sum(x + (size_t)row * (size_t)cols, cols, threadIdx.x & 31, 32));
    if ((threadIdx.x & 31) == 0) out[row] = sum;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    row_sum_block(const float* __restrict__ x, float* __restrict__ out, int rows, int cols) {
    const long long row = blockIdx.x;
    if (row >= rows) return;  // uniform per block
    const float sum = block_sum(thread_sum(x + (size_t)row * (size_t)cols, cols, threadIdx.x, blockDim.x));
    if (threadIdx.x == 0) out[row] = sum;
}
