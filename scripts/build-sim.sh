#!/usr/bin/env bash
# Builds the host SIMT simulator (test infrastructure, no GPU needed): the runtime
# target/sim/libkullbacksim.so and one module per kernel source, target/sim/modules/<name>.so, from
# kernels/*.cu and the simulator's own test kernels src/test/native/kernels/*.cu, and the driver shim
# target/sim/driver/libcuda.so.1 (src/test/native/sim/README.md). Run by `mvn test`
# (phase generate-test-resources). Only what changed is rebuilt.
#
# Without g++ (or perl) it prints why and exits 0 (the simulator tests then skip), unless CI=true: then
# it is an error. A build that fails (a kernel that does not compile) is always an error.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/sim
SIM=$ROOT/src/test/native/sim
CXX=${CXX:-g++}
CI=${CI:-false}

# A missing toolchain: a skip locally, an error in CI.
unavailable() {
  echo "build-sim: $*" >&2
  if [ "$CI" = "true" ]; then exit 1; fi
  echo "build-sim: the simulator tests will be skipped (set CI=true to make this an error)" >&2
  exit 0
}
# A broken build (a kernel that does not compile): always an error.
fail() {
  echo "build-sim: $*" >&2
  exit 1
}

command -v "$CXX" >/dev/null 2>&1 || unavailable "no C++ compiler ($CXX) found: cannot build the CUDA simulator"
command -v perl >/dev/null 2>&1 || unavailable "no perl found: cannot generate the simulator's kernel tables"
echo 'int main(){return 0;}' | "$CXX" -std=c++17 -x c++ - -o /dev/null 2>/dev/null \
  || unavailable "$CXX cannot compile C++17"

mkdir -p "$OUT/modules" "$OUT/gen" "$OUT/obj"
CXXFLAGS=(-std=c++17 -O2 -g1 -fPIC -fno-math-errno -fno-strict-aliasing -pthread -Wall -Wno-unknown-pragmas
          -Wno-unused-function -Wno-unused-variable -Wno-unused-but-set-variable)
if [ -n "${SIM_EXTRA_CXXFLAGS:-}" ]; then read -r -a EXTRA <<<"$SIM_EXTRA_CXXFLAGS"; CXXFLAGS+=("${EXTRA[@]}"); fi

# newer TARGET DEPS...: true when TARGET is missing or older than any dependency.
newer() {
  local target=$1; shift
  [ -f "$target" ] || return 0
  local d
  for d in "$@"; do [ "$d" -nt "$target" ] && return 0; done
  return 1
}

status=0
log=$OUT/build.log
: >"$log"

# 1. The runtime.
RT=$OUT/libkullbacksim.so
if newer "$RT" "$SIM"/*.cpp "$SIM"/*.h "$0"; then
  echo "build-sim: compiling the runtime"
  if ! "$CXX" "${CXXFLAGS[@]}" -I"$SIM" -shared -Wl,-soname,libkullbacksim.so -o "$RT.tmp" "$SIM/sim_runtime.cpp" -ldl \
       >>"$log" 2>&1; then
    cat "$log" >&2
    fail "compiling the simulator runtime failed"
  fi
  mv -f "$RT.tmp" "$RT"
fi

# 2. The modules: kernels/*.cu and the simulator's own test kernels.
shopt -s nullglob
sources=("$ROOT"/kernels/*.cu "$ROOT"/src/test/native/kernels/*.cu)
if [ ${#sources[@]} -eq 0 ]; then echo "build-sim: no kernel sources"; exit 0; fi
perl "$ROOT/scripts/sim-gen.pl" "$OUT/gen" "${sources[@]}" || fail "sim-gen.pl failed"

# Drop modules whose source is gone.
for so in "$OUT"/modules/*.so; do
  name=$(basename "$so" .so)
  keep=false
  for s in "${sources[@]}"; do [ "$(basename "$s" .cu)" = "$name" ] && keep=true; done
  $keep || rm -f "$so"
done

jobs_max=$(nproc 2>/dev/null || echo 2)
pids=(); names=()
for s in "${sources[@]}"; do
  name=$(basename "$s" .cu)
  so=$OUT/modules/$name.so
  dir=$(dirname "$s")
  deps=("$s" "$dir"/*.cuh "$dir"/*.h "$SIM"/*.h "$ROOT/scripts/sim-gen.pl" "$0")
  newer "$so" "${deps[@]}" || continue
  echo "build-sim: compiling module $name"
  (
    "$CXX" "${CXXFLAGS[@]}" -fvisibility=hidden -fstack-clash-protection -I"$OUT/gen" -I"$SIM" -I"$SIM/include" -shared \
      -o "$so.tmp" "$OUT/gen/$name.sim.cpp" -L"$OUT" -lkullbacksim -Wl,-rpath,'$ORIGIN/..' -Wl,-z,defs \
      -Wl,--wrap=__assert_fail >"$OUT/obj/$name.log" 2>&1 && mv -f "$so.tmp" "$so"
  ) &
  pids+=($!); names+=("$name")
  if [ ${#pids[@]} -ge "$jobs_max" ]; then
    if ! wait "${pids[0]}"; then status=1; cat "$OUT/obj/${names[0]}.log" >&2; echo "build-sim: module ${names[0]} failed" >&2; fi
    pids=("${pids[@]:1}"); names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then status=1; cat "$OUT/obj/${names[$i]}.log" >&2; echo "build-sim: module ${names[$i]} failed" >&2; fi
done
[ $status -eq 0 ] || fail "compiling simulator modules failed (see above)"

# 3. The driver shim: libcuda.so.1 over the runtime, so JCuda runs the shipped PTX (src/test/native/sim/README.md).
SHIM=$OUT/driver/libcuda.so.1
mkdir -p "$OUT/driver"
if newer "$SHIM" "$SIM"/driver/libcuda_shim.cpp "$SIM"/driver/*.h "$RT" "$0"; then
  echo "build-sim: compiling the driver shim"
  if ! "$CXX" "${CXXFLAGS[@]}" -fvisibility=hidden -I"$SIM/driver" -shared -Wl,-soname,libcuda.so.1 -o "$SHIM.tmp" \
       "$SIM/driver/libcuda_shim.cpp" -L"$OUT" -lkullbacksim -Wl,-rpath,'$ORIGIN/..' -Wl,-z,defs -ldl >"$OUT/obj/driver.log" 2>&1; then
    cat "$OUT/obj/driver.log" >&2
    fail "compiling the driver shim failed"
  fi
  mv -f "$SHIM.tmp" "$SHIM"
fi

# 4. The cuBLAS shim: libcublas.so.12 over the driver shim, so JCublas runs the fused linear losses' GEMMs
#    (libcublas_shim.cpp); its version script gives the versioned names JCublas binds.
CUBLAS=$OUT/driver/libcublas.so.12
if newer "$CUBLAS" "$SIM"/driver/libcublas_shim.cpp "$SIM"/driver/libcublas.map "$SIM"/driver/shim_api.h "$SHIM" "$0"; then
  echo "build-sim: compiling the cuBLAS shim"
  if ! "$CXX" "${CXXFLAGS[@]}" -fvisibility=hidden -I"$SIM/driver" -shared -Wl,-soname,libcublas.so.12 \
       -Wl,--version-script="$SIM/driver/libcublas.map" -o "$CUBLAS.tmp" "$SIM/driver/libcublas_shim.cpp" \
       -L"$OUT/driver" -l:libcuda.so.1 -Wl,-rpath,'$ORIGIN' -Wl,-z,defs >"$OUT/obj/cublas.log" 2>&1; then
    cat "$OUT/obj/cublas.log" >&2
    fail "compiling the cuBLAS shim failed"
  fi
  mv -f "$CUBLAS.tmp" "$CUBLAS"
fi
echo "build-sim: ok ($(ls "$OUT"/modules/*.so | wc -l) modules in $OUT/modules, driver shim $SHIM, cuBLAS shim $CUBLAS)"
