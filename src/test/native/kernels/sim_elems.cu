// The element layer of kernels/ (elems.cuh: conversions and 64-bit row offsets) as the kernels use it, for
// SimElemsTest. Simulator only: it includes the kernels' header through the simulator's generated source tree.
#include "src/kernels/elems.cuh"

// out[i] = the float value of the 16-bit pattern in the low half of bits[i]; bf16 selects the type.
extern "C" __global__ void elems_widen(const int* bits, float* out, int n, int bf16type) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const unsigned short b = static_cast<unsigned short>(bits[i]);
    if (bf16type) {
        bf16 h;
        h.bits = b;
        out[i] = to_float(h);
    } else {
        f16 h;
        h.bits = b;
        out[i] = to_float(h);
    }
}

// out[i] = the 16-bit pattern of in[i] as the kernels write it (round to nearest even, PyTorch's NaN).
extern "C" __global__ void elems_narrow(const float* in, int* out, int n, int bf16type) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    out[i] = bf16type ? from_float<bf16>(in[i]).bits : from_float<f16>(in[i]).bits;
}

// out[k] = the byte offset row_of gives for (rows[k], strides[k]) in a bf16 and a float tensor: 64-bit arithmetic, so
// a row past 2^31 elements lands where it should (only the address is computed, nothing is read).
extern "C" __global__ void elems_row_offsets(const long long* rows, const long long* strides, long long* out, int n) {
    int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n) return;
    const bf16* h = reinterpret_cast<const bf16*>(out);
    const float* f = reinterpret_cast<const float*>(out);
    out[2 * k] = reinterpret_cast<const char*>(row_of(h, rows[k], strides[k])) - reinterpret_cast<const char*>(h);
    out[2 * k + 1] = reinterpret_cast<const char*>(row_of(f, rows[k], strides[k])) - reinterpret_cast<const char*>(f);
}
