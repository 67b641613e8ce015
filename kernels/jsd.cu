// Fused generalized JSD (Liger-Kernel's) and symmetric KL: forward value and the gradients of both logits
// in one kernel; the softmaxes are never stored. Launcher: dev.kullback.cuda.JsdKernels.
//
// P = softmax(teacher), Q = softmax(student). Per element two terms gP, gQ, summed over the row into SP, SQ:
//   jsd β = 0:  gP = P (log P - log Q), gQ = 0;                 loss = SP (KL(P||Q))
//   jsd β = 1:  gP = 0, gQ = Q (log Q - log P);                 loss = SQ (KL(Q||P))
//   jsd else:   log M = logsumexp(log P + log β, log Q + log(1-β)),
//               gP = β P (log P - log M), gQ = (1-β) Q (log Q - log M);  loss = SP + SQ
//   symmetric:  gP = P (log P - log Q), gQ = Q (log Q - log P);  loss = SP + SQ
// (each term 0 where its probability is 0: xlogy). Gradients, / gradDivisor:
//   d student = gQ - Q SQ + cS (Q - P),  d teacher = gP - P SP + cT (P - Q)
// with (cS, cT) = (1, 0) for β = 0, (0, 1) for β = 1, (0, 0) otherwise, (1, 1) for the symmetric KL (the
// student/teacher roles are those of q/p there: symmetric_kl's launcher passes p as the teacher).
// In the gradients SP and SQ are divided by ΣP and ΣQ (1 in exact arithmetic): a logit of ±1000 makes SP ~1000 times
// the gradient, and an error ε in the row's log Σ exp (a few float32 ulps, depending on the order the online softmax
// met the elements) scales every P by e^-ε, moving SP by ~1000 ε; the same factor in ΣP cancels it to first order.
// rowLoss[row] = the row's loss. Passes over both logits: 3 (softmax statistics; SP and SQ; gradients).
#include "rows.cuh"

// The divergence of a row; names and order as dev.kullback.internal.Divergence.
enum Divergence { KL_PQ = 0, KL_QP = 1, JSD = 2, SYMMETRIC_KL = 3 };

// In place (grad == the input it is the gradient of; kernels/README.md, "In-place gradients"): jsd_rows_warp / _block and
// symmetric_kl_rows_warp / _block (gs == student and gt == teacher, both overwritten): the two reading passes end in
// group reductions that every thread passes only after its reads; the write pass (map2) reads both logits of an
// element, then writes both gradients of that element (same thread, same split), and nothing is read afterwards.
// Hazard-free.
template <bool kBlock, class T>
__device__ __forceinline__ void jsd_row(const T* __restrict__ s, const T* __restrict__ t, T* __restrict__ gs,
                                        T* __restrict__ gt, float* __restrict__ rowLoss, long long row, unsigned cols,
                                        Divergence mode, float beta, float gradDivisor, unsigned tid, unsigned nthreads) {
    SoftmaxState ss = softmax_empty(), st = softmax_empty();
    visit2(s, t, cols, tid, nthreads, [&](unsigned, float a, float b) {
        softmax_add(ss, a);
        softmax_add(st, b);
    });
    const RowStats q = row_stats(group_softmax<kBlock>(ss));
    const RowStats p = row_stats(group_softmax<kBlock>(st));
    const float logBeta = logf(beta), logOneMinusBeta = logf(1.0f - beta);
    // the two terms of one element
    auto terms = [&](float logQ, float logP, float Q, float P, float& gP, float& gQ) {
        if (mode == JSD) {
            const float x = logP + logBeta, y = logQ + logOneMinusBeta;
            const float hi = fmaxf(x, y), lo = fminf(x, y);
            const float logM = hi == -INFINITY ? -INFINITY : hi + log1pf(expf(lo - hi));
            gP = beta * kl_term(P, logP, logM);
            gQ = (1.0f - beta) * kl_term(Q, logQ, logM);
        } else {
            gP = mode == KL_QP ? 0.0f : kl_term(P, logP, logQ);
            gQ = mode == KL_PQ ? 0.0f : kl_term(Q, logQ, logP);
        }
    };
    float sumP = 0.0f, sumQ = 0.0f, massP = 0.0f, massQ = 0.0f;
    visit2(s, t, cols, tid, nthreads, [&](unsigned, float a, float b) {
        const float logQ = q.logp(a), logP = p.logp(b);
        const float Q = expf(logQ), P = expf(logP);
        float gP, gQ;
        terms(logQ, logP, Q, P, gP, gQ);
        sumP += gP;
        sumQ += gQ;
        massP += P;
        massQ += Q;
    });
    sumP = group_sum<kBlock>(sumP);
    sumQ = group_sum<kBlock>(sumQ);
    const float gradSumP = sumP / group_sum<kBlock>(massP);
    const float gradSumQ = sumQ / group_sum<kBlock>(massQ);
    const float cS = (mode == KL_PQ || mode == SYMMETRIC_KL) ? 1.0f : 0.0f;
    const float cT = (mode == KL_QP || mode == SYMMETRIC_KL) ? 1.0f : 0.0f;
    map2(s, t, gs, gt, cols, tid, nthreads, [&](unsigned, float a, float b, float& ds, float& dt) {
        const float logQ = q.logp(a), logP = p.logp(b);
        const float Q = expf(logQ), P = expf(logP);
        float gP, gQ;
        terms(logQ, logP, Q, P, gP, gQ);
        ds = ((gQ - Q * gradSumQ) + cS * (Q - P)) / gradDivisor;
        dt = ((gP - P * gradSumP) + cT * (P - Q)) / gradDivisor;
    });
    if (tid == 0) rowLoss[row] = sumP + sumQ;
}

__device__ __forceinline__ Divergence jsd_mode(float beta) { return beta == 0.0f ? KL_PQ : beta == 1.0f ? KL_QP : JSD; }

extern "C" __global__ void __launch_bounds__(1024, 1)
    jsd_rows_warp(const float* __restrict__ student, long long studentStride, const float* __restrict__ teacher,
        long long teacherStride, float* __restrict__ gradStudent, long long gradStudentStride,
        float* __restrict__ gradTeacher, long long gradTeacherStride, float* __restrict__ rowLoss, int rows,
        int cols, float beta, float gradDivisor) {
    KB_WARP_ROW;
    jsd_row<false>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(gradStudent, row, gradStudentStride), row_of(gradTeacher, row, gradTeacherStride), rowLoss, row, cols, jsd_mode(beta), beta,
                   gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    jsd_rows_warp_bf16(const bf16* __restrict__ student, long long studentStride, const bf16* __restrict__ teacher,
        long long teacherStride, bf16* __restrict__ gradStudent, long long gradStudentStride,
        bf16* __restrict__ gradTeacher, long long gradTeacherStride, float* __restrict__ rowLoss, int rows, int cols,
        float beta, float gradDivisor) {
    KB_WARP_ROW;
    jsd_row<false>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(gradStudent, row, gradStudentStride), row_of(gradTeacher, row, gradTeacherStride), rowLoss, row, cols, jsd_mode(beta), beta,
                   gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    jsd_rows_warp_f16(const f16* __restrict__ student, long long studentStride, const f16* __restrict__ teacher,
        long long teacherStride, f16* __restrict__ gradStudent, long long gradStudentStride,
        f16* __restrict__ gradTeacher, long long gradTeacherStride, float* __restrict__ rowLoss, int rows, int cols,
        float beta, float gradDivisor) {
    KB_WARP_ROW;
    jsd_row<false>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(gradStudent, row, gradStudentStride), row_of(gradTeacher, row, gradTeacherStride), rowLoss, row, cols, jsd_mode(beta), beta,
                   gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    jsd_rows_block(const float* __restrict__ student, long long studentStride, const float* __restrict__ teacher,
        long long teacherStride, float* __restrict__ gradStudent, long long gradStudentStride,
        float* __restrict__ gradTeacher, long long gradTeacherStride, float* __restrict__ rowLoss, int rows,
        int cols, float beta, float gradDivisor) {
    KB_BLOCK_ROW;
    jsd_row<true>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(gradStudent, row, gradStudentStride), row_of(gradTeacher, row, gradTeacherStride), rowLoss, row, cols, jsd_mode(beta), beta,
                  gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    jsd_rows_block_bf16(const bf16* __restrict__ student, long long studentStride, const bf16* __restrict__ teacher,
        long long teacherStride, bf16* __restrict__ gradStudent, long long gradStudentStride,
        bf16* __restrict__ gradTeacher, long long gradTeacherStride, float* __restrict__ rowLoss, int rows, int cols,
        float beta, float gradDivisor) {
    KB_BLOCK_ROW;
    jsd_row<true>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(gradStudent, row, gradStudentStride), row_of(gradTeacher, row, gradTeacherStride), rowLoss, row, cols, jsd_mode(beta), beta,
                  gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    jsd_rows_block_f16(const f16* __restrict__ student, long long studentStride, const f16* __restrict__ teacher,
        long long teacherStride, f16* __restrict__ gradStudent, long long gradStudentStride,
        f16* __restrict__ gradTeacher, long long gradTeacherStride, float* __restrict__ rowLoss, int rows, int cols,
        float beta, float gradDivisor) {
    KB_BLOCK_ROW;
    jsd_row<true>(row_of(student, row, studentStride), row_of(teacher, row, teacherStride), row_of(gradStudent, row, gradStudentStride), row_of(gradTeacher, row, gradTeacherStride), rowLoss, row, cols, jsd_mode(beta), beta,
                  gradDivisor, tid, nthreads);
}

// KL(P||Q) + KL(Q||P) of P = softmax(p), Q = softmax(q).
extern "C" __global__ void __launch_bounds__(1024, 1)
    symmetric_kl_rows_warp(const float* __restrict__ p, long long pStride, const float* __restrict__ q,
        long long qStride, float* __restrict__ gradP, long long gradPStride, float* __restrict__ gradQ,
        long long gradQStride, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_WARP_ROW;
    jsd_row<false>(row_of(q, row, qStride), row_of(p, row, pStride), row_of(gradQ, row, gradQStride), row_of(gradP, row, gradPStride), rowLoss, row, cols, SYMMETRIC_KL, 0.0f, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    symmetric_kl_rows_warp_bf16(const bf16* __restrict__ p, long long pStride, const bf16* __restrict__ q,
        long long qStride, bf16* __restrict__ gradP, long long gradPStride, bf16* __restrict__ gradQ,
        long long gradQStride, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_WARP_ROW;
    jsd_row<false>(row_of(q, row, qStride), row_of(p, row, pStride), row_of(gradQ, row, gradQStride), row_of(gradP, row, gradPStride), rowLoss, row, cols, SYMMETRIC_KL, 0.0f, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    symmetric_kl_rows_warp_f16(const f16* __restrict__ p, long long pStride, const f16* __restrict__ q,
        long long qStride, f16* __restrict__ gradP, long long gradPStride, f16* __restrict__ gradQ,
        long long gradQStride, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_WARP_ROW;
    jsd_row<false>(row_of(q, row, qStride), row_of(p, row, pStride), row_of(gradQ, row, gradQStride), row_of(gradP, row, gradPStride), rowLoss, row, cols, SYMMETRIC_KL, 0.0f, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    symmetric_kl_rows_block(const float* __restrict__ p, long long pStride, const float* __restrict__ q,
        long long qStride, float* __restrict__ gradP, long long gradPStride, float* __restrict__ gradQ,
        long long gradQStride, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_BLOCK_ROW;
    jsd_row<true>(row_of(q, row, qStride), row_of(p, row, pStride), row_of(gradQ, row, gradQStride), row_of(gradP, row, gradPStride), rowLoss, row, cols, SYMMETRIC_KL, 0.0f, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    symmetric_kl_rows_block_bf16(const bf16* __restrict__ p, long long pStride, const bf16* __restrict__ q,
        long long qStride, bf16* __restrict__ gradP, long long gradPStride, bf16* __restrict__ gradQ,
        long long gradQStride, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_BLOCK_ROW;
    jsd_row<true>(row_of(q, row, qStride), row_of(p, row, pStride), row_of(gradQ, row, gradQStride), row_of(gradP, row, gradPStride), rowLoss, row, cols, SYMMETRIC_KL, 0.0f, gradDivisor, tid, nthreads);
}

extern "C" __global__ void __launch_bounds__(1024, 1)
    symmetric_kl_rows_block_f16(const f16* __restrict__ p, long long pStride, const f16* __restrict__ q,
        long long qStride, f16* __restrict__ gradP, long long gradPStride, f16* __restrict__ gradQ,
        long long gradQStride, float* __restrict__ rowLoss, int rows, int cols, float gradDivisor) {
    KB_BLOCK_ROW;
    jsd_row<true>(row_of(q, row, qStride), row_of(p, row, pStride), row_of(gradQ, row, gradQStride), row_of(gradP, row, gradPStride), rowLoss, row, cols, SYMMETRIC_KL, 0.0f, gradDivisor, tid, nthreads);
}
