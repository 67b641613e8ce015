// sim_module.h: what a compiled kernel module (target/sim/modules/<name>.so) exports to the runtime.
// Included by the generated module sources (scripts/sim-gen.pl), after the kernel sources themselves.
#pragma once
#include <cstddef>
#include <type_traits>
#include <utility>

namespace sim {

constexpr int kModuleAbi = 1;

using Invoke = void (*)(void** params);

struct KernelDesc {
    const char* name;
    Invoke invoke;
    int arity;
    const char* signature;  // one code per parameter: p pointer, i 32-bit int, l 64-bit int, f float, d double
    const char* params;     // the parameter list as written in the source, for messages
    int max_threads;        // __launch_bounds__ maximum, 0 when none
};

struct ModuleDesc {
    int abi;
    const char* name;
    const KernelDesc* kernels;
    int count;
    void* (*tls_touch)();  // touches the module's thread-local (= __shared__) storage in the calling thread
};

template <class T>
struct ParamCode {
    static constexpr char value = std::is_pointer<T>::value            ? 'p'
                                  : std::is_same<T, float>::value      ? 'f'
                                  : std::is_same<T, double>::value     ? 'd'
                                  : std::is_integral<T>::value         ? (sizeof(T) == 8   ? 'l'
                                                                          : sizeof(T) == 4 ? 'i'
                                                                          : sizeof(T) == 2 ? 's'
                                                                                           : 'b')
                                                                       : 'x';
};

template <class F>
struct Invoker;

// Unpacks cuLaunchKernel's `void** kernelParams` (params[i] points at the i-th argument's bytes).
template <class... A>
struct Invoker<void (*)(A...)> {
    static constexpr int arity = sizeof...(A);
    static const char* signature() {
        static const char s[] = {ParamCode<typename std::decay<A>::type>::value..., '\0'};
        return s;
    }
    template <void (*F)(A...), std::size_t... I>
    static void call_impl(void** p, std::index_sequence<I...>) {
        (void)p;
        F(*static_cast<typename std::remove_cv<typename std::remove_reference<A>::type>::type*>(p[I])...);
    }
    template <void (*F)(A...)>
    static void call(void** p) {
        call_impl<F>(p, std::index_sequence_for<A...>{});
    }
};

}  // namespace sim

#define SIM_KERNEL(NAME, MAX_THREADS, PARAMS)                                                         \
    {#NAME, &::sim::Invoker<decltype(&NAME)>::template call<&NAME>, ::sim::Invoker<decltype(&NAME)>::arity, \
     ::sim::Invoker<decltype(&NAME)>::signature(), PARAMS, MAX_THREADS}
