// Fused distillation KL (forward value and student gradient in one kernel; the [rows, cols] softmaxes
// are never stored). Launcher: dev.kullback.cuda.DistillationKernels.
//
// P = softmax(teacher / T), Q = softmax(student / T). Per row:
//   forward: loss = T² Σ P (log P - log Q),  grad = T (Q - P) / gradDivisor
//   reverse: loss = T² KL with KL = Σ Q (log Q - log P), grad = T Q ((log Q - log P) - KL) / gradDivisor
// A class with P == 0 (forward) or Q == 0 (reverse) contributes 0 (xlogy), so a column that is -inf in
// both logits contributes nothing. rowLoss[row] gets the row's loss (0 for an ignored row, whose gradient
// row is 0); the launcher sums rowLoss in a fixed order (reduce.cu's sum_finalize) unless it is the value.
// labels may be null (every row counts); a label is only compared with ignoreIndex, never used as an index.
// Passes over the logits: forward 2 (softmax statistics of both; loss + gradient), reverse 3 (statistics;
// the row's KL; gradient, which needs the KL).
#include "rows.cuh"

// In place (grad == the input it is the gradient of; kernels/README.md, "In-place gradients"): distillation_rows_warp
// / _block (grad == student): both passes before the last read each element and end in a group reduction that every
// thread passes only after its reads; the write pass (map2) reads student and teacher at an element, then writes the
// student's gradient there (same thread, same split); the teacher is never written, an ignored row only writes.
// Hazard-free.
template <bool kBlock, class T, class G>
__device__ __forceinline__ void distill_row(const T* __restrict__ s, const T* __restrict__ t, G* __restrict__ g,
                                            float* __restrict__ rowLoss, long long row, unsigned cols, const int* __restrict__ labels,
                                            int ignoreIndex, float temperature, int reverse, float gradDivisor,
                                            unsigned tid, unsigned nthreads) {
    if (labels != nullptr && labels[row] == ignoreIndex) {  // uniform over the group
        zero_row(g, cols, tid, nthreads);
        if (tid == 0) rowLoss[row] = 0.0f;
        return;
    }
    SoftmaxState ss = softmax_empty(), st = softmax_empty();
    visit2(s, t, cols, tid, nthreads, [&](unsigned, float a, float b) {
        softmax_add(ss, a / temperature);
        softmax_add(st, b / temperature);
    });
    const RowStats q = row_stats(group_softmax<kBlock>(ss));
    const RowStats p = row_stats(group_softmax<kBlock>(st));
    const float gradScale = temperature / gradDivisor;
    float acc = 0.0f;
    if (!reverse) {
        map2(s, t, g, nullptr, cols, tid, nthreads, [&](unsigned, float a, float b, float& ga, float&) {
            const float logQ = q.logp(a / temperature);
            const float logP = p.logp(b / temperature);
            const float pp = expf(logP);
            acc += kl_term(pp, logP, logQ);
            ga = (expf(logQ) - pp) * gradScale;
        });
        acc = group_sum<kBlock>(acc);
    } else {
        visit2(s, t, cols, tid, nthreads, [&](unsigned, float a, float b) {
            const float logQ = q.logp(a / temperature);
            acc += kl_term(expf(logQ), logQ, p.logp(b / temperature));
        });
        acc = group_sum<kBlock>(acc);
        const float kl = acc;
        map2(s, t, g, nullptr, cols, tid, nthreads, [&](unsigned, float a, float b, float& ga, float&) {
            const float logQ = q.logp(a / temperature);
            const float qq = expf(logQ);
            ga = qq == 0.0f ? 0.0f : qq * ((logQ - p.logp(b / temperature)) - kl) * gradScale;
        });
    }
    if (tid == 0) rowLoss[row] = temperature * temperature * acc;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_warp(const float* __restrict__ student, long long studentStride,
        const float* __restrict__ teacher, long long teacherStride, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex,
        float temperature, int reverse, float gradDivisor) {
    KB_WARP_ROW;
    distill_row<false>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(grad, row, gradStride), rowLoss, row, cols, labels, ignoreIndex,
                       temperature, reverse, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_warp_bf16(const bf16* __restrict__ student, long long studentStride,
        const bf16* __restrict__ teacher, long long teacherStride, bf16* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex,
        float temperature, int reverse, float gradDivisor) {
    KB_WARP_ROW;
    distill_row<false>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(grad, row, gradStride), rowLoss, row, cols, labels, ignoreIndex,
                       temperature, reverse, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_warp_f16(const f16* __restrict__ student, long long studentStride,
        const f16* __restrict__ teacher, long long teacherStride, f16* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex,
        float temperature, int reverse, float gradDivisor) {
    KB_WARP_ROW;
    distill_row<false>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(grad, row, gradStride), rowLoss, row, cols, labels, ignoreIndex,
                       temperature, reverse, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_block(const float* __restrict__ student, long long studentStride,
        const float* __restrict__ teacher, long long teacherStride, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex,
        float temperature, int reverse, float gradDivisor) {
    KB_BLOCK_ROW;
    distill_row<true>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(grad, row, gradStride), rowLoss, row, cols, labels, ignoreIndex,
                      temperature, reverse, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_block_bf16(const bf16* __restrict__ student, long long studentStride,
        const bf16* __restrict__ teacher, long long teacherStride, bf16* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex,
        float temperature, int reverse, float gradDivisor) {
    KB_BLOCK_ROW;
    distill_row<true>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(grad, row, gradStride), rowLoss, row, cols, labels, ignoreIndex,
                      temperature, reverse, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_block_f16(const f16* __restrict__ student, long long studentStride,
        const f16* __restrict__ teacher, long long teacherStride, f16* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex,
        float temperature, int reverse, float gradDivisor) {
    KB_BLOCK_ROW;
    distill_row<true>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(grad, row, gradStride), rowLoss, row, cols, labels, ignoreIndex,
                      temperature, reverse, gradDivisor, tid, nthreads);
}

// ---------------------------------------------------------------------------------------------
// Forward KL with both rows read from memory once (tiles.cuh): the launcher takes these for float32 student, teacher
// and gradient with cols % 4 == 0, any strides and addresses (the reverse KL and the rest take the kernels above). Student / T and teacher / T are held
// in registers, 4 float4s of each a thread (dev.kullback.cuda.RowTiles with k = 4):
//   distillation_rows_warp_cached1 (cols <= 128), distillation_rows_block_cached (cols <= 16 blockDim.x), and for
//   few or long rows distillation_chunk_stats (per chunk: max and sum of exp of both) + distillation_chunk_write
//   (combines a row's partials in chunk order; writes the chunk's gradient and its share of the loss to
//   chunkLoss[b]) + distillation_chunk_losses (rowLoss[row] = its chunks' shares added in chunk order).
// Same formulas as distill_row: loss = T² Σ P (log P - log Q), grad = T (Q - P) / gradDivisor.
// ---------------------------------------------------------------------------------------------
#include "tiles.cuh"

// In place (grad == the input it is the gradient of; kernels/README.md, "In-place gradients"): distillation_rows_warp_cached1,
// distillation_rows_block_cached: both rows are loaded into registers before any write, and the gradient is written
// from the registers. distillation_chunk_stats only reads; distillation_chunk_write loads its own chunk of both into
// registers and writes that chunk only (the row statistics come from partials); distillation_chunk_losses reads
// chunkLoss only. Hazard-free.
constexpr int kDistillK = 4;

template <int K>
__device__ __forceinline__ void distill_load(Tile<K>& a, Tile<K>& b, const float* __restrict__ s, const float* __restrict__ t,
                                             unsigned n, float temperature, unsigned tid, unsigned nthreads) {
    a.load(s, n, tid, nthreads, -INFINITY, aligned16(s));
    b.load(t, n, tid, nthreads, -INFINITY, aligned16(t));
    a.map([&](float v) { return v / temperature; });  // -inf padding stays -inf
    b.map([&](float v) { return v / temperature; });
}

// Σ exp(v - shift) over the tile, shift = m unless m is -inf (then 0: an all -inf slice sums to 0).
template <int K>
__device__ __forceinline__ float exp_sum(const Tile<K>& t, float m) {
    const float shift = m == -INFINITY ? 0.0f : m;
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < K; k++)
        s += (expf(t.v[k].x - shift) + expf(t.v[k].y - shift)) + (expf(t.v[k].z - shift) + expf(t.v[k].w - shift));
    return s;
}

// Writes the gradient of the slice to g and returns this thread's Σ P (log P - log Q) over it.
template <int K>
__device__ __forceinline__ float distill_write(const Tile<K>& a, const Tile<K>& b, float* __restrict__ g, unsigned n,
                                               RowStats q, RowStats p, float gradScale, unsigned tid, unsigned nthreads) {
    const bool vector = aligned16(g);
    float acc = 0.0f;
    auto one = [&](float sa, float tb) {
        const float logQ = q.logp(sa), logP = p.logp(tb);
        const float pp = expf(logP);
        acc += kl_term(pp, logP, logQ);
        return (expf(logQ) - pp) * gradScale;
    };
#pragma unroll
    for (int k = 0; k < K; k++) {
        const unsigned j = tid + k * nthreads;
        if (j < n) {
            const float4 r = make_float4(one(a.v[k].x, b.v[k].x), one(a.v[k].y, b.v[k].y), one(a.v[k].z, b.v[k].z),
                                         one(a.v[k].w, b.v[k].w));
            store4(g + 4 * (size_t)j, r, vector);
        }
    }
    return acc;
}

template <bool kBlock, int K>
__device__ __forceinline__ void distill_cached_row(const float* __restrict__ s, const float* __restrict__ t, float* __restrict__ g,
                                                   float* __restrict__ rowLoss, long long row, unsigned cols,
                                                   const int* __restrict__ labels, int ignoreIndex, float temperature,
                                                   float gradDivisor, unsigned tid, unsigned nthreads) {
    if (labels != nullptr && labels[row] == ignoreIndex) {  // uniform over the group
        zero_row(g, cols, tid, nthreads);
        if (tid == 0) rowLoss[row] = 0.0f;
        return;
    }
    const unsigned n = cols >> 2;
    Tile<K> a, b;
    distill_load<K>(a, b, s, t, n, temperature, tid, nthreads);
    RowStats q, p;
    q.m = group_fmax<kBlock>(a.max());
    p.m = group_fmax<kBlock>(b.max());
    q.logSum = logf(group_sum<kBlock>(exp_sum<K>(a, q.m)));
    p.logSum = logf(group_sum<kBlock>(exp_sum<K>(b, p.m)));
    const float acc = group_sum<kBlock>(distill_write<K>(a, b, g, n, q, p,
                                                         temperature / gradDivisor, tid, nthreads));
    if (tid == 0) rowLoss[row] = temperature * temperature * acc;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_warp_cached1(const float* __restrict__ student, long long studentStride,
        const float* __restrict__ teacher, long long teacherStride, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex,
        float temperature, float gradDivisor) {
    KB_WARP_ROW;
    distill_cached_row<false, 1>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride),
                                 row_of(grad, row, gradStride), rowLoss, row, cols, labels,
                                 ignoreIndex, temperature, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_block_cached(const float* __restrict__ student, long long studentStride,
        const float* __restrict__ teacher, long long teacherStride, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex,
        float temperature, float gradDivisor) {
    KB_BLOCK_ROW;
    distill_cached_row<true, kDistillK>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride),
                                        row_of(grad, row, gradStride), rowLoss, row, cols, labels,
                                        ignoreIndex, temperature, gradDivisor, tid, nthreads);
}

// partials[4b .. 4b + 3] = chunk b's (max, Σ exp) of student / T, then of teacher / T.
extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_chunk_stats(const float* __restrict__ student, long long studentStride,
        const float* __restrict__ teacher, long long teacherStride, float* __restrict__ partials, int rows, int cols,
        int chunks, int chunk4, float temperature) {
    const Chunk c = chunk_of(cols, chunks, chunk4);
    if (c.row >= rows) return;
    Tile<kDistillK> a, b;
    distill_load<kDistillK>(a, b, c.of(student, studentStride), c.of(teacher, teacherStride), c.n, temperature,
                            threadIdx.x, blockDim.x);
    const float ma = block_fmax(a.max());
    const float mb = block_fmax(b.max());
    const float sa = block_sum(exp_sum<kDistillK>(a, ma));
    const float sb = block_sum(exp_sum<kDistillK>(b, mb));
    if (threadIdx.x == 0) {
        partials[4 * blockIdx.x] = ma;
        partials[4 * blockIdx.x + 1] = sa;
        partials[4 * blockIdx.x + 2] = mb;
        partials[4 * blockIdx.x + 3] = sb;
    }
}

// (max, log Σ exp) of one of the two rows from its chunks' partials (stride 4: student, then teacher), in chunk order.
__device__ __forceinline__ RowStats combine_stats4(const float* __restrict__ p, int chunks) {
    const SoftmaxState st = combine_chunks(p, chunks, 4);
    RowStats r;
    r.m = st.m;
    r.logSum = logf(st.s);
    return r;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_chunk_write(const float* __restrict__ student, long long studentStride,
        const float* __restrict__ teacher, long long teacherStride, const float* __restrict__ partials,
        float* __restrict__ grad, long long gradStride, float* __restrict__ chunkLoss, int rows, int cols, int chunks,
        int chunk4, const int* __restrict__ labels, int ignoreIndex, float temperature, float gradDivisor) {
    const Chunk c = chunk_of(cols, chunks, chunk4);
    if (c.row >= rows) return;
    float* gc = c.of(grad, gradStride);
    if (labels != nullptr && labels[c.row] == ignoreIndex) {  // uniform over the block
        for (unsigned i = threadIdx.x; i < 4 * c.n; i += blockDim.x) gc[i] = 0.0f;
        if (threadIdx.x == 0) chunkLoss[blockIdx.x] = 0.0f;
        return;
    }
    const float* rp = partials + 4 * c.row * chunks;
    const RowStats q = combine_stats4(rp, chunks);
    const RowStats p = combine_stats4(rp + 2, chunks);
    Tile<kDistillK> a, b;
    distill_load<kDistillK>(a, b, c.of(student, studentStride), c.of(teacher, teacherStride), c.n, temperature,
                            threadIdx.x, blockDim.x);
    const float acc = block_sum(distill_write<kDistillK>(a, b, gc, c.n, q, p, temperature / gradDivisor, threadIdx.x,
                                                         blockDim.x));
    if (threadIdx.x == 0) chunkLoss[blockIdx.x] = temperature * temperature * acc;
}

// rowLoss[row] = the row's chunk shares, added in chunk order (one thread a row).
extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_chunk_losses(const float* __restrict__ chunkLoss, float* __restrict__ rowLoss, int rows, int chunks) {
    const long long row = global_tid();
    if (row >= rows) return;
    float s = 0.0f;
    for (int i = 0; i < chunks; i++) s += chunkLoss[row * chunks + i];
    rowLoss[row] = s;
}

// float32 gradients of half inputs (float32Gradients): the same rows, only the gradient's type differs.
extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_warp_bf16_f32grad(const bf16* __restrict__ student, long long studentStride,
        const bf16* __restrict__ teacher, long long teacherStride, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex,
        float temperature, int reverse, float gradDivisor) {
    KB_WARP_ROW;
    distill_row<false>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(grad, row, gradStride), rowLoss, row, cols, labels, ignoreIndex,
                       temperature, reverse, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_warp_f16_f32grad(const f16* __restrict__ student, long long studentStride,
        const f16* __restrict__ teacher, long long teacherStride, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex,
        float temperature, int reverse, float gradDivisor) {
    KB_WARP_ROW;
    distill_row<false>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(grad, row, gradStride), rowLoss, row, cols, labels, ignoreIndex,
                       temperature, reverse, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_block_bf16_f32grad(const bf16* __restrict__ student, long long studentStride,
        const bf16* __restrict__ teacher, long long teacherStride, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex,
        float temperature, int reverse, float gradDivisor) {
    KB_BLOCK_ROW;
    distill_row<true>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(grad, row, gradStride), rowLoss, row, cols, labels, ignoreIndex,
                      temperature, reverse, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_block_f16_f32grad(const f16* __restrict__ student, long long studentStride,
        const f16* __restrict__ teacher, long long teacherStride, float* __restrict__ grad, long long gradStride,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex,
        float temperature, int reverse, float gradDivisor) {
    KB_BLOCK_ROW;
    distill_row<true>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(grad, row, gradStride), rowLoss, row, cols, labels, ignoreIndex,
                      temperature, reverse, gradDivisor, tid, nthreads);
}
