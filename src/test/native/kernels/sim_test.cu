// Kernels that test the host simulator itself (src/test/java/dev/kullback/cuda/Sim*Test.java).
// Plain CUDA: nvcc compiles this file too. Several kernels are wrong on purpose (planted bugs).
#include <assert.h>

#define FULL 0xffffffffu

// ---- basics -------------------------------------------------------------------------------------------

extern "C" __global__ void fill_index(float* out, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)blockDim.x * gridDim.x)
        out[i] = (float)i;
}

// out[i] = a * x[i] + b, with every Java-marshalled argument type.
extern "C" __global__ void axpb(const float* __restrict__ x, float* __restrict__ out, long long n, int stride,
                                float a, float b) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n) out[i * stride] = a * x[i * stride] + b;
}

// out[linear thread id] = packed (block, thread) coordinates: tests 3-D dims and indices.
extern "C" __global__ void thread_ids(int* out) {
    unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    unsigned nt = blockDim.x * blockDim.y * blockDim.z;
    out[b * nt + t] = (int)(threadIdx.x | threadIdx.y << 5 | threadIdx.z << 10 | blockIdx.x << 16 | blockIdx.y << 20 |
                            blockIdx.z << 24);
}

// ---- planted memory errors ------------------------------------------------------------------------------

// The classic off-by-one: i <= n.
extern "C" __global__ void oob_write(float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) out[i] = 1.0f;
}

extern "C" __global__ void oob_read(const float* in, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) out[i % n] = in[i];
}

extern "C" __global__ void write_at(float* p, long long offset, float v) {
    if (threadIdx.x == 0 && blockIdx.x == 0) p[offset] = v;
}

extern "C" __global__ void read_at(const float* p, long long offset, float* out) {
    if (threadIdx.x == 0 && blockIdx.x == 0) out[0] = p[offset];
}

// ---- shared memory and barriers --------------------------------------------------------------------------

// Block sums through static shared memory. withSync = 0 plants a missing __syncthreads(): the summing
// thread is the one in the middle of the block, so whichever way the threads are ordered, it reads slots
// that have not been written yet.
extern "C" __global__ void block_sum_static(const float* x, float* out, int withSync) {
    __shared__ float s[1024];
    unsigned t = threadIdx.x;
    s[t] = x[blockIdx.x * blockDim.x + t];
    if (withSync) __syncthreads();
    if (t == blockDim.x / 2) {
        float sum = 0.0f;
        for (unsigned i = 0; i < blockDim.x; i++) sum += s[i];
        out[blockIdx.x] = sum;
    }
}

// Tree reduction in dynamic shared memory (blockDim.x a power of two, shared = blockDim.x * 4 bytes).
extern "C" __global__ void block_sum_dynamic(const float* x, float* out) {
    extern __shared__ float sdata[];
    unsigned t = threadIdx.x;
    sdata[t] = x[blockIdx.x * blockDim.x + t];
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) sdata[t] += sdata[t + s];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = sdata[0];
}

// Writes one float per thread into dynamic shared memory: past its end when the launch gives too little.
extern "C" __global__ void dynamic_shared_fill(float* out) {
    extern __shared__ __align__(16) float dyn[];
    dyn[threadIdx.x] = 1.0f;
    __syncthreads();
    out[threadIdx.x] = dyn[threadIdx.x];
}

// Every block: one thread stores blockIdx.x in shared memory, all read it back after a barrier.
extern "C" __global__ void shared_per_block(int* out) {
    __shared__ int s;
    __shared__ int pad[64];
    if (threadIdx.x == 0) s = blockIdx.x;
    pad[threadIdx.x % 64] = threadIdx.x;
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

// Reads shared memory nobody wrote: the simulator poisons it (0xFF bytes) at every block start.
extern "C" __global__ void shared_uninitialized(unsigned* out) {
    __shared__ unsigned s[32];
    out[blockIdx.x * blockDim.x + threadIdx.x] = s[threadIdx.x % 32];
    __syncthreads();
    s[threadIdx.x % 32] = 7;  // a later block on the same worker must not see this
}

// Threads at two different __syncthreads() calls.
extern "C" __global__ void divergent_barrier(int* out) {
    if (threadIdx.x < 32) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1;
}

// Threads past n leave early; the rest meet at a barrier (exited threads do not block it).
extern "C" __global__ void barrier_after_exit(int* out, int n) {
    __shared__ int s[1024];
    unsigned t = threadIdx.x;
    if ((int)t >= n) return;
    s[t] = (int)t;
    __syncthreads();
    out[t] = s[(t + 1) % n];
}

extern "C" __global__ void barrier_reductions(const int* pred, int* out) {
    int p = pred[threadIdx.x];
    int c = __syncthreads_count(p);
    int a = __syncthreads_and(p);
    int o = __syncthreads_or(p);
    if (threadIdx.x == 0) { out[0] = c; out[1] = a; out[2] = o; }
}

// ---- warps ------------------------------------------------------------------------------------------------

// One result per thread. mode: 0 __shfl_sync(args = srcLane), 1 up, 2 down (args = delta), 3 xor (args = laneMask),
// 4 ballot, 5 any, 6 all (vals = predicate), 7 activemask, 8 match_any, 9 lanemask_lt.
extern "C" __global__ void warp_ops(const int* vals, const int* args, int* out, int mode, int width) {
    unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
    int v = vals[t], a = args[t], r = 0;
    switch (mode) {
        case 0: r = __shfl_sync(FULL, v, a, width); break;
        case 1: r = __shfl_up_sync(FULL, v, (unsigned)a, width); break;
        case 2: r = __shfl_down_sync(FULL, v, (unsigned)a, width); break;
        case 3: r = __shfl_xor_sync(FULL, v, a, width); break;
        case 4: r = (int)__ballot_sync(FULL, v); break;
        case 5: r = __any_sync(FULL, v); break;
        case 6: r = __all_sync(FULL, v); break;
        case 7: r = (int)__activemask(); break;
        case 8: r = (int)__match_any_sync(FULL, v); break;
    }
    out[t] = r;
}

// 64-bit and float shuffles: a warp sum of doubles (xor butterfly), of floats (down), and a long long rotate.
extern "C" __global__ void warp_wide(const double* d, double* dsum, const float* f, float* fsum, const long long* l,
                                     long long* lrot) {
    unsigned t = threadIdx.x, lane = t % 32;
    double dv = d[t];
    for (int o = 16; o > 0; o /= 2) dv += __shfl_xor_sync(FULL, dv, o);
    dsum[t] = dv;
    float fv = f[t];
    for (int o = 16; o > 0; o /= 2) fv += __shfl_down_sync(FULL, fv, o);
    fsum[t] = fv;
    lrot[t] = __shfl_sync(FULL, l[t], (int)(lane + 1) % 32);
}

// Lanes 0-15 shuffle among themselves (mask 0x0000ffff, width 16); lanes 16-31 have left.
extern "C" __global__ void warp_partial_ok(int* out) {
    unsigned lane = threadIdx.x % 32;
    if (lane >= 16) return;
    int v = (int)lane * 10;
    out[threadIdx.x] = __shfl_down_sync(0x0000ffffu, v, 1, 16) + __shfl_xor_sync(0x0000ffffu, v, 3, 16);
}

// Two half-warps, each with its own mask, at the same call.
extern "C" __global__ void warp_two_halves(int* out) {
    unsigned lane = threadIdx.x % 32;
    unsigned mask = lane < 16 ? 0x0000ffffu : 0xffff0000u;
    out[threadIdx.x] = __shfl_sync(mask, (int)lane, 0, 16);
}

// Planted: all 32 lanes call with a mask naming only lanes 0-15.
extern "C" __global__ void warp_lane_outside_mask(int* out) {
    out[threadIdx.x] = __shfl_sync(0x0000ffffu, (int)threadIdx.x, 0);
}

// Planted: lanes 16-31 have returned, the others shuffle with the full mask.
extern "C" __global__ void warp_exited_lane(int* out) {
    unsigned lane = threadIdx.x % 32;
    if (lane >= 16) return;
    out[threadIdx.x] = __shfl_down_sync(FULL, (int)lane, 1);
}

// Planted: the same as above, but the lanes leave after the others arrived (reverse order of arrival).
extern "C" __global__ void warp_exited_lane_late(int* out) {
    unsigned lane = threadIdx.x % 32;
    if (lane < 16) return;
    out[threadIdx.x] = __shfl_down_sync(FULL, (int)lane, 1);
}

// Planted: a divergent warp, half in a shuffle, half in a ballot, both with the full mask.
extern "C" __global__ void warp_divergent(int* out) {
    unsigned lane = threadIdx.x % 32;
    int r;
    if (lane < 16)
        r = __shfl_sync(FULL, (int)lane, 0);
    else
        r = (int)__ballot_sync(FULL, 1);
    out[threadIdx.x] = r;
}

// Planted: lanes 0-15 read lane 20, which is not in their mask.
extern "C" __global__ void warp_reads_outside_mask(int* out) {
    unsigned lane = threadIdx.x % 32;
    if (lane < 16) out[threadIdx.x] = __shfl_sync(0x0000ffffu, (int)lane, 20);
}

extern "C" __global__ void warp_bad_width(int* out) {
    out[threadIdx.x] = __shfl_xor_sync(FULL, (int)threadIdx.x, 1, 12);
}

// Planted deadlock: half the warp waits in __syncwarp(), the other half at __syncthreads().
extern "C" __global__ void warp_barrier_deadlock(int* out) {
    if (threadIdx.x % 32 < 16)
        __syncwarp();
    else
        __syncthreads();
    out[threadIdx.x] = 1;
}

// ---- atomics, traps, misc --------------------------------------------------------------------------------------

extern "C" __global__ void atomics(int* count, unsigned long long* total, float* fsum, int* maxv) {
    unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
    atomicAdd(count, 1);
    atomicAdd(total, (unsigned long long)t);
    atomicAdd(fsum, 1.0f);
    atomicMax(maxv, (int)t);
}

extern "C" __global__ void assert_zero(const int* x) {
    assert(x[threadIdx.x] == 0);
}

extern "C" __global__ void trap_kernel(int* out) {
    if (threadIdx.x == 3) __trap();
    out[threadIdx.x] = 1;
}

extern "C" __global__ void float4_copy(const float* in, float* out, int offsetFloats) {
    const float4* src = reinterpret_cast<const float4*>(in + offsetFloats);
    float4 v = src[threadIdx.x];
    reinterpret_cast<float4*>(out)[threadIdx.x] = v;
}

extern "C" __global__ void int_divide(const int* a, int* out, int d) {
    out[threadIdx.x] = a[threadIdx.x] / d;
}

__device__ __noinline__ float deep(int n, volatile float* sink) {
    volatile float buf[2048];
    buf[n % 2048] = (float)n;
    if (n <= 0) return buf[0];
    float r = deep(n - 1, sink) + buf[(n * 7) % 2048];
    *sink = r;
    return r;
}

extern "C" __global__ void stack_hog(float* out, int depth) {
    out[threadIdx.x] = deep(depth, out + threadIdx.x);
}

extern "C" __global__ void __launch_bounds__(128) bounded(float* out) {
    out[threadIdx.x] = 1.0f;
}

// ---- a realistic workload, for timing: row softmax with one block per row -------------------------------------

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL, v, o));
    return v;
}
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL, v, o);
    return v;
}
template <bool IsMax>
__device__ float block_reduce(float v) {
    __shared__ float partial[32];
    unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    v = IsMax ? warp_max(v) : warp_sum(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = lane < nwarps ? partial[lane] : (IsMax ? -INFINITY : 0.0f);
    v = IsMax ? warp_max(v) : warp_sum(v);
    __syncthreads();  // partial is reused by the next reduction
    return v;
}

extern "C" __global__ void test_log_softmax_block(const float* x, float* y, int rows, int cols) {
    const float* xr = x + (size_t)blockIdx.x * cols;
    float* yr = y + (size_t)blockIdx.x * cols;
    float m = -INFINITY;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, xr[c]);
    m = block_reduce<true>(m);
    float s = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) s += expf(xr[c] - m);
    s = block_reduce<false>(s);
    float lse = m + logf(s);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) yr[c] = xr[c] - lse;
}

// __activemask() in a divergent branch: out = the mask seen by each lane (lanes of the odd branch
// call it at another line), lanes 24-31 leave first.
extern "C" __global__ void active_divergent(unsigned* out) {
    unsigned lane = threadIdx.x % 32;
    if (lane >= 24) return;
    unsigned m;
    if (lane % 2 == 0)
        m = __activemask();
    else
        m = __activemask() | 0x80000000u;
    out[threadIdx.x] = m;
}

// Dynamic shared memory declared at namespace scope (sim-gen.pl turns it into a macro there).
extern __shared__ float ns_dyn[];

extern "C" __global__ void namespace_dynamic_shared(float* out) {
    ns_dyn[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = ns_dyn[blockDim.x - 1 - threadIdx.x] + blockIdx.x;
}

// Planted: spins on a flag nobody sets.
extern "C" __global__ void spin_forever(const int* flag) {
    while (*(volatile const int*)flag == 0) {
    }
}
