// Row-wise softmax / log-softmax over the last dimension of a [rows, cols] tensor (float32, bf16 or f16, rows
// strided), and the log-softmax backward. Launcher: dev.kullback.cuda.LogSoftmaxKernels.
//
// Two shapes of the same row routine:
//   *_warp:  one warp per row (blockDim.x / 32 rows per block, the launcher uses 4 warps). For short
//            rows (cols <= 1024) a block per row would leave most threads idle, and a warp needs no
//            __syncthreads: its reduction is five shuffles.
//   *_block: one block per row (grid = rows), for long rows; any blockDim.x that is a multiple of
//            32 up to 1024. The row is walked with a block-wide stride, so it has no length limit.
// Each row is read twice at most: one pass computes max and sum together (online softmax), the
// second reads it again to write the output (for short rows that second read hits L1/L2).
// Loads are 16-byte vectors where the row pointers allow it (see row_split); reductions have a fixed
// order, so the output depends on the data and blockDim.x only.
#include "rows.cuh"

// tid / nthreads: this thread's position in the group (warp or block) that owns the row. T: the element type of x
// and y (elems.cuh); the arithmetic is float, a half y is rounded to nearest even.
template <bool kBlock, class T>
__device__ __forceinline__ void softmax_row(const T* __restrict__ x, T* __restrict__ y, int cols, int logMode,
                                            unsigned tid, unsigned nthreads) {
    SoftmaxState st = softmax_empty();
    visit1(x, (unsigned)cols, tid, nthreads, [&](unsigned, float v) { softmax_add(st, v); });
    st = group_softmax<kBlock>(st);

    const float m = st.m;
    if (logMode) {
        // y = (x - max) - log(sum), PyTorch's order of operations
        const float logSum = logf(st.s);
        map1(x, y, (unsigned)cols, tid, nthreads, [&](unsigned, float v) { return (v - m) - logSum; });
    } else {
        // y = exp(x - max) / sum; a division, not a multiplication by 1/sum, to round as PyTorch does
        const float sum = st.s;
        map1(x, y, (unsigned)cols, tid, nthreads, [&](unsigned, float v) { return expf(v - m) / sum; });
    }
}

// gradIn = gradOut - exp(out) * sum(gradOut), over the row.
template <bool kBlock, class T>
__device__ __forceinline__ void log_softmax_backward_row(const T* __restrict__ gradOut, const T* __restrict__ out,
                                                         T* __restrict__ gradIn, int cols, unsigned tid, unsigned nthreads) {
    float acc = 0.0f;
    visit1(gradOut, (unsigned)cols, tid, nthreads, [&](unsigned, float g) { acc += g; });
    const float sum = group_sum<kBlock>(acc);
    map2(gradOut, out, gradIn, nullptr, (unsigned)cols, tid, nthreads,
         [&](unsigned, float g, float o, float& d, float&) { d = g - expf(o) * sum; });
}

// Row ownership (warp_row / blockIdx.x) and the strided rows of each tensor, for every element type.
template <bool kBlock, class T>
__device__ __forceinline__ void softmax_rows(const T* __restrict__ x, long long xStride, T* __restrict__ y,
                                             long long yStride, int rows, int cols, int logMode) {
    const long long row = kBlock ? (long long)blockIdx.x : warp_row();
    if (row >= rows) return;  // the whole warp / block leaves together (see warp_row)
    softmax_row<kBlock>(row_of(x, row, xStride), row_of(y, row, yStride), cols, logMode,
                        kBlock ? threadIdx.x : threadIdx.x & 31, kBlock ? blockDim.x : 32);
}

template <bool kBlock, class T>
__device__ __forceinline__ void backward_rows(const T* __restrict__ gradOut, long long gStride, const T* __restrict__ out,
                                              long long oStride, T* __restrict__ gradIn, long long dStride, int rows,
                                              int cols) {
    const long long row = kBlock ? (long long)blockIdx.x : warp_row();
    if (row >= rows) return;
    log_softmax_backward_row<kBlock>(row_of(gradOut, row, gStride), row_of(out, row, oStride),
                                     row_of(gradIn, row, dStride), cols, kBlock ? threadIdx.x : threadIdx.x & 31,
                                     kBlock ? blockDim.x : 32);
}

// The entries: <name> for float32, <name>_bf16, <name>_f16 (spelled out, not a macro, so that the simulator's
// generator finds them). Strides are elements between row starts.
extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_warp(const float* __restrict__ x, long long xStride, float* __restrict__ y, long long yStride, int rows,
        int cols, int logMode) {
    softmax_rows<false>(x, xStride, y, yStride, rows, cols, logMode);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_block(const float* __restrict__ x, long long xStride, float* __restrict__ y, long long yStride, int rows,
        int cols, int logMode) {
    softmax_rows<true>(x, xStride, y, yStride, rows, cols, logMode);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_warp_bf16(const bf16* __restrict__ x, long long xStride, bf16* __restrict__ y, long long yStride, int rows,
        int cols, int logMode) {
    softmax_rows<false>(x, xStride, y, yStride, rows, cols, logMode);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_block_bf16(const bf16* __restrict__ x, long long xStride, bf16* __restrict__ y, long long yStride, int rows,
        int cols, int logMode) {
    softmax_rows<true>(x, xStride, y, yStride, rows, cols, logMode);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_warp_f16(const f16* __restrict__ x, long long xStride, f16* __restrict__ y, long long yStride, int rows,
        int cols, int logMode) {
    softmax_rows<false>(x, xStride, y, yStride, rows, cols, logMode);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_block_f16(const f16* __restrict__ x, long long xStride, f16* __restrict__ y, long long yStride, int rows,
        int cols, int logMode) {
    softmax_rows<true>(x, xStride, y, yStride, rows, cols, logMode);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_warp(const float* __restrict__ gradOut, long long gStride, const float* __restrict__ out,
        long long oStride, float* __restrict__ gradIn, long long dStride, int rows, int cols) {
    backward_rows<false>(gradOut, gStride, out, oStride, gradIn, dStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_block(const float* __restrict__ gradOut, long long gStride, const float* __restrict__ out,
        long long oStride, float* __restrict__ gradIn, long long dStride, int rows, int cols) {
    backward_rows<true>(gradOut, gStride, out, oStride, gradIn, dStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_warp_bf16(const bf16* __restrict__ gradOut, long long gStride, const bf16* __restrict__ out,
        long long oStride, bf16* __restrict__ gradIn, long long dStride, int rows, int cols) {
    backward_rows<false>(gradOut, gStride, out, oStride, gradIn, dStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_block_bf16(const bf16* __restrict__ gradOut, long long gStride, const bf16* __restrict__ out,
        long long oStride, bf16* __restrict__ gradIn, long long dStride, int rows, int cols) {
    backward_rows<true>(gradOut, gStride, out, oStride, gradIn, dStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_warp_f16(const f16* __restrict__ gradOut, long long gStride, const f16* __restrict__ out,
        long long oStride, f16* __restrict__ gradIn, long long dStride, int rows, int cols) {
    backward_rows<false>(gradOut, gStride, out, oStride, gradIn, dStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_block_f16(const f16* __restrict__ gradOut, long long gStride, const f16* __restrict__ out,
        long long oStride, f16* __restrict__ gradIn, long long dStride, int rows, int cols) {
    backward_rows<true>(gradOut, gStride, out, oStride, gradIn, dStride, rows, cols);
}

// ---------------------------------------------------------------------------------------------
// Rows read from memory once (tiles.cuh). The launcher takes these for float32 rows with cols % 4 == 0, whatever
// their strides and addresses (else the kernels above):
//   *_warp_cached<K>: one warp per row, cols <= 128 K (K = 1 or 8);
//   *_block_cached:   one block per row, cols <= 32 blockDim.x (8 groups of four a thread);
//   *_chunk_*:        few or long rows: each row cut into `chunks` fixed chunks of chunk4 groups of four (a function
//                     of the shape only, never of the GPU), one block per chunk. A first kernel writes each
//                     chunk's statistics to `partials`, a second combines a row's partials in chunk order (the
//                     same order in every thread, so every block of a row gets the same bits) and writes.
// Row pointers that are 16-byte aligned are read as float4s, the others as four floats (Tile, tiles.cuh).
// One exp per element per pass (the chunked write pass computes it again, as it re-reads its chunk). The max is
// fmaxf, which drops NaN; a NaN still reaches the sum, and through it every output, as PyTorch's softmax does.
// ---------------------------------------------------------------------------------------------
#include "tiles.cuh"


template <bool kBlock, int K>
__device__ __forceinline__ void softmax_cached_row(const float* __restrict__ x, float* __restrict__ y, unsigned cols,
                                                   int logMode, unsigned tid, unsigned nthreads) {
    const unsigned n = cols >> 2;
    Tile<K> t;
    t.load(x, n, tid, nthreads, -INFINITY, aligned16(x));
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
    t.store(y, n, tid, nthreads, aligned16(y));
}

template <int K>
__device__ __forceinline__ void softmax_warp_cached(const float* __restrict__ x, long long xStride, float* __restrict__ y,
                                                    long long yStride, int rows, int cols, int logMode) {
    const long long row = warp_row();
    if (row >= rows) return;
    softmax_cached_row<false, K>(row_of(x, row, xStride), row_of(y, row, yStride), cols, logMode, threadIdx.x & 31, 32);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_warp_cached1(const float* __restrict__ x, long long xStride, float* __restrict__ y, long long yStride,
        int rows, int cols, int logMode) {
    softmax_warp_cached<1>(x, xStride, y, yStride, rows, cols, logMode);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_warp_cached8(const float* __restrict__ x, long long xStride, float* __restrict__ y, long long yStride,
        int rows, int cols, int logMode) {
    softmax_warp_cached<8>(x, xStride, y, yStride, rows, cols, logMode);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_rows_block_cached(const float* __restrict__ x, long long xStride, float* __restrict__ y, long long yStride,
        int rows, int cols, int logMode) {
    const long long row = blockIdx.x;
    if (row >= rows) return;
    softmax_cached_row<true, kTileK>(row_of(x, row, xStride), row_of(y, row, yStride), cols, logMode, threadIdx.x,
                                     blockDim.x);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_chunk_stats(const float* __restrict__ x, long long xStride, float* __restrict__ partials, int rows, int cols,
        int chunks, int chunk4) {
    chunk_stats(x, xStride, partials, rows, cols, chunks, chunk4);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    softmax_chunk_write(const float* __restrict__ x, long long xStride, const float* __restrict__ partials,
        float* __restrict__ y, long long yStride, int rows, int cols, int chunks, int chunk4, int logMode) {
    const Chunk c = chunk_of(cols, chunks, chunk4);
    if (c.row >= rows) return;
    const SoftmaxState st = combine_chunks(partials + 2 * c.row * chunks, chunks);
    const float m = st.m;
    const float* xc = c.of(x, xStride);
    float* yc = c.of(y, yStride);
    Tile<kTileK> t;
    t.load(xc, c.n, threadIdx.x, blockDim.x, -INFINITY, aligned16(xc));
    if (logMode) {
        const float logSum = logf(st.s);
        t.map([&](float v) { return (v - m) - logSum; });
    } else {
        const float sum = st.s;
        t.map([&](float v) { return expf(v - m) / sum; });
    }
    t.store(yc, c.n, threadIdx.x, blockDim.x, aligned16(yc));
}

// gradIn = gradOut - exp(out) * sum(gradOut) over the slice of n groups of four at g, o, d: gradOut held in
// registers (the tile g), out streamed once.
template <int K>
__device__ __forceinline__ void backward_cached_row(const float* __restrict__ o, float* __restrict__ d, unsigned n,
                                                    float sum, const Tile<K>& g, unsigned tid, unsigned nthreads) {
    const bool vo = aligned16(o), vd = aligned16(d);
#pragma unroll
    for (int k = 0; k < K; k++) {
        const unsigned j = tid + k * nthreads;
        if (j < n) {
            const float4 ov = load4(o + 4 * (size_t)j, vo);
            const float4 gv = g.v[k];
            store4(d + 4 * (size_t)j,
                   make_float4(gv.x - expf(ov.x) * sum, gv.y - expf(ov.y) * sum, gv.z - expf(ov.z) * sum,
                               gv.w - expf(ov.w) * sum),
                   vd);
        }
    }
}

template <bool kBlock, int K>
__device__ __forceinline__ void backward_cached(const float* __restrict__ gradOut, const float* __restrict__ out,
                                                float* __restrict__ gradIn, unsigned cols, unsigned tid,
                                                unsigned nthreads) {
    const unsigned n = cols >> 2;
    Tile<K> g;
    g.load(gradOut, n, tid, nthreads, 0.0f, aligned16(gradOut));
    const float sum = group_sum<kBlock>(g.sum());
    backward_cached_row<K>(out, gradIn, n, sum, g, tid, nthreads);
}

template <int K>
__device__ __forceinline__ void backward_warp_cached(const float* __restrict__ gradOut, long long gStride,
                                                     const float* __restrict__ out, long long oStride,
                                                     float* __restrict__ gradIn, long long dStride, int rows, int cols) {
    const long long row = warp_row();
    if (row >= rows) return;
    backward_cached<false, K>(row_of(gradOut, row, gStride), row_of(out, row, oStride), row_of(gradIn, row, dStride),
                              cols, threadIdx.x & 31, 32);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_warp_cached1(const float* __restrict__ gradOut, long long gStride, const float* __restrict__ out,
        long long oStride, float* __restrict__ gradIn, long long dStride, int rows, int cols) {
    backward_warp_cached<1>(gradOut, gStride, out, oStride, gradIn, dStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_warp_cached8(const float* __restrict__ gradOut, long long gStride, const float* __restrict__ out,
        long long oStride, float* __restrict__ gradIn, long long dStride, int rows, int cols) {
    backward_warp_cached<8>(gradOut, gStride, out, oStride, gradIn, dStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_block_cached(const float* __restrict__ gradOut, long long gStride, const float* __restrict__ out,
        long long oStride, float* __restrict__ gradIn, long long dStride, int rows, int cols) {
    const long long row = blockIdx.x;
    if (row >= rows) return;
    backward_cached<true, kTileK>(row_of(gradOut, row, gStride), row_of(out, row, oStride), row_of(gradIn, row, dStride),
                                  cols, threadIdx.x, blockDim.x);
}

// partials[b] = the sum of gradOut over chunk b.
extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_chunk_sums(const float* __restrict__ gradOut, long long gStride, float* __restrict__ partials,
        int rows, int cols, int chunks, int chunk4) {
    const Chunk c = chunk_of(cols, chunks, chunk4);
    if (c.row >= rows) return;
    const float* gc = c.of(gradOut, gStride);
    Tile<kTileK> g;
    g.load(gc, c.n, threadIdx.x, blockDim.x, 0.0f, aligned16(gc));
    const float s = block_sum(g.sum());
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    log_softmax_backward_chunk_write(const float* __restrict__ gradOut, long long gStride, const float* __restrict__ out,
        long long oStride, const float* __restrict__ partials, float* __restrict__ gradIn, long long dStride, int rows,
        int cols, int chunks, int chunk4) {
    const Chunk c = chunk_of(cols, chunks, chunk4);
    if (c.row >= rows) return;
    const float* p = partials + c.row * chunks;
    float sum = 0.0f;
    for (int i = 0; i < chunks; i++) sum += p[i];  // chunk order, the same in every block of the row
    const float* gc = c.of(gradOut, gStride);
    Tile<kTileK> g;
    g.load(gc, c.n, threadIdx.x, blockDim.x, 0.0f, aligned16(gc));
    backward_cached_row<kTileK>(c.of(out, oStride), c.of(gradIn, dStride), c.n, sum, g, threadIdx.x, blockDim.x);
}
