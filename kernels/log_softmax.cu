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

// ---------------------------------------------------------------------------------------------
// Rows read from memory once (tiles.cuh). The launcher takes these when cols % 4 == 0 and every pointer is
// 16-byte aligned (else the kernels above):
//   *_warp_cached<K>: one warp per row, cols <= 128 K (K = 1 or 8);
//   *_block_cached:   one block per row, cols <= 32 blockDim.x (8 float4s a thread);
//   *_chunk_*:        few or long rows: each row cut into `chunks` fixed chunks of chunk4 float4s (a function of
//                     the shape only, never of the GPU), one block per chunk. A first kernel writes each
//                     chunk's statistics to `partials`, a second combines a row's partials in chunk order (the
//                     same order in every thread, so every block of a row gets the same bits) and writes.
// One exp per element per pass (the chunked write pass computes it again, as it re-reads its chunk). The max is
// fmaxf, which drops NaN; a NaN still reaches the sum, and through it every output, as PyTorch's softmax does.
// ---------------------------------------------------------------------------------------------
#include "tiles.cuh"


template <bool kBlock, int K>
__device__ __forceinline__ void softmax_cached_row(const float* __restrict__ x, float* __restrict__ y, unsigned cols,
                                                   int logMode, unsigned tid, unsigned nthreads) {
    const unsigned n = cols >> 2;
    Tile<K> t;
    t.load(reinterpret_cast<const float4*>(x), n, tid, nthreads, -INFINITY);
    const float m = group_fmax<kBlock>(t.max());
    if (logMode) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < K; k++)
            s += (expf(t.v[k].x - m) + expf(t.v[k].y - m)) + (expf(t.v[k].z - m) + expf(t.v[k].w - m));
        const float logSum = logf(group_sum<kBlock>(s));
        t.map([&](float v) { return (v - m) - logSum; });
    } else {
        t.map([&](float v) { return expf(v - m); });  // padding: exp(-inf) = 0
        const float sum = group_sum<kBlock>(t.sum());
        t.map([&](float e) { return e / sum; });
    }
    t.store(reinterpret_cast<float4*>(y), n, tid, nthreads);
}

template <int K>
__device__ __forceinline__ void softmax_warp_cached(const float* __restrict__ x, float* __restrict__ y, int rows, int cols,
                                                    int logMode) {
    const long long row = warp_row();
    if (row >= rows) return;
    const size_t offset = (size_t)row * (size_t)cols;
    softmax_cached_row<false, K>(x + offset, y + offset, cols, logMode, threadIdx.x & 31, 32);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_warp_cached1(const float* __restrict__ x, float* __restrict__ y, int rows, int cols, int logMode) {
    softmax_warp_cached<1>(x, y, rows, cols, logMode);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_warp_cached8(const float* __restrict__ x, float* __restrict__ y, int rows, int cols, int logMode) {
    softmax_warp_cached<8>(x, y, rows, cols, logMode);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_block_cached(const float* __restrict__ x, float* __restrict__ y, int rows, int cols, int logMode) {
    const long long row = blockIdx.x;
    if (row >= rows) return;
    const size_t offset = (size_t)row * (size_t)cols;
    softmax_cached_row<true, kTileK>(x + offset, y + offset, cols, logMode, threadIdx.x, blockDim.x);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_chunk_stats(const float* __restrict__ x, float* __restrict__ partials, int rows, int cols, int chunks,
        int chunk4) {
    chunk_stats(x, partials, rows, cols, chunks, chunk4);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_chunk_write(const float* __restrict__ x, const float* __restrict__ partials, float* __restrict__ y, int rows,
        int cols, int chunks, int chunk4, int logMode) {
    const Chunk c = chunk_of(cols, chunks, chunk4);
    if (c.row >= rows) return;
    const SoftmaxState st = combine_chunks(partials + 2 * c.row * chunks, chunks);
    const float m = st.m;
    Tile<kTileK> t;
    t.load(reinterpret_cast<const float4*>(x) + c.first, c.n, threadIdx.x, blockDim.x, -INFINITY);
    if (logMode) {
        const float logSum = logf(st.s);
        t.map([&](float v) { return (v - m) - logSum; });
    } else {
        const float sum = st.s;
        t.map([&](float v) { return expf(v - m) / sum; });
    }
    t.store(reinterpret_cast<float4*>(y) + c.first, c.n, threadIdx.x, blockDim.x);
}

// gradIn = gradOut - exp(out) * sum(gradOut): gradOut held in registers, out streamed once.
template <bool kBlock, int K>
__device__ __forceinline__ void backward_cached_row(const float4* __restrict__ g4, const float4* __restrict__ o4,
                                                    float4* __restrict__ d4, unsigned n, float sum, Tile<K>& g,
                                                    unsigned tid, unsigned nthreads) {
#pragma unroll
    for (int k = 0; k < K; k++) {
        const unsigned j = tid + k * nthreads;
        if (j < n) {
            const float4 o = o4[j];
            const float4 gv = g.v[k];
            d4[j] = make_float4(gv.x - expf(o.x) * sum, gv.y - expf(o.y) * sum, gv.z - expf(o.z) * sum,
                                gv.w - expf(o.w) * sum);
        }
    }
}

template <bool kBlock, int K>
__device__ __forceinline__ void backward_cached(const float* __restrict__ gradOut, const float* __restrict__ out,
                                                float* __restrict__ gradIn, size_t offset, unsigned cols, unsigned tid,
                                                unsigned nthreads) {
    const unsigned n = cols >> 2;
    const float4* g4 = reinterpret_cast<const float4*>(gradOut + offset);
    Tile<K> g;
    g.load(g4, n, tid, nthreads, 0.0f);
    const float sum = group_sum<kBlock>(g.sum());
    backward_cached_row<kBlock, K>(g4, reinterpret_cast<const float4*>(out + offset),
                                   reinterpret_cast<float4*>(gradIn + offset), n, sum, g, tid, nthreads);
}

template <int K>
__device__ __forceinline__ void backward_warp_cached(const float* __restrict__ gradOut, const float* __restrict__ out,
                                                     float* __restrict__ gradIn, int rows, int cols) {
    const long long row = warp_row();
    if (row >= rows) return;
    backward_cached<false, K>(gradOut, out, gradIn, (size_t)row * (size_t)cols, cols, threadIdx.x & 31, 32);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_warp_cached1(const float* __restrict__ gradOut, const float* __restrict__ out,
        float* __restrict__ gradIn, int rows, int cols) {
    backward_warp_cached<1>(gradOut, out, gradIn, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_warp_cached8(const float* __restrict__ gradOut, const float* __restrict__ out,
        float* __restrict__ gradIn, int rows, int cols) {
    backward_warp_cached<8>(gradOut, out, gradIn, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_block_cached(const float* __restrict__ gradOut, const float* __restrict__ out,
        float* __restrict__ gradIn, int rows, int cols) {
    const long long row = blockIdx.x;
    if (row >= rows) return;
    backward_cached<true, kTileK>(gradOut, out, gradIn, (size_t)row * (size_t)cols, cols, threadIdx.x, blockDim.x);
}

// partials[b] = the sum of gradOut over chunk b.
extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_chunk_sums(const float* __restrict__ gradOut, float* __restrict__ partials, int rows, int cols,
        int chunks, int chunk4) {
    const Chunk c = chunk_of(cols, chunks, chunk4);
    if (c.row >= rows) return;
    Tile<kTileK> g;
    g.load(reinterpret_cast<const float4*>(gradOut) + c.first, c.n, threadIdx.x, blockDim.x, 0.0f);
    const float s = block_sum(g.sum());
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_chunk_write(const float* __restrict__ gradOut, const float* __restrict__ out,
        const float* __restrict__ partials, float* __restrict__ gradIn, int rows, int cols, int chunks, int chunk4) {
    const Chunk c = chunk_of(cols, chunks, chunk4);
    if (c.row >= rows) return;
    const float* p = partials + c.row * chunks;
    float sum = 0.0f;
    for (int i = 0; i < chunks; i++) sum += p[i];  // chunk order, the same in every block of the row
    const float4* g4 = reinterpret_cast<const float4*>(gradOut) + c.first;
    Tile<kTileK> g;
    g.load(g4, c.n, threadIdx.x, blockDim.x, 0.0f);
    backward_cached_row<true, kTileK>(g4, reinterpret_cast<const float4*>(out) + c.first,
                                      reinterpret_cast<float4*>(gradIn) + c.first, c.n, sum, g, threadIdx.x, blockDim.x);
}
