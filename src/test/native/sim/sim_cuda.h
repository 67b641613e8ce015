// sim_cuda.h: CUDA's device-side built-ins for the host SIMT simulator.
//
// Force-included (g++ -include) in front of every kernels/*.cu when it is compiled for the simulator.
// Each CUDA thread is a fiber on a 64 KiB stack slot that is 64 KiB aligned; the fiber's state sits at
// the top of its slot, so threadIdx & co. are found from the stack pointer, with no thread-local lookup.
// All fibers of a block run on one OS thread, one block at a time per worker thread, so `__shared__`
// (defined as `thread_local`) is one instance per block. See src/test/native/sim/README.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <climits>
#include <cfloat>
#include <cmath>
#include <math.h>
#include <cassert>
#include <type_traits>
#include <utility>
#include <algorithm>
#include <limits>
#include <memory>  // before __noinline__ is defined: libstdc++ spells __attribute__((__noinline__))

#ifndef __CUDA_ARCH__
#define __CUDA_ARCH__ 750
#endif
#define __CUDACC__ 1
#define KULLBACK_SIM 1

// ---- qualifiers -------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __shared__ thread_local
#define __restrict__ __restrict
#define __forceinline__ __attribute__((always_inline)) inline
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define __grid_constant__
#define __inline_hint__

// ---- dims ----------------------------------------------------------------------------------
struct uint3 { unsigned int x, y, z; };
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

// ---- error codes (CUresult values) --------------------------------------------------------------
#define SIM_CUDA_SUCCESS 0
#define SIM_CUDA_ERROR_INVALID_VALUE 1
#define SIM_CUDA_ERROR_OUT_OF_MEMORY 2
#define SIM_CUDA_ERROR_FILE_NOT_FOUND 301
#define SIM_CUDA_ERROR_INVALID_HANDLE 400
#define SIM_CUDA_ERROR_NOT_FOUND 500
#define SIM_CUDA_ERROR_ILLEGAL_ADDRESS 700
#define SIM_CUDA_ERROR_ASSERT 710
#define SIM_CUDA_ERROR_HARDWARE_STACK_ERROR 714
#define SIM_CUDA_ERROR_ILLEGAL_INSTRUCTION 715
#define SIM_CUDA_ERROR_MISALIGNED_ADDRESS 716
#define SIM_CUDA_ERROR_LAUNCH_FAILED 719

namespace sim {

constexpr uintptr_t kStackSlot = 64 * 1024;  // one fiber's stack slot; a power of two, slots aligned to it
constexpr uintptr_t kFiberHeader = 256;       // Fiber lives in the top kFiberHeader bytes of its slot

struct Block;
struct Worker;

// One simulated CUDA thread. The first four members are what kernels see; the rest is the scheduler's.
struct Fiber {
    uint3 thread_idx;
    uint3 block_idx;
    uint3 block_dim;
    uint3 grid_dim;
    void* dyn_smem;        // this block's dynamic shared memory
    Block* block;
    Worker* worker;
    void* sp;              // saved stack pointer (or ucontext_t*) while switched out
    unsigned tid;          // linear thread index in the block
    unsigned lane, warp;
    int state;
    int bar_result;
};
static_assert(sizeof(Fiber) <= kFiberHeader, "Fiber must fit the slot header");

__attribute__((always_inline)) inline Fiber* self() {
    uintptr_t sp;
#if defined(__x86_64__)
    __asm__("movq %%rsp, %0" : "=r"(sp));
#elif defined(__aarch64__)
    __asm__("mov %0, sp" : "=r"(sp));
#else
    char probe;
    sp = reinterpret_cast<uintptr_t>(&probe);
#endif
    return reinterpret_cast<Fiber*>((sp | (kStackSlot - 1)) + 1 - kFiberHeader);
}

// Kinds of warp-level rendezvous.
enum WarpOpKind : int {
    kShflIdx = 1, kShflUp, kShflDown, kShflBfly, kBallot, kAny, kAll, kSyncwarp, kMatchAny, kMatchAll,
    kActiveMask,
};
// Kinds of block barrier.
enum BarKind : int { kBarSync = 1, kBarCount, kBarAnd, kBarOr };

}  // namespace sim

// The runtime (libkullbacksim.so) side.
extern "C" {
uint64_t sim_rt_warp_op(int kind, unsigned mask, uint64_t value, int b, int c, const char* file, int line);
int sim_rt_syncthreads(int kind, int pred, const char* file, int line);
unsigned sim_rt_activemask(const char* file, int line);
void* sim_rt_dynamic_shared(void);
[[noreturn]] void sim_rt_fail(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
}

namespace sim {
inline void* dynamic_shared() { return sim_rt_dynamic_shared(); }
}

#define threadIdx (static_cast<const ::uint3&>(::sim::self()->thread_idx))
#define blockIdx (static_cast<const ::uint3&>(::sim::self()->block_idx))
#define blockDim (static_cast<const ::uint3&>(::sim::self()->block_dim))
#define gridDim (static_cast<const ::uint3&>(::sim::self()->grid_dim))
static constexpr int warpSize = 32;

// ---- barriers & fences ------------------------------------------------------------------------
inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    sim_rt_syncthreads(::sim::kBarSync, 0, file, line);
}
inline int __syncthreads_count(int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return sim_rt_syncthreads(::sim::kBarCount, pred, file, line);
}
inline int __syncthreads_and(int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return sim_rt_syncthreads(::sim::kBarAnd, pred, file, line);
}
inline int __syncthreads_or(int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return sim_rt_syncthreads(::sim::kBarOr, pred, file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
    sim_rt_warp_op(::sim::kSyncwarp, mask, 0, 0, 0, file, line);
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
[[noreturn]] inline void __trap() { sim_rt_fail(SIM_CUDA_ERROR_ILLEGAL_INSTRUCTION, "__trap() called"); }
[[noreturn]] inline void __brkpt() { sim_rt_fail(SIM_CUDA_ERROR_ILLEGAL_INSTRUCTION, "__brkpt() called"); }

// ---- warp intrinsics ----------------------------------------------------------------------------
namespace sim {
template <class T>
inline uint64_t to_bits(T v) {
    static_assert(std::is_arithmetic<T>::value && (sizeof(T) == 4 || sizeof(T) == 8),
                  "warp shuffles take 32- or 64-bit arithmetic types");
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    return bits;
}
template <class T>
inline T from_bits(uint64_t bits) {
    T v;
    std::memcpy(&v, &bits, sizeof(T));
    return v;
}
inline int shfl_c(int width, bool up) { return ((32 - width) << 8) | (up ? 0 : 0x1f); }
}  // namespace sim

template <class T>
inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize,
                     const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return ::sim::from_bits<T>(sim_rt_warp_op(::sim::kShflIdx, mask, ::sim::to_bits(var), srcLane,
                                              ::sim::shfl_c(width, false) | (width << 16), file, line));
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                        const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return ::sim::from_bits<T>(sim_rt_warp_op(::sim::kShflUp, mask, ::sim::to_bits(var), (int)delta,
                                              ::sim::shfl_c(width, true) | (width << 16), file, line));
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                          const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return ::sim::from_bits<T>(sim_rt_warp_op(::sim::kShflDown, mask, ::sim::to_bits(var), (int)delta,
                                              ::sim::shfl_c(width, false) | (width << 16), file, line));
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize,
                         const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return ::sim::from_bits<T>(sim_rt_warp_op(::sim::kShflBfly, mask, ::sim::to_bits(var), laneMask,
                                              ::sim::shfl_c(width, false) | (width << 16), file, line));
}
inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
    return (unsigned)sim_rt_warp_op(::sim::kBallot, mask, pred != 0, 0, 0, file, line);
}
inline int __any_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return (int)sim_rt_warp_op(::sim::kAny, mask, pred != 0, 0, 0, file, line);
}
inline int __all_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return (int)sim_rt_warp_op(::sim::kAll, mask, pred != 0, 0, 0, file, line);
}
inline int __uni_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    unsigned b = (unsigned)sim_rt_warp_op(::sim::kBallot, mask, pred != 0, 0, 0, file, line);
    return b == 0 || b == mask;
}
template <class T>
inline unsigned __match_any_sync(unsigned mask, T value, const char* file = __builtin_FILE(),
                                 int line = __builtin_LINE()) {
    return (unsigned)sim_rt_warp_op(::sim::kMatchAny, mask, ::sim::to_bits(value), (int)sizeof(T), 0, file, line);
}
template <class T>
inline unsigned __match_all_sync(unsigned mask, T value, int* pred, const char* file = __builtin_FILE(),
                                 int line = __builtin_LINE()) {
    unsigned r = (unsigned)sim_rt_warp_op(::sim::kMatchAll, mask, ::sim::to_bits(value), (int)sizeof(T), 0, file, line);
    *pred = r != 0;
    return r;
}
// The lanes of the warp that reach an __activemask() at the same place, together: the call waits until
// every other lane of the warp has arrived there too, exited, or blocked elsewhere (a divergent branch).
inline unsigned __activemask(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return sim_rt_activemask(file, line);
}
inline unsigned __lanemask_lt() { return (1u << ::sim::self()->lane) - 1u; }

// ---- atomics (device scope; blocks run in parallel on several OS threads) -------------------------------
namespace sim {
template <class T, class F>
inline T cas_loop(T* addr, F f) {
    T old, desired;
    __atomic_load(addr, &old, __ATOMIC_RELAXED);
    do {
        desired = f(old);
    } while (!__atomic_compare_exchange(addr, &old, &desired, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return old;
}
}  // namespace sim
#define SIM_INT_ATOMICS(T)                                                                                  \
    inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }                   \
    inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }                   \
    inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }                 \
    inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }                   \
    inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }                     \
    inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }                   \
    inline T atomicMin(T* a, T v) { return ::sim::cas_loop(a, [v](T o) { return o < v ? o : v; }); }      \
    inline T atomicMax(T* a, T v) { return ::sim::cas_loop(a, [v](T o) { return o > v ? o : v; }); }      \
    inline T atomicCAS(T* a, T cmp, T v) {                                                                  \
        __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                 \
        return cmp;                                                                                         \
    }
SIM_INT_ATOMICS(int)
SIM_INT_ATOMICS(unsigned int)
SIM_INT_ATOMICS(unsigned long long)
SIM_INT_ATOMICS(long long)
#undef SIM_INT_ATOMICS
inline float atomicAdd(float* a, float v) { return ::sim::cas_loop(a, [v](float o) { return o + v; }); }
inline double atomicAdd(double* a, double v) { return ::sim::cas_loop(a, [v](double o) { return o + v; }); }
inline float atomicExch(float* a, float v) {
    float old;
    __atomic_exchange(a, &v, &old, __ATOMIC_SEQ_CST);
    return old;
}
inline unsigned atomicInc(unsigned* a, unsigned lim) {
    return ::sim::cas_loop(a, [lim](unsigned o) { return o >= lim ? 0u : o + 1u; });
}
inline unsigned atomicDec(unsigned* a, unsigned lim) {
    return ::sim::cas_loop(a, [lim](unsigned o) { return (o == 0 || o > lim) ? lim : o - 1u; });
}
#define atomicAdd_block atomicAdd
#define atomicAdd_system atomicAdd

// ---- vector types -------------------------------------------------------------------------------
// A copy from or to a vector type checks the alignment CUDA requires (a misaligned float4 load traps on
// the GPU: CUDA_ERROR_MISALIGNED_ADDRESS). Member access without a copy (p[i].x) is not checked.
extern "C" [[noreturn]] void sim_rt_misaligned(const void* addr, int align, const char* type);
#define SIM_VEC_CHECK(ALIGN, NAME, ptr)                                                              \
    do {                                                                                             \
        if (__builtin_expect((reinterpret_cast<uintptr_t>(ptr) & ((ALIGN) - 1)) != 0, 0))            \
            sim_rt_misaligned(ptr, ALIGN, #NAME);                                                    \
    } while (0)
#define SIM_VEC2(NAME, T, ALIGN)                                                                           \
    struct __attribute__((aligned(ALIGN))) NAME {                                                        \
        T x, y;                                                                                          \
        NAME() = default;                                                                                \
        constexpr NAME(T a, T b) : x(a), y(b) {}                                                         \
        NAME(const NAME& o) { SIM_VEC_CHECK(ALIGN, NAME, &o); x = o.x; y = o.y; }                        \
        NAME& operator=(const NAME& o) { SIM_VEC_CHECK(ALIGN, NAME, &o); SIM_VEC_CHECK(ALIGN, NAME, this); x = o.x; y = o.y; return *this; } \
    };                                                                                                   \
    inline NAME make_##NAME(T a, T b) { return NAME(a, b); }
#define SIM_VEC4(NAME, T, ALIGN)                                                                           \
    struct __attribute__((aligned(ALIGN))) NAME {                                                        \
        T x, y, z, w;                                                                                    \
        NAME() = default;                                                                                \
        constexpr NAME(T a, T b, T c, T d) : x(a), y(b), z(c), w(d) {}                                   \
        NAME(const NAME& o) { SIM_VEC_CHECK(ALIGN, NAME, &o); x = o.x; y = o.y; z = o.z; w = o.w; }      \
        NAME& operator=(const NAME& o) {                                                                 \
            SIM_VEC_CHECK(ALIGN, NAME, &o); SIM_VEC_CHECK(ALIGN, NAME, this);                            \
            x = o.x; y = o.y; z = o.z; w = o.w; return *this;                                            \
        }                                                                                                \
    };                                                                                                   \
    inline NAME make_##NAME(T a, T b, T c, T d) { return NAME(a, b, c, d); }
SIM_VEC2(float2, float, 8)
SIM_VEC4(float4, float, 16)
SIM_VEC2(int2, int, 8)
SIM_VEC4(int4, int, 16)
SIM_VEC2(uint2, unsigned int, 8)
SIM_VEC4(uint4, unsigned int, 16)
SIM_VEC2(double2, double, 16)
SIM_VEC2(longlong2, long long, 16)
struct float3 { float x, y, z; };
inline float3 make_float3(float a, float b, float c) { return float3{a, b, c}; }
inline uint3 make_uint3(unsigned a, unsigned b, unsigned c) { return uint3{a, b, c}; }
#undef SIM_VEC2
#undef SIM_VEC4

// ---- loads/stores with cache hints: plain accesses here -----------------------------------------------
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }
template <class T> inline T __ldca(const T* p) { return *p; }
template <class T> inline T __ldcs(const T* p) { return *p; }
template <class T> inline T __ldlu(const T* p) { return *p; }
template <class T> inline T __ldcv(const T* p) { return *p; }
template <class T> inline void __stcg(T* p, T v) { *p = v; }
template <class T> inline void __stcs(T* p, T v) { *p = v; }
template <class T> inline void __stwb(T* p, T v) { *p = v; }
template <class T> inline void __stwt(T* p, T v) { *p = v; }

// ---- math ---------------------------------------------------------------------------------------
// glibc's functions: correctly rounded or within 1 ulp, so at least as accurate as CUDA's (2 ulp for
// expf/logf, more for the __ fast paths). Results can differ from a GPU's in the last bits.
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __fdiv_rn(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fadd_rn(float x, float y) { return x + y; }
inline float __fsub_rn(float x, float y) { return x - y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
inline double __dadd_rn(double x, double y) { return x + y; }
inline double __dmul_rn(double x, double y) { return x * y; }
inline double __fma_rn(double x, double y, double z) { return fma(x, y, z); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float __saturatef(float x) { return x != x ? 0.0f : (x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x)); }
inline float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float v) { int i; std::memcpy(&i, &v, 4); return i; }
inline float __uint_as_float(unsigned v) { float f; std::memcpy(&f, &v, 4); return f; }
inline unsigned __float_as_uint(float v) { unsigned i; std::memcpy(&i, &v, 4); return i; }
inline double __longlong_as_double(long long v) { double d; std::memcpy(&d, &v, 8); return d; }
inline long long __double_as_longlong(double v) { long long i; std::memcpy(&i, &v, 8); return i; }
inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline long long __float2ll_rn(float x) { return (long long)nearbyintf(x); }
inline long long __float2ll_rz(float x) { return (long long)x; }
inline float __int2float_rn(int x) { return (float)x; }
inline float __ll2float_rn(long long x) { return (float)x; }
inline float __uint2float_rn(unsigned x) { return (float)x; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
    x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
    return (x >> 16) | (x << 16);
}
inline int __mul24(int a, int b) { return (int)((long long)(a << 8 >> 8) * (b << 8 >> 8)); }
inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
extern "C" long long sim_rt_clock64(void);
inline long long clock64() { return sim_rt_clock64(); }

// CUDA's global min/max overloads (device code calls them unqualified).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline unsigned min(int a, unsigned b) { return min((unsigned)a, b); }
inline unsigned max(int a, unsigned b) { return max((unsigned)a, b); }
inline unsigned min(unsigned a, int b) { return min(a, (unsigned)b); }
inline unsigned max(unsigned a, int b) { return max(a, (unsigned)b); }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline unsigned long min(unsigned long a, unsigned long b) { return a < b ? a : b; }
inline unsigned long max(unsigned long a, unsigned long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }
