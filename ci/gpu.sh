#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: the GPU tests (requireGpu) and the GPU benchmarks of every op and
# loss at the model's shapes (CUDA events), then docs/benchmarks/gpu-results.md with the measured TB/s, the share
# of the device's peak and the performance model's prediction (ci/perf_model.py) side by side. Prints its
# progress; aims at under 8 minutes (the tests are the GPU classes, the benchmark 7 ops x 3 shapes).
#
# Without a usable GPU it says why and exits 0, unless requireGpu is set (--require-gpu, or
# KULLBACK_REQUIRE_GPU=true): then it exits 1. Called by .github/workflows/gpu.yml.
# Usage: ci/gpu.sh [--require-gpu]
set -euo pipefail
cd "$(dirname "$0")/.."

require=${KULLBACK_REQUIRE_GPU:-false}
case "${1:-}" in
    --require-gpu) require=true ;;
    "") ;;
    *) echo "usage: ci/gpu.sh [--require-gpu]" >&2; exit 2 ;;
esac
OPS=logSoftmax,softmax,logSoftmaxBackward,klDiv,klDivBackward,crossEntropy,distillation
SHAPES=4096x32768,16x262144,65536x128
OUT=docs/benchmarks
start=$SECONDS
step() { printf '[gpu %3ds] %s\n' $((SECONDS - start)) "$*"; }

no_gpu() {
    if [ "$require" = "true" ]; then
        step "FAIL: $* (requireGpu is set)"
        exit 1
    fi
    step "no GPU: $*. Nothing was run or written (set --require-gpu to make this a failure)."
    exit 0
}

step "looking for an NVIDIA GPU"
command -v nvidia-smi >/dev/null 2>&1 || no_gpu "nvidia-smi not found (no NVIDIA driver on this machine)"
gpus=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true)
[ -n "$gpus" ] || no_gpu "nvidia-smi lists no GPU ($(nvidia-smi -L 2>&1 | head -1))"
step "GPU: $(echo "$gpus" | head -1)"

step "1/3 GPU tests (requireGpu=true): GpuParityTest, GpuLossParityTest, GpuInteropTest, PtxCompatibilityTest"
mvn -B -q test -Dkullback.requireGpu=true -Dsurefire.failIfNoSpecifiedTests=false \
    -Dtest='GpuParityTest,GpuLossParityTest,GpuInteropTest,PtxCompatibilityTest'
step "GPU tests passed"

step "2/3 GPU benchmarks: $OPS at $SHAPES (CUDA events)"
mvn -B -q test-compile exec:exec@bench -Dkullback.bench.device=cuda -Dkullback.requireGpu=true \
    -Dkullback.bench.ops="$OPS" -Dkullback.bench.shapes="$SHAPES" -Dkullback.bench.out=target/gpu-bench
[ -s target/gpu-bench/gpu-results.tsv ] || { step "FAIL: the benchmark wrote no target/gpu-bench/gpu-results.tsv"; exit 1; }

step "3/3 measured beside the model's prediction -> $OUT/gpu-results.md"
python3 ci/gpu_report.py target/gpu-bench/gpu-results.tsv "$OUT/gpu-results.md"
step "done in $((SECONDS - start)) s"
