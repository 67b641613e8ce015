// The half-precision conversions kernels use, on every 16-bit pattern: checked by SimHalfConversionsTest against
// the host's exact conversions (nvcc compiles this file too: it uses only what cuda_fp16.h / cuda_bf16.h give
// on sm_75).
#include <cuda_fp16.h>
#include <cuda_bf16.h>

// out[i] = the float value of the 16-bit pattern in the low half of bits[i]; bf16 selects the type.
extern "C" __global__ void half_widen(const int* bits, float* out, int n, int bf16) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    unsigned short b = static_cast<unsigned short>(bits[i]);
    out[i] = bf16 ? __bfloat162float(__ushort_as_bfloat16(b)) : __half2float(__ushort_as_half(b));
}

// out[i] = the 16-bit pattern of in[i] rounded to nearest even.
extern "C" __global__ void half_narrow(const float* in, int* out, int n, int bf16) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    out[i] = bf16 ? __bfloat16_as_ushort(__float2bfloat16_rn(in[i])) : __half_as_ushort(__float2half_rn(in[i]));
}
