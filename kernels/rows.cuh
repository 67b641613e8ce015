// Helpers shared by the row-wise loss kernels (distillation.cu, cross_entropy.cu, jsd.cu, entropy.cu,
// keras_kl.cu, gaussian_kl.cu): the group (warp or block) that owns a row, its reductions, and
// traversals of one or two equally shaped rows of any element type (elems.cuh) that read (and write) 16-byte
// vectors where the pointers allow.
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
// A row is split like make_split does: a scalar head that brings the first pointer to a 16-byte boundary, a body of
// V-element vectors (V = 4 for float rows, 8 when a half row is involved: one 16-byte load of halves, two of
// floats), a scalar tail. The body is used only when every pointer is 16-byte aligned at the head (for a strided
// tensor: its rows start aligned), else the whole row takes plain coalesced scalar loads.
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

// Whether p + head elements is 16-byte aligned (a null pointer, an absent output, counts as aligned).
template <class T>
__device__ __forceinline__ bool aligned_at(const T* p, unsigned head) {
    return ((address_of(p) + (size_t)head * sizeof(T)) & 15) == 0;
}

template <class T0, class... Ts>
__device__ __forceinline__ Split<unsigned> row_split(unsigned n, const T0* p0, const Ts*... ps) {
    constexpr unsigned V = VecWidth<T0, Ts...>::kV;
    const size_t a0 = address_of(p0);
    const unsigned head = (unsigned)(((16 - (a0 & 15)) & 15) / sizeof(T0));
    bool ok = a0 % sizeof(T0) == 0;
    const bool others[] = {true, aligned_at(ps, head)...};
    for (bool o : others) ok = ok && o;
    Split<unsigned> sp;
    sp.n = n;
    sp.head = ok ? (head < n ? head : n) : 0u;
    sp.nvec = ok ? (n - sp.head) / V : 0u;
    return sp;
}

// f(i, a[i]) for every i of [0, n) owned by this thread.
template <class TA, class F>
__device__ __forceinline__ void visit1(const TA* __restrict__ a, unsigned n, unsigned tid, unsigned nthreads, F f) {
    constexpr int V = VecWidth<TA>::kV;
    const Split<unsigned> sp = row_split(n, a);
    for_each_split<unsigned, V>(
        sp, tid, nthreads, [&](unsigned i) { f(i, to_float(a[i])); },
        [&](unsigned j) {
            const unsigned i = sp.head + V * j;
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
    const Split<unsigned> sp = row_split(n, a, out);
    for_each_split<unsigned, V>(
        sp, tid, nthreads, [&](unsigned i) { out[i] = from_float<TO>(f(i, to_float(a[i]))); },
        [&](unsigned j) {
            const unsigned i = sp.head + V * j;
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
    const Split<unsigned> sp = row_split(n, a, b);
    for_each_split<unsigned, V>(
        sp, tid, nthreads, [&](unsigned i) { f(i, to_float(a[i]), to_float(b[i])); },
        [&](unsigned j) {
            const unsigned i = sp.head + V * j;
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
    const Split<unsigned> sp = row_split(n, a, b, outA, outB);
    for_each_split<unsigned, V>(
        sp, tid, nthreads,
        [&](unsigned i) {
            float ra, rb;
            f(i, to_float(a[i]), to_float(b[i]), ra, rb);
            outA[i] = from_float<TO>(ra);
            if (outB) outB[i] = from_float<TO>(rb);
        },
        [&](unsigned j) {
            const unsigned i = sp.head + V * j;
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
