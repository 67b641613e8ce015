// Fused entropy of softmax(logits) per row: H = -Σ p log p (a class with p == 0, e.g. a -inf logit,
// contributes 0), gradient -p (log p + H) / gradDivisor. Launcher: dev.kullback.cuda.EntropyKernels.
// rowLoss[row] = H. Passes over the logits: 3 (softmax statistics; H; gradient, which needs H).
#include "rows.cuh"

// In place (grad == the input it is the gradient of; kernels/README.md, "In-place gradients"): entropy_rows_warp / _block:
// the statistics pass and the H pass end in group reductions that every thread passes only after its reads; the
// gradient pass (map1) reads each element, then writes it (same thread). Hazard-free.
template <bool kBlock, class T>
__device__ __forceinline__ void entropy_row(const T* __restrict__ x, T* __restrict__ g, float* __restrict__ rowLoss,
                                            long long row, unsigned cols, float gradDivisor, unsigned tid, unsigned nthreads) {
    SoftmaxState st = softmax_empty();
    visit1(x, cols, tid, nthreads, [&](unsigned, float v) { softmax_add(st, v); });
    const RowStats s = row_stats(group_softmax<kBlock>(st));
    float h = 0.0f;
    visit1(x, cols, tid, nthreads, [&](unsigned, float v) {
        const float lp = s.logp(v);
        h -= kl_term(expf(lp), lp, 0.0f);
    });
    h = group_sum<kBlock>(h);
    map1(x, g, cols, tid, nthreads, [&](unsigned, float v) {
        const float lp = s.logp(v);
        const float p = expf(lp);
        return p == 0.0f ? 0.0f : -p * (lp + h) / gradDivisor;
    });
    if (tid == 0) rowLoss[row] = h;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    entropy_rows_warp(const float* __restrict__ logits, long long logitsStride, float* __restrict__ grad,
        long long gradStride, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_WARP_ROW;
    entropy_row<false>(row_of(logits, row, logitsStride), row_of(grad, row, gradStride), rowLoss, row, cols, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    entropy_rows_warp_bf16(const bf16* __restrict__ logits, long long logitsStride, bf16* __restrict__ grad,
        long long gradStride, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_WARP_ROW;
    entropy_row<false>(row_of(logits, row, logitsStride), row_of(grad, row, gradStride), rowLoss, row, cols, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    entropy_rows_warp_f16(const f16* __restrict__ logits, long long logitsStride, f16* __restrict__ grad,
        long long gradStride, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_WARP_ROW;
    entropy_row<false>(row_of(logits, row, logitsStride), row_of(grad, row, gradStride), rowLoss, row, cols, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    entropy_rows_block(const float* __restrict__ logits, long long logitsStride, float* __restrict__ grad,
        long long gradStride, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_BLOCK_ROW;
    entropy_row<true>(row_of(logits, row, logitsStride), row_of(grad, row, gradStride), rowLoss, row, cols, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    entropy_rows_block_bf16(const bf16* __restrict__ logits, long long logitsStride, bf16* __restrict__ grad,
        long long gradStride, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_BLOCK_ROW;
    entropy_row<true>(row_of(logits, row, logitsStride), row_of(grad, row, gradStride), rowLoss, row, cols, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    entropy_rows_block_f16(const f16* __restrict__ logits, long long logitsStride, f16* __restrict__ grad,
        long long gradStride, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_BLOCK_ROW;
    entropy_row<true>(row_of(logits, row, logitsStride), row_of(grad, row, gradStride), rowLoss, row, cols, gradDivisor, tid, nthreads);
}
