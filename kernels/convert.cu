// Strided typed rows to strided typed rows: y[r, c] = x[r, c] converted (float -> half rounds to nearest even).
// Launcher: dev.kullback.cuda.ConvertKernels. The CUDA device stages a half or strided tensor through these for the
// kernel families that take contiguous float32 only (kernels/README.md says which), and copies views.
// Launch: one block per row (grid = rows), any blockDim.x; strides are elements between row starts, 64-bit.
#include "elems.cuh"

template <class S, class D>
__device__ __forceinline__ void convert_rows(const S* __restrict__ x, long long xStride, D* __restrict__ y,
                                             long long yStride, int rows, int cols) {
    const long long row = blockIdx.x;
    if (row >= rows) return;
    const S* xr = row_of(x, row, xStride);
    D* yr = row_of(y, row, yStride);
    for (unsigned i = threadIdx.x; i < (unsigned)cols; i += blockDim.x) yr[i] = from_float<D>(to_float(xr[i]));
}

// convert_rows_<from>_<to>; the entries are spelled out (not a macro) so the simulator's generator finds them.
extern "C" __global__ void __launch_bounds__(1024, 1)
    convert_rows_f32_f32(const float* __restrict__ x, long long xStride, float* __restrict__ y, long long yStride, int rows,
        int cols) {
    convert_rows(x, xStride, y, yStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    convert_rows_bf16_f32(const bf16* __restrict__ x, long long xStride, float* __restrict__ y, long long yStride, int rows,
        int cols) {
    convert_rows(x, xStride, y, yStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    convert_rows_f16_f32(const f16* __restrict__ x, long long xStride, float* __restrict__ y, long long yStride, int rows,
        int cols) {
    convert_rows(x, xStride, y, yStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    convert_rows_f32_bf16(const float* __restrict__ x, long long xStride, bf16* __restrict__ y, long long yStride, int rows,
        int cols) {
    convert_rows(x, xStride, y, yStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    convert_rows_f32_f16(const float* __restrict__ x, long long xStride, f16* __restrict__ y, long long yStride, int rows,
        int cols) {
    convert_rows(x, xStride, y, yStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    convert_rows_bf16_bf16(const bf16* __restrict__ x, long long xStride, bf16* __restrict__ y, long long yStride, int rows,
        int cols) {
    convert_rows(x, xStride, y, yStride, rows, cols);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    convert_rows_f16_f16(const f16* __restrict__ x, long long xStride, f16* __restrict__ y, long long yStride, int rows,
        int cols) {
    convert_rows(x, xStride, y, yStride, rows, cols);
}
