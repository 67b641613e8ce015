// Row slices held in registers, for rows (or fixed chunks of rows) that fit on chip: read from memory once,
// every later pass over them costs no memory traffic. Used by log_softmax.cu's *_cached and *_chunk kernels.
//
// A Tile<K> is one thread's share of n float4s p[0, n): float4 j = tid + k * nthreads for k < K, so each
// load instruction of a group is coalesced. The caller guarantees n <= K * nthreads and 16-byte aligned
// pointers (the launcher checks the addresses and cols % 4 == 0). All K loads are issued before any is
// used, so a thread keeps K float4s in flight. Unused slots hold a padding value the caller picks so that
// they do not change the result (-inf for a max, 0 for a sum).
#pragma once

#include "rows.cuh"

template <int K>
struct Tile {
    float4 v[K];

    __device__ __forceinline__ void load(const float4* __restrict__ p, unsigned n, unsigned tid, unsigned nthreads,
                                         float pad) {
#pragma unroll
        for (int k = 0; k < K; k++) {
            const unsigned j = tid + k * nthreads;
            v[k] = j < n ? p[j] : make_float4(pad, pad, pad, pad);
        }
    }

    __device__ __forceinline__ void store(float4* __restrict__ p, unsigned n, unsigned tid, unsigned nthreads) const {
#pragma unroll
        for (int k = 0; k < K; k++) {
            const unsigned j = tid + k * nthreads;
            if (j < n) p[j] = v[k];
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

__device__ __forceinline__ float warp_fmax(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(KB_FULL_MASK, v, offset));
    return v;
}

// Same contract as block_sum (common.cuh).
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

template <bool kBlock>
__device__ __forceinline__ float group_fmax(float v) {
    return kBlock ? block_fmax(v) : warp_fmax(v);
}
