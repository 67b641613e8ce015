#!/usr/bin/env bash
# CI gate for the shipped PTX (src/main/resources/dev/kullback/ptx/*.ptx). Needs no GPU.
#   (a) freshness: rebuilds kernels/*.cu into a temp dir with scripts/build-ptx.sh and fails when the
#       result differs from the committed files ("PTX is stale: run scripts/build-ptx.sh").
#       Without nvcc this step fails when CI=true and is skipped otherwise.
#   (b) ptxas -v on every shipped .ptx for each supported sm: fails on any error or register spill.
#       Without ptxas this step fails when CI=true and is skipped otherwise.
#   (c) a table of registers / static shared memory / spill bytes per kernel per sm: printed, or
#       with --report written to docs/benchmarks/ptxas-report.md.
# Usage: ci/check-ptx.sh [--report]      Env: NVCC, PTXAS, CI.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PTX_DIR="$ROOT/src/main/resources/dev/kullback/ptx"
REPORT="$ROOT/docs/benchmarks/ptxas-report.md"
NVCC=${NVCC:-nvcc}
PTXAS=${PTXAS:-ptxas}
SMS=(75 80 86 89 90 120)

write_report=false
case "${1:-}" in
    --report) write_report=true ;;
    "") ;;
    *) echo "usage: ci/check-ptx.sh [--report]" >&2; exit 2 ;;
esac

failed=0
fail() { echo "check-ptx: FAIL: $*" >&2; failed=1; }
note() { echo "check-ptx: $*"; }
in_ci() { [ "${CI:-}" = "true" ]; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

shopt -s nullglob
shipped=("$PTX_DIR"/*.ptx)
[ ${#shipped[@]} -gt 0 ] || fail "no PTX in ${PTX_DIR#$ROOT/}: run scripts/build-ptx.sh"

# nvcc's header comment: the lines before .version (compiler build and version, nothing else)
header() { sed -n '/^\.version /q;p' "$1"; }
body() { sed -n '/^\.version /,$p' "$1"; }

# ---- (a) freshness -----------------------------------------------------------------------------
if ! command -v "$NVCC" >/dev/null; then
    if in_ci; then fail "nvcc not found, so the PTX freshness check cannot run (CI=true requires it)"
    else note "nvcc not found: skipping the PTX freshness check (it is required when CI=true)"; fi
else
    # build-ptx's own ptxas pass is left out: (b) below compiles the same files for every sm
    if ! BUILD_PTX_NO_PTXAS=1 NVCC="$NVCC" PTXAS="$PTXAS" "$ROOT/scripts/build-ptx.sh" "$work/fresh" >"$work/build.log" 2>&1; then
        cat "$work/build.log" >&2
        fail "scripts/build-ptx.sh failed"
    else
        stale=()
        for f in "$work"/fresh/*.ptx; do
            name=$(basename "$f")
            committed="$PTX_DIR/$name"
            if [ ! -e "$committed" ]; then stale+=("$name (missing)"); continue; fi
            if cmp -s "$f" "$committed"; then continue; fi
            if cmp -s <(body "$f") <(body "$committed"); then
                # same code from another nvcc build: only the version comment differs
                note "$name: code identical, but built by another nvcc ($(header "$committed" | grep -m1 'release' | sed 's#^// ##'))"
            else
                stale+=("$name")
            fi
        done
        for f in "${shipped[@]}"; do
            [ -e "$work/fresh/$(basename "$f")" ] || stale+=("$(basename "$f") (no kernels/$(basename "$f" .ptx).cu)")
        done
        if [ ${#stale[@]} -gt 0 ]; then
            local_nvcc=$("$NVCC" --version | grep -m1 'release' || true)
            for s in "${stale[@]}"; do echo "check-ptx:   differs: $s" >&2; done
            fail "PTX is stale: run scripts/build-ptx.sh (and commit the result). Local nvcc: ${local_nvcc:-unknown}"
        else
            note "PTX is fresh (${#shipped[@]} files match a rebuild of kernels/*.cu)"
        fi
    fi
fi

# ---- (b) ptxas on every shipped file and sm; (c) the table ---------------------------------------
if ! command -v "$PTXAS" >/dev/null; then
    if in_ci; then fail "ptxas not found, so the register/spill check cannot run (CI=true requires it)"
    else note "ptxas not found: skipping the register/spill check (it is required when CI=true)"; fi
    exit $failed
fi

rows="$work/rows.tsv"   # module kernel sm regs smem spillStores spillLoads
# One module's ptxas runs (one job per core); its rows go to rows.<module>, joined below in module order.
check_module() {
    local ptx=$1 module sm log
    module=$(basename "$ptx" .ptx)
    log="$work/ptxas.$module.log"
    for sm in "${SMS[@]}"; do
        if ! "$PTXAS" -arch=sm_$sm -v "$ptx" -o "$work/$module.cubin" >"$log" 2>&1; then
            cat "$log" >&2
            echo "check-ptx: FAIL: ptxas failed on $module.ptx for sm_$sm" >&2
            touch "$work/$module.failed"
            continue
        fi
        grep -i 'warning' "$log" | sed "s#^#check-ptx: $module.ptx sm_$sm: #" >&2
        awk -v m="$module" -v sm="$sm" '
            /Compiling entry function/ { k = $0; sub(/.*function \047/, "", k); sub(/\047.*/, "", k) }
            /bytes spill stores/ { st = $0; sub(/ bytes spill stores.*/, "", st); sub(/.*, /, "", st)
                                   ld = $0; sub(/ bytes spill loads.*/, "", ld); sub(/.*, /, "", ld) }
            /Used [0-9]+ registers/ { r = $0; sub(/.*Used /, "", r); sub(/ registers.*/, "", r)
                                      s = 0; if (match($0, /[0-9]+ bytes smem/)) { s = substr($0, RSTART); sub(/ .*/, "", s) }
                                      print m "\t" k "\t" sm "\t" r "\t" s "\t" st "\t" ld }
        ' "$log" >>"$work/rows.$module"
    done
    rm -f "$work/$module.cubin"
}
jobs=$(nproc 2>/dev/null || echo 2)
for ptx in "${shipped[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    check_module "$ptx" &
done
wait
: >"$rows"
for ptx in "${shipped[@]}"; do
    module=$(basename "$ptx" .ptx)
    [ -e "$work/$module.failed" ] && failed=1
    [ -e "$work/rows.$module" ] && cat "$work/rows.$module" >>"$rows"
done

while IFS=$'\t' read -r module kernel sm regs smem st ld; do
    if [ "$st" != "0" ] || [ "$ld" != "0" ]; then
        fail "$module.ptx: $kernel spills on sm_$sm ($st bytes spill stores, $ld bytes spill loads)"
    fi
    if [ "$regs" -gt 64 ]; then
        fail "$module.ptx: $kernel uses $regs registers on sm_$sm: a 1024-thread block needs 64 or fewer"
    fi
done <"$rows"

table() {
    local header="| kernel |" rule="|---|"
    for sm in "${SMS[@]}"; do header+=" sm_$sm |"; rule+="---|"; done
    echo "$header"
    echo "$rule"
    # one line per kernel, in module order then PTX order; cell = registers/shared bytes/spill bytes
    awk -F'\t' -v nsm=${#SMS[@]} '
        { key = $1 "." $2; if (!(key in seen)) { seen[key] = 1; order[n++] = key }
          cell[key, $3] = $4 "/" $5 "/" ($6 + $7); sms[$3] = 1 }
        END {
            m = 0; for (s in sms) list[m++] = s + 0
            for (i = 0; i < m; i++) for (j = i + 1; j < m; j++) if (list[j] < list[i]) { t = list[i]; list[i] = list[j]; list[j] = t }
            for (i = 0; i < n; i++) {
                line = "| " order[i] " |"
                for (j = 0; j < m; j++) line = line " " cell[order[i], list[j]] " |"
                print line
            }
        }' "$rows"
}

ptxas_version=$("$PTXAS" --version | grep -m1 'release' || true)
{
    echo "# ptxas report"
    echo
    echo "Generated by \`ci/check-ptx.sh --report\` from the shipped PTX (src/main/resources/dev/kullback/ptx)."
    echo "ptxas: ${ptxas_version:-unknown}. Each cell: registers / static shared memory bytes / spill bytes (stores + loads)."
    echo "Every kernel is compiled with \`__launch_bounds__(1024, 1)\`: at most 64 registers, so any block size up to 1024 launches."
    echo
    table
} >"$work/report.md"

if $write_report; then
    mkdir -p "$(dirname "$REPORT")"
    cp "$work/report.md" "$REPORT"
    note "wrote ${REPORT#$ROOT/}"
fi
cat "$work/report.md"

if [ $failed -ne 0 ]; then
    echo "check-ptx: FAILED" >&2
else
    note "OK"
fi
exit $failed
