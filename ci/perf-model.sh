#!/usr/bin/env bash
# CI gate: the performance model (ci/perf_model.py) over the shipped PTX. Fails when an op's predicted fraction
# of peak bandwidth at 4096x32768 float32 on H100 / H200 falls below its floor (ci/perf-floors.tsv).
# Needs python3 (stdlib) and ptxas; without ptxas it skips, unless CI=true.
# Usage: ci/perf-model.sh [--report]   (--report: also write docs/benchmarks/perf-model.md)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "perf-model: python3 not found" >&2; exit 1; }
case "${1:-}" in
    --report) exec python3 ci/perf_model.py --check --report docs/benchmarks/perf-model.md ;;
    "") exec python3 ci/perf_model.py --check ;;
    *) echo "usage: ci/perf-model.sh [--report]" >&2; exit 2 ;;
esac
