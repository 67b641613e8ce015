// Host-side check of the kernels without a GPU: compiles kernels/*.cu with g++ against mini_sim.h
// (each CUDA thread a fiber; strict __syncthreads / full-mask shuffle checks) and compares them
// with PyTorch's formulas evaluated in double, including NaN / inf rows, odd cols, misaligned
// pointers and several block sizes. Buffers are exact-size heap blocks, so ASan catches any
// out-of-bounds access. Run: kernels/test/run.sh [big]
#include "mini_sim.h"
#include "../log_softmax.cu"
#include "../kl_div.cu"
#include "../reduce.cu"
#include <random>
#include <cstdint>
#include <string>

static int failures = 0;
static std::mt19937 rng(42);

// device buffer: exact-size allocation (ASan checks its bounds), base = 256-aligned + offset floats
struct Buf {
    char* raw; float* p; size_t n;
    Buf(size_t n_, int offsetFloats = 0) : n(n_) {
        size_t bytes = (n + offsetFloats) * 4; if (!bytes) bytes = 4;
        if (posix_memalign((void**)&raw, 256, bytes)) abort();
        p = (float*)raw + offsetFloats;
        for (size_t i = 0; i < n; i++) p[i] = NAN;
    }
    ~Buf() { free(raw); }
    Buf(const Buf&) = delete;
};

static bool close(double ref, float got, double rtol, double atol) {
    if (std::isnan(ref)) return std::isnan(got);
    if (std::isinf(ref)) return got == ref;
    return std::fabs(got - ref) <= atol + rtol * std::fabs(ref);
}

static void check(const std::string& what, const std::vector<double>& ref, const float* got, double rtol = 2e-6, double atol = 1e-6) {
    int bad = 0;
    for (size_t i = 0; i < ref.size(); i++) if (!close(ref[i], got[i], rtol, atol)) {
        if (bad < 5) fprintf(stderr, "FAIL %s [%zu]: ref %.9g got %.9g\n", what.c_str(), i, ref[i], got[i]);
        bad++;
    }
    if (bad) failures++;
}

// PyTorch formulas in double
static void ref_softmax(const float* x, int rows, int cols, bool logMode, std::vector<double>& y) {
    y.resize((size_t)rows * cols);
    for (int r = 0; r < rows; r++) {
        const float* xr = x + (size_t)r * cols;
        double m = -INFINITY; bool nan = false;
        for (int c = 0; c < cols; c++) { if (std::isnan(xr[c])) nan = true; else m = std::max(m, (double)xr[c]); }
        if (nan) m = NAN;
        double s = 0; for (int c = 0; c < cols; c++) s += std::exp((double)xr[c] - m);
        for (int c = 0; c < cols; c++) y[(size_t)r * cols + c] = logMode ? ((double)xr[c] - m) - std::log(s) : std::exp((double)xr[c] - m) / s;
    }
}

static void fill(float* p, size_t n, float scale) {
    std::normal_distribution<float> d(0.f, scale);
    for (size_t i = 0; i < n; i++) p[i] = d(rng);
}

static void test_softmax(int rows, int cols, bool block, int threads, int offX, int offY, int special) {
    size_t n = (size_t)rows * cols;
    Buf x(n, offX), y(n, offY);
    fill(x.p, n, 3.f);
    if (special) {
        // row 0: NaN somewhere; row 1: all -inf; row 2: one +inf; row 3: some -inf; row 4: [1000,0,-1000]
        if (rows > 0) x.p[(size_t)0 * cols + cols / 2] = NAN;
        if (rows > 1) for (int c = 0; c < cols; c++) x.p[(size_t)1 * cols + c] = -INFINITY;
        if (rows > 2) x.p[(size_t)2 * cols + (cols - 1)] = INFINITY;
        if (rows > 3) for (int c = 0; c < cols; c += 2) x.p[(size_t)3 * cols + c] = -INFINITY;
        if (rows > 4) for (int c = 0; c < cols; c++) x.p[(size_t)4 * cols + c] = (c % 3 == 0) ? 1000.f : (c % 3 == 1 ? 0.f : -1000.f);
        if (rows > 5) { for (int c = 0; c < cols; c++) x.p[(size_t)5 * cols + c] = -INFINITY; x.p[(size_t)5 * cols + cols - 1] = 7.f; }
    }
    for (int logMode = 0; logMode < 2; logMode++) {
        std::vector<double> ref; ref_softmax(x.p, rows, cols, logMode, ref);
        if (block) sim::launch(rows, threads, [&] { softmax_rows_block(x.p, y.p, rows, cols, logMode); });
        else sim::launch((rows + threads / 32 - 1) / (threads / 32), threads, [&] { softmax_rows_warp(x.p, y.p, rows, cols, logMode); });
        char buf[200]; snprintf(buf, sizeof buf, "softmax %s rows=%d cols=%d thr=%d off=%d/%d log=%d sp=%d", block ? "block" : "warp", rows, cols, threads, offX, offY, logMode, special);
        check(buf, ref, y.p, 4e-6, logMode ? 2e-6 : 1e-9);
    }
    // backward with out = log_softmax(x) (only for finite inputs)
    if (!special) {
        Buf g(n, offY), out(n, offX), gi(n, offX);
        fill(g.p, n, 1.f);
        std::vector<double> ls; ref_softmax(x.p, rows, cols, true, ls);
        for (size_t i = 0; i < n; i++) out.p[i] = (float)ls[i];
        std::vector<double> ref(n);
        for (int r = 0; r < rows; r++) {
            double s = 0; for (int c = 0; c < cols; c++) s += g.p[(size_t)r * cols + c];
            for (int c = 0; c < cols; c++) { size_t i = (size_t)r * cols + c; ref[i] = g.p[i] - std::exp((double)out.p[i]) * s; }
        }
        if (block) sim::launch(rows, threads, [&] { log_softmax_backward_block(g.p, out.p, gi.p, rows, cols); });
        else sim::launch((rows + threads / 32 - 1) / (threads / 32), threads, [&] { log_softmax_backward_warp(g.p, out.p, gi.p, rows, cols); });
        char buf[200]; snprintf(buf, sizeof buf, "lsm-bwd %s rows=%d cols=%d thr=%d off=%d/%d", block ? "block" : "warp", rows, cols, threads, offX, offY);
        check(buf, ref, gi.p, 1e-4, 1e-4 * std::sqrt((double)cols));
        // row sum
        Buf rs(rows);
        std::vector<double> rref(rows);
        for (int r = 0; r < rows; r++) { double s = 0; for (int c = 0; c < cols; c++) s += x.p[(size_t)r * cols + c]; rref[r] = s; }
        if (block) sim::launch(rows, threads, [&] { row_sum_block(x.p, rs.p, rows, cols); });
        else sim::launch((rows + threads / 32 - 1) / (threads / 32), threads, [&] { row_sum_warp(x.p, rs.p, rows, cols); });
        snprintf(buf, sizeof buf, "row_sum %s rows=%d cols=%d thr=%d off=%d", block ? "block" : "warp", rows, cols, threads, offX);
        check(buf, rref, rs.p, 1e-5, 1e-5 * std::sqrt((double)cols));
    }
}

static double kl_ref(double x, double t, bool logT) {
    if (logT) return std::exp(t) * (t - x);
    return (t == 0 ? 0.0 : t * std::log(t)) - t * x;
}

static void test_kl(long long n, int grid, int threads, int offA, int offB, int offC, bool special) {
    Buf in(n, offA), tg(n, offB), out(n, offC);
    fill(in.p, n, 2.f);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    for (long long i = 0; i < n; i++) tg.p[i] = u(rng);
    if (special && n > 8) {
        tg.p[0] = 0; in.p[0] = -INFINITY;   // NaN
        tg.p[1] = 0; in.p[1] = 5;           // 0
        tg.p[2] = -0.5f;                    // NaN (log of negative)
        in.p[3] = NAN;
        tg.p[4] = NAN;
        tg.p[5] = 0; in.p[5] = INFINITY;    // NaN
    }
    for (int logT = 0; logT < 2; logT++) {
        std::vector<double> ref(n);
        double total = 0;
        for (long long i = 0; i < n; i++) { ref[i] = kl_ref(in.p[i], tg.p[i], logT); total += ref[i]; }
        sim::launch(grid, threads, [&] { kl_div_pointwise(in.p, tg.p, out.p, n, logT); });
        char buf[200]; snprintf(buf, sizeof buf, "kl pointwise n=%lld grid=%d thr=%d off=%d/%d/%d logT=%d", n, grid, threads, offA, offB, offC, logT);
        check(buf, ref, out.p, 2e-6, 1e-7);
        Buf parts(grid), res(1);
        sim::launch(grid, threads, [&] { kl_div_partial_sums(in.p, tg.p, parts.p, n, logT); });
        sim::launch(1, 256, [&] { sum_finalize(parts.p, grid, res.p, 2.0f); });
        snprintf(buf, sizeof buf, "kl sum n=%lld grid=%d thr=%d off=%d/%d logT=%d", n, grid, threads, offA, offB, logT);
        std::vector<double> r1{total / 2.0};
        double asum = 0; for (auto v : ref) asum += std::fabs(v);
        check(buf, r1, res.p, 0, 1e-6 * asum + 1e-7);
        // backward, elementwise and scalar grad
        Buf go(n, offA), gi(n, offC), g1(1);
        fill(go.p, n, 1.f); g1.p[0] = 3.0f;
        for (int scalar = 0; scalar < 2; scalar++) {
            std::vector<double> bref(n);
            float div = scalar ? 7.0f : 1.0f;
            for (long long i = 0; i < n; i++) {
                double g = scalar ? (double)(3.0f / 7.0f) : go.p[i];
                double w = logT ? std::exp((double)tg.p[i]) : tg.p[i];
                bref[i] = -(g * w);
            }
            sim::launch(grid, threads, [&] { kl_div_backward(scalar ? g1.p : go.p, tg.p, gi.p, n, logT, scalar, div); });
            snprintf(buf, sizeof buf, "kl bwd n=%lld grid=%d thr=%d off=%d/%d/%d logT=%d scalar=%d", n, grid, threads, offA, offB, offC, logT, scalar);
            check(buf, bref, gi.p, 2e-6, 1e-7);
        }
    }
    // plain sum
    Buf parts(grid), res(1);
    double total = 0; for (long long i = 0; i < n; i++) total += in.p[i];
    if (special && n > 8) total = NAN;
    sim::launch(grid, threads, [&] { sum_partials(in.p, parts.p, n); });
    sim::launch(1, 64, [&] { sum_finalize(parts.p, grid, res.p, 1.0f); });
    char buf[200]; snprintf(buf, sizeof buf, "sum n=%lld grid=%d thr=%d off=%d", n, grid, threads, offA);
    std::vector<double> r1{total};
    check(buf, r1, res.p, 1e-5, 1e-5 * std::sqrt((double)n));
}

int main(int argc, char** argv) {
    bool big = argc > 1;
    int colsList[] = {1, 2, 3, 4, 5, 7, 8, 31, 32, 33, 64, 100, 127, 128, 129, 1000, 1023, 1024, 1025, 4097};
    for (int cols : colsList)
        for (int rows : {1, 5, 6, 9})
            for (int off : {0, 1, 3}) {
                test_softmax(rows, cols, false, 128, off, off, rows == 6);
                test_softmax(rows, cols, true, 64, off, off, rows == 6);
            }
    // different misalignments of x and y: scalar path
    test_softmax(7, 1000, false, 128, 0, 1, 0);
    test_softmax(7, 1000, true, 128, 2, 0, 1);
    test_softmax(6, 37, false, 32, 1, 2, 1);
    // other block sizes
    for (int thr : {32, 96, 256, 1024}) { test_softmax(6, 4097, true, thr, 0, 0, 1); test_softmax(9, 3001, true, thr, 1, 1, 0); }
    for (int thr : {32, 64, 256, 1024}) test_softmax(37, 129, false, thr, 0, 0, 0);
    test_softmax(6, 50257, true, 1024, 0, 0, 1);
    test_softmax(2, 262144, true, 1024, 0, 0, 0);
    if (big) test_softmax(6, 1000003, true, 1024, 1, 1, 1);
    for (long long n : {1LL, 3LL, 4LL, 5LL, 9LL, 64LL, 1000LL, 4097LL, 100003LL})
        for (int off : {0, 1, 2, 3}) {
            test_kl(n, 3, 64, off, off, off, n > 8);
            test_kl(n, 1, 32, off, (off + 1) % 4, off, n > 8);
        }
    test_kl(1000003, 40, 256, 0, 0, 0, true);
    test_kl(1000003, 7, 1024, 1, 1, 1, false);
    printf("%s (%d failing checks), %lld syncthreads\n", failures ? "FAILED" : "OK", failures, sim::syncCount);
    return failures != 0;
}
