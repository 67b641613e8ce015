// simulator: the bit-level float32 <-> float16 / bfloat16 conversions behind cuda_fp16.h and cuda_bf16.h,
// written from the IEEE 754 rules (the same as the GPU's cvt.rn.f16.f32 / cvt.rn.bf16.f32 and cuda_*.hpp's
// software paths): round to nearest even; NaN becomes 0x7FFF.
#pragma once
#include <cstdint>
#include <cstring>

namespace sim {

inline uint32_t float_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

inline unsigned short float_to_bf16_bits(float f) {
    uint32_t u = float_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FFF;
    return static_cast<unsigned short>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

inline float bf16_bits_to_float(unsigned short h) { return bits_float(static_cast<uint32_t>(h) << 16); }

inline unsigned short float_to_fp16_bits(float f) {
    uint32_t u = float_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t abs = u & 0x7FFFFFFFu;
    if (abs > 0x7F800000u) return 0x7FFF;
    if (abs >= 0x477FF000u) return static_cast<unsigned short>(sign | 0x7C00u);  // >= 65520: infinity
    if (abs < 0x38800000u) {  // below 2^-14: a subnormal; 0.5 + m rounds m to a multiple of 2^-24, ties to even
        volatile float shifted = bits_float(abs) + 0.5f;
        return static_cast<unsigned short>(sign | (float_bits(shifted) - 0x3F000000u));
    }
    uint32_t rebiased = abs - (112u << 23);
    return static_cast<unsigned short>(sign | ((rebiased + 0xFFFu + ((rebiased >> 13) & 1u)) >> 13));
}

inline float fp16_bits_to_float(unsigned short bits) {
    uint32_t h = bits;
    uint32_t sign = (h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu;
    uint32_t mantissa = h & 0x3FFu;
    if (exponent == 0x1F) return bits_float(sign | 0x7F800000u | mantissa << 13);
    if (exponent != 0) return bits_float(sign | (exponent + 112u) << 23 | mantissa << 13);
    return bits_float(sign | float_bits(static_cast<float>(mantissa) * 0x1p-24f));
}

}  // namespace sim
