// Logit soft-capping (Gemma 2's final-logit cap): y = cap · tanh(x / cap), and its backward
// g ← g · (1 - (y / cap)²), the chain factor written from the capped value as PyTorch's tanh backward
// writes it (1 - tanh²). A pre- and a post-pass around the unchanged fused losses, elementwise over n
// contiguous float32 values. Launcher: dev.kullback.cuda.SoftCapKernels.
//
// Both run in place (out == x, and the fused linear losses cap a chunk's logits where they lie), so
// no pointer is __restrict__: each element is read and then written by the same thread. NaN
// propagates (tanhf(NaN) is NaN); ±inf caps to ±cap, whose factor is 0.
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(1024, 1)
    soft_cap_forward(const float* x, float* out, long long n, float cap) {
    const float inv = 1.0f / cap;
    for (long long i = global_tid(); i < n; i += global_threads()) {
        out[i] = cap * tanhf(x[i] * inv);
    }
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    soft_cap_backward(const float* capped, float* grad, long long n, float cap) {
    const float inv = 1.0f / cap;
    for (long long i = global_tid(); i < n; i += global_threads()) {
        const float t = capped[i] * inv;
        grad[i] = grad[i] * (1.0f - t * t);
    }
}
