// Fused total variation distance (Liger-Kernel's tvd) of P = softmax(teacher), Q = softmax(student): forward value
// and the gradients of both logits in one kernel; the softmaxes are never stored. Launcher:
// dev.kullback.cuda.TvdKernels.
//
// Per row: loss = ½ Σ |P - Q|. With s = sign(P - Q) (sign(0) = 0, as PyTorch's abs backward), A = Σ P s and
// B = Σ Q s, the gradients of the row loss, / gradDivisor:
//   d teacher = ½ P (s - A),   d student = -½ Q (s - B).
// rowLoss[row] gets the row's loss (0 for an ignored row, whose gradient rows are 0); the launcher sums rowLoss in a
// fixed order (reduce.cu's sum_finalize) unless it is the value. labels may be null (every row counts); a label is
// only compared with ignoreIndex. A row holding NaN or +inf, or only -inf, in either logits is NaN throughout.
// Passes over both logits: 3 (softmax statistics; the distance, A and B; gradients).
#include "rows.cuh"

// sign(d) with sign(0) = 0 and NaN kept, as torch.sign and Java's Math.signum.
__device__ __forceinline__ float tvd_sign(float d) { return d > 0.0f ? 1.0f : d < 0.0f ? -1.0f : d; }

// In place (grad == the input it is the gradient of; kernels/README.md, "In-place gradients"): tvd_rows_warp / _block
// (both logits overwritten): the statistics pass and the sums pass end in group reductions that every thread passes
// only after its reads; the write pass (map2) reads both logits of an element, then writes both gradients there (same
// thread); an ignored row only writes. Hazard-free.
template <bool kBlock, class T>
__device__ __forceinline__ void tvd_row(const T* __restrict__ s, const T* __restrict__ t, T* __restrict__ gs,
                                        T* __restrict__ gt, float* __restrict__ rowLoss, long long row, unsigned cols,
                                        const int* __restrict__ labels, int ignoreIndex, float gradDivisor, unsigned tid,
                                        unsigned nthreads) {
    if (labels != nullptr && labels[row] == ignoreIndex) {  // uniform over the group
        zero_row(gs, cols, tid, nthreads);
        zero_row(gt, cols, tid, nthreads);
        if (tid == 0) rowLoss[row] = 0.0f;
        return;
    }
    SoftmaxState ss = softmax_empty(), st = softmax_empty();
    visit2(s, t, cols, tid, nthreads, [&](unsigned, float a, float b) {
        softmax_add(ss, a);
        softmax_add(st, b);
    });
    const RowStats q = row_stats(group_softmax<kBlock>(ss));
    const RowStats p = row_stats(group_softmax<kBlock>(st));
    float dist = 0.0f, sumP = 0.0f, sumQ = 0.0f;
    visit2(s, t, cols, tid, nthreads, [&](unsigned, float a, float b) {
        const float Q = expf(q.logp(a)), P = expf(p.logp(b));
        const float d = P - Q;
        const float sg = tvd_sign(d);
        dist += fabsf(d);
        sumP += P * sg;
        sumQ += Q * sg;
    });
    dist = group_sum<kBlock>(dist);
    sumP = group_sum<kBlock>(sumP);
    sumQ = group_sum<kBlock>(sumQ);
    const float k = 0.5f / gradDivisor;
    map2(s, t, gs, gt, cols, tid, nthreads, [&](unsigned, float a, float b, float& ds, float& dt) {
        const float Q = expf(q.logp(a)), P = expf(p.logp(b));
        const float sg = tvd_sign(P - Q);
        dt = k * P * (sg - sumP);
        ds = -k * Q * (sg - sumQ);
    });
    if (tid == 0) rowLoss[row] = 0.5f * dist;
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    tvd_rows_warp(const float* __restrict__ student, long long studentStride, const float* __restrict__ teacher,
        long long teacherStride, float* __restrict__ gradStudent, long long gradStudentStride,
        float* __restrict__ gradTeacher, long long gradTeacherStride, float* __restrict__ rowLoss, int rows,
        int cols, const int* __restrict__ labels, int ignoreIndex, float gradDivisor) {
    KB_WARP_ROW;
    tvd_row<false>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(gradStudent, row, gradStudentStride), row_of(gradTeacher, row, gradTeacherStride), rowLoss, row, cols, labels, ignoreIndex,
                   gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    tvd_rows_warp_bf16(const bf16* __restrict__ student, long long studentStride, const bf16* __restrict__ teacher,
        long long teacherStride, bf16* __restrict__ gradStudent, long long gradStudentStride,
        bf16* __restrict__ gradTeacher, long long gradTeacherStride, float* __restrict__ rowLoss, int rows, int cols,
        const int* __restrict__ labels, int ignoreIndex, float gradDivisor) {
    KB_WARP_ROW;
    tvd_row<false>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(gradStudent, row, gradStudentStride), row_of(gradTeacher, row, gradTeacherStride), rowLoss, row, cols, labels, ignoreIndex,
                   gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    tvd_rows_warp_f16(const f16* __restrict__ student, long long studentStride, const f16* __restrict__ teacher,
        long long teacherStride, f16* __restrict__ gradStudent, long long gradStudentStride,
        f16* __restrict__ gradTeacher, long long gradTeacherStride, float* __restrict__ rowLoss, int rows, int cols,
        const int* __restrict__ labels, int ignoreIndex, float gradDivisor) {
    KB_WARP_ROW;
    tvd_row<false>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(gradStudent, row, gradStudentStride), row_of(gradTeacher, row, gradTeacherStride), rowLoss, row, cols, labels, ignoreIndex,
                   gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    tvd_rows_block(const float* __restrict__ student, long long studentStride, const float* __restrict__ teacher,
        long long teacherStride, float* __restrict__ gradStudent, long long gradStudentStride,
        float* __restrict__ gradTeacher, long long gradTeacherStride, float* __restrict__ rowLoss, int rows,
        int cols, const int* __restrict__ labels, int ignoreIndex, float gradDivisor) {
    KB_BLOCK_ROW;
    tvd_row<true>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(gradStudent, row, gradStudentStride), row_of(gradTeacher, row, gradTeacherStride), rowLoss, row, cols, labels, ignoreIndex,
                  gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    tvd_rows_block_bf16(const bf16* __restrict__ student, long long studentStride, const bf16* __restrict__ teacher,
        long long teacherStride, bf16* __restrict__ gradStudent, long long gradStudentStride,
        bf16* __restrict__ gradTeacher, long long gradTeacherStride, float* __restrict__ rowLoss, int rows, int cols,
        const int* __restrict__ labels, int ignoreIndex, float gradDivisor) {
    KB_BLOCK_ROW;
    tvd_row<true>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(gradStudent, row, gradStudentStride), row_of(gradTeacher, row, gradTeacherStride), rowLoss, row, cols, labels, ignoreIndex,
                  gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    tvd_rows_block_f16(const f16* __restrict__ student, long long studentStride, const f16* __restrict__ teacher,
        long long teacherStride, f16* __restrict__ gradStudent, long long gradStudentStride,
        f16* __restrict__ gradTeacher, long long gradTeacherStride, float* __restrict__ rowLoss, int rows, int cols,
        const int* __restrict__ labels, int ignoreIndex, float gradDivisor) {
    KB_BLOCK_ROW;
    tvd_row<true>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(gradStudent, row, gradStudentStride), row_of(gradTeacher, row, gradTeacherStride), rowLoss, row, cols, labels, ignoreIndex,
                  gradDivisor, tid, nthreads);
}
