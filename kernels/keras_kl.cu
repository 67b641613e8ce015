// Keras's KLDivergence, fused: t' = clip(yTrue, 1e-7, 1), q' = clip(yPred, 1e-7, 1),
// rowLoss[row] = Σ t' log(t'/q') (÷ ln 2 when bits), gradPred = -t'/q' (÷ ln 2 when bits) where
// 1e-7 <= yPred <= 1, else 0, ÷ gradDivisor. The clip keeps NaN. Launcher: dev.kullback.cuda.KerasKlKernels.
// Passes: 1.
#include "rows.cuh"

__device__ __forceinline__ float keras_clip(float v) { return v < 1e-7f ? 1e-7f : (v > 1.0f ? 1.0f : v); }

// In place (grad == the input it is the gradient of; kernels/README.md, "In-place gradients"): keras_kl_rows_warp / _block
// (gradPred == yPred): one pass (map2) that reads yTrue and yPred at an element, then writes the gradient there (same
// thread); yTrue is never written. Hazard-free.
template <bool kBlock, class T>
__device__ __forceinline__ void keras_kl_row(const T* __restrict__ yTrue, const T* __restrict__ yPred,
                                             T* __restrict__ g, float* __restrict__ rowLoss, long long row, unsigned cols,
                                             int bits, float gradDivisor, unsigned tid, unsigned nthreads) {
    const float unit = bits ? 0.69314718055994530942f : 1.0f;  // ln 2
    float acc = 0.0f;
    map2(yTrue, yPred, g, nullptr, cols, tid, nthreads, [&](unsigned, float t, float q, float& gq, float&) {
        const float tc = keras_clip(t), qc = keras_clip(q);
        acc += tc * logf(tc / qc);
        gq = (q >= 1e-7f && q <= 1.0f) ? -(tc / qc) / unit / gradDivisor : 0.0f;
    });
    acc = group_sum<kBlock>(acc);
    if (tid == 0) rowLoss[row] = acc / unit;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    keras_kl_rows_warp(const float* __restrict__ yTrue, long long yTrueStride, const float* __restrict__ yPred,
        long long yPredStride, float* __restrict__ gradPred, long long gradPredStride, float* __restrict__ rowLoss,
        int rows, int cols, int bits, float gradDivisor) {
    KB_WARP_ROW;
    keras_kl_row<false>(row_of(yTrue, row, yTrueStride), row_of(yPred, row, yPredStride), row_of(gradPred, row, gradPredStride), rowLoss, row, cols, bits, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    keras_kl_rows_warp_bf16(const bf16* __restrict__ yTrue, long long yTrueStride, const bf16* __restrict__ yPred,
        long long yPredStride, bf16* __restrict__ gradPred, long long gradPredStride, float* __restrict__ rowLoss,
        int rows, int cols, int bits, float gradDivisor) {
    KB_WARP_ROW;
    keras_kl_row<false>(row_of(yTrue, row, yTrueStride), row_of(yPred, row, yPredStride), row_of(gradPred, row, gradPredStride), rowLoss, row, cols, bits, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    keras_kl_rows_warp_f16(const f16* __restrict__ yTrue, long long yTrueStride, const f16* __restrict__ yPred,
        long long yPredStride, f16* __restrict__ gradPred, long long gradPredStride, float* __restrict__ rowLoss,
        int rows, int cols, int bits, float gradDivisor) {
    KB_WARP_ROW;
    keras_kl_row<false>(row_of(yTrue, row, yTrueStride), row_of(yPred, row, yPredStride), row_of(gradPred, row, gradPredStride), rowLoss, row, cols, bits, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    keras_kl_rows_block(const float* __restrict__ yTrue, long long yTrueStride, const float* __restrict__ yPred,
        long long yPredStride, float* __restrict__ gradPred, long long gradPredStride, float* __restrict__ rowLoss,
        int rows, int cols, int bits, float gradDivisor) {
    KB_BLOCK_ROW;
    keras_kl_row<true>(row_of(yTrue, row, yTrueStride), row_of(yPred, row, yPredStride), row_of(gradPred, row, gradPredStride), rowLoss, row, cols, bits, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    keras_kl_rows_block_bf16(const bf16* __restrict__ yTrue, long long yTrueStride, const bf16* __restrict__ yPred,
        long long yPredStride, bf16* __restrict__ gradPred, long long gradPredStride, float* __restrict__ rowLoss,
        int rows, int cols, int bits, float gradDivisor) {
    KB_BLOCK_ROW;
    keras_kl_row<true>(row_of(yTrue, row, yTrueStride), row_of(yPred, row, yPredStride), row_of(gradPred, row, gradPredStride), rowLoss, row, cols, bits, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    keras_kl_rows_block_f16(const f16* __restrict__ yTrue, long long yTrueStride, const f16* __restrict__ yPred,
        long long yPredStride, f16* __restrict__ gradPred, long long gradPredStride, float* __restrict__ rowLoss,
        int rows, int cols, int bits, float gradDivisor) {
    KB_BLOCK_ROW;
    keras_kl_row<true>(row_of(yTrue, row, yTrueStride), row_of(yPred, row, yPredStride), row_of(gradPred, row, gradPredStride), rowLoss, row, cols, bits, gradDivisor, tid, nthreads);
}
