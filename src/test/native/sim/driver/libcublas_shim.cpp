// libcublas_shim.cpp: a libcublas.so.12 over the driver shim (test infrastructure, src/test/native/sim/README.md).
//
// JCublas 12.6's JNI library (libJCublas2) links libcublas.so.12 and binds its functions lazily, by the versioned
// names it was built against (cublasCreate_v2@libcublas.so.12, ...). This library defines the ones kullback calls,
// with cuBLAS's semantics, so the fused linear losses run through the real JCublas and JCuda in CI:
//   - a handle lives in the context current at cublasCreate_v2; its stream (cublasSetStream_v2, 0 = legacy) is
//     checked by the driver shim, and every GEMM is queued on it (kullback_shim_enqueue), in order with the kernels
//     and copies there, reading its operands when it runs, as on a GPU;
//   - cublasSgemm_v2 is column-major C = alpha op(A) op(B) + beta C, with cuBLAS's argument checks
//     (CUBLAS_STATUS_INVALID_VALUE), C not read when beta is 0, A and B not read when alpha is 0 or k is 0; the
//     products are summed in float in k order (the simulator's HostSgemm): any order is a valid cuBLAS;
//   - each operand's span must lie in one live allocation of the handle's context (kullback_shim_check_range):
//     where a GPU would fault later, this fails the call at once with CUBLAS_STATUS_EXECUTION_FAILED and the
//     driver shim's message (kullback_shim_last_error);
//   - pointer mode host only (kullback's); device pointer mode is CUBLAS_STATUS_NOT_SUPPORTED, said so.
#include <stdint.h>
#include <string.h>

#include <algorithm>

#include "shim_api.h"

#define CUBLAS_API extern "C" __attribute__((visibility("default")))

namespace {

enum Status {
    SUCCESS = 0,
    NOT_INITIALIZED = 1,
    INVALID_VALUE = 7,
    EXECUTION_FAILED = 13,
    NOT_SUPPORTED = 15,
};

enum Op { OP_N = 0, OP_T = 1, OP_C = 2 };

constexpr int kPointerModeHost = 0;

struct Handle {
    void* context;
    void* stream;  // 0: the legacy stream
    int pointer_mode;
    int math_mode;
};

struct Gemm {
    bool trans_a, trans_b;
    int64_t m, n, k;
    float alpha, beta;
    const float* a;
    int64_t lda;
    const float* b;
    int64_t ldb;
    float* c;
    int64_t ldc;
};

int run_gemm(void* arg) {
    const Gemm& g = *static_cast<Gemm*>(arg);
    for (int64_t j = 0; j < g.n; j++) {
        for (int64_t i = 0; i < g.m; i++) {
            float sum = 0.0f;
            if (g.alpha != 0.0f) {
                for (int64_t p = 0; p < g.k; p++) {
                    float aip = g.trans_a ? g.a[p + i * g.lda] : g.a[i + p * g.lda];
                    float bpj = g.trans_b ? g.b[j + p * g.ldb] : g.b[p + j * g.ldb];
                    sum += aip * bpj;
                }
            }
            float& cij = g.c[i + j * g.ldc];
            float product = g.alpha == 0.0f ? 0.0f : g.alpha * sum;
            cij = g.beta == 0.0f ? product : product + g.beta * cij;
        }
    }
    return 0;
}

void release_gemm(void* arg) { delete static_cast<Gemm*>(arg); }

// Values spanned by a stored rows x cols column-major matrix with leading dimension ld (0 when empty).
uint64_t extent(int64_t rows, int64_t cols, int64_t ld) {
    return rows == 0 || cols == 0 ? 0 : static_cast<uint64_t>((cols - 1) * ld + rows);
}

int check_span(const void* p, uint64_t values) {
    if (values == 0) return SUCCESS;
    return kullback_shim_check_range(reinterpret_cast<uint64_t>(p), values * sizeof(float)) ? EXECUTION_FAILED
                                                                                           : SUCCESS;
}

int sgemm(Handle* h, int transa, int transb, int64_t m, int64_t n, int64_t k, const float* alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, const float* beta, float* c, int64_t ldc) {
    if (!h) return NOT_INITIALIZED;
    if (h->pointer_mode != kPointerModeHost) return NOT_SUPPORTED;
    bool ta = transa != OP_N, tb = transb != OP_N;
    if ((transa != OP_N && transa != OP_T && transa != OP_C) || (transb != OP_N && transb != OP_T && transb != OP_C) ||
        m < 0 || n < 0 || k < 0 || lda < std::max<int64_t>(1, ta ? k : m) || ldb < std::max<int64_t>(1, tb ? n : k) ||
        ldc < std::max<int64_t>(1, m) || !alpha || !beta) {
        return INVALID_VALUE;
    }
    if (m == 0 || n == 0) return SUCCESS;
    Gemm g{ta, tb, m, n, k, *alpha, *beta, a, lda, b, ldb, c, ldc};
    bool reads_ab = g.alpha != 0.0f && k > 0;
    if (reads_ab && (check_span(a, extent(ta ? k : m, ta ? m : k, lda)) || check_span(b, extent(tb ? n : k, tb ? k : n, ldb)))) {
        return EXECUTION_FAILED;
    }
    if (check_span(c, extent(m, n, ldc))) return EXECUTION_FAILED;
    Gemm* queued = new Gemm(g);
    if (kullback_shim_enqueue(h->stream, run_gemm, queued, release_gemm, "cublasSgemm_v2")) {
        delete queued;  // refused (a destroyed stream, no context): nothing was queued
        return EXECUTION_FAILED;
    }
    return SUCCESS;
}

}  // namespace

CUBLAS_API int cublasCreate_v2(Handle** handle) {
    if (!handle) return INVALID_VALUE;
    void* context = nullptr;
    if (kullback_shim_stream_context(nullptr, &context)) return NOT_INITIALIZED;  // no current context
    *handle = new Handle{context, nullptr, kPointerModeHost, 0};
    return SUCCESS;
}

CUBLAS_API int cublasDestroy_v2(Handle* handle) {
    if (!handle) return NOT_INITIALIZED;
    delete handle;
    return SUCCESS;
}

CUBLAS_API int cublasGetVersion_v2(Handle* handle, int* version) {
    if (!handle) return NOT_INITIALIZED;
    if (!version) return INVALID_VALUE;
    *version = 120601;  // cuBLAS 12.6.1, what JCublas 12.6 was built against
    return SUCCESS;
}

CUBLAS_API int cublasSetStream_v2(Handle* handle, void* stream) {
    if (!handle) return NOT_INITIALIZED;
    void* context = nullptr;
    if (kullback_shim_stream_context(stream, &context) || context != handle->context) return INVALID_VALUE;
    handle->stream = stream;
    return SUCCESS;
}

CUBLAS_API int cublasSetPointerMode_v2(Handle* handle, int mode) {
    if (!handle) return NOT_INITIALIZED;
    if (mode != 0 && mode != 1) return INVALID_VALUE;
    handle->pointer_mode = mode;
    return SUCCESS;
}

CUBLAS_API int cublasSetMathMode(Handle* handle, int mode) {
    if (!handle) return NOT_INITIALIZED;
    handle->math_mode = mode;
    return SUCCESS;
}

CUBLAS_API int cublasSgemm_v2(Handle* handle, int transa, int transb, int m, int n, int k, const float* alpha,
                              const float* a, int lda, const float* b, int ldb, const float* beta, float* c, int ldc) {
    return sgemm(handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

CUBLAS_API int cublasSgemm_v2_64(Handle* handle, int transa, int transb, int64_t m, int64_t n, int64_t k,
                                 const float* alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                                 const float* beta, float* c, int64_t ldc) {
    return sgemm(handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
