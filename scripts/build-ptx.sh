#!/usr/bin/env bash
# Compiles every kernels/<name>.cu to src/main/resources/dev/kullback/ptx/<name>.ptx.
#
# The PTX targets compute_75 and declares PTX ISA 8.0: nvcc 13 writes `.version 9.0`, which only
# CUDA 13 drivers load, while 8.0 loads on every driver from CUDA 12.0 on. The rewrite is only
# kept after ptxas has compiled the rewritten PTX for every supported sm (ptxas rejects any
# instruction or directive that needs a newer ISA than the file declares).
#
# Usage: scripts/build-ptx.sh [OUT_DIR]    (default: src/main/resources/dev/kullback/ptx)
# Env:   NVCC, PTXAS (default: nvcc, ptxas on PATH).
# The output is deterministic (same compiler, same bytes): no -lineinfo, no paths, no timestamps;
# nvcc's header comment names only the compiler version. ci/check-ptx.sh relies on that.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEFAULT_OUT="$ROOT/src/main/resources/dev/kullback/ptx"
OUT=${1:-$DEFAULT_OUT}
NVCC=${NVCC:-nvcc}
PTXAS=${PTXAS:-ptxas}

PTX_ISA=8.0
SMS=(75 80 86 89 90 120)
# -fmad=false: no implicit a*b+c contraction, so results round like the formulas read (and like the
# CPU implementation); expf/logf keep their explicit internal fmas, so their accuracy is unchanged.
NVCC_FLAGS=(-arch=compute_75 -ptx -O3 -fmad=false)

die() { echo "build-ptx: $*" >&2; exit 1; }
command -v "$NVCC" >/dev/null || die "nvcc not found (set NVCC or put the CUDA toolkit on PATH)"
command -v "$PTXAS" >/dev/null || die "ptxas not found (set PTXAS or put the CUDA toolkit on PATH)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$ROOT"
shopt -s nullglob
sources=(kernels/*.cu)
[ ${#sources[@]} -gt 0 ] || die "no kernels/*.cu"

# One module: nvcc, the ISA rewrite, then ptxas for every sm (skipped with BUILD_PTX_NO_PTXAS=1 by ci/check-ptx.sh,
# whose own ptxas pass over the same files follows). Modules build in parallel, one job per core.
build_one() {
    local cu=$1 name ptx
    name=$(basename "$cu" .cu)
    ptx="$work/$name.ptx"
    "$NVCC" "${NVCC_FLAGS[@]}" "$cu" -o "$ptx" || die "nvcc failed on $cu"
    [ "$(grep -c '^\.version ' "$ptx")" -eq 1 ] || die "$name.ptx: expected exactly one .version line"
    sed -i "s/^\.version [0-9][0-9]*\.[0-9][0-9]*\$/.version $PTX_ISA/" "$ptx"
    [ "${BUILD_PTX_NO_PTXAS:-}" = 1 ] && return 0
    for sm in "${SMS[@]}"; do
        "$PTXAS" -arch=sm_$sm "$ptx" -o "$work/$name.sm_$sm.cubin" \
            || die "$name.ptx does not compile for sm_$sm as PTX ISA $PTX_ISA (does a kernel need a newer ISA?)"
        rm -f "$work/$name.sm_$sm.cubin"
    done
}
jobs=$(nproc 2>/dev/null || echo 2)
for cu in "${sources[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    { build_one "$cu" || touch "$work/$(basename "$cu" .cu).failed"; } &
done
wait
failed=("$work"/*.failed)
[ ${#failed[@]} -eq 0 ] || die "failed: ${failed[*]##*/} (see above)"

checked="ptxas ok for: ${SMS[*]/#/sm_}"
[ "${BUILD_PTX_NO_PTXAS:-}" = 1 ] && checked="ptxas left to the caller"
mkdir -p "$OUT"
if [ "$OUT" = "$DEFAULT_OUT" ]; then
    # drop PTX whose source is gone, so the resources are exactly kernels/*.cu
    for old in "$OUT"/*.ptx; do
        [ -e "kernels/$(basename "$old" .ptx).cu" ] || { rm -f "$old"; echo "build-ptx: removed stale $(basename "$old")"; }
    done
fi
for cu in "${sources[@]}"; do
    name=$(basename "$cu" .cu)
    cp "$work/$name.ptx" "$OUT/$name.ptx"
    echo "build-ptx: $OUT/$name.ptx ($(wc -c <"$OUT/$name.ptx") bytes, PTX ISA $PTX_ISA, ${checked})"
done
