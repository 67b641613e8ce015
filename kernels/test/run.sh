#!/usr/bin/env bash
# Builds and runs the host-side kernel check (g++ with AddressSanitizer/UBSan; no GPU, no nvcc).
# Usage: kernels/test/run.sh [big]     ("big" adds a 10^6-column row)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
g++ -std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -o "$out/kernel_test" "$here/kernel_test.cpp"
# ASan warns once that it does not fully support swapcontext; the fibers are plain enough
"$out/kernel_test" "$@" 2> >(grep -v "ASan doesn't fully support makecontext/swapcontext" >&2)
