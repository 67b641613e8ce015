// Device helpers shared by the kernel families: warp/block reductions, the online-softmax state,
// and the traversal of a range by index (chunks of 4 or 8 elements, read as vectors where the pointers allow).
//
// Only standard CUDA built-ins are used (no inline PTX, no cooperative groups, no cub), so the
// same sources also compile with g++ against the host simulator's header.
#pragma once

#include <math.h>

#define KB_FULL_MASK 0xffffffffu

// ---------------------------------------------------------------------------------------------
// Reductions. Butterfly (xor) shuffles leave the same bits in every lane, because each step adds
// the same two values in both partner lanes and float addition is commutative. The block versions
// go through one small static __shared__ array; the partials are combined in a fixed order, so a
// result depends only on the data and blockDim.x, never on scheduling.
// ---------------------------------------------------------------------------------------------

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(KB_FULL_MASK, v, offset);
    return v;
}

// max that keeps NaN (fmaxf drops it): NaN if either operand is NaN.
__device__ __forceinline__ float nan_max(float a, float b) {
    return (a != a || b != b) ? a + b : fmaxf(a, b);
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v = nan_max(v, __shfl_xor_sync(KB_FULL_MASK, v, offset));
    return v;
}

// max that drops NaN (fmaxf): for callers that settle NaN rows themselves (the row-tile and vocab-parallel kernels).
__device__ __forceinline__ float warp_fmax(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(KB_FULL_MASK, v, offset));
    return v;
}

// Sum over the whole block; every thread gets the result. Must be reached by all threads of the
// block (it contains __syncthreads). blockDim.x: a multiple of 32, at most 1024.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float warpSums[32];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    v = warp_sum(v);
    if (lane == 0) warpSums[warp] = v;
    __syncthreads();
    v = lane < warps ? warpSums[lane] : 0.0f;
    v = warp_sum(v);  // every warp adds the same partials in the same order
    __syncthreads();  // warpSums may be reused by a following call
    return v;
}

// Maximum over the whole block, NaN dropped (warp_fmax); same contract as block_sum.
__device__ __forceinline__ float block_fmax(float v) {
    __shared__ float warpMax[32];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    v = warp_fmax(v);
    if (lane == 0) warpMax[warp] = v;
    __syncthreads();
    v = lane < warps ? warpMax[lane] : -INFINITY;
    v = warp_fmax(v);
    __syncthreads();
    return v;
}

// warp_fmax over a warp's row, block_fmax over a block's.
template <bool kBlock>
__device__ __forceinline__ float group_fmax(float v) {
    return kBlock ? block_fmax(v) : warp_fmax(v);
}

// ---------------------------------------------------------------------------------------------
// Online softmax: (m, s) with s = sum(exp(x - m)) over the elements seen, m their maximum.
// m == -inf means "empty" (nothing seen, or only -inf, which contributes exp(-inf) = 0); the
// update and the merge treat it as such and never evaluate exp(-inf - -inf). A NaN element makes
// m and s NaN for good. A +inf element makes s NaN, because PyTorch evaluates exp(inf - inf).
// A row whose final m is -inf (all -inf) then yields NaN from the output formulas themselves:
// x - m = -inf - -inf = NaN. So the formulas need no special cases.
// ---------------------------------------------------------------------------------------------

struct SoftmaxState {
    float m;
    float s;
};

__device__ __forceinline__ SoftmaxState softmax_empty() {
    SoftmaxState st;
    st.m = -INFINITY;
    st.s = 0.0f;
    return st;
}

// One exp per element: exp of (smaller - larger) of x and the running max, so the running sum is
// rescaled only when the maximum grows.
__device__ __forceinline__ void softmax_add(SoftmaxState& st, float x) {
    const bool grows = x > st.m;
    const float e = expf(grows ? st.m - x : x - st.m);
    if (grows) {
        // exp(x - x) is 1, except for x = +inf where PyTorch's exp(inf - inf) is NaN
        st.s = st.s * e + (x == INFINITY ? NAN : 1.0f);
        st.m = x;
    } else if (x != x) {
        st.m = x;  // NaN
        st.s = x;
    } else if (x != -INFINITY) {
        st.s += e;  // x <= m and m > -inf (or m NaN, and s stays NaN)
    }
}

// Commutative: merge(a, b) and merge(b, a) give the same bits.
__device__ __forceinline__ SoftmaxState softmax_merge(SoftmaxState a, SoftmaxState b) {
    if (b.m == -INFINITY) return a;  // empty contributes nothing
    if (a.m == -INFINITY) return b;
    SoftmaxState r;
    r.m = nan_max(a.m, b.m);
    r.s = a.s * expf(a.m - r.m) + b.s * expf(b.m - r.m);
    return r;
}

__device__ __forceinline__ SoftmaxState warp_softmax(SoftmaxState st) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        SoftmaxState other;
        other.m = __shfl_xor_sync(KB_FULL_MASK, st.m, offset);
        other.s = __shfl_xor_sync(KB_FULL_MASK, st.s, offset);
        st = softmax_merge(st, other);
    }
    return st;
}

// Same contract as block_sum.
__device__ __forceinline__ SoftmaxState block_softmax(SoftmaxState st) {
    __shared__ float warpMax[32];
    __shared__ float warpSum[32];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    st = warp_softmax(st);
    if (lane == 0) {
        warpMax[warp] = st.m;
        warpSum[warp] = st.s;
    }
    __syncthreads();
    if (lane < warps) {
        st.m = warpMax[lane];
        st.s = warpSum[lane];
    } else {
        st = softmax_empty();
    }
    st = warp_softmax(st);
    __syncthreads();
    return st;
}

// ---------------------------------------------------------------------------------------------
// Traversal by index (kernels/README.md, "Order by index, loads by alignment"). [0, n) is cut into nvec chunks of W
// consecutive elements, chunk j = [W j, W j + W), and a tail [W nvec, n) of fewer than W. Thread tid owns the chunks
// j = tid, tid + nthreads, ... and the tail element W nvec + tid: which thread adds which element, and in which order,
// is a function of the indices only, never of the addresses. The pointers decide only HOW a chunk is read: one
// 16-byte vector when every pointer is 16-byte aligned at element 0 (`vector`), else W scalar loads of the same chunk
// (same values, same order, same bits). The scalar form costs W load instructions where the vector form issues one
// (predicted, no GPU measured: the same DRAM sectors, 4x the L1 wavefronts; memory-bound kernels should lose little
// of their bandwidth, compute-heavy ones some issue slots).
// ---------------------------------------------------------------------------------------------

template <class I>
struct Split {
    I nvec;       // chunks of W elements covering [0, W nvec)
    I n;          // elements [W nvec, n): the tail, one per thread
    bool vector;  // whether the chunks may be read as 16-byte vectors
};

template <class T>
__device__ __forceinline__ size_t address_of(const T* p) {
    return reinterpret_cast<size_t>(p);
}

// Whether p is 16-byte aligned (a null pointer, an absent tensor, counts as aligned).
template <class T>
__device__ __forceinline__ bool aligned16(const T* p) {
    return (address_of(p) & 15) == 0;
}

// The split of [0, n) into chunks of W; vector: whether every pointer involved is aligned16.
template <class I, int W = 4>
__device__ __forceinline__ Split<I> make_split(I n, bool vector) {
    Split<I> sp;
    sp.n = n;
    sp.nvec = n / W;
    sp.vector = vector;
    return sp;
}

// Visits every index of sp exactly once across threads tid = 0 .. nthreads-1: vec(j) for chunk j (elements
// W j .. W j + W - 1; W = 4 floats, or 8 when a half row is involved in rows.cuh's typed rows; vec reads it as a
// vector when sp.vector, else element by element in the same order), scalar(i) for a tail element.
// The body is unrolled to 8 elements a thread (two float4s, or one vector of halves: more would spill in the
// two-input, two-output losses).
template <class I, int W = 4, class S, class V>
__device__ __forceinline__ void for_each_split(const Split<I>& sp, I tid, I nthreads, S scalar, V vec) {
#pragma unroll(8 / W)
    for (I j = tid; j < sp.nvec; j += nthreads) vec(j);
    const I i = W * sp.nvec + tid;
    if (i < sp.n) scalar(i);
}

// Four consecutive floats at p: one float4 load when `vector` (p then 16-byte aligned), else four scalar loads.
__device__ __forceinline__ float4 load4(const float* __restrict__ p, bool vector) {
    if (vector) return *reinterpret_cast<const float4*>(p);
    return make_float4(p[0], p[1], p[2], p[3]);
}

__device__ __forceinline__ void store4(float* __restrict__ p, float4 v, bool vector) {
    if (vector) {
        *reinterpret_cast<float4*>(p) = v;
    } else {
        p[0] = v.x;
        p[1] = v.y;
        p[2] = v.z;
        p[3] = v.w;
    }
}

// ---------------------------------------------------------------------------------------------
// Row ownership. Warp kernels: row = warp_row(), and a warp with row >= rows returns before any
// shuffle; row is the same in all 32 lanes, so the warp leaves as a whole and the full-mask
// shuffles of the warps that stay are valid. Block kernels: row = blockIdx.x (grid = rows); their
// `row >= rows` check is uniform per block, so no __syncthreads is ever reached by part of a block.
// ---------------------------------------------------------------------------------------------

__device__ __forceinline__ long long warp_row() {
    return (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
}

// Flat grid-stride loops: this thread's index in the grid, and the grid's thread count.
__device__ __forceinline__ long long global_tid() { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ long long global_threads() { return (long long)gridDim.x * blockDim.x; }
