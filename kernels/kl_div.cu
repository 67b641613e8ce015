// KL divergence, PyTorch's torch.nn.functional.kl_div(input, target, reduction, log_target), over
// n contiguous float32 elements. Launcher: dev.kullback.cuda.KlDivKernels.
//
// All three kernels are flat grid-stride loops over chunks of 4 elements (common.cuh, make_split) (the op is elementwise and
// memory-bound; the grid is whatever the launcher picks). The reduced forms never materialize the
// pointwise tensor: kl_div_partial_sums writes one partial per block, which reduce.cu's
// sum_finalize adds in a fixed order (no float atomics, bitwise reproducible).
// logTarget and scalarGrad are template parameters, so the inner loops carry no branches on them.
#include "common.cuh"

// logTarget 0: xlogy(t, t) - t * x, with xlogy(0, t) = 0 (so t == 0 with x == -inf is 0 * -inf = NaN,
// t < 0 is NaN, NaN propagates). logTarget 1: exp(t) * (t - x).
template <bool kLogTarget>
__device__ __forceinline__ float kl_pointwise(float x, float t) {
    if (kLogTarget) return expf(t) * (t - x);
    return (t == 0.0f ? 0.0f : t * logf(t)) - t * x;
}

template <bool kLogTarget>
__device__ __forceinline__ void kl_pointwise_all(const float* __restrict__ input, const float* __restrict__ target,
                                                 float* __restrict__ out, long long n) {
    const Split<long long> sp = make_split<long long>(n, aligned16(input) && aligned16(target) && aligned16(out));
    for_each_split<long long>(
        sp, global_tid(), global_threads(),
        [&](long long i) { out[i] = kl_pointwise<kLogTarget>(input[i], target[i]); },
        [&](long long j) {
            const float4 x = load4(input + 4 * j, sp.vector);
            const float4 t = load4(target + 4 * j, sp.vector);
            store4(out + 4 * j,
                   make_float4(kl_pointwise<kLogTarget>(x.x, t.x), kl_pointwise<kLogTarget>(x.y, t.y),
                               kl_pointwise<kLogTarget>(x.z, t.z), kl_pointwise<kLogTarget>(x.w, t.w)),
                   sp.vector);
        });
}

// This thread's share of the sum; the caller reduces it over the block.
template <bool kLogTarget>
__device__ __forceinline__ float kl_thread_sum(const float* __restrict__ input, const float* __restrict__ target,
                                               long long n) {
    const Split<long long> sp = make_split<long long>(n, aligned16(input) && aligned16(target));
    float acc = 0.0f;
    for_each_split<long long>(
        sp, global_tid(), global_threads(), [&](long long i) { acc += kl_pointwise<kLogTarget>(input[i], target[i]); },
        [&](long long j) {
            const float4 x = load4(input + 4 * j, sp.vector);
            const float4 t = load4(target + 4 * j, sp.vector);
            acc += (kl_pointwise<kLogTarget>(x.x, t.x) + kl_pointwise<kLogTarget>(x.y, t.y)) +
                   (kl_pointwise<kLogTarget>(x.z, t.z) + kl_pointwise<kLogTarget>(x.w, t.w));
        });
    return acc;
}

// gradIn = -(g * w), w = t (or exp(t) when kLogTarget), g = gradOut[0] / divisor when kScalar, else gradOut[i].
template <bool kLogTarget, bool kScalar>
__device__ __forceinline__ void kl_backward_all(const float* __restrict__ gradOut, const float* __restrict__ target,
                                                float* __restrict__ gradIn, long long n, float divisor) {
    // a scalar gradOut is a single float, read once: its address does not decide the loads
    const Split<long long> sp =
        make_split<long long>(n, aligned16(target) && aligned16(gradIn) && (kScalar || aligned16(gradOut)));
    const float gs = kScalar ? gradOut[0] / divisor : 0.0f;
    for_each_split<long long>(
        sp, global_tid(), global_threads(),
        [&](long long i) {
            const float g = kScalar ? gs : gradOut[i];
            const float w = kLogTarget ? expf(target[i]) : target[i];
            gradIn[i] = -(g * w);
        },
        [&](long long j) {
            const float4 g = kScalar ? make_float4(gs, gs, gs, gs) : load4(gradOut + 4 * j, sp.vector);
            float4 w = load4(target + 4 * j, sp.vector);
            if (kLogTarget) w = make_float4(expf(w.x), expf(w.y), expf(w.z), expf(w.w));
            store4(gradIn + 4 * j, make_float4(-(g.x * w.x), -(g.y * w.y), -(g.z * w.z), -(g.w * w.w)), sp.vector);
        });
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    kl_div_pointwise(const float* __restrict__ input, const float* __restrict__ target,
        float* __restrict__ out, long long n, int logTarget) {
    if (logTarget)
        kl_pointwise_all<true>(input, target, out, n);
    else
        kl_pointwise_all<false>(input, target, out, n);
}

// Block b writes partials[b]: the sum of its grid-stride share. The share, and so the partial,
// depends only on n, gridDim.x and blockDim.x (chunks by index; the addresses decide only the loads).
extern "C" __global__ void __launch_bounds__(1024, 1)
    kl_div_partial_sums(const float* __restrict__ input, const float* __restrict__ target,
        float* __restrict__ partials, long long n, int logTarget) {
    const float acc = logTarget ? kl_thread_sum<true>(input, target, n) : kl_thread_sum<false>(input, target, n);
    const float sum = block_sum(acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    kl_div_backward(const float* __restrict__ gradOut, const float* __restrict__ target,
        float* __restrict__ gradIn, long long n, int logTarget, int scalarGrad, float divisor) {
    if (logTarget) {
        if (scalarGrad)
            kl_backward_all<true, true>(gradOut, target, gradIn, n, divisor);
        else
            kl_backward_all<true, false>(gradOut, target, gradIn, n, divisor);
    } else {
        if (scalarGrad)
            kl_backward_all<false, true>(gradOut, target, gradIn, n, divisor);
        else
            kl_backward_all<false, false>(gradOut, target, gradIn, n, divisor);
    }
}
