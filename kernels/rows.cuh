// Helpers shared by the row-wise loss kernels (distillation.cu, cross_entropy.cu, jsd.cu, entropy.cu,
// keras_kl.cu, gaussian_kl.cu): the group (warp or block) that owns a row, its reductions, and
// traversals of one or two equally shaped rows that read (and write) float4s where the pointers allow.
#pragma once

#include "common.cuh"

template <bool kBlock>
__device__ __forceinline__ float group_sum(float v) {
    return kBlock ? block_sum(v) : warp_sum(v);
}

template <bool kBlock>
__device__ __forceinline__ SoftmaxState group_softmax(SoftmaxState st) {
    return kBlock ? block_softmax(st) : warp_softmax(st);
}

// log of the row's softmax normalizer: x - lse is log_softmax(x), as (x - m) - log(s) in PyTorch's order.
struct RowStats {
    float m;
    float logSum;
    __device__ __forceinline__ float logp(float x) const { return (x - m) - logSum; }
};

__device__ __forceinline__ RowStats row_stats(SoftmaxState st) {
    RowStats r;
    r.m = st.m;
    r.logSum = logf(st.s);
    return r;
}

// f(i, a[i]) for every i of [0, n) owned by this thread.
template <class F>
__device__ __forceinline__ void visit1(const float* __restrict__ a, unsigned n, unsigned tid, unsigned nthreads, F f) {
    const Split<unsigned> sp = make_split<unsigned>(n, address_of(a), 0);
    const float4* __restrict__ a4 = reinterpret_cast<const float4*>(a + sp.head);
    for_each_split<unsigned>(
        sp, tid, nthreads, [&](unsigned i) { f(i, a[i]); },
        [&](unsigned j) {
            const float4 x = a4[j];
            const unsigned i = sp.head + 4 * j;
            f(i, x.x);
            f(i + 1, x.y);
            f(i + 2, x.z);
            f(i + 3, x.w);
        });
}

// out[i] = f(i, a[i]).
template <class F>
__device__ __forceinline__ void map1(const float* __restrict__ a, float* __restrict__ out, unsigned n, unsigned tid,
                                     unsigned nthreads, F f) {
    const Split<unsigned> sp = make_split<unsigned>(n, address_of(a), address_of(a) ^ address_of(out));
    const float4* __restrict__ a4 = reinterpret_cast<const float4*>(a + sp.head);
    float4* __restrict__ o4 = reinterpret_cast<float4*>(out + sp.head);
    for_each_split<unsigned>(
        sp, tid, nthreads, [&](unsigned i) { out[i] = f(i, a[i]); },
        [&](unsigned j) {
            const float4 x = a4[j];
            const unsigned i = sp.head + 4 * j;
            float4 r;
            r.x = f(i, x.x);
            r.y = f(i + 1, x.y);
            r.z = f(i + 2, x.z);
            r.w = f(i + 3, x.w);
            o4[j] = r;
        });
}

// f(i, a[i], b[i]).
template <class F>
__device__ __forceinline__ void visit2(const float* __restrict__ a, const float* __restrict__ b, unsigned n, unsigned tid,
                                       unsigned nthreads, F f) {
    const Split<unsigned> sp = make_split<unsigned>(n, address_of(a), address_of(a) ^ address_of(b));
    const float4* __restrict__ a4 = reinterpret_cast<const float4*>(a + sp.head);
    const float4* __restrict__ b4 = reinterpret_cast<const float4*>(b + sp.head);
    for_each_split<unsigned>(
        sp, tid, nthreads, [&](unsigned i) { f(i, a[i], b[i]); },
        [&](unsigned j) {
            const float4 x = a4[j];
            const float4 y = b4[j];
            const unsigned i = sp.head + 4 * j;
            f(i, x.x, y.x);
            f(i + 1, x.y, y.y);
            f(i + 2, x.z, y.z);
            f(i + 3, x.w, y.w);
        });
}

// f(i, a[i], b[i], oa, ob) sets oa (written to outA[i]) and ob (written to outB[i] unless outB is null).
template <class F>
__device__ __forceinline__ void map2(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ outA,
                                     float* __restrict__ outB, unsigned n, unsigned tid, unsigned nthreads, F f) {
    const size_t p0 = address_of(a);
    const size_t mismatch = (address_of(b) ^ p0) | (address_of(outA) ^ p0) | (outB ? address_of(outB) ^ p0 : 0);
    const Split<unsigned> sp = make_split<unsigned>(n, p0, mismatch);
    const float4* __restrict__ a4 = reinterpret_cast<const float4*>(a + sp.head);
    const float4* __restrict__ b4 = reinterpret_cast<const float4*>(b + sp.head);
    float4* __restrict__ oa4 = reinterpret_cast<float4*>(outA + sp.head);
    float4* __restrict__ ob4 = reinterpret_cast<float4*>(outB + sp.head);
    for_each_split<unsigned>(
        sp, tid, nthreads,
        [&](unsigned i) {
            float ra, rb;
            f(i, a[i], b[i], ra, rb);
            outA[i] = ra;
            if (outB) outB[i] = rb;
        },
        [&](unsigned j) {
            const float4 x = a4[j];
            const float4 y = b4[j];
            const unsigned i = sp.head + 4 * j;
            float4 ra, rb;
            f(i, x.x, y.x, ra.x, rb.x);
            f(i + 1, x.y, y.y, ra.y, rb.y);
            f(i + 2, x.z, y.z, ra.z, rb.z);
            f(i + 3, x.w, y.w, ra.w, rb.w);
            oa4[j] = ra;
            if (outB) ob4[j] = rb;
        });
}

// Writes 0 to out[0, n) (an ignored row's gradient).
__device__ __forceinline__ void zero_row(float* __restrict__ out, unsigned n, unsigned tid, unsigned nthreads) {
    for (unsigned i = tid; i < n; i += nthreads) out[i] = 0.0f;
}

// p * (logp - logq), 0 where p == 0 (xlogy: a class with no probability contributes nothing).
__device__ __forceinline__ float kl_term(float p, float logp, float logq) {
    return p == 0.0f ? 0.0f : p * (logp - logq);
}

// Row ownership of the warp / block kernels: sets row, tid, nthreads; a group past the last row leaves.
#define KB_WARP_ROW                                 \
    const long long row = warp_row();               \
    if (row >= rows) return;                        \
    const unsigned tid = threadIdx.x & 31, nthreads = 32
#define KB_BLOCK_ROW                                \
    const long long row = blockIdx.x;               \
    if (row >= rows) return;                        \
    const unsigned tid = threadIdx.x, nthreads = blockDim.x
