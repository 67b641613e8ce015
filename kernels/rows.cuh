// Helpers shared by the row-wise loss kernels (distillation.cu, cross_entropy.cu, jsd.cu, entropy.cu,
// keras_kl.cu, gaussian_kl.cu): the group (warp or block) that owns a row, its reductions, and
// traversals of one or two equally shaped rows of any element type (elems.cuh), in an order fixed by the indices,
// that read (and write) 16-byte vectors where the pointers allow.
#pragma once

#include "elems.cuh"

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

// ---------------------------------------------------------------------------------------------
// Typed rows (elems.cuh): each pointer has its own element type (float, bf16, f16), values are floats in registers.
// A row is traversed by index (common.cuh, make_split): chunks of V elements (V = 4 for float rows, 8 when a half row
// is involved: one 16-byte load of halves, two of floats) owned by threads in index order, then a tail of fewer than
// V. A chunk is read and written as 16-byte vectors when every row pointer is 16-byte aligned (contiguous rows with
// cols % 4 == 0 in a pooled allocation, and views whose row starts are), else element by element: the same elements
// in the same order, so a row's bits never depend on where it lies in memory.
// ---------------------------------------------------------------------------------------------

template <class... Ts>
struct VecWidth;
template <class T>
struct VecWidth<T> {
    static constexpr int kV = Vec<T>::kN;
};
template <class T, class... Ts>
struct VecWidth<T, Ts...> {
    static constexpr int kV = Vec<T>::kN > VecWidth<Ts...>::kV ? Vec<T>::kN : VecWidth<Ts...>::kV;
};

// V consecutive elements of p (16-byte aligned) as floats, and back; V is a multiple of Vec<T>::kN.
template <int V, class T>
__device__ __forceinline__ void load_vec(const T* __restrict__ p, float (&v)[V]) {
#pragma unroll
    for (int k = 0; k < V; k += Vec<T>::kN) Vec<T>::load(p + k, *reinterpret_cast<float(*)[Vec<T>::kN]>(v + k));
}
template <int V, class T>
__device__ __forceinline__ void store_vec(T* __restrict__ p, const float (&v)[V]) {
#pragma unroll
    for (int k = 0; k < V; k += Vec<T>::kN)
        Vec<T>::store(p + k, *reinterpret_cast<const float(*)[Vec<T>::kN]>(v + k));
}

// The split of a row of n elements into chunks of V; vector when every pointer is 16-byte aligned.
template <class T0, class... Ts>
__device__ __forceinline__ Split<unsigned> row_split(unsigned n, const T0* p0, const Ts*... ps) {
    constexpr int V = VecWidth<T0, Ts...>::kV;
    bool vector = aligned16(p0);
    const bool others[] = {true, aligned16(ps)...};
    for (bool o : others) vector = vector && o;
    return make_split<unsigned, V>(n, vector);
}

// This thread's chunks of sp, then its tail element: vec(i) handles chunk [i, i + V) with vector loads and stores
// (sp.vector), else one(i + k) for k = 0 .. V-1 handles the same elements one by one, in the same order (each
// traversal's vec calls f on the elements in index order, as one does); one(i) also handles the tail.
template <int V, class One, class VecF>
__device__ __forceinline__ void for_each_chunk(const Split<unsigned>& sp, unsigned tid, unsigned nthreads, One one,
                                               VecF vec) {
    for_each_split<unsigned, V>(sp, tid, nthreads, one, [&](unsigned j) {
        const unsigned i = V * j;
        if (sp.vector) {
            vec(i);
        } else {
#pragma unroll 1
            for (int k = 0; k < V; k++) one(i + k);  // not unrolled: the slow path, kept small (no spills)
        }
    });
}

// f(i, a[i]) for every i of [0, n) owned by this thread.
template <class TA, class F>
__device__ __forceinline__ void visit1(const TA* __restrict__ a, unsigned n, unsigned tid, unsigned nthreads, F f) {
    constexpr int V = VecWidth<TA>::kV;
    for_each_chunk<V>(
        row_split(n, a), tid, nthreads, [&](unsigned i) { f(i, to_float(a[i])); },
        [&](unsigned i) {
            float x[V];
            load_vec<V>(a + i, x);
#pragma unroll
            for (int k = 0; k < V; k++) f(i + k, x[k]);
        });
}

// out[i] = f(i, a[i]).
template <class TA, class TO, class F>
__device__ __forceinline__ void map1(const TA* __restrict__ a, TO* __restrict__ out, unsigned n, unsigned tid,
                                     unsigned nthreads, F f) {
    constexpr int V = VecWidth<TA, TO>::kV;
    for_each_chunk<V>(
        row_split(n, a, out), tid, nthreads, [&](unsigned i) { out[i] = from_float<TO>(f(i, to_float(a[i]))); },
        [&](unsigned i) {
            float x[V], r[V];
            load_vec<V>(a + i, x);
#pragma unroll
            for (int k = 0; k < V; k++) r[k] = f(i + k, x[k]);
            store_vec<V>(out + i, r);
        });
}

// f(i, a[i], b[i]).
template <class TA, class TB, class F>
__device__ __forceinline__ void visit2(const TA* __restrict__ a, const TB* __restrict__ b, unsigned n, unsigned tid,
                                       unsigned nthreads, F f) {
    constexpr int V = VecWidth<TA, TB>::kV;
    for_each_chunk<V>(
        row_split(n, a, b), tid, nthreads, [&](unsigned i) { f(i, to_float(a[i]), to_float(b[i])); },
        [&](unsigned i) {
            float x[V], y[V];
            load_vec<V>(a + i, x);
            load_vec<V>(b + i, y);
#pragma unroll
            for (int k = 0; k < V; k++) f(i + k, x[k], y[k]);
        });
}

// f(i, a[i], b[i], oa, ob) sets oa (written to outA[i]) and ob (written to outB[i] unless outB is null).
template <class T>
struct Same {
    using type = T;
};
template <class TA, class TB, class TO, class F>
__device__ __forceinline__ void map2(const TA* __restrict__ a, const TB* __restrict__ b, TO* __restrict__ outA,
                                     typename Same<TO>::type* __restrict__ outB, unsigned n, unsigned tid, unsigned nthreads, F f) {
    constexpr int V = VecWidth<TA, TB, TO>::kV;
    for_each_chunk<V>(
        row_split(n, a, b, outA, outB), tid, nthreads,
        [&](unsigned i) {
            float ra, rb;
            f(i, to_float(a[i]), to_float(b[i]), ra, rb);
            outA[i] = from_float<TO>(ra);
            if (outB) outB[i] = from_float<TO>(rb);
        },
        [&](unsigned i) {
            float x[V], y[V], ra[V], rb[V];
            load_vec<V>(a + i, x);
            load_vec<V>(b + i, y);
#pragma unroll
            for (int k = 0; k < V; k++) f(i + k, x[k], y[k], ra[k], rb[k]);
            store_vec<V>(outA + i, ra);
            if (outB) store_vec<V>(outB + i, rb);
        });
}

// Writes 0 to out[0, n) (an ignored row's gradient).
template <class TO>
__device__ __forceinline__ void zero_row(TO* __restrict__ out, unsigned n, unsigned tid, unsigned nthreads) {
    for (unsigned i = tid; i < n; i += nthreads) out[i] = from_float<TO>(0.0f);
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
