// simulator: CUDA's float16 type and its conversions with cuda_fp16.hpp's exact semantics (round to nearest
// even, overflow to infinity, subnormals kept, NaN narrowed to the canonical 0x7FFF, widening exact).
// Kernels compute in float; only storage types and conversions are modelled, not half arithmetic.
#pragma once
#include "../sim_cuda.h"
#include "sim_half_bits.h"

struct __half {
    unsigned short __x;
};
struct __attribute__((aligned(4))) __half2 {
    __half x, y;
};

inline __half __ushort_as_half(unsigned short bits) { return __half{bits}; }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __float2half_rn(float f) { return __half{sim::float_to_fp16_bits(f)}; }
inline __half __float2half(float f) { return __float2half_rn(f); }
inline float __half2float(__half h) { return sim::fp16_bits_to_float(h.__x); }
inline __half2 __floats2half2_rn(float a, float b) { return __half2{__float2half_rn(a), __float2half_rn(b)}; }
inline __half2 __float22half2_rn(float2 v) { return __floats2half2_rn(v.x, v.y); }
inline float2 __half22float2(__half2 h) { return make_float2(__half2float(h.x), __half2float(h.y)); }
inline float __low2float(__half2 h) { return __half2float(h.x); }
inline float __high2float(__half2 h) { return __half2float(h.y); }
inline __half2 __halves2half2(__half a, __half b) { return __half2{a, b}; }
