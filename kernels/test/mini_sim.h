// Minimal host simulator of the CUDA built-ins the kernels use: every CUDA thread is a ucontext
// fiber; __syncthreads and warp shuffles are real barriers with strict checks.
#pragma once
#include <ucontext.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

struct dim3 { unsigned x = 1, y = 1, z = 1; };
struct alignas(16) float4 { float x, y, z, w; };
static inline float4 make_float4(float a, float b, float c, float d) { return float4{a, b, c, d}; }

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)

namespace sim {
struct Fiber {
    ucontext_t ctx;
    char* stack;
    dim3 tid;
    int waiting = 0;  // 0 none, 1 warp barrier, 2 block barrier
    bool done = false;
};
inline std::vector<Fiber*> fibers;
inline Fiber* cur = nullptr;
inline ucontext_t sched;
inline dim3 blockIdx_, blockDim_, gridDim_;
inline std::function<void()> body;
inline std::vector<int> warpArrived, blockArrivedV;
inline int blockArrived = 0;
inline std::vector<float> shflSlots;
inline long long syncCount = 0;

[[noreturn]] inline void fail(const char* m) { fprintf(stderr, "SIM ERROR: %s (block %u thread %u)\n", m, blockIdx_.x, cur ? cur->tid.x : 0); abort(); }

inline void entry() { body(); cur->done = true; swapcontext(&cur->ctx, &sched); }

inline void yield_wait(int kind) { cur->waiting = kind; swapcontext(&cur->ctx, &sched); }

inline void warp_barrier() {
    int w = cur->tid.x / 32;
    for (int l = 0; l < 32; l++) if (fibers[w * 32 + l]->done) fail("warp shuffle with an exited lane");
    if (++warpArrived[w] == 32) {
        warpArrived[w] = 0;
        for (int l = 0; l < 32; l++) if (fibers[w * 32 + l] != cur) {
            if (fibers[w * 32 + l]->waiting != 1) fail("warp barrier mismatch");
            fibers[w * 32 + l]->waiting = 0;
        }
        return;
    }
    yield_wait(1);
}

inline void syncthreads() {
    syncCount++;
    for (auto* f : fibers) if (f->done) fail("__syncthreads with exited threads");
    if (++blockArrived == (int)fibers.size()) {
        blockArrived = 0;
        for (auto* f : fibers) if (f != cur) {
            if (f->waiting != 2) fail("block barrier mismatch");
            f->waiting = 0;
        }
        return;
    }
    yield_wait(2);
}

inline float shfl_xor(unsigned mask, float v, int laneMask) {
    if (mask != 0xffffffffu) fail("partial mask");
    unsigned t = cur->tid.x;
    shflSlots[t] = v;
    warp_barrier();
    float r = shflSlots[(t & ~31u) | ((t & 31u) ^ (unsigned)laneMask)];
    warp_barrier();
    return r;
}

constexpr size_t kStack = 64 * 1024;

inline void launch(unsigned grid, unsigned block, std::function<void()> kernel) {
    if (block % 32 || block == 0 || block > 1024) fail("bad block size");
    gridDim_.x = grid; blockDim_.x = block;
    body = kernel;
    std::vector<Fiber> fs(block);
    for (auto& f : fs) f.stack = (char*)malloc(kStack);
    warpArrived.assign(block / 32, 0);
    shflSlots.assign(block, 0);
    for (unsigned b = 0; b < grid; b++) {
        blockIdx_.x = b;
        fibers.clear();
        blockArrived = 0;
        for (unsigned t = 0; t < block; t++) {
            Fiber& f = fs[t];
            f.tid.x = t; f.done = false; f.waiting = 0;
            getcontext(&f.ctx);
            f.ctx.uc_stack.ss_sp = f.stack; f.ctx.uc_stack.ss_size = kStack; f.ctx.uc_link = nullptr;
            makecontext(&f.ctx, entry, 0);
            fibers.push_back(&f);
        }
        for (;;) {
            bool progress = false, all = true;
            for (auto* f : fibers) {
                if (f->done) continue;
                all = false;
                if (f->waiting) continue;
                cur = f; progress = true;
                swapcontext(&sched, &f->ctx);
                cur = nullptr;
            }
            if (all) break;
            if (!progress) fail("deadlock: all live threads wait at a barrier that cannot complete");
        }
    }
    for (auto& f : fs) free(f.stack);
}
}  // namespace sim

#define threadIdx (sim::cur->tid)
#define blockIdx (sim::blockIdx_)
#define blockDim (sim::blockDim_)
#define gridDim (sim::gridDim_)
#define __syncthreads() sim::syncthreads()
#define __shfl_xor_sync(m, v, l) sim::shfl_xor(m, v, l)
