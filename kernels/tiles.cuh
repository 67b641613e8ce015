// Row slices held in registers, for rows (or fixed chunks of rows) that fit on chip: read from memory once,
// every later pass over them costs no memory traffic. Used by the *_cached and *_chunk_* kernels of
// log_softmax.cu and cross_entropy.cu.
//
// A Tile<K> is one thread's share of n groups of four floats p[0, 4 n): group j = tid + k * nthreads for k < K, so
// each load instruction of a group is coalesced. The caller guarantees n <= K * nthreads (the launcher takes these
// kernels for float32 rows with cols % 4 == 0, whatever their strides and addresses). Which thread holds which
// element, and so every sum's order, follows the indices only; the addresses decide only the loads: one float4 when
// every row pointer is 16-byte aligned (`vector`, uniform over the group), else four scalar loads of the same group
// (load4 / store4 in common.cuh; predicted cost there). All K loads are issued before any is used, so a thread keeps
// K groups in flight. Unused slots hold a padding value the caller picks so that they do not change the result
// (-inf for a max, 0 for a sum).
#pragma once

#include "rows.cuh"

template <int K>
struct Tile {
    float4 v[K];

    __device__ __forceinline__ void load(const float* __restrict__ p, unsigned n, unsigned tid, unsigned nthreads,
                                         float pad, bool vector) {
#pragma unroll
        for (int k = 0; k < K; k++) {
            const unsigned j = tid + k * nthreads;
            v[k] = j < n ? load4(p + 4 * (size_t)j, vector) : make_float4(pad, pad, pad, pad);
        }
    }

    __device__ __forceinline__ void store(float* __restrict__ p, unsigned n, unsigned tid, unsigned nthreads,
                                          bool vector) const {
#pragma unroll
        for (int k = 0; k < K; k++) {
            const unsigned j = tid + k * nthreads;
            if (j < n) store4(p + 4 * (size_t)j, v[k], vector);
        }
    }

    // The largest value (fmaxf: a NaN is dropped here; callers let it reach their sums, which carry it).
    __device__ __forceinline__ float max() const {
        float m = -INFINITY;
#pragma unroll
        for (int k = 0; k < K; k++) m = fmaxf(m, fmaxf(fmaxf(v[k].x, v[k].y), fmaxf(v[k].z, v[k].w)));
        return m;
    }

    // Sum of the values, in a fixed order.
    __device__ __forceinline__ float sum() const {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < K; k++) s += (v[k].x + v[k].y) + (v[k].z + v[k].w);
        return s;
    }

    // Every value v becomes f(v).
    template <class F>
    __device__ __forceinline__ void map(F f) {
#pragma unroll
        for (int k = 0; k < K; k++) v[k] = make_float4(f(v[k].x), f(v[k].y), f(v[k].z), f(v[k].w));
    }
};

// ---------------------------------------------------------------------------------------------
// Chunked rows: few or long rows cut into `chunks` fixed chunks of chunk4 float4s (a function of the shape only,
// never of the GPU; dev.kullback.cuda.RowTiles), one block per chunk, grid = rows * chunks.
// ---------------------------------------------------------------------------------------------

constexpr int kTileK = 8;  // float4s per thread of the block and chunk kernels

// The chunk of block b: row b / chunks, groups of four [c chunk4, min((c + 1) chunk4, cols / 4)) of it.
struct Chunk {
    long long row;
    unsigned start;  // the chunk's first element in its row (a multiple of 4)
    unsigned n;      // groups of four in the chunk
    // the chunk of a tensor whose rows are `stride` elements apart
    template <class T>
    __device__ __forceinline__ T* of(T* base, long long stride) const {
        return row_of(base, row, stride) + start;
    }
};

__device__ __forceinline__ Chunk chunk_of(int cols, int chunks, int chunk4) {
    Chunk c;
    c.row = blockIdx.x / chunks;
    const unsigned n4 = (unsigned)cols >> 2;
    const unsigned start = (blockIdx.x % chunks) * (unsigned)chunk4;
    c.start = 4 * start;
    c.n = start < n4 ? min((unsigned)chunk4, n4 - start) : 0u;
    return c;
}

// partials[2b], partials[2b + 1] = chunk b's max m and sum of exp(x - m); an all -inf chunk gives (-inf, 0)
// (it shifts by 0 instead of -inf), so the combine needs no special case and a NaN still reaches the sum.
__device__ __forceinline__ void chunk_stats(const float* __restrict__ x, long long xStride, float* __restrict__ partials,
                                            int rows, int cols, int chunks, int chunk4) {
    const Chunk c = chunk_of(cols, chunks, chunk4);
    if (c.row >= rows) return;
    const float* xc = c.of(x, xStride);
    Tile<kTileK> t;
    t.load(xc, c.n, threadIdx.x, blockDim.x, -INFINITY, aligned16(xc));
    const float m = block_fmax(t.max());
    const float shift = m == -INFINITY ? 0.0f : m;
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < kTileK; k++)
        s += (expf(t.v[k].x - shift) + expf(t.v[k].y - shift)) + (expf(t.v[k].z - shift) + expf(t.v[k].w - shift));
    s = block_sum(s);
    if (threadIdx.x == 0) {
        partials[2 * blockIdx.x] = m;
        partials[2 * blockIdx.x + 1] = s;
    }
}

// The row's (max, sum of exp(x - max)) from its chunks' partials (chunk i's max at p[stride i], its sum next to it),
// combined in chunk order.
__device__ __forceinline__ SoftmaxState combine_chunks(const float* __restrict__ p, int chunks, int stride = 2) {
    float m = -INFINITY;
    for (int i = 0; i < chunks; i++) m = fmaxf(m, p[stride * i]);
    const float shift = m == -INFINITY ? 0.0f : m;
    float s = 0.0f;
    for (int i = 0; i < chunks; i++) s += p[stride * i + 1] * expf(p[stride * i] - shift);
    SoftmaxState st;
    st.m = m;
    st.s = s;
    return st;
}

