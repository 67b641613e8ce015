// Row-wise softmax / log-softmax over the last dimension of a contiguous [rows, cols] float32
// tensor, and the log-softmax backward. Launcher: dev.kullback.cuda.LogSoftmaxKernels.
//
// Two shapes of the same row routine:
//   *_warp:  one warp per row (blockDim.x / 32 rows per block, the launcher uses 4 warps). For short
//            rows (cols <= 1024) a block per row would leave most threads idle, and a warp needs no
//            __syncthreads: its reduction is five shuffles.
//   *_block: one block per row (grid = rows), for long rows; any blockDim.x that is a multiple of
//            32 up to 1024. The row is walked with a block-wide stride, so it has no length limit.
// Each row is read twice at most: one pass computes max and sum together (online softmax), the
// second reads it again to write the output (for short rows that second read hits L1/L2).
// Loads are float4 where the row pointers allow it (see make_split); reductions have a fixed
// order, so the output depends on the data and blockDim.x only.
#include "common.cuh"

// tid / nthreads: this thread's position in the group (warp or block) that owns the row.
template <bool kBlock>
__device__ __forceinline__ void softmax_row(const float* __restrict__ x, float* __restrict__ y, int cols,
                                            int logMode, unsigned tid, unsigned nthreads) {
    const Split<unsigned> sp = make_split<unsigned>((unsigned)cols, address_of(x), address_of(x) ^ address_of(y));
    const float4* __restrict__ x4 = reinterpret_cast<const float4*>(x + sp.head);
    float4* __restrict__ y4 = reinterpret_cast<float4*>(y + sp.head);

    SoftmaxState st = softmax_empty();
    for_each_split<unsigned>(
        sp, tid, nthreads, [&](unsigned i) { softmax_add(st, x[i]); },
        [&](unsigned j) {
            const float4 v = x4[j];
            softmax_add(st, v.x);
            softmax_add(st, v.y);
            softmax_add(st, v.z);
            softmax_add(st, v.w);
        });
    st = kBlock ? block_softmax(st) : warp_softmax(st);

    const float m = st.m;
    if (logMode) {
        // y = (x - max) - log(sum), PyTorch's order of operations
        const float logSum = logf(st.s);
        for_each_split<unsigned>(
            sp, tid, nthreads, [&](unsigned i) { y[i] = (x[i] - m) - logSum; },
            [&](unsigned j) {
                const float4 v = x4[j];
                y4[j] = make_float4((v.x - m) - logSum, (v.y - m) - logSum, (v.z - m) - logSum, (v.w - m) - logSum);
            });
    } else {
        // y = exp(x - max) / sum; a division, not a multiplication by 1/sum, to round as PyTorch does
        const float sum = st.s;
        for_each_split<unsigned>(
            sp, tid, nthreads, [&](unsigned i) { y[i] = expf(x[i] - m) / sum; },
            [&](unsigned j) {
                const float4 v = x4[j];
                y4[j] = make_float4(expf(v.x - m) / sum, expf(v.y - m) / sum, expf(v.z - m) / sum, expf(v.w - m) / sum);
            });
    }
}

// gradIn = gradOut - exp(out) * sum(gradOut), over the row.
template <bool kBlock>
__device__ __forceinline__ void log_softmax_backward_row(const float* __restrict__ gradOut, const float* __restrict__ out,
                                                         float* __restrict__ gradIn, int cols, unsigned tid, unsigned nthreads) {
    const size_t p0 = address_of(gradOut);
    const Split<unsigned> sp = make_split<unsigned>((unsigned)cols, p0, (address_of(out) ^ p0) | (address_of(gradIn) ^ p0));
    const float4* __restrict__ g4 = reinterpret_cast<const float4*>(gradOut + sp.head);
    const float4* __restrict__ o4 = reinterpret_cast<const float4*>(out + sp.head);
    float4* __restrict__ d4 = reinterpret_cast<float4*>(gradIn + sp.head);

    float acc = 0.0f;
    for_each_split<unsigned>(
        sp, tid, nthreads, [&](unsigned i) { acc += gradOut[i]; },
        [&](unsigned j) {
            const float4 g = g4[j];
            acc += (g.x + g.y) + (g.z + g.w);
        });
    const float sum = kBlock ? block_sum(acc) : warp_sum(acc);

    for_each_split<unsigned>(
        sp, tid, nthreads, [&](unsigned i) { gradIn[i] = gradOut[i] - expf(out[i]) * sum; },
        [&](unsigned j) {
            const float4 g = g4[j];
            const float4 o = o4[j];
            d4[j] = make_float4(g.x - expf(o.x) * sum, g.y - expf(o.y) * sum, g.z - expf(o.z) * sum, g.w - expf(o.w) * sum);
        });
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_warp(const float* __restrict__ x, float* __restrict__ y, int rows, int cols, int logMode) {
    const long long row = warp_row();
    if (row >= rows) return;  // the whole warp leaves together (see warp_row)
    const size_t offset = (size_t)row * (size_t)cols;
    softmax_row<false>(x + offset, y + offset, cols, logMode, threadIdx.x & 31, 32);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_block(const float* __restrict__ x, float* __restrict__ y, int rows, int cols, int logMode) {
    const long long row = blockIdx.x;
    if (row >= rows) return;  // uniform per block (see common.cuh)
    const size_t offset = (size_t)row * (size_t)cols;
    softmax_row<true>(x + offset, y + offset, cols, logMode, threadIdx.x, blockDim.x);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_warp(const float* __restrict__ gradOut, const float* __restrict__ out,
        float* __restrict__ gradIn, int rows, int cols) {
    const long long row = warp_row();
    if (row >= rows) return;
    const size_t offset = (size_t)row * (size_t)cols;
    log_softmax_backward_row<false>(gradOut + offset, out + offset, gradIn + offset, cols, threadIdx.x & 31, 32);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_block(const float* __restrict__ gradOut, const float* __restrict__ out,
        float* __restrict__ gradIn, int rows, int cols) {
    const long long row = blockIdx.x;
    if (row >= rows) return;  // uniform per block (see common.cuh)
    const size_t offset = (size_t)row * (size_t)cols;
    log_softmax_backward_row<true>(gradOut + offset, out + offset, gradIn + offset, cols, threadIdx.x, blockDim.x);
}
