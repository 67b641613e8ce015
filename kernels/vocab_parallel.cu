// Vocabulary-parallel losses: each rank holds the columns [offset, offset + cols) of the logits, of which the
// first `classes` are classes of the vocabulary and the rest padding (gradient 0). The loss needs a few numbers
// per row from every rank; the launcher (dev.kullback.cuda.VocabParallelKernels, driven by
// internal/AbstractDevice) runs three passes with the caller's all-reduces between them:
//   vp_max    maxes[row, i]: max over the shard's classes of input i (a, then b for distillation), unscaled
//             -> all-reduce MAX
//   vp_sums   sums[row, ...] given the global maxima (ignored rows write 0s)
//             -> all-reduce SUM
//   vp_write  the shard's gradient columns and rowLoss[row] (the same value on every rank)
// kind 0, cross-entropy (labels are classes of the full vocabulary), sums {S = Σ exp(z - M), z_y (0 unless this
//   shard holds y), Σ z (only with smoothing: sumWidth 3)}; lse = M + log S,
//   loss = (1-ε)(lse - z_y) + ε(lse - Σz / V) + zLoss lse²   (PyTorch's smoothing over all V classes)
//   grad = k (p (1 + 2 zLoss lse) - (1-ε) onehot(y) - ε / V)
// kind 1/2, forward/reverse distillation, sums {Ss, St, D}: with ls = (s - Ms) / T, lt = (t - Mt) / T,
//   forward D = Σ e_t (lt - ls), KL = D / St - log St + log Ss, grad = k (Q - P)
//   reverse D = Σ e_s (ls - lt), KL = D / Ss - log Ss + log St, grad = k Q ((log Q - log P) - KL)
//   (a class whose weight e is 0 adds 0: -inf in both logits is masked, as in distillation.cu); loss = T² KL
// kind 3, entropy, sums {S, C = Σ e (x - M)}: H = log S - C / S, grad = -k p (log p + H).
// k is gradScale (1 / the reduction's divisor, times T for distillation). The maxima skip NaN (fmaxf); a NaN still
// reaches the loss through the sums. A row whose maximum is not finite gives NaN, like the unsharded kernels.
#include "rows.cuh"

#define VP_CE 0
#define VP_FORWARD 1
#define VP_REVERSE 2
#define VP_ENTROPY 3

__device__ __forceinline__ bool vp_ignored(const int* __restrict__ labels, long long row, int ignoreIndex) {
    return labels != nullptr && labels[row] == ignoreIndex;
}

template <bool kBlock>
__device__ __forceinline__ void vp_max_row(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out,
                                           unsigned classes, unsigned tid, unsigned nthreads) {
    float ma = -INFINITY, mb = -INFINITY;
    if (b) {
        visit2(a, b, classes, tid, nthreads, [&](unsigned, float x, float y) {
            ma = fmaxf(ma, x);
            mb = fmaxf(mb, y);
        });
    } else {
        visit1(a, classes, tid, nthreads, [&](unsigned, float x) { ma = fmaxf(ma, x); });
    }
    ma = group_fmax<kBlock>(ma);
    if (b) mb = group_fmax<kBlock>(mb);
    if (tid == 0) {
        out[0] = ma;
        if (b) out[1] = mb;
    }
}

template <bool kBlock>
__device__ __forceinline__ void vp_sums_row(int kind, const float* __restrict__ a, const float* __restrict__ b, int y,
                                            unsigned classes, int offset, float invT, const float* __restrict__ m,
                                            float* __restrict__ out, int sumWidth, unsigned tid, unsigned nthreads) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f;
    if (kind == VP_CE) {
        const float M = m[0];
        const bool smooth = sumWidth == 3;
        visit1(a, classes, tid, nthreads, [&](unsigned, float x) {
            s0 += expf(x - M);
            if (smooth) s2 += x;
        });
        const long long local = (long long)y - offset;
        s1 = (tid == 0 && local >= 0 && local < (long long)classes) ? a[local] : 0.0f;
    } else if (kind == VP_ENTROPY) {
        const float M = m[0];
        visit1(a, classes, tid, nthreads, [&](unsigned, float x) {
            const float l = x - M;
            const float e = expf(l);
            s0 += e;
            if (e != 0.0f) s1 += e * l;
        });
    } else {
        const bool forward = kind == VP_FORWARD;
        const float ms = m[0], mt = m[1];
        visit2(a, b, classes, tid, nthreads, [&](unsigned, float x, float t) {
            const float ls = (x - ms) * invT, lt = (t - mt) * invT;
            const float es = expf(ls), et = expf(lt);
            s0 += es;
            s1 += et;
            const float e = forward ? et : es;
            if (e != 0.0f) s2 += e * (forward ? lt - ls : ls - lt);
        });
    }
    s0 = group_sum<kBlock>(s0);
    s1 = group_sum<kBlock>(s1);
    if (sumWidth == 3) s2 = group_sum<kBlock>(s2);
    if (tid == 0) {
        out[0] = s0;
        out[1] = s1;
        if (sumWidth == 3) out[2] = s2;
    }
}

template <bool kBlock>
__device__ __forceinline__ void vp_write_row(int kind, const float* __restrict__ a, const float* __restrict__ b, int y,
                                             unsigned cols, unsigned classes, int offset, int vocab, float invT,
                                             float smoothing, float zLoss, float lossScale, float k,
                                             const float* __restrict__ m, const float* __restrict__ in, int sumWidth,
                                             float* __restrict__ g, float* __restrict__ rowLoss, unsigned tid,
                                             unsigned nthreads) {
    for (unsigned i = classes + tid; i < cols; i += nthreads) g[i] = 0.0f;  // padding
    float loss;
    if (kind == VP_CE) {
        const float M = m[0];
        const float logS = logf(in[0]);
        const float lse = M + logS;
        const float sz = sumWidth == 3 ? in[2] : 0.0f;
        loss = (1.0f - smoothing) * (lse - in[1]) + (smoothing != 0.0f ? smoothing * (lse - sz / (float)vocab) : 0.0f)
               + zLoss * lse * lse;
        const bool finite = isfinite(M);
        if (!finite) loss = NAN;
        const float pScale = k * (1.0f + 2.0f * zLoss * lse);
        const float uniform = k * smoothing / (float)vocab;
        const long long local = (long long)y - offset;
        const unsigned target = (local >= 0 && local < (long long)classes) ? (unsigned)local : 0xffffffffu;
        const float hit = k * (1.0f - smoothing);
        map1(a, g, classes, tid, nthreads, [&](unsigned i, float x) {
            if (!finite) return NAN;
            const float p = expf((x - M) - logS);
            return p * pScale - uniform - (i == target ? hit : 0.0f);
        });
    } else if (kind == VP_ENTROPY) {
        const float M = m[0];
        const float logS = logf(in[0]);
        const float h = logS - in[1] / in[0];
        loss = h;
        map1(a, g, classes, tid, nthreads, [&](unsigned, float x) {
            const float lp = (x - M) - logS;
            const float p = expf(lp);
            return p == 0.0f ? 0.0f : -p * (lp + h) * k;
        });
    } else {
        const bool forward = kind == VP_FORWARD;
        const float ms = m[0], mt = m[1];
        const float logSs = logf(in[0]), logSt = logf(in[1]);
        const float kl = forward ? in[2] / in[1] - logSt + logSs : in[2] / in[0] - logSs + logSt;
        loss = kl;
        map2(a, b, g, nullptr, classes, tid, nthreads, [&](unsigned, float x, float t, float& gx, float&) {
            const float logQ = (x - ms) * invT - logSs;
            const float logP = (t - mt) * invT - logSt;
            const float q = expf(logQ);
            gx = forward ? (q - expf(logP)) * k : (q == 0.0f ? 0.0f : q * ((logQ - logP) - kl) * k);
        });
    }
    if (tid == 0) *rowLoss = lossScale * loss;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    vp_max_warp(const float* __restrict__ a, const float* __restrict__ b, int rows, int cols, int classes,
        float* __restrict__ maxes) {
    KB_WARP_ROW;
    const size_t o = (size_t)row * (size_t)cols;
    vp_max_row<false>(a + o, b ? b + o : nullptr, maxes + row * (b ? 2 : 1), classes, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    vp_max_block(const float* __restrict__ a, const float* __restrict__ b, int rows, int cols, int classes,
        float* __restrict__ maxes) {
    KB_BLOCK_ROW;
    const size_t o = (size_t)row * (size_t)cols;
    vp_max_row<true>(a + o, b ? b + o : nullptr, maxes + row * (b ? 2 : 1), classes, tid, nthreads);
}

#define VP_SUMS_BODY(kBlock)                                                                                  \
    const int maxWidth = b ? 2 : 1;                                                                           \
    float* out = sums + row * sumWidth;                                                                       \
    if (vp_ignored(labels, row, ignoreIndex)) {                                                               \
        if (tid < (unsigned)sumWidth) out[tid] = 0.0f;                                                        \
        return;                                                                                               \
    }                                                                                                         \
    const size_t o = (size_t)row * (size_t)cols;                                                              \
    vp_sums_row<kBlock>(kind, a + o, b ? b + o : nullptr, labels ? labels[row] : 0, classes, offset, invT,     \
                        maxes + row * maxWidth, out, sumWidth, tid, nthreads)

extern "C" __global__ void __launch_bounds__(1024, 1)
    vp_sums_warp(int kind, const float* __restrict__ a, const float* __restrict__ b, const int* __restrict__ labels,
        int ignoreIndex, int rows, int cols, int classes, int offset, float invT, const float* __restrict__ maxes,
        float* __restrict__ sums, int sumWidth) {
    KB_WARP_ROW;
    VP_SUMS_BODY(false);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    vp_sums_block(int kind, const float* __restrict__ a, const float* __restrict__ b, const int* __restrict__ labels,
        int ignoreIndex, int rows, int cols, int classes, int offset, float invT, const float* __restrict__ maxes,
        float* __restrict__ sums, int sumWidth) {
    KB_BLOCK_ROW;
    VP_SUMS_BODY(true);
}

#define VP_WRITE_BODY(kBlock)                                                                                 \
    const size_t o = (size_t)row * (size_t)cols;                                                              \
    if (vp_ignored(labels, row, ignoreIndex)) {                                                               \
        zero_row(grad + o, cols, tid, nthreads);                                                              \
        if (tid == 0) rowLoss[row] = 0.0f;                                                                    \
        return;                                                                                               \
    }                                                                                                         \
    vp_write_row<kBlock>(kind, a + o, b ? b + o : nullptr, labels ? labels[row] : 0, cols, classes, offset, vocab, \
                         invT, smoothing, zLoss, lossScale, gradScale, maxes + row * (b ? 2 : 1),              \
                         sums + row * sumWidth, sumWidth, grad + o, rowLoss + row, tid, nthreads)

extern "C" __global__ void __launch_bounds__(1024, 1)
    vp_write_warp(int kind, const float* __restrict__ a, const float* __restrict__ b, const int* __restrict__ labels,
        int ignoreIndex, int rows, int cols, int classes, int offset, int vocab, float invT, float smoothing,
        float zLoss, float lossScale, float gradScale, const float* __restrict__ maxes, const float* __restrict__ sums,
        int sumWidth, float* __restrict__ grad, float* __restrict__ rowLoss) {
    KB_WARP_ROW;
    VP_WRITE_BODY(false);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    vp_write_block(int kind, const float* __restrict__ a, const float* __restrict__ b, const int* __restrict__ labels,
        int ignoreIndex, int rows, int cols, int classes, int offset, int vocab, float invT, float smoothing,
        float zLoss, float lossScale, float gradScale, const float* __restrict__ maxes, const float* __restrict__ sums,
        int sumWidth, float* __restrict__ grad, float* __restrict__ rowLoss) {
    KB_BLOCK_ROW;
    VP_WRITE_BODY(true);
}
