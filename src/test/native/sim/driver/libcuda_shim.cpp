// libcuda_shim.cpp: libcuda.so.1 on top of the host simulator (test infrastructure, see ../README.md).
//
// The CUDA driver entry points kullback calls through JCuda (under their versioned names: JCuda 12.6's
// libJCudaDriver binds cuMemAlloc_v2, cuMemFree_v2, ...), so the production JCudaGpu, through JCuda's JNI,
// loads the shipped PTX and runs its kernels in CI. PTX entries map to the simulator's kernels of the same
// name, compiled from the same .cu sources. Streams are asynchronous: one worker thread per stream runs its
// queue in order, and (by default, "lazy") only once something waits for that work, so a result read without
// the synchronization CUDA requires comes back stale. Misuse returns the driver's error codes, never a crash.
#include <dirent.h>
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ptx_entries.h"
#include "shim_api.h"

#define DRIVER_API extern "C" __attribute__((visibility("default")))

// The simulator runtime's C API (libkullbacksim.so, ../sim_runtime.cpp).
extern "C" {
int sim_init(void);
const char* sim_last_error(void);
int sim_malloc(uint64_t bytes, uint64_t* out);
int sim_free(uint64_t ptr);
int sim_memcpy_htod(uint64_t dst, const void* src, uint64_t bytes);
int sim_memcpy_dtoh(void* dst, uint64_t src, uint64_t bytes);
int sim_memcpy_dtod(uint64_t dst, uint64_t src, uint64_t bytes);
int sim_memset(uint64_t dst, int value, uint64_t bytes);
int sim_load_module(const char* name, uint64_t* module);
int sim_find_kernel(uint64_t module, const char* name, uint64_t* kernel);
int sim_kernel_arity(uint64_t kernel);
const char* sim_kernel_signature(uint64_t kernel);
const char* sim_kernel_params(uint64_t kernel);
int sim_kernel_max_threads(uint64_t kernel);
int sim_module_kernel_count(uint64_t module);
const char* sim_module_kernel_name(uint64_t module, int i);
int sim_launch(uint64_t kernel, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
               unsigned shared, void** params, int nparams);
}

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

namespace shim {

enum : int {
    SUCCESS = 0,
    INVALID_VALUE = 1,
    OUT_OF_MEMORY = 2,
    NOT_INITIALIZED = 3,
    NO_DEVICE = 100,
    INVALID_DEVICE = 101,
    INVALID_IMAGE = 200,
    INVALID_CONTEXT = 201,
    NO_BINARY_FOR_GPU = 209,
    INVALID_PTX = 218,
    UNSUPPORTED_PTX_VERSION = 222,
    INVALID_HANDLE = 400,
    NOT_FOUND = 500,
    NOT_READY = 600,
    LAUNCH_OUT_OF_RESOURCES = 701,
    CONTEXT_IS_DESTROYED = 709,
    NOT_SUPPORTED = 801,
};

static const char* error_name(int code) {
    switch (code) {
        case 0: return "CUDA_SUCCESS";
        case 1: return "CUDA_ERROR_INVALID_VALUE";
        case 2: return "CUDA_ERROR_OUT_OF_MEMORY";
        case 3: return "CUDA_ERROR_NOT_INITIALIZED";
        case 100: return "CUDA_ERROR_NO_DEVICE";
        case 101: return "CUDA_ERROR_INVALID_DEVICE";
        case 200: return "CUDA_ERROR_INVALID_IMAGE";
        case 201: return "CUDA_ERROR_INVALID_CONTEXT";
        case 209: return "CUDA_ERROR_NO_BINARY_FOR_GPU";
        case 218: return "CUDA_ERROR_INVALID_PTX";
        case 222: return "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
        case 301: return "CUDA_ERROR_FILE_NOT_FOUND";
        case 400: return "CUDA_ERROR_INVALID_HANDLE";
        case 500: return "CUDA_ERROR_NOT_FOUND";
        case 600: return "CUDA_ERROR_NOT_READY";
        case 700: return "CUDA_ERROR_ILLEGAL_ADDRESS";
        case 701: return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
        case 702: return "CUDA_ERROR_LAUNCH_TIMEOUT";
        case 709: return "CUDA_ERROR_CONTEXT_IS_DESTROYED";
        case 710: return "CUDA_ERROR_ASSERT";
        case 714: return "CUDA_ERROR_HARDWARE_STACK_ERROR";
        case 715: return "CUDA_ERROR_ILLEGAL_INSTRUCTION";
        case 716: return "CUDA_ERROR_MISALIGNED_ADDRESS";
        case 719: return "CUDA_ERROR_LAUNCH_FAILED";
        case 801: return "CUDA_ERROR_NOT_SUPPORTED";
        default: return "CUDA_ERROR_UNKNOWN";
    }
}

static std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static std::string format(const char* fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

// ---- configuration (environment, read once) ------------------------------------------------------------------

struct Config {
    int driver_version = 12060;           // KULLBACK_SHIM_DRIVER_VERSION, cuDriverGetVersion's number
    int sm = 90;                          // KULLBACK_SHIM_SM: 60 to 90 (also "sm_90")
    uint64_t memory = 16ull << 30;        // KULLBACK_SHIM_MEMORY: bytes, or with a k/m/g suffix
    int devices = 1;                      // KULLBACK_SHIM_DEVICES
    bool quiet = false;                   // KULLBACK_SHIM_QUIET=1: no error lines on stderr
    std::string error;                    // a bad setting: cuInit fails with it
};

static uint64_t parse_bytes(const char* s, bool* ok) {
    char* end = nullptr;
    double v = strtod(s, &end);
    uint64_t scale = 1;
    if (end && (*end == 'k' || *end == 'K')) scale = 1ull << 10, end++;
    else if (end && (*end == 'm' || *end == 'M')) scale = 1ull << 20, end++;
    else if (end && (*end == 'g' || *end == 'G')) scale = 1ull << 30, end++;
    *ok = end && end != s && *end == '\0' && v > 0;
    return (uint64_t)(v * (double)scale);
}

static const Config& config() {
    static Config c = [] {
        Config k;
        if (const char* v = getenv("KULLBACK_SHIM_DRIVER_VERSION")) k.driver_version = atoi(v);
        if (const char* v = getenv("KULLBACK_SHIM_SM")) k.sm = atoi(strncmp(v, "sm_", 3) == 0 ? v + 3 : v);
        if (const char* v = getenv("KULLBACK_SHIM_MEMORY")) {
            bool ok;
            k.memory = parse_bytes(v, &ok);
            if (!ok) k.error = format("KULLBACK_SHIM_MEMORY=%s is not a size in bytes (e.g. 1g)", v);
        }
        if (const char* v = getenv("KULLBACK_SHIM_DEVICES")) k.devices = atoi(v);
        if (const char* v = getenv("KULLBACK_SHIM_QUIET")) k.quiet = strcmp(v, "1") == 0;
        // sm_75 to sm_90 run the shipped PTX; the older ones model a GPU it has no binary for.
        static const int kSms[] = {60, 61, 70, 72, 75, 80, 86, 87, 89, 90};
        if (std::find(std::begin(kSms), std::end(kSms), k.sm) == std::end(kSms))
            k.error = format("KULLBACK_SHIM_SM=%d: the shim models sm_60, 61, 70, 72, 75, 80, 86, 87, 89 and 90", k.sm);
        if (k.driver_version < 11000) k.error = format("KULLBACK_SHIM_DRIVER_VERSION=%d: below 11000", k.driver_version);
        if (k.devices < 0 || k.devices > 8) k.error = format("KULLBACK_SHIM_DEVICES=%d: 0 to 8", k.devices);
        return k;
    }();
    return c;
}

static std::atomic<bool> g_lazy{[] {
    const char* v = getenv("KULLBACK_SHIM_LAZY");
    return !(v && strcmp(v, "0") == 0);
}()};

// The newest PTX ISA a driver for CUDA `version` JIT-compiles (PTX ISA release notes).
static int max_ptx_isa(int version) {
    int major = version / 1000, minor = version % 1000 / 10;
    if (major <= 11) return 70 + minor;            // CUDA 11.x: ISA 7.x
    if (major == 12) {
        if (minor <= 5) return 80 + minor;         // 12.0-12.5: ISA 8.0-8.5
        if (minor <= 7) return 85;                 // 12.6: 8.5
        return 80 + minor - 1;                     // 12.8: 8.7, 12.9: 8.8
    }
    return 90 + (major - 13) * 10 + minor;         // 13.0: ISA 9.0
}

// ---- errors ------------------------------------------------------------------------------------------------

static thread_local std::string t_error;

static int fail(int code, const std::string& call, const std::string& what) {
    t_error = call + ": " + error_name(code) + ": " + what;
    if (!config().quiet) fprintf(stderr, "[libcuda shim] %s\n", t_error.c_str());
    return code;
}

// ---- state ---------------------------------------------------------------------------------------------

struct Context;
struct Stream;

struct Op {
    std::function<int(std::string&)> run;  // returns a CUresult; fills the message on failure
    std::string what;
    std::vector<std::pair<Stream*, uint64_t>> deps;  // (stream, sequence number) that must have run first
    void (*release)(void*) = nullptr;
    void* release_arg = nullptr;
};

struct Stream {
    Context* ctx = nullptr;
    bool legacy = false;
    bool non_blocking = false;
    bool destroyed = false;  // guarded by g_mu
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Op> queue;
    uint64_t enqueued = 0, done = 0, released = 0;
    bool stop = false;
    std::thread worker;
};

struct Function;

struct Module {
    Context* ctx = nullptr;
    std::vector<Function*> functions;
    std::string sim_name;
};

struct Function {
    Module* module = nullptr;
    shim::PtxEntry entry;
    uint64_t kernel = 0;      // the simulator's kernel
    std::string signature;    // the simulator's parameter codes: p pointer, i int, l long, f float, d double
    std::vector<std::string> source_params;  // the parameters as written in the .cu, for messages
    int max_threads = 0;
};

struct Event {
    Stream* stream = nullptr;
    uint64_t seq = 0;
    std::shared_ptr<std::atomic<long long>> nanos = std::make_shared<std::atomic<long long>>(0);
};

struct Context {
    int device = 0;
    int refs = 0;
    bool active = false;
    Stream* legacy = nullptr;
    std::vector<Stream*> streams;            // created, not destroyed
    std::map<uint64_t, uint64_t> allocs;     // start -> bytes
    uint64_t used = 0;
    int sticky = 0;                          // a kernel fault poisons the context, as on a GPU
    std::string sticky_message;
};

enum class Kind { Context, Stream, Module, Function, Event };

static std::mutex g_mu;  // everything below, and Context/Module state; never held while waiting on a stream
static std::map<const void*, Kind> g_handles;
static std::map<const void*, std::string> g_dead;  // destroyed handles: what they were, for messages
static std::vector<Context*> g_primary;
static bool g_initialized = false;
static std::atomic<int> g_pending{0};

struct Current {
    std::vector<Context*> stack{nullptr};  // back() is current
};
static thread_local Current t_current;

static bool is(const void* h, Kind k) {
    auto it = g_handles.find(h);
    return it != g_handles.end() && it->second == k;
}

static std::string dead_or_unknown(const void* h, const char* kind) {
    auto it = g_dead.find(h);
    return it != g_dead.end() ? format("%p is a %s that was destroyed", h, it->second.c_str())
                              : format("%p is not a %s of this driver", h, kind);
}

// ---- streams ---------------------------------------------------------------------------------------------

static void wait_done(Stream* s, uint64_t seq) {
    std::unique_lock<std::mutex> lock(s->mu);
    s->cv.wait(lock, [&] { return s->done >= seq; });
}

// Lets the stream's work up to `seq` run (lazy mode), and the work on other streams it waits for.
static void release(Stream* s, uint64_t seq) {
    std::vector<std::pair<Stream*, uint64_t>> deps;
    {
        std::lock_guard<std::mutex> lock(s->mu);
        if (seq <= s->released) return;
        uint64_t first = s->done + 1;
        for (uint64_t k = std::max(first, s->released + 1); k <= seq && k - first < s->queue.size(); k++)
            for (auto& d : s->queue[k - first].deps) deps.push_back(d);
        s->released = seq;
        s->cv.notify_all();
    }
    for (auto& d : deps) release(d.first, d.second);
}

static void set_sticky(Context* c, int code, const std::string& message) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!c->sticky) {
        c->sticky = code;
        c->sticky_message = message;
    }
}

static void worker_loop(Stream* s) {
    std::unique_lock<std::mutex> lock(s->mu);
    for (;;) {
        s->cv.wait(lock, [&] {
            return (s->stop && s->queue.empty()) ||
                   (!s->queue.empty() && (!g_lazy.load() || s->done < s->released));
        });
        if (s->queue.empty()) return;
        Op& op = s->queue.front();
        lock.unlock();
        for (auto& d : op.deps) wait_done(d.first, d.second);
        int sticky;
        {
            std::lock_guard<std::mutex> g(g_mu);
            sticky = s->ctx->sticky;
        }
        if (!sticky) {  // after a kernel fault nothing more runs in the context
            std::string message;
            int r = op.run(message);
            if (r) {
                std::string m = op.what + ": " + error_name(r) + ": " + message;
                if (!config().quiet) fprintf(stderr, "[libcuda shim] stream %p: %s\n", (void*)s, m.c_str());
                set_sticky(s->ctx, r, m);
            }
        }
        if (op.release) op.release(op.release_arg);
        lock.lock();
        s->queue.pop_front();
        s->done++;
        g_pending--;
        s->cv.notify_all();
    }
}

static Stream* new_stream(Context* c, bool legacy, bool non_blocking) {
    Stream* s = new Stream();
    s->ctx = c;
    s->legacy = legacy;
    s->non_blocking = non_blocking;
    s->worker = std::thread(worker_loop, s);
    return s;
}

// Queues op on s (caller holds no lock). The legacy stream waits for every blocking stream's queued work, and a
// blocking stream for the legacy stream's: CUDA's legacy default stream semantics. Non-blocking streams wait for
// nothing.
static uint64_t enqueue(Stream* s, Op op) {
    std::vector<Stream*> others;
    {
        std::lock_guard<std::mutex> lock(g_mu);
        if (s->legacy) {
            for (Stream* o : s->ctx->streams)
                if (!o->non_blocking) others.push_back(o);
        } else if (!s->non_blocking) {
            others.push_back(s->ctx->legacy);
        }
    }
    for (Stream* o : others) {
        std::lock_guard<std::mutex> lock(o->mu);
        if (o->enqueued > o->done) op.deps.emplace_back(o, o->enqueued);
    }
    std::lock_guard<std::mutex> lock(s->mu);
    s->queue.push_back(std::move(op));
    uint64_t seq = ++s->enqueued;
    g_pending++;
    if (!g_lazy.load()) s->released = seq;
    s->cv.notify_all();
    return seq;
}

static uint64_t last_seq(Stream* s) {
    std::lock_guard<std::mutex> lock(s->mu);
    return s->enqueued;
}

static void drain(Stream* s) {
    uint64_t seq = last_seq(s);
    release(s, seq);
    wait_done(s, seq);
}

static std::vector<Stream*> all_streams(Context* c) {
    std::lock_guard<std::mutex> lock(g_mu);
    std::vector<Stream*> v(c->streams);
    v.push_back(c->legacy);
    return v;
}

static void drain_context(Context* c) {
    for (Stream* s : all_streams(c)) release(s, last_seq(s));
    for (Stream* s : all_streams(c)) wait_done(s, last_seq(s));
}

static void stop_stream(Stream* s) {
    drain(s);
    {
        std::lock_guard<std::mutex> lock(s->mu);
        s->stop = true;
        s->cv.notify_all();
    }
    s->worker.join();
}

// ---- context checks --------------------------------------------------------------------------------------

// The calling thread's current context, ready for work; else the error (sticky kernel faults included).
static int current(const char* call, Context** out) {
    *out = nullptr;
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_initialized) return fail(NOT_INITIALIZED, call, "cuInit has not been called");
    Context* c = t_current.stack.back();
    if (!c) return fail(INVALID_CONTEXT, call, "no context is current on this thread (cuCtxSetCurrent)");
    if (!c->active)
        return fail(CONTEXT_IS_DESTROYED, call, "the current context (the primary context of device " +
                                                    std::to_string(c->device) + ") was released");
    if (c->sticky) return fail(c->sticky, call, "the context is unusable after an earlier error: " + c->sticky_message);
    *out = c;
    return SUCCESS;
}

// The stream a CUstream value names in context c (0 and CU_STREAM_LEGACY: c's legacy stream).
static int stream_of(const char* call, Context* c, const void* h, Stream** out) {
    *out = nullptr;
    if (h == nullptr || h == reinterpret_cast<void*>(0x1)) {
        *out = c->legacy;
        return SUCCESS;
    }
    if (h == reinterpret_cast<void*>(0x2)) return fail(NOT_SUPPORTED, call, "CU_STREAM_PER_THREAD is not modeled");
    std::lock_guard<std::mutex> lock(g_mu);
    if (!is(h, Kind::Stream)) return fail(INVALID_HANDLE, call, dead_or_unknown(h, "stream"));
    Stream* s = const_cast<Stream*>(static_cast<const Stream*>(h));
    if (s->ctx != c) return fail(INVALID_HANDLE, call, format("stream %p belongs to another context", h));
    *out = s;
    return SUCCESS;
}

// The allocation of c that holds [p, p + bytes), or false.
static bool find_alloc(Context* c, uint64_t p, uint64_t bytes, uint64_t* start, uint64_t* size) {
    auto it = c->allocs.upper_bound(p);
    if (it == c->allocs.begin()) return false;
    --it;
    if (p >= it->first + it->second) return false;
    *start = it->first;
    *size = it->second;
    return bytes <= it->first + it->second - p;
}

static std::string describe_range(Context* c, uint64_t p, uint64_t bytes) {
    uint64_t start, size;
    if (find_alloc(c, p, 1, &start, &size))
        return format("%llu bytes at 0x%llx overrun the allocation of %llu bytes at 0x%llx", (unsigned long long)bytes,
                      (unsigned long long)p, (unsigned long long)size, (unsigned long long)start);
    return format("0x%llx is not in any live allocation of this context", (unsigned long long)p);
}

static int check_range(const char* call, Context* c, uint64_t p, uint64_t bytes) {
    std::lock_guard<std::mutex> lock(g_mu);
    uint64_t start, size;
    if (find_alloc(c, p, bytes, &start, &size)) return SUCCESS;
    return fail(INVALID_VALUE, call, describe_range(c, p, bytes));
}

// Reads `bytes` at p into out without faulting: false when the memory is not readable (write(2) to a pipe
// reports EFAULT instead of raising SIGSEGV).
static bool safe_read(const void* p, void* out, size_t bytes) {
    static thread_local int fds[2] = {-1, -1};
    if (fds[0] < 0 && pipe(fds) != 0) return false;
    if (write(fds[1], p, bytes) != (ssize_t)bytes) return false;
    return read(fds[0], out, bytes) == (ssize_t)bytes;
}

// ---- simulator modules -------------------------------------------------------------------------------------

static std::string modules_dir() {
    if (const char* e = getenv("KULLBACK_SIM_MODULES")) return e;
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&sim_init), &info) && info.dli_fname) {
        std::string p = info.dli_fname;
        size_t slash = p.rfind('/');
        return (slash == std::string::npos ? std::string(".") : p.substr(0, slash)) + "/modules";
    }
    return "modules";
}

// Every simulator module (target/sim/modules/*.so), loaded once: name -> handle.
static const std::vector<std::pair<std::string, uint64_t>>& sim_modules(std::string* error) {
    static std::vector<std::pair<std::string, uint64_t>> mods;
    static std::string err;
    static std::once_flag once;
    std::call_once(once, [] {
        std::string dir = modules_dir();
        DIR* d = opendir(dir.c_str());
        if (!d) {
            err = "cannot read the simulator's modules in " + dir;
            return;
        }
        std::vector<std::string> names;
        while (dirent* e = readdir(d)) {
            std::string n = e->d_name;
            if (n.size() > 3 && n.compare(n.size() - 3, 3, ".so") == 0) names.push_back(n.substr(0, n.size() - 3));
        }
        closedir(d);
        std::sort(names.begin(), names.end());
        for (auto& n : names) {
            uint64_t m = 0;
            if (sim_load_module(n.c_str(), &m) == 0) mods.emplace_back(n, m);
            else err += std::string(err.empty() ? "" : "; ") + sim_last_error();
        }
    });
    *error = err;
    return mods;
}

static std::vector<std::string> split_params(const char* list) {
    std::vector<std::string> out;
    std::string cur;
    int depth = 0;
    for (const char* p = list; *p; p++) {
        if (*p == '(' || *p == '<') depth++;
        if (*p == ')' || *p == '>') depth--;
        if (*p == ',' && depth == 0) {
            out.push_back(cur);
            cur.clear();
        } else if (!(cur.empty() && *p == ' ')) {
            cur += *p;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

// Whether a PTX parameter and the simulator kernel's C++ parameter have the same size and kind.
static bool compatible(const shim::PtxParam& p, char code) {
    switch (code) {
        case 'p': case 'l': return p.size == 8 && p.type != ".f64";
        case 'd': return p.type == ".f64";
        case 'i': return p.size == 4 && p.type != ".f32";
        case 'f': return p.type == ".f32";
        case 's': return p.size == 2;
        case 'b': return p.size == 1;
        default: return false;
    }
}

// ---- launches ----------------------------------------------------------------------------------------------

struct LaunchArgs {
    std::vector<uint8_t> bytes;
    std::vector<size_t> offsets;
    std::vector<void*> pointers;
    void fix() {
        pointers.clear();
        for (size_t o : offsets) pointers.push_back(bytes.data() + o);
    }
};

static int check_launch_shape(const char* call, const std::string& name, unsigned gx, unsigned gy, unsigned gz,
                              unsigned bx, unsigned by, unsigned bz, unsigned shared, int max_threads) {
    if (!gx || !gy || !gz || !bx || !by || !bz)
        return fail(INVALID_VALUE, call, format("%s: grid (%u,%u,%u) or block (%u,%u,%u) has a zero dimension",
                                                name.c_str(), gx, gy, gz, bx, by, bz));
    if (gx > 0x7fffffffu || gy > 65535 || gz > 65535)
        return fail(INVALID_VALUE, call, format("%s: grid (%u,%u,%u) exceeds (2^31-1, 65535, 65535)", name.c_str(), gx,
                                                gy, gz));
    uint64_t threads = (uint64_t)bx * by * bz;
    if (bx > 1024 || by > 1024 || bz > 64 || threads > 1024)
        return fail(INVALID_VALUE, call, format("%s: block (%u,%u,%u) exceeds (1024, 1024, 64) or 1024 threads",
                                                name.c_str(), bx, by, bz));
    if (max_threads > 0 && threads > (uint64_t)max_threads)
        return fail(LAUNCH_OUT_OF_RESOURCES, call, format("%s: a block of %llu threads exceeds its .maxntid %d",
                                                          name.c_str(), (unsigned long long)threads, max_threads));
    if (shared > 48 * 1024)
        return fail(INVALID_VALUE, call, format("%s: %u bytes of dynamic shared memory exceed 48 KiB", name.c_str(),
                                                shared));
    return SUCCESS;
}

// KULLBACK_SHIM_LAUNCH_LOG=<file>: each kernel's name is appended once, when first launched (kernel coverage).
static void log_first_launch(const std::string& name) {
    static const char* path = getenv("KULLBACK_SHIM_LAUNCH_LOG");
    static std::mutex mu;
    static std::vector<std::string> seen;
    if (!path) return;
    std::lock_guard<std::mutex> lock(mu);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) return;
    seen.push_back(name);
    if (FILE* f = fopen(path, "a")) {
        fprintf(f, "%s\n", name.c_str());
        fclose(f);
    }
}

static int enqueue_launch(Stream* s, uint64_t kernel, const std::string& name, unsigned gx, unsigned gy, unsigned gz,
                          unsigned bx, unsigned by, unsigned bz, unsigned shared, std::shared_ptr<LaunchArgs> args) {
    log_first_launch(name);
    Op op;
    op.what = "kernel " + name;
    op.run = [=](std::string& message) {
        int r = sim_launch(kernel, gx, gy, gz, bx, by, bz, shared, args->pointers.data(), (int)args->pointers.size());
        if (r) message = sim_last_error();
        return r;
    };
    enqueue(s, std::move(op));
    return SUCCESS;
}

}  // namespace shim

using namespace shim;

// ==== the driver API =========================================================================================

DRIVER_API CUresult cuGetErrorName(CUresult error, const char** name) {
    if (!name) return INVALID_VALUE;
    *name = error_name(error);
    return strcmp(*name, "CUDA_ERROR_UNKNOWN") == 0 && error != 999 ? INVALID_VALUE : SUCCESS;
}

DRIVER_API CUresult cuGetErrorString(CUresult error, const char** text) {
    return cuGetErrorName(error, text);
}

DRIVER_API CUresult cuDriverGetVersion(int* version) {
    if (!version) return fail(INVALID_VALUE, "cuDriverGetVersion", "null argument");
    *version = config().driver_version;
    return SUCCESS;
}

DRIVER_API CUresult cuInit(unsigned flags) {
    if (flags != 0) return fail(INVALID_VALUE, "cuInit", format("flags must be 0, got %u", flags));
    if (!config().error.empty()) return fail(INVALID_VALUE, "cuInit", config().error);
    sim_init();
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_initialized) {
        for (int d = 0; d < config().devices; d++) {
            Context* c = new Context();
            c->device = d;
            g_primary.push_back(c);
            g_handles[c] = Kind::Context;
        }
        g_initialized = true;
    }
    return SUCCESS;
}

static int device_check(const char* call, CUdevice dev) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_initialized) return fail(NOT_INITIALIZED, call, "cuInit has not been called");
    if (dev < 0 || dev >= (int)g_primary.size())
        return fail(INVALID_DEVICE, call, format("device %d: there are %zu", dev, g_primary.size()));
    return SUCCESS;
}

DRIVER_API CUresult cuDeviceGetCount(int* count) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_initialized) return fail(NOT_INITIALIZED, "cuDeviceGetCount", "cuInit has not been called");
    if (!count) return fail(INVALID_VALUE, "cuDeviceGetCount", "null argument");
    *count = (int)g_primary.size();
    return SUCCESS;
}

DRIVER_API CUresult cuDeviceGet(CUdevice* device, int ordinal) {
    if (int r = device_check("cuDeviceGet", ordinal)) return r;
    if (!device) return fail(INVALID_VALUE, "cuDeviceGet", "null argument");
    *device = ordinal;
    return SUCCESS;
}

DRIVER_API CUresult cuDeviceGetName(char* name, int length, CUdevice dev) {
    if (int r = device_check("cuDeviceGetName", dev)) return r;
    if (!name || length <= 0) return fail(INVALID_VALUE, "cuDeviceGetName", "null or empty buffer");
    snprintf(name, (size_t)length, "kullback driver shim on the host SIMT simulator");
    return SUCCESS;
}

DRIVER_API CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
    if (int r = device_check("cuDeviceTotalMem", dev)) return r;
    if (!bytes) return fail(INVALID_VALUE, "cuDeviceTotalMem", "null argument");
    *bytes = config().memory;
    return SUCCESS;
}

DRIVER_API CUresult cuDeviceGetAttribute(int* value, int attribute, CUdevice dev) {
    if (int r = device_check("cuDeviceGetAttribute", dev)) return r;
    if (!value) return fail(INVALID_VALUE, "cuDeviceGetAttribute", "null argument");
    switch (attribute) {
        case 1: *value = 1024; break;                     // MAX_THREADS_PER_BLOCK
        case 2: case 3: *value = 1024; break;             // MAX_BLOCK_DIM_X, _Y
        case 4: *value = 64; break;                       // MAX_BLOCK_DIM_Z
        case 5: *value = 0x7fffffff; break;               // MAX_GRID_DIM_X
        case 6: case 7: *value = 65535; break;            // MAX_GRID_DIM_Y, _Z
        case 8: *value = 48 * 1024; break;                // MAX_SHARED_MEMORY_PER_BLOCK
        case 10: *value = 32; break;                      // WARP_SIZE
        case 16: *value = 2; break;                       // MULTIPROCESSOR_COUNT
        case 36: *value = 2619000; break;                 // MEMORY_CLOCK_RATE (kHz), H100-like
        case 37: *value = 5120; break;                    // GLOBAL_MEMORY_BUS_WIDTH (bits)
        case 75: *value = config().sm / 10; break;        // COMPUTE_CAPABILITY_MAJOR
        case 76: *value = config().sm % 10; break;        // COMPUTE_CAPABILITY_MINOR
        default:
            return fail(INVALID_VALUE, "cuDeviceGetAttribute", format("attribute %d is not modeled", attribute));
    }
    return SUCCESS;
}

DRIVER_API CUresult cuDevicePrimaryCtxRetain(void** ctx, CUdevice dev) {
    if (int r = device_check("cuDevicePrimaryCtxRetain", dev)) return r;
    if (!ctx) return fail(INVALID_VALUE, "cuDevicePrimaryCtxRetain", "null argument");
    std::lock_guard<std::mutex> lock(g_mu);
    Context* c = g_primary[dev];
    if (c->refs++ == 0) {
        c->active = true;
        c->sticky = 0;
        c->sticky_message.clear();
        c->legacy = new_stream(c, true, false);
    }
    *ctx = c;
    return SUCCESS;
}

DRIVER_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    if (int r = device_check("cuDevicePrimaryCtxRelease", dev)) return r;
    Context* c;
    std::vector<Stream*> streams;
    {
        std::lock_guard<std::mutex> lock(g_mu);
        c = g_primary[dev];
        if (c->refs == 0) return fail(INVALID_CONTEXT, "cuDevicePrimaryCtxRelease", "the primary context is not retained");
        if (--c->refs > 0) return SUCCESS;
    }
    // The last reference: the context is destroyed with its streams, modules and memory.
    drain_context(c);
    std::unique_lock<std::mutex> lock(g_mu);
    streams = c->streams;
    streams.push_back(c->legacy);
    c->streams.clear();
    c->legacy = nullptr;
    c->active = false;
    for (Stream* s : streams) {
        if (!s->legacy) {
            g_handles.erase(s);
            g_dead[s] = "stream (its context was destroyed)";
        }
    }
    for (auto it = g_handles.begin(); it != g_handles.end();) {
        bool mine = (it->second == Kind::Module && static_cast<const Module*>(it->first)->ctx == c) ||
                    (it->second == Kind::Function && static_cast<const Function*>(it->first)->module->ctx == c) ||
                    (it->second == Kind::Event && static_cast<const Event*>(it->first)->stream &&
                     static_cast<const Event*>(it->first)->stream->ctx == c);
        it = mine ? g_handles.erase(it) : std::next(it);
    }
    if (!c->allocs.empty() && !config().quiet)
        fprintf(stderr, "[libcuda shim] the primary context of device %d was destroyed with %zu allocations "
                        "(%llu bytes) still live: freed\n", dev, c->allocs.size(), (unsigned long long)c->used);
    for (auto& a : c->allocs) sim_free(a.first);
    c->allocs.clear();
    c->used = 0;
    lock.unlock();
    for (Stream* s : streams) {  // drained above: stopping ends idle workers
        std::lock_guard<std::mutex> sl(s->mu);
        s->stop = true;
        s->cv.notify_all();
    }
    for (Stream* s : streams) s->worker.join();
    return SUCCESS;
}

DRIVER_API CUresult cuCtxSetCurrent(void* ctx) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_initialized) return fail(NOT_INITIALIZED, "cuCtxSetCurrent", "cuInit has not been called");
    if (ctx && !is(ctx, Kind::Context)) return fail(INVALID_CONTEXT, "cuCtxSetCurrent", dead_or_unknown(ctx, "context"));
    if (ctx && !static_cast<Context*>(ctx)->active)
        return fail(CONTEXT_IS_DESTROYED, "cuCtxSetCurrent", "the primary context was released by its last user");
    t_current.stack.back() = static_cast<Context*>(ctx);
    return SUCCESS;
}

DRIVER_API CUresult cuCtxGetCurrent(void** ctx) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_initialized) return fail(NOT_INITIALIZED, "cuCtxGetCurrent", "cuInit has not been called");
    if (!ctx) return fail(INVALID_VALUE, "cuCtxGetCurrent", "null argument");
    *ctx = t_current.stack.back();
    return SUCCESS;
}

DRIVER_API CUresult cuCtxPushCurrent_v2(void* ctx) {
    {
        std::lock_guard<std::mutex> lock(g_mu);
        if (!ctx || !is(ctx, Kind::Context) || !static_cast<Context*>(ctx)->active)
            return fail(INVALID_CONTEXT, "cuCtxPushCurrent", dead_or_unknown(ctx, "live context"));
        t_current.stack.push_back(static_cast<Context*>(ctx));
    }
    return SUCCESS;
}

DRIVER_API CUresult cuCtxPopCurrent_v2(void** ctx) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (t_current.stack.size() <= 1 && !t_current.stack.back())
        return fail(INVALID_CONTEXT, "cuCtxPopCurrent", "no context is current");
    if (ctx) *ctx = t_current.stack.back();
    if (t_current.stack.size() > 1) t_current.stack.pop_back();
    else t_current.stack.back() = nullptr;
    return SUCCESS;
}

DRIVER_API CUresult cuCtxGetDevice(CUdevice* dev) {
    Context* c;
    if (int r = current("cuCtxGetDevice", &c)) return r;
    if (!dev) return fail(INVALID_VALUE, "cuCtxGetDevice", "null argument");
    *dev = c->device;
    return SUCCESS;
}

static CUresult sticky_after_wait(const char* call, Context* c) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (c->sticky) return fail(c->sticky, call, c->sticky_message);
    return SUCCESS;
}

DRIVER_API CUresult cuCtxSynchronize(void) {
    Context* c;
    if (int r = current("cuCtxSynchronize", &c)) return r;
    drain_context(c);
    return sticky_after_wait("cuCtxSynchronize", c);
}

// ---- streams ---------------------------------------------------------------------------------------------

DRIVER_API CUresult cuStreamCreate(void** stream, unsigned flags) {
    Context* c;
    if (int r = current("cuStreamCreate", &c)) return r;
    if (!stream) return fail(INVALID_VALUE, "cuStreamCreate", "null argument");
    if (flags > 1) return fail(INVALID_VALUE, "cuStreamCreate", format("flags %u: CU_STREAM_DEFAULT (0) or NON_BLOCKING (1)", flags));
    Stream* s = new_stream(c, false, flags == 1);
    std::lock_guard<std::mutex> lock(g_mu);
    c->streams.push_back(s);
    g_handles[s] = Kind::Stream;
    *stream = s;
    return SUCCESS;
}

DRIVER_API CUresult cuStreamDestroy_v2(void* stream) {
    Context* c;
    if (int r = current("cuStreamDestroy", &c)) return r;
    if (!stream || stream == reinterpret_cast<void*>(0x1))
        return fail(INVALID_HANDLE, "cuStreamDestroy", "the legacy default stream cannot be destroyed");
    Stream* s;
    if (int r = stream_of("cuStreamDestroy", c, stream, &s)) return r;
    {
        std::lock_guard<std::mutex> lock(g_mu);
        g_handles.erase(s);
        g_dead[s] = "stream";
        c->streams.erase(std::remove(c->streams.begin(), c->streams.end(), s), c->streams.end());
    }
    stop_stream(s);  // its queued work still runs, as on a GPU (here before returning)
    return SUCCESS;
}

DRIVER_API CUresult cuStreamGetCtx(void* stream, void** ctx) {
    Context* c;
    if (int r = current("cuStreamGetCtx", &c)) return r;
    if (!ctx) return fail(INVALID_VALUE, "cuStreamGetCtx", "null argument");
    if (!stream || stream == reinterpret_cast<void*>(0x1)) {
        *ctx = c;
        return SUCCESS;
    }
    std::lock_guard<std::mutex> lock(g_mu);
    if (!is(stream, Kind::Stream)) return fail(INVALID_HANDLE, "cuStreamGetCtx", dead_or_unknown(stream, "stream"));
    *ctx = static_cast<Stream*>(stream)->ctx;
    return SUCCESS;
}

DRIVER_API CUresult cuStreamSynchronize(void* stream) {
    Context* c;
    if (int r = current("cuStreamSynchronize", &c)) return r;
    Stream* s;
    if (int r = stream_of("cuStreamSynchronize", c, stream, &s)) return r;
    drain(s);
    return sticky_after_wait("cuStreamSynchronize", c);
}

DRIVER_API CUresult cuStreamQuery(void* stream) {
    Context* c;
    if (int r = current("cuStreamQuery", &c)) return r;
    Stream* s;
    if (int r = stream_of("cuStreamQuery", c, stream, &s)) return r;
    std::lock_guard<std::mutex> lock(s->mu);
    return s->done == s->enqueued ? SUCCESS : NOT_READY;
}

// ---- events ----------------------------------------------------------------------------------------------

DRIVER_API CUresult cuEventCreate(void** event, unsigned flags) {
    Context* c;
    if (int r = current("cuEventCreate", &c)) return r;
    if (!event) return fail(INVALID_VALUE, "cuEventCreate", "null argument");
    (void)flags;
    Event* e = new Event();
    e->stream = c->legacy;  // a never-recorded event counts as complete
    std::lock_guard<std::mutex> lock(g_mu);
    g_handles[e] = Kind::Event;
    *event = e;
    return SUCCESS;
}

DRIVER_API CUresult cuEventDestroy_v2(void* event) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!is(event, Kind::Event)) return fail(INVALID_HANDLE, "cuEventDestroy", dead_or_unknown(event, "event"));
    g_handles.erase(event);
    g_dead[event] = "event";
    return SUCCESS;  // the Event itself is kept: a queued record may still write its time
}

DRIVER_API CUresult cuEventRecord(void* event, void* stream) {
    Context* c;
    if (int r = current("cuEventRecord", &c)) return r;
    Stream* s;
    if (int r = stream_of("cuEventRecord", c, stream, &s)) return r;
    Event* e;
    {
        std::lock_guard<std::mutex> lock(g_mu);
        if (!is(event, Kind::Event)) return fail(INVALID_HANDLE, "cuEventRecord", dead_or_unknown(event, "event"));
        e = static_cast<Event*>(event);
    }
    Op op;
    op.what = "cuEventRecord";
    auto nanos = e->nanos;
    op.run = [nanos](std::string&) {
        nanos->store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch()).count());
        return SUCCESS;
    };
    uint64_t seq = enqueue(s, std::move(op));
    std::lock_guard<std::mutex> lock(g_mu);
    e->stream = s;
    e->seq = seq;
    return SUCCESS;
}

static int event_of(const char* call, void* event, Event** out) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!is(event, Kind::Event)) return fail(INVALID_HANDLE, call, dead_or_unknown(event, "event"));
    *out = static_cast<Event*>(event);
    return SUCCESS;
}

DRIVER_API CUresult cuEventSynchronize(void* event) {
    Context* c;
    if (int r = current("cuEventSynchronize", &c)) return r;
    Event* e;
    if (int r = event_of("cuEventSynchronize", event, &e)) return r;
    release(e->stream, e->seq);
    wait_done(e->stream, e->seq);
    return sticky_after_wait("cuEventSynchronize", c);
}

DRIVER_API CUresult cuEventQuery(void* event) {
    Event* e;
    if (int r = event_of("cuEventQuery", event, &e)) return r;
    std::lock_guard<std::mutex> lock(e->stream->mu);
    return e->stream->done >= e->seq ? SUCCESS : NOT_READY;
}

DRIVER_API CUresult cuEventElapsedTime(float* ms, void* start, void* end) {
    Event *a, *b;
    if (int r = event_of("cuEventElapsedTime", start, &a)) return r;
    if (int r = event_of("cuEventElapsedTime", end, &b)) return r;
    if (!ms) return fail(INVALID_VALUE, "cuEventElapsedTime", "null argument");
    if (cuEventQuery(start) || cuEventQuery(end)) return fail(NOT_READY, "cuEventElapsedTime", "an event has not completed");
    if (!a->nanos->load() || !b->nanos->load())
        return fail(INVALID_HANDLE, "cuEventElapsedTime", "an event was never recorded");
    *ms = (float)((double)(b->nanos->load() - a->nanos->load()) / 1e6);
    return SUCCESS;
}

// ---- memory ----------------------------------------------------------------------------------------------

DRIVER_API CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytes) {
    Context* c;
    if (int r = current("cuMemAlloc", &c)) return r;
    if (!dptr) return fail(INVALID_VALUE, "cuMemAlloc", "null argument");
    *dptr = 0;
    if (bytes == 0) return fail(INVALID_VALUE, "cuMemAlloc", "0 bytes");
    std::lock_guard<std::mutex> lock(g_mu);
    if (bytes > config().memory || c->used > config().memory - bytes)
        return fail(OUT_OF_MEMORY, "cuMemAlloc", format("%zu bytes: %llu of the device's %llu bytes are in use", bytes,
                                                        (unsigned long long)c->used,
                                                        (unsigned long long)config().memory));
    uint64_t p = 0;
    if (sim_malloc(bytes, &p)) return fail(OUT_OF_MEMORY, "cuMemAlloc", sim_last_error());
    c->allocs[p] = bytes;
    c->used += bytes;
    *dptr = p;
    return SUCCESS;
}

DRIVER_API CUresult cuMemFree_v2(CUdeviceptr dptr) {
    Context* c;
    if (int r = current("cuMemFree", &c)) return r;
    drain_context(c);  // cuMemFree waits for the work that may still use the memory
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = c->allocs.find(dptr);
    if (it == c->allocs.end())
        return fail(INVALID_VALUE, "cuMemFree", format("0x%llx is not the start of a live allocation of this context "
                                                       "(double free?)", dptr));
    sim_free(dptr);
    c->used -= it->second;
    c->allocs.erase(it);
    return SUCCESS;
}

DRIVER_API CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
    Context* c;
    if (int r = current("cuMemGetInfo", &c)) return r;
    std::lock_guard<std::mutex> lock(g_mu);
    if (free_bytes) *free_bytes = config().memory - c->used;
    if (total) *total = config().memory;
    return SUCCESS;
}

DRIVER_API CUresult cuMemGetAddressRange_v2(CUdeviceptr* base, size_t* size, CUdeviceptr dptr) {
    Context* c;
    if (int r = current("cuMemGetAddressRange", &c)) return r;
    std::lock_guard<std::mutex> lock(g_mu);
    uint64_t start, bytes;
    if (!find_alloc(c, dptr, 1, &start, &bytes))
        return fail(NOT_FOUND, "cuMemGetAddressRange", format("0x%llx is not in any live allocation of this context", dptr));
    if (base) *base = start;
    if (size) *size = bytes;
    return SUCCESS;
}

// A copy or memset on a stream: checked now, run in stream order; host memory is read (or written) when it runs.
static CUresult queue_copy(const char* call, void* stream, std::function<int()> run, bool wait) {
    Context* c;
    if (int r = current(call, &c)) return r;
    Stream* s;
    if (int r = stream_of(call, c, stream, &s)) return r;
    Op op;
    op.what = call;
    op.run = [run, call](std::string& message) {
        int r = run();
        if (r) message = std::string(call) + ": " + sim_last_error();
        return r;
    };
    uint64_t seq = enqueue(s, std::move(op));
    if (!wait) return SUCCESS;
    release(s, seq);
    wait_done(s, seq);
    return sticky_after_wait(call, c);
}

static CUresult checked_copy(const char* call, void* stream, uint64_t device_a, uint64_t device_b, size_t bytes,
                             std::function<int()> run, bool wait) {
    Context* c;
    if (int r = current(call, &c)) return r;
    if (device_a && check_range(call, c, device_a, bytes)) return INVALID_VALUE;
    if (device_b && check_range(call, c, device_b, bytes)) return INVALID_VALUE;
    return queue_copy(call, stream, std::move(run), wait);
}

// Synchronous copies run on the legacy default stream (after the work of every blocking stream) and return when
// done; from pageable host memory, as JCuda's Java arrays are.
DRIVER_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t bytes) {
    if (!src) return fail(INVALID_VALUE, "cuMemcpyHtoD", "null source");
    return checked_copy("cuMemcpyHtoD", nullptr, dst, 0, bytes, [=] { return sim_memcpy_htod(dst, src, bytes); }, true);
}

DRIVER_API CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t bytes) {
    if (!dst) return fail(INVALID_VALUE, "cuMemcpyDtoH", "null destination");
    return checked_copy("cuMemcpyDtoH", nullptr, src, 0, bytes, [=] { return sim_memcpy_dtoh(dst, src, bytes); }, true);
}

DRIVER_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
    return checked_copy("cuMemcpyDtoD", nullptr, dst, src, bytes, [=] { return sim_memcpy_dtod(dst, src, bytes); }, true);
}

DRIVER_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t bytes, void* stream) {
    if (!src) return fail(INVALID_VALUE, "cuMemcpyHtoDAsync", "null source");
    return checked_copy("cuMemcpyHtoDAsync", stream, dst, 0, bytes, [=] { return sim_memcpy_htod(dst, src, bytes); },
                        false);
}

DRIVER_API CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t bytes, void* stream) {
    if (!dst) return fail(INVALID_VALUE, "cuMemcpyDtoHAsync", "null destination");
    return checked_copy("cuMemcpyDtoHAsync", stream, src, 0, bytes, [=] { return sim_memcpy_dtoh(dst, src, bytes); },
                        false);
}

DRIVER_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void* stream) {
    return checked_copy("cuMemcpyDtoDAsync", stream, dst, src, bytes, [=] { return sim_memcpy_dtod(dst, src, bytes); },
                        false);
}

DRIVER_API CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t count, void* stream) {
    return checked_copy("cuMemsetD8Async", stream, dst, 0, count, [=] { return sim_memset(dst, value, count); }, false);
}

DRIVER_API CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t count) {
    return checked_copy("cuMemsetD8", nullptr, dst, 0, count, [=] { return sim_memset(dst, value, count); }, true);
}

static int fill32(CUdeviceptr dst, unsigned value, size_t count) {
    std::vector<unsigned> words(count, value);
    return sim_memcpy_htod(dst, words.data(), 4 * count);
}

DRIVER_API CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t count, void* stream) {
    if (dst & 3) return fail(INVALID_VALUE, "cuMemsetD32Async", "destination not 4-byte aligned");
    return checked_copy("cuMemsetD32Async", stream, dst, 0, 4 * count, [=] { return fill32(dst, value, count); }, false);
}

DRIVER_API CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned value, size_t count) {
    if (dst & 3) return fail(INVALID_VALUE, "cuMemsetD32", "destination not 4-byte aligned");
    return checked_copy("cuMemsetD32", nullptr, dst, 0, 4 * count, [=] { return fill32(dst, value, count); }, true);
}

// ---- modules ---------------------------------------------------------------------------------------------

// Loads PTX text: its .version must be one the configured driver JIT-compiles, its .target one the configured
// device runs, and its entries those of one simulator module (the same .cu), parameter by parameter.
DRIVER_API CUresult cuModuleLoadDataEx(void** module, const void* image, unsigned num_options, int* options,
                                       void** option_values) {
    static const char* kCall = "cuModuleLoadDataEx";
    (void)num_options, (void)options, (void)option_values;  // JIT options change nothing here
    Context* c;
    if (int r = current(kCall, &c)) return r;
    if (!module || !image) return fail(INVALID_VALUE, kCall, "null argument");
    const char* text = static_cast<const char*>(image);
    if (memcmp(text, "\x7f" "ELF", 4) == 0 || *reinterpret_cast<const uint32_t*>(text) == 0xba55ed50u)
        return fail(INVALID_IMAGE, kCall, "a cubin or fatbin: the shim loads PTX text only");
    PtxModule ptx;
    PtxReader reader(text);
    if (!reader.read(ptx)) return fail(INVALID_PTX, kCall, reader.error());
    if (ptx.address_size != 64) return fail(INVALID_PTX, kCall, ".address_size must be 64");
    int isa = ptx.isa_major * 10 + ptx.isa_minor, max = max_ptx_isa(config().driver_version);
    if (isa > max)
        return fail(UNSUPPORTED_PTX_VERSION, kCall,
                    format("PTX ISA %d.%d; the driver (CUDA %d.%d, KULLBACK_SHIM_DRIVER_VERSION=%d) JIT-compiles up to "
                           "PTX ISA %d.%d", ptx.isa_major, ptx.isa_minor, config().driver_version / 1000,
                           config().driver_version % 1000 / 10, config().driver_version, max / 10, max % 10));
    if (ptx.target_sm > config().sm)
        return fail(NO_BINARY_FOR_GPU, kCall, format("PTX for sm_%d cannot run on the sm_%d device (KULLBACK_SHIM_SM)",
                                                     ptx.target_sm, config().sm));
    if (ptx.entries.empty()) return fail(INVALID_PTX, kCall, "no .entry");
    std::string error;
    const auto& mods = sim_modules(&error);
    std::string names;
    for (auto& e : ptx.entries) names += (names.empty() ? "" : ", ") + e.name;
    for (auto& m : mods) {
        std::vector<uint64_t> kernels;
        for (auto& e : ptx.entries) {
            uint64_t k = 0;
            if (sim_find_kernel(m.second, e.name.c_str(), &k) != 0) break;
            kernels.push_back(k);
        }
        if (kernels.size() != ptx.entries.size()) continue;
        Module* mod = new Module();
        mod->ctx = c;
        mod->sim_name = m.first;
        for (size_t i = 0; i < kernels.size(); i++) {
            const PtxEntry& e = ptx.entries[i];
            Function* f = new Function();
            f->module = mod;
            f->entry = e;
            f->kernel = kernels[i];
            f->signature = sim_kernel_signature(kernels[i]);
            f->source_params = split_params(sim_kernel_params(kernels[i]));
            f->max_threads = sim_kernel_max_threads(kernels[i]);
            if (e.maxntid && (!f->max_threads || e.maxntid < f->max_threads)) f->max_threads = e.maxntid;
            std::string mismatch;
            if (f->signature.size() != e.params.size())
                mismatch = format("entry %s declares %zu parameters, the simulator's kernel (%s.cu) takes %zu",
                                  e.name.c_str(), e.params.size(), m.first.c_str(), f->signature.size());
            for (size_t p = 0; mismatch.empty() && p < e.params.size(); p++)
                if (!compatible(e.params[p], f->signature[p]))
                    mismatch = format("entry %s parameter %zu is %s, the simulator's kernel (%s.cu) takes `%s`: the "
                                      "shipped PTX and the source disagree (rebuild the PTX)", e.name.c_str(), p,
                                      e.params[p].type.c_str(), m.first.c_str(),
                                      p < f->source_params.size() ? f->source_params[p].c_str() : "?");
            if (!mismatch.empty()) {
                for (Function* g : mod->functions) delete g;
                delete f;
                delete mod;
                return fail(INVALID_PTX, kCall, mismatch);
            }
            mod->functions.push_back(f);
        }
        std::lock_guard<std::mutex> lock(g_mu);
        g_handles[mod] = Kind::Module;
        for (Function* f : mod->functions) g_handles[f] = Kind::Function;
        *module = mod;
        return SUCCESS;
    }
    return fail(NOT_FOUND, kCall, "no simulator module has all of the entries " + names +
                                      (error.empty() ? "" : " (" + error + ")"));
}

DRIVER_API CUresult cuModuleGetFunction(void** function, void* module, const char* name) {
    Context* c;
    if (int r = current("cuModuleGetFunction", &c)) return r;
    if (!function || !name) return fail(INVALID_VALUE, "cuModuleGetFunction", "null argument");
    std::lock_guard<std::mutex> lock(g_mu);
    if (!is(module, Kind::Module)) return fail(INVALID_HANDLE, "cuModuleGetFunction", dead_or_unknown(module, "module"));
    Module* m = static_cast<Module*>(module);
    std::string names;
    for (Function* f : m->functions) {
        if (f->entry.name == name) {
            *function = f;
            return SUCCESS;
        }
        names += (names.empty() ? "" : ", ") + f->entry.name;
    }
    return fail(NOT_FOUND, "cuModuleGetFunction", format("no entry %s in the module (it has: %s)", name, names.c_str()));
}

DRIVER_API CUresult cuModuleUnload(void* module) {
    Context* c;
    if (int r = current("cuModuleUnload", &c)) return r;
    std::lock_guard<std::mutex> lock(g_mu);
    if (!is(module, Kind::Module)) return fail(INVALID_HANDLE, "cuModuleUnload", dead_or_unknown(module, "module"));
    Module* m = static_cast<Module*>(module);
    g_handles.erase(m);
    g_dead[m] = "module";
    for (Function* f : m->functions) {
        g_handles.erase(f);
        g_dead[f] = "function of an unloaded module";
    }
    return SUCCESS;  // kept in memory: queued launches still name its simulator kernels
}

// Checks the launch (shape, the stream, each kernelParams entry against the PTX parameter: readable, and a pointer
// parameter of the simulator's kernel must be null or device memory of this context), copies the arguments' bytes
// as the driver does, and queues it.
DRIVER_API CUresult cuLaunchKernel(void* function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                   unsigned bz, unsigned shared, void* stream, void** params, void** extra) {
    static const char* kCall = "cuLaunchKernel";
    Context* c;
    if (int r = current(kCall, &c)) return r;
    Function* f;
    {
        std::lock_guard<std::mutex> lock(g_mu);
        if (!is(function, Kind::Function)) return fail(INVALID_HANDLE, kCall, dead_or_unknown(function, "function"));
        f = static_cast<Function*>(function);
        if (f->module->ctx != c)
            return fail(INVALID_CONTEXT, kCall, f->entry.name + " was loaded in another context than the current one");
    }
    const std::string& name = f->entry.name;
    std::string call = std::string(kCall) + "(" + name + ")";
    if (extra) return fail(NOT_SUPPORTED, call, "the `extra` argument buffer is not modeled: pass kernelParams");
    Stream* s;
    if (int r = stream_of(call.c_str(), c, stream, &s)) return r;
    if (int r = check_launch_shape(call.c_str(), name, gx, gy, gz, bx, by, bz, shared, f->max_threads)) return r;
    size_t n = f->entry.params.size();
    if (n && !params) return fail(INVALID_VALUE, call, format("kernelParams is null; %s takes %zu parameters", name.c_str(), n));
    auto args = std::make_shared<LaunchArgs>();
    for (size_t i = 0; i < n; i++) {
        const PtxParam& p = f->entry.params[i];
        std::string source = i < f->source_params.size() ? f->source_params[i] : p.name;
        void* slot = nullptr;
        if (!safe_read(&params[i], &slot, sizeof slot))
            return fail(INVALID_VALUE, call, format("kernelParams[%zu] cannot be read: %s takes %zu parameters, is the "
                                                    "array shorter?", i, name.c_str(), n));
        size_t offset = (args->bytes.size() + 7) / 8 * 8;
        args->bytes.resize(offset + p.size);
        if (!slot || !safe_read(slot, args->bytes.data() + offset, p.size))
            return fail(INVALID_VALUE, call, format("kernelParams[%zu] (%s `%s`) points at %p, which is not %d readable "
                                                    "bytes: a missing argument?", i, p.type.c_str(), source.c_str(),
                                                    slot, p.size));
        args->offsets.push_back(offset);
        if (f->signature[i] == 'p') {
            uint64_t address;
            memcpy(&address, args->bytes.data() + offset, 8);
            std::lock_guard<std::mutex> lock(g_mu);
            uint64_t start, size;
            if (address && !find_alloc(c, address, 1, &start, &size) &&
                !(address > 0 && find_alloc(c, address - 1, 1, &start, &size)))
                return fail(INVALID_VALUE, call,
                            format("kernelParams[%zu] (%s `%s`) = 0x%llx is not device memory of this context: a "
                                   "marshalling slip (an int, or a host address, where the kernel wants a device "
                                   "pointer)?", i, p.type.c_str(), source.c_str(), (unsigned long long)address));
        }
    }
    args->fix();
    return enqueue_launch(s, f->kernel, name, gx, gy, gz, bx, by, bz, shared, args);
}

// ==== the shim's own API (shim_api.h) =========================================================================

DRIVER_API const char* kullback_shim_last_error(void) { return t_error.c_str(); }

DRIVER_API uint64_t kullback_shim_live_bytes(void) {
    std::lock_guard<std::mutex> lock(g_mu);
    uint64_t total = 0;
    for (Context* c : g_primary) total += c->used;
    return total;
}

DRIVER_API int kullback_shim_live_allocations(void) {
    std::lock_guard<std::mutex> lock(g_mu);
    size_t total = 0;
    for (Context* c : g_primary) total += c->allocs.size();
    return (int)total;
}

DRIVER_API int kullback_shim_pending(void) { return g_pending.load(); }

DRIVER_API void kullback_shim_set_lazy(int lazy) {
    g_lazy.store(lazy != 0);
    if (!lazy) {  // let everything already queued go
        std::vector<Stream*> streams;
        {
            std::lock_guard<std::mutex> lock(g_mu);
            for (Context* c : g_primary)
                if (c->active) {
                    streams.insert(streams.end(), c->streams.begin(), c->streams.end());
                    streams.push_back(c->legacy);
                }
        }
        for (Stream* s : streams) release(s, last_seq(s));
    }
}

DRIVER_API int kullback_shim_stream_context(void* stream, void** context) {
    Context* c;
    if (int r = current("kullback_shim_stream_context", &c)) return r;
    Stream* s;
    if (int r = stream_of("kullback_shim_stream_context", c, stream, &s)) return r;
    *context = s->ctx;
    return SUCCESS;
}

DRIVER_API int kullback_shim_check_range(uint64_t address, uint64_t bytes) {
    Context* c;
    if (int r = current("kullback_shim_check_range", &c)) return r;
    return check_range("kullback_shim_check_range", c, address, bytes);
}

DRIVER_API int kullback_shim_enqueue(void* stream, int (*run)(void*), void* arg, void (*release_fn)(void*),
                                     const char* what) {
    Context* c;
    if (int r = current(what, &c)) return r;
    Stream* s;
    if (int r = stream_of(what, c, stream, &s)) return r;
    Op op;
    op.what = what;
    op.run = [run, arg](std::string& message) {
        int r = run(arg);
        if (r) message = "failed";
        return r;
    };
    op.release = release_fn;
    op.release_arg = arg;
    enqueue(s, std::move(op));
    return SUCCESS;
}

DRIVER_API int kullback_shim_launch_by_name(void* stream, const char* module, const char* kernel, unsigned gx,
                                            unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                                            unsigned shared, void** params) {
    static const char* kCall = "kullback_shim_launch_by_name";
    Context* c;
    if (int r = current(kCall, &c)) return r;
    Stream* s;
    if (int r = stream_of(kCall, c, stream, &s)) return r;
    uint64_t m = 0, k = 0;
    if (sim_load_module(module, &m) || sim_find_kernel(m, kernel, &k)) return fail(NOT_FOUND, kCall, sim_last_error());
    if (int r = check_launch_shape(kCall, kernel, gx, gy, gz, bx, by, bz, shared, sim_kernel_max_threads(k))) return r;
    auto args = std::make_shared<LaunchArgs>();
    for (const char* code = sim_kernel_signature(k); *code; code++) {
        int size = *code == 'p' || *code == 'l' || *code == 'd' ? 8 : *code == 's' ? 2 : *code == 'b' ? 1 : 4;
        size_t offset = (args->bytes.size() + 7) / 8 * 8;
        args->bytes.resize(offset + size);
        memcpy(args->bytes.data() + offset, params[code - sim_kernel_signature(k)], size);
        args->offsets.push_back(offset);
    }
    args->fix();
    return enqueue_launch(s, k, kernel, gx, gy, gz, bx, by, bz, shared, args);
}
