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

template <bool kBlock>
__device__ __forceinline__ void distill_row(const float* __restrict__ s, const float* __restrict__ t, float* __restrict__ g,
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
    distillation_rows_warp(const float* __restrict__ student, const float* __restrict__ teacher, float* __restrict__ grad,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex, float temperature,
        int reverse, float gradDivisor) {
    KB_WARP_ROW;
    const size_t offset = (size_t)row * (size_t)cols;
    distill_row<false>(student + offset, teacher + offset, grad + offset, rowLoss, row, cols, labels, ignoreIndex,
                       temperature, reverse, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    distillation_rows_block(const float* __restrict__ student, const float* __restrict__ teacher, float* __restrict__ grad,
        float* __restrict__ rowLoss, int rows, int cols, const int* __restrict__ labels, int ignoreIndex, float temperature,
        int reverse, float gradDivisor) {
    KB_BLOCK_ROW;
    const size_t offset = (size_t)row * (size_t)cols;
    distill_row<true>(student + offset, teacher + offset, grad + offset, rowLoss, row, cols, labels, ignoreIndex,
                      temperature, reverse, gradDivisor, tid, nthreads);
}
