// Fused cross-entropy (forward value and logits gradient in one kernel; the probabilities are never
// stored), PyTorch's cross_entropy with label smoothing ε and class weights w, plus the z-loss
// zLoss · lse² per counted row. Launcher: dev.kullback.cuda.CrossEntropyKernels.
//
// Class indices (ce_rows_*), per row with label y (int32; a row with y == ignoreIndex gives 0):
//   loss = (1-ε) nll + (ε/C) smooth + zLoss lse²,  nll = -w_y log p_y,  smooth = -Σ w_c log p_c
//   grad = kCe [(1-ε) w_y (p - onehot(y)) + (ε/C)(p Σw - w)] + kZ 2 zLoss lse p
// where kCe = 1/W, kZ = 1/N under MEAN (W = Σ w_y, N = counted rows) and 1 otherwise. MEAN needs W before
// the gradient is written and W depends on device data (the weights), so ce_divisors (one block, fixed
// order) first writes divisors = {W, N} to device memory; ce_rows_* then read it (divisors == null: NONE
// or SUM) and write rowLoss[row] already divided ((CE part)/W + (z part)/N; 0/W for an ignored row, so
// that zero counted rows give NaN as in PyTorch); the launcher sums rowLoss with sum_finalize (divisor 1).
// A label outside [0, C) that is not ignoreIndex is never used as an index (the host rejects such labels
// before any launch; should one reach a kernel anyway, its row's loss and gradient, and W, are NaN).
// Passes over the logits: 2 (softmax statistics with Σ w_c z_c for smoothing; the gradient).
//
// Probability targets (soft_ce_rows_*): t' = (1-ε) t + ε/C, loss = -Σ w t' log p + zLoss lse²,
// grad = (p Σ w t' - w t' + 2 zLoss lse p) / gradDivisor (MEAN: rows). As PyTorch, a class with t' = 0 and
// log p = -inf makes the loss NaN (0 · -inf). Passes over the logits and targets: 2.
#include "rows.cuh"

// In place (grad == the input it is the gradient of; kernels/README.md, "In-place gradients"): ce_rows_warp / _block
// (ce_row) read z_y and, for smoothing, w_c z_c before the statistics' group reduction, which every thread passes
// only after its reads; the gradient pass (map1) reads each element and then writes that element, by the same thread
// with the same split, and nothing reads the row afterwards. An ignored row only writes. Hazard-free.
template <bool kBlock, class T, class G>
__device__ __forceinline__ void ce_row(const T* __restrict__ x, const float* __restrict__ w, G* __restrict__ g,
                                       float* __restrict__ rowLoss, long long row, unsigned cols, int y, int ignoreIndex,
                                       float smoothing, float zLoss, const float* __restrict__ divisors,
                                       unsigned tid, unsigned nthreads) {
    const float W = divisors ? divisors[0] : 1.0f;
    const float N = divisors ? divisors[1] : 1.0f;
    if (y == ignoreIndex) {  // uniform over the group
        zero_row(g, cols, tid, nthreads);
        if (tid == 0) rowLoss[row] = divisors ? 0.0f / W : 0.0f;
        return;
    }
    const bool valid = y >= 0 && (unsigned)y < cols;
    const float wy = valid ? (w ? w[y] : 1.0f) : NAN;
    const float zy = valid ? to_float(x[y]) : NAN;
    const bool smooth = smoothing != 0.0f;
    SoftmaxState st = softmax_empty();
    float sumWZ = 0.0f, sumW = 0.0f;
    visit1(x, cols, tid, nthreads, [&](unsigned i, float v) {
        softmax_add(st, v);
        if (smooth) {
            const float wc = w ? w[i] : 1.0f;
            sumWZ += wc * v;
            sumW += wc;
        }
    });
    const RowStats s = row_stats(group_softmax<kBlock>(st));
    if (smooth) {
        sumWZ = group_sum<kBlock>(sumWZ);
        sumW = group_sum<kBlock>(sumW);
    }
    const float lse = s.m + s.logSum;
    const float eps = smoothing / (float)cols;
    const float ce = (1.0f - smoothing) * (-wy * s.logp(zy)) + (smooth ? eps * -(sumWZ - sumW * lse) : 0.0f);
    const float z = zLoss * lse * lse;
    const float kCe = 1.0f / W, kZ = 1.0f / N;
    const float nllScale = (1.0f - smoothing) * wy;
    const float zScale = 2.0f * zLoss * lse;
    map1(x, g, cols, tid, nthreads, [&](unsigned i, float v) {
        const float p = expf(s.logp(v));
        float d = nllScale * (p - (i == (unsigned)y ? 1.0f : 0.0f));
        if (smooth) d += eps * (p * sumW - (w ? w[i] : 1.0f));
        return d * kCe + zScale * p * kZ;
    });
    if (tid == 0) rowLoss[row] = divisors ? ce / W + z / N : ce + z;
}

// In place (grad == the input it is the gradient of; kernels/README.md, "In-place gradients"): soft_ce_rows_warp / _block:
// the statistics and Σ w t' z read the logits before the group reductions; the gradient pass (map2) reads the logit
// and the target of an element, then writes that element's gradient (same thread); the targets and weights are never
// written. Hazard-free.
template <bool kBlock, class T, class G>
__device__ __forceinline__ void soft_ce_row(const T* __restrict__ x, const T* __restrict__ t, const float* __restrict__ w,
                                            G* __restrict__ g, float* __restrict__ rowLoss, long long row, unsigned cols,
                                            float smoothing, float zLoss, float gradDivisor, unsigned tid, unsigned nthreads) {
    const float eps = smoothing / (float)cols;
    SoftmaxState st = softmax_empty();
    float sumWTZ = 0.0f, sumWT = 0.0f;
    visit2(x, t, cols, tid, nthreads, [&](unsigned i, float v, float tv) {
        softmax_add(st, v);
        const float wt = (w ? w[i] : 1.0f) * ((1.0f - smoothing) * tv + eps);
        sumWTZ += wt * v;
        sumWT += wt;
    });
    const RowStats s = row_stats(group_softmax<kBlock>(st));
    sumWTZ = group_sum<kBlock>(sumWTZ);
    sumWT = group_sum<kBlock>(sumWT);
    const float lse = s.m + s.logSum;
    const float zScale = 2.0f * zLoss * lse;
    map2(x, t, g, nullptr, cols, tid, nthreads, [&](unsigned i, float v, float tv, float& gv, float&) {
        const float p = expf(s.logp(v));
        const float wt = (w ? w[i] : 1.0f) * ((1.0f - smoothing) * tv + eps);
        gv = ((p * sumWT - wt) + zScale * p) / gradDivisor;
    });
    if (tid == 0) rowLoss[row] = -(sumWTZ - lse * sumWT) + zLoss * lse * lse;
}

// One block (any blockDim.x that is a multiple of 32): divisors[0] = W = Σ w_y, divisors[1] = N, over the
// rows whose label is not ignoreIndex, added in a fixed order.
extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_divisors(const int* __restrict__ labels, const float* __restrict__ weights, int rows, int cols, int ignoreIndex,
        float* __restrict__ divisors) {
    if (blockIdx.x != 0) return;
    float W = 0.0f, N = 0.0f;
    for (int r = threadIdx.x; r < rows; r += blockDim.x) {
        const int y = labels[r];
        if (y == ignoreIndex) continue;
        N += 1.0f;
        W += (y >= 0 && y < cols) ? (weights ? weights[y] : 1.0f) : NAN;
    }
    W = block_sum(W);
    N = block_sum(N);
    if (threadIdx.x == 0) {
        divisors[0] = W;
        divisors[1] = N;
    }
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_warp(const float* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, int ignoreIndex, float smoothing, float zLoss,
        const float* __restrict__ divisors) {
    KB_WARP_ROW;
    ce_row<false>(row_of(logits, row, logitsStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, labels[row], ignoreIndex, smoothing, zLoss,
                  divisors, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_warp_bf16(const bf16* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, bf16* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, int ignoreIndex, float smoothing, float zLoss,
        const float* __restrict__ divisors) {
    KB_WARP_ROW;
    ce_row<false>(row_of(logits, row, logitsStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, labels[row], ignoreIndex, smoothing, zLoss,
                  divisors, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_warp_f16(const f16* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, f16* __restrict__ grad, long long gradStride, float* __restrict__ rowLoss,
        int rows, int cols, int ignoreIndex, float smoothing, float zLoss, const float* __restrict__ divisors) {
    KB_WARP_ROW;
    ce_row<false>(row_of(logits, row, logitsStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, labels[row], ignoreIndex, smoothing, zLoss,
                  divisors, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_block(const float* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, int ignoreIndex, float smoothing, float zLoss,
        const float* __restrict__ divisors) {
    KB_BLOCK_ROW;
    ce_row<true>(row_of(logits, row, logitsStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, labels[row], ignoreIndex, smoothing, zLoss,
                 divisors, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_block_bf16(const bf16* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, bf16* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, int ignoreIndex, float smoothing, float zLoss,
        const float* __restrict__ divisors) {
    KB_BLOCK_ROW;
    ce_row<true>(row_of(logits, row, logitsStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, labels[row], ignoreIndex, smoothing, zLoss,
                 divisors, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_block_f16(const f16* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, f16* __restrict__ grad, long long gradStride, float* __restrict__ rowLoss,
        int rows, int cols, int ignoreIndex, float smoothing, float zLoss, const float* __restrict__ divisors) {
    KB_BLOCK_ROW;
    ce_row<true>(row_of(logits, row, logitsStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, labels[row], ignoreIndex, smoothing, zLoss,
                 divisors, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    soft_ce_rows_warp(const float* __restrict__ logits, long long logitsStride, const float* __restrict__ target,
        long long targetStride, const float* __restrict__ weights, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, float smoothing, float zLoss, float gradDivisor) {
    KB_WARP_ROW;
    soft_ce_row<false>(row_of(logits, row, logitsStride), row_of(target, row, targetStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, smoothing, zLoss,
                       gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    soft_ce_rows_warp_bf16(const bf16* __restrict__ logits, long long logitsStride, const bf16* __restrict__ target,
        long long targetStride, const float* __restrict__ weights, bf16* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, float smoothing, float zLoss, float gradDivisor) {
    KB_WARP_ROW;
    soft_ce_row<false>(row_of(logits, row, logitsStride), row_of(target, row, targetStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, smoothing, zLoss,
                       gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    soft_ce_rows_warp_f16(const f16* __restrict__ logits, long long logitsStride, const f16* __restrict__ target,
        long long targetStride, const float* __restrict__ weights, f16* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, float smoothing, float zLoss, float gradDivisor) {
    KB_WARP_ROW;
    soft_ce_row<false>(row_of(logits, row, logitsStride), row_of(target, row, targetStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, smoothing, zLoss,
                       gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    soft_ce_rows_block(const float* __restrict__ logits, long long logitsStride, const float* __restrict__ target,
        long long targetStride, const float* __restrict__ weights, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, float smoothing, float zLoss, float gradDivisor) {
    KB_BLOCK_ROW;
    soft_ce_row<true>(row_of(logits, row, logitsStride), row_of(target, row, targetStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, smoothing, zLoss,
                      gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    soft_ce_rows_block_bf16(const bf16* __restrict__ logits, long long logitsStride, const bf16* __restrict__ target,
        long long targetStride, const float* __restrict__ weights, bf16* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, float smoothing, float zLoss, float gradDivisor) {
    KB_BLOCK_ROW;
    soft_ce_row<true>(row_of(logits, row, logitsStride), row_of(target, row, targetStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, smoothing, zLoss,
                      gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    soft_ce_rows_block_f16(const f16* __restrict__ logits, long long logitsStride, const f16* __restrict__ target,
        long long targetStride, const float* __restrict__ weights, f16* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, float smoothing, float zLoss, float gradDivisor) {
    KB_BLOCK_ROW;
    soft_ce_row<true>(row_of(logits, row, logitsStride), row_of(target, row, targetStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, smoothing, zLoss,
                      gradDivisor, tid, nthreads);
}

// ---------------------------------------------------------------------------------------------
// Class indices without label smoothing (the common case), rows read from memory once (tiles.cuh); the launcher
// takes these for float32 logits and gradient with cols % 4 == 0, any strides and addresses, as log_softmax.cu's:
//   ce_rows_warp_cached<K> (cols <= 128 K), ce_rows_block_cached (cols <= 32 blockDim.x), and for few or long
//   rows the pair ce_chunk_stats (each chunk's max and sum of exp) + ce_chunk_write (combines a row's partials in
//   chunk order, writes the chunk's gradient; the chunk holding the label writes the row's loss).
// Same formulas as ce_row with smoothing 0: loss = -w_y log p_y + zLoss lse², grad = w_y (p - onehot(y)) kCe +
// 2 zLoss lse p kZ. p = exp(log p): one exp per element in each of the two passes over the registers.
// ---------------------------------------------------------------------------------------------
#include "tiles.cuh"

// In place (grad == the input it is the gradient of; kernels/README.md, "In-place gradients"): ce_rows_warp_cached<K>,
// ce_rows_block_cached: the row is loaded into registers once, before any write; the gradient is written from the
// registers and the loss computed from z_y in the registers of the thread holding it (not re-read from memory, which
// was the hazard fixed in f4aff79). ce_chunk_stats only reads; ce_chunk_write loads its own chunk into registers,
// writes that chunk only, and no other block reads it (the statistics come from partials). Hazard-free.
// The row's label weight (NaN for a label outside [0, C)), and its loss from the softmax statistics; the loss is
// computed at the end by the thread whose registers hold z_y (the logits in memory may be under the gradient's writes:
// an in-place gradient), which reads the divisors then (fewer live registers beside the tile).
__device__ __forceinline__ float ce_label_weight(const float* __restrict__ w, unsigned cols, int y) {
    return (y >= 0 && (unsigned)y < cols) ? (w ? w[y] : 1.0f) : NAN;
}

__device__ __forceinline__ float ce_loss(float zy, float wy, float m, float logSum, float zLoss,
                                         const float* __restrict__ divisors) {
    const float lse = m + logSum;
    const float ce = -wy * ((zy - m) - logSum);
    const float z = zLoss * lse * lse;
    return divisors ? ce / divisors[0] + z / divisors[1] : ce + z;
}

// Writes the gradient of the row slice t holds to g (group j of the slice is element base + 4 j of the row), slot by
// slot, so each slot's registers are free once it is stored. The label's element is found once: `hot` = 4 k + c
// when this thread holds it in slot k, lane c (else -1): one compare with a constant per element. Returns whether this
// thread holds it, with its logit (from the registers) in zy.
template <int K>
__device__ __forceinline__ bool ce_gradient(const Tile<K>& t, float* __restrict__ g, unsigned n, unsigned base, int y,
                                            float wy, float m, float logSum, float zLoss, const float* __restrict__ divisors,
                                            unsigned tid, unsigned nthreads, float& zy) {
    int hot = -1;
    if (y >= 0 && (unsigned)y >= base) {  // 32-bit: a row has fewer than 2^31 columns
        const unsigned rel = (unsigned)y - base, j = rel >> 2;
        if (j >= tid) {
            const unsigned k = (j - tid) / nthreads;
            if (k * nthreads == j - tid && k < (unsigned)K) hot = (int)(4 * k + (rel & 3));
        }
    }
    const bool vector = aligned16(g);
    const float kCe = divisors ? 1.0f / divisors[0] : 1.0f, kZ = divisors ? 1.0f / divisors[1] : 1.0f;
    const float zScale = 2.0f * zLoss * (m + logSum);
    auto grad = [&](float v, int at) {
        const float p = expf((v - m) - logSum);
        const float d = wy * (p - (hot == at ? 1.0f : 0.0f));
        return d * kCe + zScale * p * kZ;
    };
#pragma unroll
    for (int k = 0; k < K; k++) {
        const unsigned j = tid + k * nthreads;
        if (j < n)
            store4(g + 4 * (size_t)j,
                   make_float4(grad(t.v[k].x, 4 * k), grad(t.v[k].y, 4 * k + 1), grad(t.v[k].z, 4 * k + 2),
                               grad(t.v[k].w, 4 * k + 3)),
                   vector);
        if (hot >> 2 == k) {
            const int c = hot & 3;
            zy = c == 0 ? t.v[k].x : c == 1 ? t.v[k].y : c == 2 ? t.v[k].z : t.v[k].w;
        }
    }
    return hot >= 0;
}

template <bool kBlock, int K>
__device__ __forceinline__ void ce_cached_row(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ g,
                                              float* __restrict__ rowLoss, long long row, unsigned cols, int y,
                                              int ignoreIndex, float zLoss, const float* __restrict__ divisors,
                                              unsigned tid, unsigned nthreads) {
    const unsigned n = cols >> 2;
    if (y == ignoreIndex) {  // uniform over the group
        zero_row(g, cols, tid, nthreads);
        if (tid == 0) rowLoss[row] = divisors ? 0.0f / divisors[0] : 0.0f;
        return;
    }
    Tile<K> t;
    t.load(x, n, tid, nthreads, -INFINITY, aligned16(x));
    const float m = group_fmax<kBlock>(t.max());
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < K; k++)
        s += (expf(t.v[k].x - m) + expf(t.v[k].y - m)) + (expf(t.v[k].z - m) + expf(t.v[k].w - m));
    const float logSum = logf(group_sum<kBlock>(s));
    const float wy = ce_label_weight(w, cols, y);
    float zy;
    if (ce_gradient<K>(t, g, n, 0, y, wy, m, logSum, zLoss, divisors, tid, nthreads, zy))
        rowLoss[row] = ce_loss(zy, wy, m, logSum, zLoss, divisors);
    else if (tid == 0 && !(y >= 0 && (unsigned)y < cols)) rowLoss[row] = NAN;  // a label no thread holds
}

template <int K>
__device__ __forceinline__ void ce_warp_cached(const float* __restrict__ logits, long long logitsStride,
                                               const int* __restrict__ labels, const float* __restrict__ weights,
                                               float* __restrict__ grad, long long gradStride, float* __restrict__ rowLoss,
                                               int rows, int cols, int ignoreIndex, float zLoss,
                                               const float* __restrict__ divisors) {
    KB_WARP_ROW;
    ce_cached_row<false, K>(row_of(logits, row, logitsStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, labels[row], ignoreIndex, zLoss,
                            divisors, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_warp_cached1(const float* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, float* __restrict__ grad, long long gradStride, float* __restrict__ rowLoss,
        int rows, int cols, int ignoreIndex, float zLoss, const float* __restrict__ divisors) {
    ce_warp_cached<1>(logits, logitsStride, labels, weights, grad, gradStride, rowLoss, rows, cols, ignoreIndex, zLoss,
                      divisors);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_warp_cached8(const float* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, float* __restrict__ grad, long long gradStride, float* __restrict__ rowLoss,
        int rows, int cols, int ignoreIndex, float zLoss, const float* __restrict__ divisors) {
    ce_warp_cached<8>(logits, logitsStride, labels, weights, grad, gradStride, rowLoss, rows, cols, ignoreIndex, zLoss,
                      divisors);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_block_cached(const float* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, float* __restrict__ grad, long long gradStride, float* __restrict__ rowLoss,
        int rows, int cols, int ignoreIndex, float zLoss, const float* __restrict__ divisors) {
    KB_BLOCK_ROW;
    ce_cached_row<true, kTileK>(row_of(logits, row, logitsStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, labels[row], ignoreIndex,
                                zLoss, divisors, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_chunk_stats(const float* __restrict__ logits, long long logitsStride, float* __restrict__ partials, int rows,
        int cols, int chunks, int chunk4) {
    chunk_stats(logits, logitsStride, partials, rows, cols, chunks, chunk4);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_chunk_write(const float* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, const float* __restrict__ partials, float* __restrict__ grad,
        long long gradStride, float* __restrict__ rowLoss, int rows, int cols, int ignoreIndex, float zLoss,
        const float* __restrict__ divisors, int chunks, int chunk4) {
    const Chunk c = chunk_of(cols, chunks, chunk4);
    if (c.row >= rows) return;
    const bool first = blockIdx.x % chunks == 0;
    const int y = labels[c.row];
    float* gc = c.of(grad, gradStride);
    if (y == ignoreIndex) {  // uniform over the block
        for (unsigned i = threadIdx.x; i < 4 * c.n; i += blockDim.x) gc[i] = 0.0f;
        if (first && threadIdx.x == 0) rowLoss[c.row] = divisors ? 0.0f / divisors[0] : 0.0f;
        return;
    }
    const SoftmaxState st = combine_chunks(partials + 2 * c.row * chunks, chunks);
    const float logSum = logf(st.s);
    const float wy = ce_label_weight(weights, cols, y);
    const float* xc = c.of(logits, logitsStride);
    Tile<kTileK> t;
    t.load(xc, c.n, threadIdx.x, blockDim.x, -INFINITY, aligned16(xc));
    float zy;
    if (ce_gradient<kTileK>(t, gc, c.n, c.start, y, wy, st.m, logSum, zLoss, divisors, threadIdx.x, blockDim.x, zy))
        rowLoss[c.row] = ce_loss(zy, wy, st.m, logSum, zLoss, divisors);  // the chunk holding z_y, in registers
    else if (first && threadIdx.x == 0 && !(y >= 0 && (unsigned)y < cols)) rowLoss[c.row] = NAN;
}

// float32 gradients of half inputs (float32Gradients): the same rows, only the gradient's type differs.
extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_warp_bf16_f32grad(const bf16* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, int ignoreIndex, float smoothing, float zLoss,
        const float* __restrict__ divisors) {
    KB_WARP_ROW;
    ce_row<false>(row_of(logits, row, logitsStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, labels[row], ignoreIndex, smoothing, zLoss,
                  divisors, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_warp_f16_f32grad(const f16* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, float* __restrict__ grad, long long gradStride, float* __restrict__ rowLoss,
        int rows, int cols, int ignoreIndex, float smoothing, float zLoss, const float* __restrict__ divisors) {
    KB_WARP_ROW;
    ce_row<false>(row_of(logits, row, logitsStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, labels[row], ignoreIndex, smoothing, zLoss,
                  divisors, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_block_bf16_f32grad(const bf16* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, int ignoreIndex, float smoothing, float zLoss,
        const float* __restrict__ divisors) {
    KB_BLOCK_ROW;
    ce_row<true>(row_of(logits, row, logitsStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, labels[row], ignoreIndex, smoothing, zLoss,
                 divisors, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    ce_rows_block_f16_f32grad(const f16* __restrict__ logits, long long logitsStride, const int* __restrict__ labels,
        const float* __restrict__ weights, float* __restrict__ grad, long long gradStride, float* __restrict__ rowLoss,
        int rows, int cols, int ignoreIndex, float smoothing, float zLoss, const float* __restrict__ divisors) {
    KB_BLOCK_ROW;
    ce_row<true>(row_of(logits, row, logitsStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, labels[row], ignoreIndex, smoothing, zLoss,
                 divisors, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    soft_ce_rows_warp_bf16_f32grad(const bf16* __restrict__ logits, long long logitsStride, const bf16* __restrict__ target,
        long long targetStride, const float* __restrict__ weights, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, float smoothing, float zLoss, float gradDivisor) {
    KB_WARP_ROW;
    soft_ce_row<false>(row_of(logits, row, logitsStride), row_of(target, row, targetStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, smoothing, zLoss,
                       gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    soft_ce_rows_warp_f16_f32grad(const f16* __restrict__ logits, long long logitsStride, const f16* __restrict__ target,
        long long targetStride, const float* __restrict__ weights, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, float smoothing, float zLoss, float gradDivisor) {
    KB_WARP_ROW;
    soft_ce_row<false>(row_of(logits, row, logitsStride), row_of(target, row, targetStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, smoothing, zLoss,
                       gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    soft_ce_rows_block_bf16_f32grad(const bf16* __restrict__ logits, long long logitsStride, const bf16* __restrict__ target,
        long long targetStride, const float* __restrict__ weights, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, float smoothing, float zLoss, float gradDivisor) {
    KB_BLOCK_ROW;
    soft_ce_row<true>(row_of(logits, row, logitsStride), row_of(target, row, targetStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, smoothing, zLoss,
                      gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    soft_ce_rows_block_f16_f32grad(const f16* __restrict__ logits, long long logitsStride, const f16* __restrict__ target,
        long long targetStride, const float* __restrict__ weights, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, float smoothing, float zLoss, float gradDivisor) {
    KB_BLOCK_ROW;
    soft_ce_row<true>(row_of(logits, row, logitsStride), row_of(target, row, targetStride), weights, row_of(grad, row, gradStride), rowLoss, row, cols, smoothing, zLoss,
                      gradDivisor, tid, nthreads);
}
