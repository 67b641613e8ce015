// sim_runtime.cpp: the host SIMT simulator behind dev.kullback.cuda.SimGpu (test infrastructure).
//
// Device memory: every allocation is its own mapping, with PROT_NONE guard pages around it; a kernel's
// out-of-bounds access faults, the SIGSEGV handler (chained in front of the JVM's) longjmps out of the
// fiber, and the launch fails with a message. Kernels: each CUDA thread is a fiber; a block's fibers run
// on one worker thread, cooperatively, each until it blocks (__syncthreads, a warp intrinsic) or exits.
// Blocks run in parallel on a small pool of worker threads. See README.md beside this file.
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "sim_cuda.h"
#include "sim_module.h"

#if !defined(__x86_64__) && !defined(SIM_UCONTEXT)
#define SIM_UCONTEXT 1
#endif

#define SIM_API extern "C" __attribute__((visibility("default")))

namespace sim {

// ---- small helpers -----------------------------------------------------------------------------------
static const size_t kPage = 4096;
static const unsigned kMaxThreads = 1024;
static const unsigned kMaxDynShared = 48 * 1024;
static const int kMaxWorkers = 64;

static size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

static std::string vformat(const char* fmt, va_list ap) {
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    return buf;
}
static std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static std::string format(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string s = vformat(fmt, ap);
    va_end(ap);
    return s;
}

static const char* code_name(int code) {
    switch (code) {
        case 0: return "CUDA_SUCCESS";
        case 1: return "CUDA_ERROR_INVALID_VALUE";
        case 2: return "CUDA_ERROR_OUT_OF_MEMORY";
        case 301: return "CUDA_ERROR_FILE_NOT_FOUND";
        case 400: return "CUDA_ERROR_INVALID_HANDLE";
        case 500: return "CUDA_ERROR_NOT_FOUND";
        case 700: return "CUDA_ERROR_ILLEGAL_ADDRESS";
        case 701: return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
        case 702: return "CUDA_ERROR_LAUNCH_TIMEOUT";
        case 710: return "CUDA_ERROR_ASSERT";
        case 714: return "CUDA_ERROR_HARDWARE_STACK_ERROR";
        case 715: return "CUDA_ERROR_ILLEGAL_INSTRUCTION";
        case 716: return "CUDA_ERROR_MISALIGNED_ADDRESS";
        case 719: return "CUDA_ERROR_LAUNCH_FAILED";
        default: return "CUDA_ERROR_UNKNOWN";
    }
}

static thread_local std::string t_last_error;

static int set_error(int code, const std::string& msg) {
    t_last_error = std::string(code_name(code)) + ": " + msg;
    return code;
}

static std::string lanes_str(unsigned m) {
    std::string s;
    for (int i = 0; i < 32;) {
        if (!(m >> i & 1)) { i++; continue; }
        int j = i;
        while (j + 1 < 32 && (m >> (j + 1) & 1)) j++;
        if (!s.empty()) s += ",";
        s += j == i ? format("%d", i) : format("%d-%d", i, j);
        i = j + 1;
    }
    return s.empty() ? "none" : s;
}

// ---- device memory -----------------------------------------------------------------------------------
// Layout of one allocation (one private mapping):
//   [guard page][front slack ... | data (size bytes) | tail padding][guard page]
// The data starts 256-byte aligned (like cudaMalloc) and data + round_up(size, 256) ends exactly at the
// trailing guard page. Slack and padding hold a canary, checked after every launch: a write there is
// reported (without the thread), a read there returns canary bytes (a float NaN) and is NOT reported.
struct Alloc {
    uintptr_t map = 0;
    size_t map_len = 0;
    uintptr_t start = 0;
    size_t size = 0;
    uintptr_t body = 0;      // first accessible byte
    uintptr_t body_end = 0;  // the trailing guard page
};

// Globals with destructors are never destroyed: worker threads outlive exit() (a destroyed condition
// variable with waiters hangs exit, as the JVM's shutdown found out).
static std::mutex& g_mem_mu = *new std::mutex;
static std::map<uintptr_t, Alloc>& g_live = *new std::map<uintptr_t, Alloc>;  // by start
static std::deque<Alloc>& g_quarantine = *new std::deque<Alloc>;  // freed, kept PROT_NONE to name use-after-free
static size_t g_quarantine_bytes = 0;
static std::atomic<uint64_t> g_live_bytes{0};
static std::atomic<uint64_t> g_memory_limit{~0ull};
static unsigned char g_canary[kPage + 8];
static const unsigned char kCanaryWord[4] = {0xA5, 0xA5, 0xA5, 0x7F};  // 0x7FA5A5A5: a float NaN
static const unsigned char kFreshByte = 0xFF;                          // fresh memory: NaN / -1

static void fill_canary(uintptr_t from, uintptr_t to) {
    for (uintptr_t p = from; p < to; p++) *reinterpret_cast<unsigned char*>(p) = kCanaryWord[p & 3];
}
// The first byte in [from, to) that is not canary, or 0.
static uintptr_t check_canary(uintptr_t from, uintptr_t to) {
    while (from < to) {
        size_t n = to - from < kPage ? to - from : kPage;
        if (memcmp(reinterpret_cast<void*>(from), g_canary + (from & 3), n) != 0) {
            for (uintptr_t p = from; p < from + n; p++)
                if (*reinterpret_cast<unsigned char*>(p) != kCanaryWord[p & 3]) return p;
        }
        from += n;
    }
    return 0;
}

// The live allocation that wholly holds [p, p + n), or null. Caller holds g_mem_mu.
static const Alloc* find_range(uintptr_t p, size_t n) {
    auto it = g_live.upper_bound(p);
    if (it == g_live.begin()) return nullptr;
    --it;
    const Alloc& a = it->second;
    if (p >= a.start && p - a.start <= a.size && n <= a.size - (p - a.start)) return &a;
    return nullptr;
}

static std::string describe_address(uintptr_t addr, bool* is_device) {
    std::lock_guard<std::mutex> lock(g_mem_mu);
    *is_device = true;
    for (auto& kv : g_live) {
        const Alloc& a = kv.second;
        if (addr < a.map || addr >= a.map + a.map_len) continue;
        if (addr >= a.start + a.size)
            return format("%zu bytes past the end of the allocation of %zu bytes at 0x%zx", addr - (a.start + a.size),
                          a.size, a.start);
        if (addr < a.start)
            return format("%zu bytes before the start of the allocation of %zu bytes at 0x%zx", a.start - addr, a.size,
                          a.start);
        return format("inside the allocation of %zu bytes at 0x%zx, offset %zu", a.size, a.start, addr - a.start);
    }
    for (auto& a : g_quarantine) {
        if (addr >= a.map && addr < a.map + a.map_len)
            return format("use after free: the address lies in a freed allocation of %zu bytes at 0x%zx (offset %ld)",
                          a.size, a.start, (long)(addr - a.start));
    }
    *is_device = false;
    return "not device memory";
}

static std::string describe_range_error(uintptr_t p, size_t n) {
    bool dev;
    return format("[0x%zx, +%zu bytes) is not inside one live device allocation (start: %s)", p, n,
                  describe_address(p, &dev).c_str());
}

// ---- modules ----------------------------------------------------------------------------------------
struct Module;
struct Kernel {
    const KernelDesc* d;
    Module* m;
};
struct Module {
    std::string name;
    void* handle = nullptr;
    const ModuleDesc* desc = nullptr;
    std::vector<Kernel> kernels;
    size_t tls_size = 0;
    int index = 0;
};
static std::mutex& g_mod_mu = *new std::mutex;
static std::vector<Module*>& g_modules = *new std::vector<Module*>;

// ---- launches, blocks, workers ----------------------------------------------------------------------------
enum FiberState { kRunnable = 0, kRunning, kWaitBar, kWaitWarp, kExited };

struct LaneOp {
    int kind;
    unsigned mask;
    uint64_t value;
    int b, c;
    const char* file;
    int line;
    uint64_t result;
};
struct WarpState {
    unsigned valid, exited, pending;
    unsigned uniform;  // nonzero: all pending lanes are in the op of lane uniform - 1 (the common case)
    LaneOp op[32];
};

struct Launch {
    Kernel* k = nullptr;
    unsigned g[3] = {1, 1, 1}, b[3] = {1, 1, 1};
    unsigned nthreads = 0, shared = 0;
    void** params = nullptr;
    uint64_t nblocks = 0;
    std::atomic<uint64_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    uint64_t fail_block = ~0ull;  // the lowest failing block is reported: blocks start in order, so it is
    int code = 0;                 // the same whatever the timing of the workers
    std::string msg;
};

struct Block {
    Launch* launch;
    unsigned n, nwarps;
    uint64_t linear;
    Fiber* fibers[kMaxThreads];
    WarpState warps[kMaxThreads / 32];
    unsigned bar_arrived;
    const char* bar_file;
    int bar_line, bar_kind, bar_acc;
    unsigned exited;
    unsigned am_pending;  // lanes waiting in __activemask()
    unsigned q[kMaxThreads];
    unsigned qhead, qlen;
    bool failed;
    int err_code;
    char err[1536];
};

struct Worker {
    int index = 0;
    pthread_t thread{};
    char* slots = nullptr;  // kMaxThreads fiber slots of kStackSlot bytes, kStackSlot aligned
    size_t slots_len = 0;
    char* slots_map = nullptr;
    size_t slots_map_len = 0;
    char* alt = nullptr;  // sigaltstack
    size_t alt_len = 0;
    char* dyn_map = nullptr;  // [guard][48 KiB][guard]; a launch's dynamic shared memory ends at dyn_end
    size_t dyn_map_len = 0;
    char* dyn_end = nullptr;
    void* sched_sp = nullptr;
#ifdef SIM_UCONTEXT
    ucontext_t sched_uc;
    ucontext_t* ucs = nullptr;
#endif
    sigjmp_buf fault_jmp;
    volatile sig_atomic_t in_fiber = 0;
    volatile int fault_sig = 0;
    volatile int fault_code = 0;
    volatile int fault_write = -1;
    void* volatile fault_addr = nullptr;
    Fiber* current = nullptr;
    Block block;
    uint64_t seen_gen = 0;
    std::vector<std::pair<void*, size_t>> tls;  // per module index: this thread's __shared__ storage
};

static Worker* g_workers[kMaxWorkers];
static std::atomic<int> g_nworkers{0};
static std::mutex& g_pool_mu = *new std::mutex;
static std::condition_variable& g_pool_cv = *new std::condition_variable;
static std::condition_variable& g_done_cv = *new std::condition_variable;
static uint64_t g_gen = 0;
static int g_active = 0;
static Launch* g_launch = nullptr;
static std::mutex& g_launch_mu = *new std::mutex;  // one launch or copy at a time: the simulated stream
static std::atomic<int> g_reverse{0};
static std::atomic<int64_t> g_timeout_ms{120000};  // watchdog: a launch running longer is stopped
static int sig_watchdog() { return SIGRTMIN + 7; }  // glibc keeps the first real-time signals; HotSpot uses none

static inline Fiber* fiber_at(Worker* w, unsigned i) {
    return reinterpret_cast<Fiber*>(w->slots + (size_t)(i + 1) * kStackSlot - kFiberHeader);
}

// ---- context switching ----------------------------------------------------------------------------------
#ifndef SIM_UCONTEXT
extern "C" void sim_ctx_switch(void** save_sp, void* to_sp);
extern "C" void sim_fiber_trampoline();
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".globl sim_ctx_switch\n"
    ".hidden sim_ctx_switch\n"
    ".type sim_ctx_switch,@function\n"
    "sim_ctx_switch:\n"
    "  pushq %rbp\n"
    "  pushq %rbx\n"
    "  pushq %r12\n"
    "  pushq %r13\n"
    "  pushq %r14\n"
    "  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n"
    "  popq %r14\n"
    "  popq %r13\n"
    "  popq %r12\n"
    "  popq %rbx\n"
    "  popq %rbp\n"
    "  ret\n"
    ".size sim_ctx_switch, .-sim_ctx_switch\n"
    ".p2align 4\n"
    ".globl sim_fiber_trampoline\n"
    ".hidden sim_fiber_trampoline\n"
    ".type sim_fiber_trampoline,@function\n"
    "sim_fiber_trampoline:\n"
    "  call sim_fiber_main\n"
    "  ud2\n"
    ".size sim_fiber_trampoline, .-sim_fiber_trampoline\n");
#endif

extern "C" __attribute__((visibility("hidden"), noreturn)) void sim_fiber_main();

static inline void switch_to_fiber(Worker* w, Fiber* f) {
    w->current = f;
    w->in_fiber = 1;
#ifdef SIM_UCONTEXT
    swapcontext(&w->sched_uc, static_cast<ucontext_t*>(f->sp));
#else
    sim_ctx_switch(&w->sched_sp, f->sp);
#endif
    w->in_fiber = 0;
}

static inline void switch_to_sched(Fiber* f) {
#ifdef SIM_UCONTEXT
    swapcontext(static_cast<ucontext_t*>(f->sp), &f->worker->sched_uc);
#else
    sim_ctx_switch(&f->sp, f->worker->sched_sp);
#endif
}

static inline void switch_between(Fiber* from, Fiber* to) {
#ifdef SIM_UCONTEXT
    swapcontext(static_cast<ucontext_t*>(from->sp), static_cast<ucontext_t*>(to->sp));
#else
    sim_ctx_switch(&from->sp, to->sp);
#endif
}

static void init_fiber_context(Worker* w, Fiber* f, unsigned i) {
#ifdef SIM_UCONTEXT
    ucontext_t* uc = &w->ucs[i];
    getcontext(uc);
    uc->uc_stack.ss_sp = w->slots + (size_t)i * kStackSlot + kPage;
    uc->uc_stack.ss_size = kStackSlot - kPage - kFiberHeader;
    uc->uc_link = nullptr;
    makecontext(uc, sim_fiber_main, 0);
    f->sp = uc;
#else
    (void)w;
    (void)i;
    // Frame popped by sim_ctx_switch: r15 r14 r13 r12 rbx rbp, then the return address.
    void** sp = reinterpret_cast<void**>(reinterpret_cast<char*>(f) - 16 - 56);
    for (int k = 0; k < 6; k++) sp[k] = nullptr;
    sp[6] = reinterpret_cast<void*>(&sim_fiber_trampoline);
    f->sp = sp;
#endif
}

// ---- the block scheduler --------------------------------------------------------------------------------
static inline void push_runnable(Block& B, unsigned i) {
    B.q[(B.qhead + B.qlen) & (kMaxThreads - 1)] = i;
    B.qlen++;
}
// To run next: the lanes released by a warp op go first, so a warp runs through its shuffles with its
// 32 stacks hot in cache and TLB, instead of round-robin over every fiber of a large block.
static inline void push_front(Block& B, unsigned i) {
    B.qhead = (B.qhead - 1) & (kMaxThreads - 1);
    B.q[B.qhead] = i;
    B.qlen++;
}

// The calling fiber has blocked (or exited): run the next runnable fiber of the block directly, without a
// round trip through the scheduler; back to the scheduler only when none is left (or on __activemask).
static inline void block_and_switch(Fiber* f) {
    Block& B = *f->block;
    if (B.qlen && !B.failed && !B.am_pending) {
        unsigned i = B.q[B.qhead];
        B.qhead = (B.qhead + 1) & (kMaxThreads - 1);
        B.qlen--;
        Fiber* g = B.fibers[i];
        g->state = kRunning;
        f->worker->current = g;
        switch_between(f, g);
    } else {
        switch_to_sched(f);
    }
}

static std::string thread_where(const Block& B, unsigned tid) {
    const Launch& L = *B.launch;
    std::string s = format("kernel %s, block ", L.k->d->name);
    uint64_t lin = B.linear;
    if (L.g[1] == 1 && L.g[2] == 1)
        s += format("%llu", (unsigned long long)lin);
    else
        s += format("(%llu,%llu,%llu)", (unsigned long long)(lin % L.g[0]),
                    (unsigned long long)(lin / L.g[0] % L.g[1]), (unsigned long long)(lin / L.g[0] / L.g[1]));
    if (L.b[1] == 1 && L.b[2] == 1)
        s += format(" thread %u", tid);
    else
        s += format(" thread (%u,%u,%u)", tid % L.b[0], tid / L.b[0] % L.b[1], tid / L.b[0] / L.b[1]);
    return s;
}

static void block_fail(Block& B, int code, const std::string& msg) {
    if (B.failed) return;
    B.failed = true;
    B.err_code = code;
    snprintf(B.err, sizeof B.err, "%s", msg.c_str());
}

[[noreturn]] static void fiber_fail(Fiber* f, int code, const std::string& what) {
    Block& B = *f->block;
    block_fail(B, code, thread_where(B, f->tid) + ": " + what);
    f->state = kExited;
    switch_to_sched(f);
    __builtin_trap();  // never resumed
}

static int release_barrier(Block& B) {
    int r = B.bar_acc;
    unsigned n = B.n;
    if (!g_reverse.load(std::memory_order_relaxed)) {
        for (unsigned i = 0; i < n; i++) {
            Fiber* g = B.fibers[i];
            if (g->state == kWaitBar) { g->state = kRunnable; g->bar_result = r; push_runnable(B, i); }
        }
    } else {
        for (unsigned i = n; i-- > 0;) {
            Fiber* g = B.fibers[i];
            if (g->state == kWaitBar) { g->state = kRunnable; g->bar_result = r; push_runnable(B, i); }
        }
    }
    B.bar_arrived = 0;
    return r;
}

static const char* op_name(int kind) {
    switch (kind) {
        case kShflIdx: return "__shfl_sync";
        case kShflUp: return "__shfl_up_sync";
        case kShflDown: return "__shfl_down_sync";
        case kShflBfly: return "__shfl_xor_sync";
        case kBallot: return "__ballot_sync";
        case kAny: return "__any_sync";
        case kAll: return "__all_sync";
        case kSyncwarp: return "__syncwarp";
        case kMatchAny: return "__match_any_sync";
        case kMatchAll: return "__match_all_sync";
        case kActiveMask: return "__activemask";
        default: return "?";
    }
}
static const char* bar_name(int kind) {
    switch (kind) {
        case kBarCount: return "__syncthreads_count";
        case kBarAnd: return "__syncthreads_and";
        case kBarOr: return "__syncthreads_or";
        default: return "__syncthreads";
    }
}

static std::string op_where(const LaneOp& o) {
    return format("%s(mask 0x%08x) at %s:%d", op_name(o.kind), o.mask, o.file, o.line);
}

static inline bool same_op(const LaneOp& a, int kind, unsigned mask, int c, int b) {
    if (a.kind != kind || a.mask != mask) return false;
    if (kind >= kShflIdx && kind <= kShflBfly) return a.c == c;
    if (kind == kMatchAny || kind == kMatchAll) return a.b == b;
    return true;
}

// What the threads of a stuck block are doing.
static std::string describe_deadlock(Block& B) {
    std::string s = "deadlock: no thread of the block can run.";
    unsigned at_bar = 0;
    for (unsigned i = 0; i < B.n; i++)
        if (B.fibers[i]->state == kWaitBar) at_bar++;
    if (at_bar)
        s += format(" %u thread(s) wait at %s() at %s:%d;", at_bar, bar_name(B.bar_kind), B.bar_file, B.bar_line);
    if (B.exited) s += format(" %u thread(s) have exited;", B.exited);
    int shown = 0;
    for (unsigned w = 0; w < B.nwarps && shown < 4; w++) {
        WarpState& W = B.warps[w];
        unsigned todo = W.pending;
        while (todo) {
            unsigned l = __builtin_ctz(todo);
            const LaneOp& o = W.op[l];
            unsigned group = 0;
            for (unsigned m = W.pending; m; m &= m - 1) {
                unsigned k = __builtin_ctz(m);
                if (same_op(W.op[k], o.kind, o.mask, o.c, o.b)) group |= 1u << k;
            }
            todo &= ~group;
            unsigned missing = o.mask & ~group;
            std::string elsewhere;
            for (unsigned m = missing; m; m &= m - 1) {
                unsigned k = __builtin_ctz(m);
                Fiber* g = B.fibers[w * 32 + k];
                if (g->state == kWaitBar) elsewhere += format(" lane %u is at %s;", k, bar_name(B.bar_kind));
                else if (g->state == kWaitWarp) elsewhere += format(" lane %u is in %s;", k, op_where(W.op[k]).c_str());
                else if (g->state == kExited) elsewhere += format(" lane %u has exited;", k);
            }
            s += format(" warp %u lanes %s wait in %s for lanes %s:%s", w, lanes_str(group).c_str(), op_where(o).c_str(),
                        lanes_str(missing).c_str(), elsewhere.c_str());
            if (++shown >= 4) break;
        }
    }
    return s;
}

static void fill_tls(Worker* w, Module* m);

// __activemask() calls complete once no other lane of their warp can still run: each group of lanes
// waiting at the same call gets its own mask (lanes of a divergent branch, or all the warp's live lanes).
static void resolve_activemask(Block& B) {
    for (unsigned wi = 0; wi < B.nwarps && B.am_pending; wi++) {
        WarpState& W = B.warps[wi];
        unsigned am = 0;
        for (unsigned m = W.pending; m; m &= m - 1) {
            unsigned l = __builtin_ctz(m);
            if (W.op[l].kind == kActiveMask) am |= 1u << l;
        }
        if (!am) continue;
        bool busy = false;
        for (unsigned m = W.valid & ~W.exited & ~am; m; m &= m - 1) {
            int st = B.fibers[wi * 32 + __builtin_ctz(m)]->state;
            if (st == kRunnable || st == kRunning) { busy = true; break; }
        }
        if (busy) continue;
        while (am) {
            const LaneOp& o = W.op[__builtin_ctz(am)];
            unsigned group = 0;
            for (unsigned m = am; m; m &= m - 1) {
                unsigned l = __builtin_ctz(m);
                if (W.op[l].line == o.line && (W.op[l].file == o.file || strcmp(W.op[l].file, o.file) == 0))
                    group |= 1u << l;
            }
            for (unsigned m = group; m; m &= m - 1) {
                unsigned l = __builtin_ctz(m);
                W.op[l].result = group;
                B.fibers[wi * 32 + l]->state = kRunnable;
                push_runnable(B, wi * 32 + l);
                B.am_pending--;
            }
            W.pending &= ~group;
            W.uniform = 0;
            am &= ~group;
        }
    }
}

static void run_fibers(Worker* w) {
    Block& B = w->block;
    for (;;) {
        if (B.am_pending) resolve_activemask(B);
        if (!B.qlen || B.failed) break;
        unsigned i = B.q[B.qhead];
        B.qhead = (B.qhead + 1) & (kMaxThreads - 1);
        B.qlen--;
        Fiber* f = B.fibers[i];
        f->state = kRunning;
        switch_to_fiber(w, f);
    }
}

static std::string describe_fault(Worker* w, Block& B, unsigned tid, int* code) {
    uintptr_t addr = reinterpret_cast<uintptr_t>(w->fault_addr);
    int sig = w->fault_sig;
    std::string where = thread_where(B, tid) + ": ";
    if (sig == sig_watchdog()) {
        *code = 702;
        return where + format("the launch did not finish within %lld ms (an endless loop, or a spin-wait on another "
                              "block or thread that the simulator cannot run concurrently?); stopped here",
                              (long long)g_timeout_ms.load());
    }
    const char* rw = w->fault_write == 1 ? "write" : w->fault_write == 0 ? "read" : "access";
    if (sig == SIGFPE) {
        *code = SIM_CUDA_ERROR_LAUNCH_FAILED;
        return where + "arithmetic trap (integer division by zero or overflow; a GPU returns an undefined value)";
    }
    if (sig == SIGILL) {
        *code = SIM_CUDA_ERROR_ILLEGAL_INSTRUCTION;
        return where + "illegal instruction";
    }
    uintptr_t slots = reinterpret_cast<uintptr_t>(w->slots_map);
    if (addr >= slots && addr < slots + w->slots_map_len) {
        *code = SIM_CUDA_ERROR_HARDWARE_STACK_ERROR;
        return where + format("stack overflow (the simulator gives each thread a %zu KiB stack)",
                              (size_t)(kStackSlot - kPage - kFiberHeader) / 1024);
    }
    uintptr_t dmap = reinterpret_cast<uintptr_t>(w->dyn_map);
    if (addr >= dmap && addr < dmap + w->dyn_map_len) {
        *code = SIM_CUDA_ERROR_ILLEGAL_ADDRESS;
        uintptr_t start = reinterpret_cast<uintptr_t>(w->dyn_end) - round_up(B.launch->shared, 16);
        return where + format("out-of-bounds %s of dynamic shared memory at offset %ld (the launch has %u bytes)", rw,
                              (long)(addr - start), B.launch->shared);
    }
    *code = SIM_CUDA_ERROR_ILLEGAL_ADDRESS;
    if (sig == SIGSEGV && w->fault_code == SI_KERNEL)
        return where + "general protection fault (a misaligned vector access, or a non-canonical address)";
    bool dev;
    std::string d = describe_address(addr, &dev);
    if (dev) return where + format("out-of-bounds %s at device address 0x%zx (%s)", rw, addr, d.c_str());
    return where + format("invalid %s at address 0x%zx (%s)", rw, addr, d.c_str());
}

static void run_block(Worker* w, Launch& L, uint64_t linear) {
    Block& B = w->block;
    unsigned n = L.nthreads;
    B.launch = &L;
    B.n = n;
    B.nwarps = (n + 31) / 32;
    B.linear = linear;
    B.bar_arrived = 0;
    B.bar_file = "";
    B.bar_line = 0;
    B.bar_kind = 0;
    B.bar_acc = 0;
    B.exited = 0;
    B.am_pending = 0;
    B.qhead = 0;
    B.qlen = 0;
    B.failed = false;
    B.err_code = 0;
    B.err[0] = 0;
    for (unsigned wi = 0; wi < B.nwarps; wi++) {
        unsigned lanes = n - wi * 32 >= 32 ? 32 : n - wi * 32;
        B.warps[wi].valid = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u;
        B.warps[wi].exited = 0;
        B.warps[wi].pending = 0;
        B.warps[wi].uniform = 0;
    }
    uint3 bidx{(unsigned)(linear % L.g[0]), (unsigned)(linear / L.g[0] % L.g[1]), (unsigned)(linear / L.g[0] / L.g[1])};
    uint3 bdim{L.b[0], L.b[1], L.b[2]};
    uint3 gdim{L.g[0], L.g[1], L.g[2]};
    // Shared memory is uninitialized on a GPU: poison it (0xFF bytes: float NaN, int -1).
    fill_tls(w, L.k->m);
    char* dyn = w->dyn_end - round_up(L.shared, 16);
    memset(dyn, 0xFF, L.shared);
    for (unsigned i = 0; i < n; i++) {
        Fiber* f = fiber_at(w, i);
        B.fibers[i] = f;
        f->thread_idx = uint3{i % L.b[0], i / L.b[0] % L.b[1], i / L.b[0] / L.b[1]};
        f->block_idx = bidx;
        f->block_dim = bdim;
        f->grid_dim = gdim;
        f->dyn_smem = dyn;
        f->block = &B;
        f->worker = w;
        f->tid = i;
        f->lane = i & 31;
        f->warp = i >> 5;
        f->state = kRunnable;
        f->bar_result = 0;
        init_fiber_context(w, f, i);
    }
    if (g_reverse.load(std::memory_order_relaxed))
        for (unsigned i = n; i-- > 0;) push_runnable(B, i);
    else
        for (unsigned i = 0; i < n; i++) push_runnable(B, i);

    if (sigsetjmp(w->fault_jmp, 0) != 0) {
        // Back from the signal handler: the fiber that faulted is abandoned, with the rest of the block.
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, w->fault_sig);
        pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
        int code = SIM_CUDA_ERROR_ILLEGAL_ADDRESS;
        std::string msg = describe_fault(w, B, w->current ? w->current->tid : 0, &code);
        block_fail(B, code, msg);
    } else {
        run_fibers(w);
        if (!B.failed && B.exited < B.n) block_fail(B, SIM_CUDA_ERROR_LAUNCH_FAILED,
                                                    format("kernel %s, block %llu: ", L.k->d->name,
                                                           (unsigned long long)linear) + describe_deadlock(B));
    }
    if (B.failed) {
        std::lock_guard<std::mutex> lock(L.mu);
        if (linear < L.fail_block) {
            L.fail_block = linear;
            L.code = B.err_code;
            L.msg = B.err;
        }
        L.failed.store(true);
    }
}

// ---- workers ------------------------------------------------------------------------------------------
static void* map_or_die(size_t len, int prot) {
    void* p = mmap(nullptr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "kullback simulator: mmap of %zu bytes failed\n", len);
        abort();
    }
    return p;
}

static void worker_setup(Worker* w) {
    // Fiber slots: kStackSlot aligned; the lowest page of each is a guard (stack overflow faults).
    w->slots_len = (size_t)kMaxThreads * kStackSlot;
    w->slots_map_len = w->slots_len + kStackSlot;
    w->slots_map = static_cast<char*>(map_or_die(w->slots_map_len, PROT_READ | PROT_WRITE));
    w->slots = reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(w->slots_map), kStackSlot));
    // The alignment slack around the slots is no man's land. (Modules are compiled with
    // -fstack-clash-protection, so a frame larger than a page cannot jump over a guard page.)
    if (w->slots > w->slots_map) mprotect(w->slots_map, w->slots - w->slots_map, PROT_NONE);
    if (w->slots + w->slots_len < w->slots_map + w->slots_map_len)
        mprotect(w->slots + w->slots_len, w->slots_map + w->slots_map_len - (w->slots + w->slots_len), PROT_NONE);
    for (unsigned i = 0; i < kMaxThreads; i++) {
        if (mprotect(w->slots + (size_t)i * kStackSlot, kPage, PROT_NONE) != 0) {
            fprintf(stderr, "kullback simulator: cannot protect fiber stack guard pages (vm.max_map_count?)\n");
            abort();
        }
    }
    w->dyn_map_len = kPage + round_up(kMaxDynShared, kPage) + kPage;
    w->dyn_map = static_cast<char*>(map_or_die(w->dyn_map_len, PROT_NONE));
    mprotect(w->dyn_map + kPage, round_up(kMaxDynShared, kPage), PROT_READ | PROT_WRITE);
    w->dyn_end = w->dyn_map + kPage + round_up(kMaxDynShared, kPage);
    w->alt_len = 256 * 1024;
    w->alt = static_cast<char*>(map_or_die(w->alt_len, PROT_READ | PROT_WRITE));
    stack_t ss{};
    ss.ss_sp = w->alt;
    ss.ss_size = w->alt_len;
    ss.ss_flags = 0;
    sigaltstack(&ss, nullptr);
#ifdef SIM_UCONTEXT
    w->ucs = new ucontext_t[kMaxThreads];
#endif
}

static void* worker_main(void* arg) {
    Worker* w = static_cast<Worker*>(arg);
    worker_setup(w);
    for (;;) {
        Launch* L;
        {
            std::unique_lock<std::mutex> lock(g_pool_mu);
            g_pool_cv.wait(lock, [&] { return g_gen != w->seen_gen; });
            w->seen_gen = g_gen;
            L = g_launch;
        }
        for (;;) {
            if (L->failed.load(std::memory_order_relaxed)) break;
            uint64_t b = L->next.fetch_add(1);
            if (b >= L->nblocks) break;
            run_block(w, *L, b);
        }
        {
            std::lock_guard<std::mutex> lock(g_pool_mu);
            if (--g_active == 0) g_done_cv.notify_all();
        }
    }
    return nullptr;
}

static int worker_count() {
    // Each worker's guard pages cost ~2,000 memory mappings (vm.max_map_count is 65,530 by default).
    const char* e = getenv("KULLBACK_SIM_WORKERS");
    int n = e ? atoi(e) : std::min(16, (int)sysconf(_SC_NPROCESSORS_ONLN));
    if (n < 1) n = 1;
    if (n > kMaxWorkers) n = kMaxWorkers;
    return n;
}

static void start_workers() {
    // Called with g_launch_mu held.
    if (g_nworkers.load() > 0) return;
    int n = worker_count();
    for (int i = 0; i < n; i++) {
        Worker* w = new Worker();
        w->index = i;
        g_workers[i] = w;
    }
    g_nworkers.store(n);
    for (int i = 0; i < n; i++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 1 << 20);
        pthread_create(&g_workers[i]->thread, &attr, worker_main, g_workers[i]);
        pthread_attr_destroy(&attr);
    }
}

static void fill_tls(Worker* w, Module* m) {
    if ((int)w->tls.size() <= m->index) w->tls.resize(m->index + 1, {nullptr, 0});
    auto& e = w->tls[m->index];
    if (!e.first && m->tls_size) {
        m->desc->tls_touch();
        void* p = nullptr;
        if (dlinfo(m->handle, RTLD_DI_TLS_DATA, &p) == 0 && p) e = {p, m->tls_size};
        else e = {nullptr, 0};
        if (!e.first) m->tls_size = 0;  // cannot find it: leave shared memory unpoisoned
    }
    if (e.first) memset(e.first, 0xFF, e.second);
}

// ---- signals ----------------------------------------------------------------------------------------------
static struct sigaction g_old[_NSIG];
static const int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, 0};

static void chain(int sig, siginfo_t* si, void* uc) {
    struct sigaction& old = g_old[sig];
    if (old.sa_flags & SA_SIGINFO) {
        if (old.sa_sigaction) old.sa_sigaction(sig, si, uc);
        return;
    }
    if (old.sa_handler == SIG_IGN) return;
    if (old.sa_handler == SIG_DFL) {
        // Re-fault with the default action (the instruction runs again).
        struct sigaction dfl{};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, nullptr);
        if (sig == SIGFPE || sig == SIGILL) raise(sig);
        return;
    }
    (void)si;
    (void)uc;
    old.sa_handler(sig);
}

static void on_signal(int sig, siginfo_t* si, void* uc) {
    char probe;
    uintptr_t here = reinterpret_cast<uintptr_t>(&probe);
    int n = g_nworkers.load(std::memory_order_acquire);
    for (int i = 0; i < n; i++) {
        Worker* w = g_workers[i];
        if (!w || !w->alt) continue;
        uintptr_t a = reinterpret_cast<uintptr_t>(w->alt);
        if (here >= a && here < a + w->alt_len) {
            if (!w->in_fiber) {
                if (sig == sig_watchdog()) return;  // between fibers: the block is finishing anyway
                break;
            }
            w->in_fiber = 0;
            w->fault_sig = sig;
            w->fault_code = si ? si->si_code : 0;
            w->fault_addr = si ? si->si_addr : nullptr;
            w->fault_write = -1;
#if defined(__x86_64__) && defined(REG_ERR)
            if (sig == SIGSEGV && uc)
                w->fault_write = (static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_ERR] & 2) ? 1 : 0;
#endif
            siglongjmp(w->fault_jmp, 1);
        }
    }
    if (sig == sig_watchdog()) return;
    chain(sig, si, uc);
}

static std::once_flag g_init_once;
static void init_once() {
    for (size_t i = 0; i < sizeof g_canary; i++) g_canary[i] = kCanaryWord[i & 3];
    const char* rev = getenv("KULLBACK_SIM_SCHEDULE");
    if (rev && strcmp(rev, "reverse") == 0) g_reverse.store(1);
    for (int sig : kSignals) {
        if (sig == 0) sig = sig_watchdog();
        struct sigaction sa{};
        sa.sa_sigaction = on_signal;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, &g_old[sig]);
    }
}

// ---- called by kernels -------------------------------------------------------------------------------------
extern "C" __attribute__((visibility("hidden"), noreturn)) void sim_fiber_main() {
    Fiber* f = self();
    Block& B = *f->block;
    B.launch->k->d->invoke(B.launch->params);
    // The thread exits.
    WarpState& W = B.warps[f->warp];
    unsigned bit = 1u << f->lane;
    f->state = kExited;
    B.exited++;
    W.exited |= bit;
    for (unsigned m = W.pending; m; m &= m - 1) {
        unsigned l = __builtin_ctz(m);
        if (W.op[l].mask & bit)
            fiber_fail(f, SIM_CUDA_ERROR_LAUNCH_FAILED,
                       format("thread (lane %u) exited while lane %u of its warp waits for it in %s", f->lane, l,
                              op_where(W.op[l]).c_str()));
    }
    if (B.bar_arrived && B.bar_arrived + B.exited == B.n) release_barrier(B);
    block_and_switch(f);
    __builtin_trap();
}

}  // namespace sim

using namespace sim;

SIM_API int sim_rt_syncthreads(int kind, int pred, const char* file, int line) {
    Fiber* f = self();
    Block& B = *f->block;
    if (B.bar_arrived == 0) {
        B.bar_file = file;
        B.bar_line = line;
        B.bar_kind = kind;
        B.bar_acc = kind == kBarAnd ? 1 : 0;
    } else if (B.bar_kind != kind || B.bar_line != line || (B.bar_file != file && strcmp(B.bar_file, file) != 0)) {
        fiber_fail(f, SIM_CUDA_ERROR_LAUNCH_FAILED,
                   format("divergent barrier: this thread reached %s() at %s:%d while %u other thread(s) wait at "
                          "%s() at %s:%d",
                          bar_name(kind), file, line, B.bar_arrived, bar_name(B.bar_kind), B.bar_file, B.bar_line));
    }
    int p = pred != 0;
    if (kind == kBarCount) B.bar_acc += p;
    else if (kind == kBarAnd) B.bar_acc &= p;
    else if (kind == kBarOr) B.bar_acc |= p;
    B.bar_arrived++;
    if (B.bar_arrived + B.exited == B.n) return release_barrier(B);
    f->state = kWaitBar;
    block_and_switch(f);
    return f->bar_result;
}

SIM_API uint64_t sim_rt_warp_op(int kind, unsigned mask, uint64_t value, int b, int c, const char* file, int line) {
    Fiber* f = self();
    Block& B = *f->block;
    WarpState& W = B.warps[f->warp];
    unsigned lane = f->lane, bit = 1u << lane;
    if (!(mask & bit))
        fiber_fail(f, SIM_CUDA_ERROR_LAUNCH_FAILED,
                   format("lane %u calls %s at %s:%d with mask 0x%08x, which does not name the calling lane", lane,
                          op_name(kind), file, line, mask));
    unsigned gone = mask & ~(W.valid & ~W.exited);
    if (gone)
        fiber_fail(f, SIM_CUDA_ERROR_LAUNCH_FAILED,
                   format("%s at %s:%d: mask 0x%08x names lanes %s, which have exited or do not exist", op_name(kind),
                          file, line, mask, lanes_str(gone).c_str()));
    if (kind >= kShflIdx && kind <= kShflBfly) {
        int width = c >> 16;
        if (width < 1 || width > 32 || (width & (width - 1)))
            fiber_fail(f, SIM_CUDA_ERROR_LAUNCH_FAILED,
                       format("%s at %s:%d: width %d is not a power of 2 in [1, 32]", op_name(kind), file, line, width));
        // The guide ("own value past the subsection") and PTX (only 5 bits of b) disagree beyond 31.
        if (kind != kShflIdx && (b < 0 || b > 31))
            fiber_fail(f, SIM_CUDA_ERROR_LAUNCH_FAILED,
                       format("%s at %s:%d: %s %d is outside [0, 31] (undefined)", op_name(kind), file, line,
                              kind == kShflBfly ? "laneMask" : "delta", b));
    }
    LaneOp& me = W.op[lane];
    me.kind = kind;
    me.mask = mask;
    me.value = value;
    me.b = b;
    me.c = c;
    me.file = file;
    me.line = line;
    // A lane of my mask that waits in a different op whose mask names me can never join mine: divergence.
    // Nothing to check when every pending lane is in the same op as this one.
    unsigned scan = W.pending & mask;
    if (!W.pending) {
        W.uniform = lane + 1;
        scan = 0;
    } else if (W.uniform && same_op(W.op[W.uniform - 1], kind, mask, c, b)) {
        scan = 0;
    } else {
        W.uniform = 0;
    }
    for (unsigned m = scan; m; m &= m - 1) {
        unsigned l = __builtin_ctz(m);
        const LaneOp& o = W.op[l];
        if ((o.mask & bit) && !same_op(o, kind, mask, c, b))
            fiber_fail(f, SIM_CUDA_ERROR_LAUNCH_FAILED,
                       format("divergent warp %u: lane %u is in %s while lane %u waits in %s", f->warp, lane,
                              op_where(me).c_str(), l, op_where(o).c_str()));
    }
    W.pending |= bit;
    if ((W.pending & mask) == mask) {
        bool complete = true;
        for (unsigned m = mask & ~bit; m; m &= m - 1)
            if (!same_op(W.op[__builtin_ctz(m)], kind, mask, c, b)) { complete = false; break; }
        if (complete) {
            // Every lane of the mask has arrived at this op: compute all their results.
            switch (kind) {
                case kShflIdx: case kShflUp: case kShflDown: case kShflBfly: {
                    int cp = c & 0xffff;
                    int segmask = (cp >> 8) & 0x1f, cval = cp & 0x1f;
                    for (unsigned m = mask; m; m &= m - 1) {
                        int l = __builtin_ctz(m);
                        int bval = W.op[l].b & 0x1f;
                        int maxLane = (l & segmask) | (cval & ~segmask), minLane = l & segmask;
                        int j;
                        bool pval;
                        if (kind == kShflUp) { j = l - bval; pval = j >= maxLane; }
                        else if (kind == kShflDown) { j = l + bval; pval = j <= maxLane; }
                        else if (kind == kShflBfly) { j = l ^ bval; pval = j <= maxLane; }
                        else { j = minLane | (bval & ~segmask); pval = j <= maxLane; }
                        if (!pval) j = l;
                        if (!(mask >> j & 1)) {
                            W.pending &= ~bit;
                            fiber_fail(f, SIM_CUDA_ERROR_LAUNCH_FAILED,
                                       format("%s: lane %d reads lane %d, which is not in the mask (the value "
                                              "would be undefined)", op_where(me).c_str(), l, j));
                        }
                        W.op[l].result = W.op[j].value;
                    }
                    break;
                }
                case kBallot: case kAny: case kAll: {
                    unsigned r = 0;
                    for (unsigned m = mask; m; m &= m - 1) {
                        unsigned l = __builtin_ctz(m);
                        if (W.op[l].value) r |= 1u << l;
                    }
                    uint64_t v = kind == kBallot ? r : kind == kAny ? (r != 0) : (r == mask);
                    for (unsigned m = mask; m; m &= m - 1) W.op[__builtin_ctz(m)].result = v;
                    break;
                }
                case kMatchAny: case kMatchAll: {
                    bool all = true;
                    for (unsigned m = mask; m; m &= m - 1) {
                        unsigned l = __builtin_ctz(m);
                        unsigned eq = 0;
                        for (unsigned k = mask; k; k &= k - 1) {
                            unsigned o = __builtin_ctz(k);
                            if (W.op[o].value == W.op[l].value) eq |= 1u << o;
                        }
                        if (eq != mask) all = false;
                        W.op[l].result = eq;
                    }
                    if (kind == kMatchAll)
                        for (unsigned m = mask; m; m &= m - 1) W.op[__builtin_ctz(m)].result = all ? mask : 0;
                    break;
                }
                default:
                    for (unsigned m = mask; m; m &= m - 1) W.op[__builtin_ctz(m)].result = 0;
            }
            W.pending &= ~mask;
            if (W.pending) W.uniform = 0;
            unsigned base = f->warp * 32;
            unsigned others = mask & ~bit;
            if (!g_reverse.load(std::memory_order_relaxed)) {
                for (unsigned m = others; m; m &= ~(1u << (31 - __builtin_clz(m)))) {  // highest first:
                    unsigned l = 31 - __builtin_clz(m);                             // they run in lane order
                    B.fibers[base + l]->state = kRunnable;
                    push_front(B, base + l);
                }
            } else {
                for (unsigned m = others; m; m &= m - 1) {
                    unsigned l = __builtin_ctz(m);
                    B.fibers[base + l]->state = kRunnable;
                    push_front(B, base + l);
                }
            }
            return me.result;
        }
    }
    f->state = kWaitWarp;
    block_and_switch(f);
    return W.op[lane].result;
}

SIM_API unsigned sim_rt_activemask(const char* file, int line) {
    Fiber* f = self();
    Block& B = *f->block;
    WarpState& W = B.warps[f->warp];
    LaneOp& me = W.op[f->lane];
    me.kind = kActiveMask;
    me.mask = 0;
    me.value = 0;
    me.b = me.c = 0;
    me.file = file;
    me.line = line;
    W.pending |= 1u << f->lane;
    W.uniform = 0;
    B.am_pending++;
    f->state = kWaitWarp;
    switch_to_sched(f);
    return (unsigned)me.result;
}

SIM_API void* sim_rt_dynamic_shared(void) {
    // Only meaningful inside a kernel: check that the caller really is a fiber.
    char probe;
    uintptr_t here = reinterpret_cast<uintptr_t>(&probe);
    int n = g_nworkers.load(std::memory_order_acquire);
    for (int i = 0; i < n; i++) {
        uintptr_t s = reinterpret_cast<uintptr_t>(g_workers[i]->slots);
        if (here >= s && here < s + g_workers[i]->slots_len) return self()->dyn_smem;
    }
    fprintf(stderr, "kullback simulator: extern __shared__ memory used outside a kernel (a namespace-scope "
                    "initializer?)\n");
    abort();
}

SIM_API void sim_rt_fail(int code, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string s = vformat(fmt, ap);
    va_end(ap);
    fiber_fail(self(), code, s);
}

SIM_API void sim_rt_misaligned(const void* addr, int align, const char* type) {
    fiber_fail(self(), SIM_CUDA_ERROR_MISALIGNED_ADDRESS,
               format("misaligned %s access at address %p (needs %d-byte alignment)", type, addr, align));
}

SIM_API long long sim_rt_clock64(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// glibc's assert() calls __assert_fail; modules are linked with --wrap=__assert_fail.
SIM_API void __wrap___assert_fail(const char* expr, const char* file, unsigned line, const char* func) {
    fiber_fail(self(), SIM_CUDA_ERROR_ASSERT,
               format("assertion `%s` failed at %s:%u in %s", expr, file, line, func ? func : "?"));
}

// ---- the C API used by SimGpu (through JNA) ---------------------------------------------------------------

SIM_API int sim_abi_version(void) { return kModuleAbi; }

SIM_API int sim_init(void) {
    std::call_once(g_init_once, init_once);
    return 0;
}

SIM_API const char* sim_last_error(void) { return t_last_error.c_str(); }

SIM_API int sim_worker_count(void) {
    int n = g_nworkers.load();
    return n ? n : worker_count();
}

SIM_API void sim_set_reverse_schedule(int reverse) { g_reverse.store(reverse != 0); }

SIM_API void sim_set_launch_timeout_ms(int64_t ms) { g_timeout_ms.store(ms > 0 ? ms : 120000); }

SIM_API void sim_set_memory_limit(uint64_t bytes) { g_memory_limit.store(bytes ? bytes : ~0ull); }

SIM_API uint64_t sim_live_bytes(void) { return g_live_bytes.load(); }

SIM_API int sim_live_allocations(void) {
    std::lock_guard<std::mutex> lock(g_mem_mu);
    return (int)g_live.size();
}

SIM_API int sim_malloc(uint64_t bytes, uint64_t* out) {
    sim_init();
    *out = 0;
    if (bytes == 0) return set_error(SIM_CUDA_ERROR_INVALID_VALUE, "cuMemAlloc of 0 bytes");
    if (g_live_bytes.load() + bytes > g_memory_limit.load())
        return set_error(SIM_CUDA_ERROR_OUT_OF_MEMORY,
                         format("allocating %llu bytes would exceed the simulated device memory of %llu bytes "
                                "(%llu in use)", (unsigned long long)bytes,
                                (unsigned long long)g_memory_limit.load(), (unsigned long long)g_live_bytes.load()));
    size_t rounded = round_up(bytes, 256);
    size_t body = round_up(rounded, kPage);
    size_t len = body + 2 * kPage;
    void* m = mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return set_error(SIM_CUDA_ERROR_OUT_OF_MEMORY, format("mmap of %zu bytes failed", len));
    Alloc a;
    a.map = reinterpret_cast<uintptr_t>(m);
    a.map_len = len;
    a.body = a.map + kPage;
    a.body_end = a.body + body;
    if (mprotect(reinterpret_cast<void*>(a.body), body, PROT_READ | PROT_WRITE) != 0) {
        munmap(m, len);
        return set_error(SIM_CUDA_ERROR_OUT_OF_MEMORY, "mprotect failed");
    }
    a.start = a.body_end - rounded;
    a.size = bytes;
    fill_canary(a.body, a.start);
    memset(reinterpret_cast<void*>(a.start), kFreshByte, bytes);
    fill_canary(a.start + bytes, a.body_end);
    {
        std::lock_guard<std::mutex> lock(g_mem_mu);
        g_live[a.start] = a;
    }
    g_live_bytes += bytes;
    *out = a.start;
    return 0;
}

SIM_API int sim_free(uint64_t ptr) {
    std::lock_guard<std::mutex> launch(g_launch_mu);
    std::lock_guard<std::mutex> lock(g_mem_mu);
    auto it = g_live.find(ptr);
    if (it == g_live.end()) {
        return set_error(SIM_CUDA_ERROR_INVALID_VALUE,
                         format("cuMemFree(0x%llx): not the start of a live allocation (double free?)",
                                (unsigned long long)ptr));
    }
    Alloc a = it->second;
    g_live.erase(it);
    g_live_bytes -= a.size;
    // Keep the address range reserved (PROT_NONE, pages dropped) for a while, to name use-after-free.
    mmap(reinterpret_cast<void*>(a.map), a.map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
         -1, 0);
    g_quarantine.push_back(a);
    g_quarantine_bytes += a.map_len;
    while (g_quarantine.size() > 4096 || g_quarantine_bytes > (size_t)64 << 30) {
        Alloc& o = g_quarantine.front();
        munmap(reinterpret_cast<void*>(o.map), o.map_len);
        g_quarantine_bytes -= o.map_len;
        g_quarantine.pop_front();
    }
    return 0;
}

SIM_API int sim_check_range(uint64_t ptr, uint64_t bytes) {
    std::unique_lock<std::mutex> lock(g_mem_mu);
    if (find_range(ptr, bytes)) return 0;
    lock.unlock();
    return set_error(SIM_CUDA_ERROR_INVALID_VALUE, describe_range_error(ptr, bytes));
}

SIM_API int sim_memcpy_htod(uint64_t dst, const void* src, uint64_t bytes) {
    std::lock_guard<std::mutex> launch(g_launch_mu);
    if (sim_check_range(dst, bytes)) return SIM_CUDA_ERROR_INVALID_VALUE;
    memcpy(reinterpret_cast<void*>(dst), src, bytes);
    return 0;
}

SIM_API int sim_memcpy_dtoh(void* dst, uint64_t src, uint64_t bytes) {
    std::lock_guard<std::mutex> launch(g_launch_mu);
    if (sim_check_range(src, bytes)) return SIM_CUDA_ERROR_INVALID_VALUE;
    memcpy(dst, reinterpret_cast<void*>(src), bytes);
    return 0;
}

SIM_API int sim_memcpy_dtod(uint64_t dst, uint64_t src, uint64_t bytes) {
    std::lock_guard<std::mutex> launch(g_launch_mu);
    if (sim_check_range(src, bytes) || sim_check_range(dst, bytes)) return SIM_CUDA_ERROR_INVALID_VALUE;
    memmove(reinterpret_cast<void*>(dst), reinterpret_cast<void*>(src), bytes);
    return 0;
}

SIM_API int sim_memset(uint64_t dst, int value, uint64_t bytes) {
    std::lock_guard<std::mutex> launch(g_launch_mu);
    if (sim_check_range(dst, bytes)) return SIM_CUDA_ERROR_INVALID_VALUE;
    memset(reinterpret_cast<void*>(dst), value, bytes);
    return 0;
}

static std::string module_dir() {
    const char* e = getenv("KULLBACK_SIM_MODULES");
    if (e && *e) return e;
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&sim_init), &info) && info.dli_fname) {
        std::string p = info.dli_fname;
        size_t slash = p.rfind('/');
        return (slash == std::string::npos ? std::string(".") : p.substr(0, slash)) + "/modules";
    }
    return "modules";
}

struct TlsQuery {
    uintptr_t addr;
    const char* name;
    size_t size;
};
static int find_tls(struct dl_phdr_info* info, size_t, void* arg) {
    TlsQuery* q = static_cast<TlsQuery*>(arg);
    if (info->dlpi_addr != q->addr || !info->dlpi_name || strcmp(info->dlpi_name, q->name) != 0) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_TLS) q->size = info->dlpi_phdr[i].p_memsz;
    return 1;
}

// Loads target/sim/modules/<name>.so (once); *out is the module handle.
SIM_API int sim_load_module(const char* name, uint64_t* out) {
    sim_init();
    *out = 0;
    std::lock_guard<std::mutex> lock(g_mod_mu);
    for (Module* m : g_modules)
        if (m->name == name) { *out = reinterpret_cast<uint64_t>(m); return 0; }
    std::string path = module_dir() + "/" + name + ".so";
    if (access(path.c_str(), R_OK) != 0)
        return set_error(SIM_CUDA_ERROR_FILE_NOT_FOUND,
                         format("no simulator module %s (is kernels/%s.cu built by scripts/build-sim.sh?)",
                                path.c_str(), name));
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) return set_error(SIM_CUDA_ERROR_FILE_NOT_FOUND, format("dlopen(%s): %s", path.c_str(), dlerror()));
    auto get = reinterpret_cast<const ModuleDesc* (*)()>(dlsym(h, "sim_module_desc"));
    if (!get) return set_error(SIM_CUDA_ERROR_FILE_NOT_FOUND, format("%s has no sim_module_desc", path.c_str()));
    const ModuleDesc* d = get();
    if (d->abi != kModuleAbi)
        return set_error(SIM_CUDA_ERROR_FILE_NOT_FOUND,
                         format("%s was built for simulator ABI %d, the runtime is %d: rebuild", path.c_str(), d->abi,
                                kModuleAbi));
    Module* m = new Module();
    m->name = name;
    m->handle = h;
    m->desc = d;
    m->index = (int)g_modules.size();
    for (int i = 0; i < d->count; i++) m->kernels.push_back(Kernel{&d->kernels[i], m});
    struct link_map* lm = nullptr;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm) {
        TlsQuery q{lm->l_addr, lm->l_name, 0};
        dl_iterate_phdr(find_tls, &q);
        m->tls_size = q.size;
    }
    g_modules.push_back(m);
    *out = reinterpret_cast<uint64_t>(m);
    return 0;
}

SIM_API int sim_find_kernel(uint64_t module, const char* name, uint64_t* out) {
    *out = 0;
    Module* m = reinterpret_cast<Module*>(module);
    if (!m) return set_error(SIM_CUDA_ERROR_INVALID_HANDLE, "null module");
    for (Kernel& k : m->kernels)
        if (strcmp(k.d->name, name) == 0) { *out = reinterpret_cast<uint64_t>(&k); return 0; }
    std::string names;
    for (Kernel& k : m->kernels) names += (names.empty() ? "" : ", ") + std::string(k.d->name);
    return set_error(SIM_CUDA_ERROR_NOT_FOUND, format("module %s has no kernel %s (it has: %s)", m->name.c_str(), name,
                                                      names.empty() ? "none" : names.c_str()));
}

SIM_API int sim_kernel_arity(uint64_t kernel) { return reinterpret_cast<Kernel*>(kernel)->d->arity; }
SIM_API const char* sim_kernel_signature(uint64_t kernel) { return reinterpret_cast<Kernel*>(kernel)->d->signature; }
SIM_API const char* sim_kernel_params(uint64_t kernel) { return reinterpret_cast<Kernel*>(kernel)->d->params; }
SIM_API int sim_kernel_max_threads(uint64_t kernel) { return reinterpret_cast<Kernel*>(kernel)->d->max_threads; }
SIM_API int sim_module_kernel_count(uint64_t module) { return (int)reinterpret_cast<Module*>(module)->kernels.size(); }
SIM_API const char* sim_module_kernel_name(uint64_t module, int i) {
    return reinterpret_cast<Module*>(module)->kernels.at(i).d->name;
}

// After a launch: writes into the unguarded slack/padding of any allocation.
static std::string check_all_canaries(const char* kernel) {
    std::lock_guard<std::mutex> lock(g_mem_mu);
    for (auto& kv : g_live) {
        Alloc& a = kv.second;
        uintptr_t bad = check_canary(a.start + a.size, a.body_end);
        uintptr_t bad_front = bad ? 0 : check_canary(a.body, a.start);
        if (bad || bad_front) {
            std::string m =
                bad ? format("out-of-bounds write detected after kernel %s: %zu bytes past the end of the allocation "
                             "of %zu bytes at 0x%zx (in the padding up to the next 256 bytes, which has no guard page; "
                             "the writing thread is unknown)",
                             kernel, bad - (a.start + a.size), a.size, a.start)
                    : format("out-of-bounds write detected after kernel %s: %zu bytes before the start of the allocation "
                             "of %zu bytes at 0x%zx (in the slack before it, which has no guard page; the writing "
                             "thread is unknown)",
                             kernel, a.start - bad_front, a.size, a.start);
            fill_canary(a.body, a.start);
            fill_canary(a.start + a.size, a.body_end);
            return m;
        }
    }
    return "";
}

SIM_API int sim_launch(uint64_t kernel, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                       unsigned shared, void** params, int nparams) {
    sim_init();
    Kernel* k = reinterpret_cast<Kernel*>(kernel);
    if (!k) return set_error(SIM_CUDA_ERROR_INVALID_HANDLE, "null kernel");
    const char* kn = k->d->name;
    if (gx == 0 || gy == 0 || gz == 0)
        return set_error(SIM_CUDA_ERROR_INVALID_VALUE, format("kernel %s: grid (%u,%u,%u) has a zero dimension", kn, gx, gy, gz));
    if (bx == 0 || by == 0 || bz == 0)
        return set_error(SIM_CUDA_ERROR_INVALID_VALUE, format("kernel %s: block (%u,%u,%u) has a zero dimension", kn, bx, by, bz));
    if (gx > 0x7fffffffu || gy > 65535 || gz > 65535)
        return set_error(SIM_CUDA_ERROR_INVALID_VALUE, format("kernel %s: grid (%u,%u,%u) exceeds (2^31-1, 65535, 65535)", kn, gx, gy, gz));
    uint64_t nthreads = (uint64_t)bx * by * bz;
    if (bx > 1024 || by > 1024 || bz > 64 || nthreads > kMaxThreads)
        return set_error(SIM_CUDA_ERROR_INVALID_VALUE,
                         format("kernel %s: block (%u,%u,%u) exceeds the limits (1024, 1024, 64; 1024 threads)", kn, bx, by, bz));
    if (k->d->max_threads > 0 && nthreads > (uint64_t)k->d->max_threads)
        return set_error(701, format("kernel %s: block of %llu threads exceeds its __launch_bounds__(%d)", kn,
                                     (unsigned long long)nthreads, k->d->max_threads));
    if (shared > kMaxDynShared)
        return set_error(SIM_CUDA_ERROR_INVALID_VALUE,
                         format("kernel %s: %u bytes of dynamic shared memory exceed the %u-byte limit", kn, shared, kMaxDynShared));
    if (nparams != k->d->arity || (k->d->arity > 0 && !params))
        return set_error(SIM_CUDA_ERROR_INVALID_VALUE,
                         format("kernel %s(%s) takes %d arguments, the launch passes %d", kn, k->d->params, k->d->arity, nparams));
    for (int i = 0; i < nparams; i++)
        if (!params[i]) return set_error(SIM_CUDA_ERROR_INVALID_VALUE, format("kernel %s: kernelParams[%d] is null", kn, i));

    std::lock_guard<std::mutex> serial(g_launch_mu);
    start_workers();
    Launch L;
    L.k = k;
    L.g[0] = gx; L.g[1] = gy; L.g[2] = gz;
    L.b[0] = bx; L.b[1] = by; L.b[2] = bz;
    L.nthreads = (unsigned)nthreads;
    L.shared = shared;
    L.params = params;
    L.nblocks = (uint64_t)gx * gy * gz;
    {
        std::unique_lock<std::mutex> lock(g_pool_mu);
        g_launch = &L;
        g_active = g_nworkers.load();
        g_gen++;
        g_pool_cv.notify_all();
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(g_timeout_ms.load());
        if (!g_done_cv.wait_until(lock, deadline, [] { return g_active == 0; })) {
            // The watchdog: stop the blocks still running (the signal longjmps out of their fibers).
            L.failed.store(true);
            int n = g_nworkers.load();
            for (int i = 0; i < n; i++)
                if (g_workers[i]->in_fiber) pthread_kill(g_workers[i]->thread, sig_watchdog());
            while (!g_done_cv.wait_for(lock, std::chrono::seconds(1), [] { return g_active == 0; }))
                for (int i = 0; i < n; i++)
                    if (g_workers[i]->in_fiber) pthread_kill(g_workers[i]->thread, sig_watchdog());
        }
        g_launch = nullptr;
    }
    std::string canary = check_all_canaries(kn);
    if (L.failed.load() && L.code == 0)
        return set_error(702, format("kernel %s: the launch did not finish within %lld ms", kn,
                                     (long long)g_timeout_ms.load()));
    if (L.failed.load()) return set_error(L.code, L.msg + (canary.empty() ? "" : "; also " + canary));
    if (!canary.empty()) return set_error(SIM_CUDA_ERROR_ILLEGAL_ADDRESS, canary);
    return 0;
}
