// KL between diagonal Gaussians N(mu1, exp(lv1)) and N(mu2, exp(lv2)), per element, summed per row:
//   0.5 (lv2 - lv1 + (exp(lv1) + (mu1-mu2)²) / exp(lv2) - 1); with mu2 == lv2 == null the standard normal:
//   0.5 (exp(lv1) + mu1² - 1 - lv1). Gradients (÷ gradDivisor): d mu1 = (mu1-mu2) exp(-lv2),
//   d lv1 = 0.5 (exp(lv1 - lv2) - 1), d mu2 = -d mu1, d lv2 = 0.5 (1 - (exp(lv1) + (mu1-mu2)²) exp(-lv2))
//   (gMu2, gLv2 null for the standard normal). rowLoss[row] = the row's sum. Pointwise with four inputs and
// outputs: plain coalesced scalar loads (no float4). Passes: 1. Launcher: dev.kullback.cuda.GaussianKlKernels.
#include "rows.cuh"

// In place (grad == the input it is the gradient of; kernels/README.md, "In-place gradients"): gaussian_kl_rows_warp /
// _block (every input overwritten by its gradient): one pass in which a thread reads all inputs at an element into
// registers, then writes that element's gradients. Hazard-free.
template <bool kBlock>
__device__ __forceinline__ void gaussian_kl_row(const float* __restrict__ mu1, const float* __restrict__ lv1,
                                                const float* __restrict__ mu2, const float* __restrict__ lv2,
                                                float* __restrict__ gMu1, float* __restrict__ gLv1, float* __restrict__ gMu2,
                                                float* __restrict__ gLv2, float* __restrict__ rowLoss, long long row,
                                                unsigned cols, float gradDivisor, unsigned tid, unsigned nthreads) {
    float acc = 0.0f;
    if (mu2 == nullptr) {
        for (unsigned i = tid; i < cols; i += nthreads) {
            const float m = mu1[i], v = lv1[i], ev = expf(v);
            acc += 0.5f * (((ev + m * m) - 1.0f) - v);
            gMu1[i] = m / gradDivisor;
            gLv1[i] = 0.5f * (ev - 1.0f) / gradDivisor;
        }
    } else {
        for (unsigned i = tid; i < cols; i += nthreads) {
            const float d = mu1[i] - mu2[i], v1 = lv1[i], v2 = lv2[i];
            const float num = expf(v1) + d * d;
            acc += 0.5f * (((v2 - v1) + num / expf(v2)) - 1.0f);
            const float dm = d * expf(-v2) / gradDivisor;
            gMu1[i] = dm;
            gMu2[i] = -dm;
            gLv1[i] = 0.5f * (expf(v1 - v2) - 1.0f) / gradDivisor;
            gLv2[i] = 0.5f * (1.0f - num * expf(-v2)) / gradDivisor;
        }
    }
    acc = group_sum<kBlock>(acc);
    if (tid == 0) rowLoss[row] = acc;
}


extern "C" __global__ void __launch_bounds__(1024, 1)
    gaussian_kl_rows_warp(const float* __restrict__ mu1, const float* __restrict__ lv1, const float* __restrict__ mu2,
        const float* __restrict__ lv2, float* __restrict__ gMu1, float* __restrict__ gLv1, float* __restrict__ gMu2,
        float* __restrict__ gLv2, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_WARP_ROW;
    const size_t o = (size_t)row * (size_t)cols;
    const bool full = mu2 != nullptr;
    gaussian_kl_row<false>(mu1 + o, lv1 + o, full ? mu2 + o : nullptr, full ? lv2 + o : nullptr, gMu1 + o, gLv1 + o,
                           full ? gMu2 + o : nullptr, full ? gLv2 + o : nullptr, rowLoss, row, cols, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    gaussian_kl_rows_block(const float* __restrict__ mu1, const float* __restrict__ lv1, const float* __restrict__ mu2,
        const float* __restrict__ lv2, float* __restrict__ gMu1, float* __restrict__ gLv1, float* __restrict__ gMu2,
        float* __restrict__ gLv2, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_BLOCK_ROW;
    const size_t o = (size_t)row * (size_t)cols;
    const bool full = mu2 != nullptr;
    gaussian_kl_row<true>(mu1 + o, lv1 + o, full ? mu2 + o : nullptr, full ? lv2 + o : nullptr, gMu1 + o, gLv1 + o,
                          full ? gMu2 + o : nullptr, full ? gLv2 + o : nullptr, rowLoss, row, cols, gradDivisor, tid, nthreads);
}
