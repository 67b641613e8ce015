// Element types of tensors in memory (dev.kullback.DType): float, bf16 and f16. Kernels compute in float; these
// are only storage types with their conversions, kept to what sm_75 has (the PTX targets compute_75):
//   bf16 -> float: a shift;  float -> bf16: integer round-to-nearest-even (cvt.rn.bf16.f32 needs sm_80);
//   f16 <-> float: cvt.f32.f16 and cvt.rn.f16.f32 (sm_53 on).
// A NaN narrows to PyTorch's quiet NaN (0x7FC0 for bf16, sign | 0x7E00 for f16), as dev.kullback.internal.HalfFloats
// does, so the CUDA and CPU devices write the same bits (CUDA's own conversions give 0x7FFF).
//
// A 16-byte vector (uint4) holds kVec<T> elements: 4 floats or 8 halves; Vec<T> loads / stores one as floats.
#pragma once

#include <cuda_fp16.h>

#include "common.cuh"

struct bf16 {
    unsigned short bits;
};
struct f16 {
    unsigned short bits;
};

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(bf16 v) { return __uint_as_float((unsigned)v.bits << 16); }
__device__ __forceinline__ float to_float(f16 v) { return __half2float(__ushort_as_half(v.bits)); }

__device__ __forceinline__ unsigned short bf16_bits(float f) {
    const unsigned u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
    // adding 0x7fff plus the lowest kept bit carries into the kept bits exactly when the dropped half rounds up
    return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ unsigned short f16_bits(float f) {
    return f != f ? (unsigned short)((__float_as_uint(f) >> 16 & 0x8000u) | 0x7e00u)
                  : __half_as_ushort(__float2half_rn(f));
}

template <class T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
    return v;
}
template <>
__device__ __forceinline__ bf16 from_float<bf16>(float v) {
    bf16 r;
    r.bits = bf16_bits(v);
    return r;
}
template <>
__device__ __forceinline__ f16 from_float<f16>(float v) {
    f16 r;
    r.bits = f16_bits(v);
    return r;
}

template <class T>
struct Vec;

template <>
struct Vec<float> {
    static constexpr int kN = 4;
    __device__ __forceinline__ static void load(const float* __restrict__ p, float (&v)[kN]) {
        const float4 w = *reinterpret_cast<const float4*>(p);
        v[0] = w.x;
        v[1] = w.y;
        v[2] = w.z;
        v[3] = w.w;
    }
    __device__ __forceinline__ static void store(float* __restrict__ p, const float (&v)[kN]) {
        *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
    }
};

// Two 16-bit elements per 32-bit word, the lower address in the low half (little-endian).
template <class H>
struct HalfVec {
    static constexpr int kN = 8;
    __device__ __forceinline__ static void load(const H* __restrict__ p, float (&v)[kN]) {
        const uint4 w = *reinterpret_cast<const uint4*>(p);
        const unsigned words[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
        for (int k = 0; k < 4; k++) {
            H lo, hi;
            lo.bits = (unsigned short)(words[k] & 0xffffu);
            hi.bits = (unsigned short)(words[k] >> 16);
            v[2 * k] = to_float(lo);
            v[2 * k + 1] = to_float(hi);
        }
    }
    __device__ __forceinline__ static void store(H* __restrict__ p, const float (&v)[kN]) {
        unsigned words[4];
#pragma unroll
        for (int k = 0; k < 4; k++)
            words[k] = (unsigned)from_float<H>(v[2 * k]).bits | ((unsigned)from_float<H>(v[2 * k + 1]).bits << 16);
        *reinterpret_cast<uint4*>(p) = make_uint4(words[0], words[1], words[2], words[3]);
    }
};
template <>
struct Vec<bf16> : HalfVec<bf16> {};
template <>
struct Vec<f16> : HalfVec<f16> {};

// The element a row of T starts at for `row` and `stride` (elements between row starts), in 64-bit arithmetic:
// rows * stride may exceed 2^31 elements.
template <class T>
__device__ __forceinline__ T* row_of(T* base, long long row, long long stride) {
    return base + (size_t)row * (size_t)stride;
}
