#!/usr/bin/env python3
"""Performance model of the CUDA kernels, from the shipped PTX and ptxas (no GPU needed). python3 stdlib only.

For each benchmarked op, each benchmark shape and each of the GPUs below it predicts the kernel time as the
largest of three bounds, plus a launch gap per kernel:
  memory   DRAM bytes / min(peak bandwidth, what the resident threads keep in flight / latency (Little's law)),
           over the SMs the grid can use (a 16-block grid uses 16 SMs);
  issue    thread-instructions / (active SMs x 4 schedulers x 32 lanes x clock);
  MUFU     exp2/log2/rcp instructions / (active SMs x 16 x clock).
Instructions per element come from the op's steady-state loops in the PTX (ci/ptx_loops.py), scaled up by the
kernel's SASS/PTX size ratio where ptxas expands the code (the cubin's .text size / 16 bytes per instruction);
the per-row code outside loops is charged once per thread of the row. Occupancy (blocks per SM) comes from
ptxas's registers and shared memory for the GPU's sm. Whether a second read of a row reaches DRAM: it is served
by L2 when the rows resident at once (all SMs x blocks per SM) fit in half the L2.

The predicted "fraction of peak" is the op's must-bytes (docs/benchmarks/bytes-model.md) over predicted time,
divided by the datasheet bandwidth. The model assumes DRAM reaches its datasheet figure; the cross-check in the
report (QuACK's measured softmax) says how far real streams fall short of it.

Usage: ci/perf_model.py [--report FILE] [--check] [--print-floors]
  --check: exit 1 when an op falls below its floor in ci/perf-floors.tsv; --print-floors: the floors the
  kernels would meet now (prediction less 2 points), to paste into ci/perf-floors.tsv when a kernel gets faster.
Env: PTXAS (default ptxas).
"""
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptx_loops  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PTX_DIR = os.path.join(ROOT, "src/main/resources/dev/kullback/ptx")
PTXAS = os.environ.get("PTXAS", "ptxas")

# Published figures (NVIDIA datasheets / architecture whitepapers). clock: boost, GHz. l2: MB. smem: KB per SM
# usable by blocks. regs: 32-bit registers per SM. threads / blocks: per SM limits.
GPUS = [
    # name,            sm,  TB/s,  SMs, GHz,   L2, smem, regs,  threads, blocks
    ("A100 40GB SXM", 80, 1.555, 108, 1.410, 40, 164, 65536, 2048, 32),
    ("A100 80GB SXM", 80, 2.039, 108, 1.410, 40, 164, 65536, 2048, 32),
    ("H100 SXM", 90, 3.35, 132, 1.980, 50, 228, 65536, 2048, 32),
    ("H200 SXM", 90, 4.8, 132, 1.980, 50, 228, 65536, 2048, 32),
    ("B200", 100, 8.0, 148, 1.965, 126, 228, 65536, 2048, 32),
]
SMS_REPORTED = (80, 90, 100, 120)
# Assumptions (not measured here; stated in the report):
LATENCY_NS = 700.0        # loaded DRAM latency an SM must cover with loads in flight
LAUNCH_GAP_US = 1.0       # gap between back-to-back kernels on one stream
SCHED_LANES = 4 * 32      # thread-instructions issued per SM per clock
MUFU_LANES = 16           # MUFU (ex2, lg2, rcp) results per SM per clock
UNROLL = 2                # for_each_split's `#pragma unroll 2`: float4s per thread in flight per stream

SHAPES = [(4096, 32768), (16, 262144), (65536, 128)]
FLOOR_SHAPE = (4096, 32768)
FLOOR_GPUS = ("H100 SXM", "H200 SXM")


def row_block(cols):  # dev.kullback.cuda.Launch.rowBlock
    return 256 if cols <= 8192 else 512 if cols <= 65536 else 1024


def rowwise(module, warp, block):
    """Launch.rowwise: one warp per row (4 warps a block) up to 1024 columns, else one block per row."""
    def plan(rows, cols):
        if cols <= 1024:
            return dict(module=module, kernel=warp, threads=128, grid=(rows + 3) // 4, row_threads=32)
        return dict(module=module, kernel=block, threads=row_block(cols), grid=rows, row_threads=row_block(cols))
    return plan


def flat(module, kernel, grid_of):
    def plan(rows, cols):
        n = rows * cols
        g = grid_of(n)
        return dict(module=module, kernel=kernel, threads=256, grid=g, row_threads=None)
    return plan


def partials(n):  # Launch.partials
    return min(1024, max(1, -(-n // (256 * 8))))


def flat_grid(n):  # Launch.flatGrid
    return min(65535, max(1, -(-n // (256 * 4))))


# Each op: its main kernel's launch plan; the steady-state loops it runs, as (index among the kernel's vector
# loops, input streams the loop reads, path); its must-bytes and DRAM bytes per element; extra small launches.
# path: "long" (every branch's costlier side; the default, conservative) or "short" with the reason it is the
# steady state. rereads: bytes per element read a second time (served by L2 or DRAM, see above).
OPS = {
    "logSoftmax": dict(plan=rowwise("log_softmax", "softmax_rows_warp", "softmax_rows_block"),
                       loops=[(0, 1, "short"), (1, 1, "long")], must=8, rereads=4, row_bytes=4, extra=0,
                       why="short: the stats loop's branches are NaN/-inf guards and the rare growth of the max"),
    "softmax": dict(plan=rowwise("log_softmax", "softmax_rows_warp", "softmax_rows_block"),
                    loops=[(0, 1, "short"), (2, 1, "long")], must=8, rereads=4, row_bytes=4, extra=0,
                    why="as logSoftmax"),
    "logSoftmaxBackward": dict(plan=rowwise("log_softmax", "log_softmax_backward_warp", "log_softmax_backward_block"),
                               loops=[(0, 1, "long"), (1, 2, "long")], must=12, rereads=4, row_bytes=4, extra=0,
                               why=""),
    "klDiv": dict(plan=flat("kl_div", "kl_div_partial_sums", partials), loops=[(1, 2, "long")], must=8, rereads=0,
                  row_bytes=8, extra=1, why="logTarget false: the logf loop; long counts logf's special-value path"),
    "klDivBackward": dict(plan=flat("kl_div", "kl_div_backward", flat_grid), loops=[(3, 2, "long")], must=8,
                          rereads=0, row_bytes=4, extra=0, why="logTarget false, scalar gradient"),
    "crossEntropy": dict(plan=rowwise("cross_entropy", "ce_rows_warp", "ce_rows_block"),
                         loops=[(0, 1, "short"), (1, 1, "short")], must=8, rereads=4, row_bytes=4, extra=2,
                         why="short: no smoothing and no weights (the benchmark), so their branches are not taken"),
    "distillation": dict(plan=rowwise("distillation", "distillation_rows_warp", "distillation_rows_block"),
                         loops=[(0, 2, "short"), (2, 2, "short")], must=12, rereads=8, row_bytes=8, extra=1,
                         why="forward KL: loops 0 (stats) and 2 (loss + gradient); short skips -inf/NaN guards"),
}


# ---- ptxas and the cubin -------------------------------------------------------------------------------------
def ptxas_info(ptx, sm, work):
    """{kernel: (registers, static smem bytes, spill bytes, SASS instructions)} for one module and sm."""
    cubin = os.path.join(work, "k.cubin")
    r = subprocess.run([PTXAS, "-arch=sm_%d" % sm, "-v", ptx, "-o", cubin], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("perf-model: ptxas failed on %s for sm_%d:\n%s" % (ptx, sm, r.stderr))
    info, kernel = {}, None
    for line in r.stderr.splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            kernel = m.group(1)
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and kernel:
            spill = int(m.group(1)) + int(m.group(2))
        m = re.search(r"Used (\d+) registers", line)
        if m and kernel:
            s = re.search(r"(\d+) bytes smem", line)
            info[kernel] = [int(m.group(1)), int(s.group(1)) if s else 0, spill, 0]
    for name, size in text_sections(cubin).items():
        if name in info:
            info[name][3] = size // 16  # SASS instructions are 16 bytes on sm_70 and later
    return info


def text_sections(path):
    """{kernel: bytes of its .text.<kernel> section} of an ELF64 cubin."""
    d = open(path, "rb").read()
    if d[:4] != b"\x7fELF" or d[4] != 2:
        raise SystemExit("perf-model: %s is not an ELF64 cubin" % path)
    shoff, = struct.unpack_from("<Q", d, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", d, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize) for i in range(shnum)]
    stroff = secs[shstrndx][4]
    out = {}
    for s in secs:
        name = d[stroff + s[0]:d.index(b"\0", stroff + s[0])].decode()
        if name.startswith(".text."):
            out[name[len(".text."):]] = s[5]
    return out


# ---- the model -----------------------------------------------------------------------------------------------
class Kernel:
    def __init__(self, module, name, body, ptxas):
        self.module, self.name = module, name
        self.vector_loops = [l for l in ptx_loops.loops(body) if l.is_vector]
        self.fixed, self.fixed_mufu = ptx_loops.outside_loops(body)
        self.ptx_count = sum(1 for l in body if ptx_loops.is_instruction(l))
        self.ptxas = ptxas  # {sm: [regs, smem, spill, sass]}

    def expansion(self, sm):
        """SASS/PTX static size: > 1 where ptxas expands PTX (the model then scales PTX counts up)."""
        return self.ptxas[sm][3] / max(1, self.ptx_count)


def occupancy(gpu, regs, smem, threads):
    _, _, _, _, _, _, smem_kb, regfile, max_threads, max_blocks = gpu
    warps = threads // 32
    regs_per_warp = ((regs * 32 + 255) // 256) * 256  # allocation unit: 256 registers per warp
    by_regs = regfile // (regs_per_warp * warps)
    by_threads = max_threads // threads
    by_smem = (smem_kb * 1024) // smem if smem else max_blocks
    return max(0, min(by_regs, by_threads, by_smem, max_blocks))


def predict(op, rows, cols, gpu, kernels):
    name, sm, tbs, nsm, ghz, l2, *_ = gpu
    spec = OPS[op]
    p = spec["plan"](rows, cols)
    k = kernels[(p["module"], p["kernel"])]
    regs, smem, spill, _ = k.ptxas[sm]
    n = rows * cols
    per_elem, mufu_elem = 0.0, 0.0
    for idx, streams, path in spec["loops"]:
        if idx >= len(k.vector_loops):
            raise SystemExit("perf-model: %s names vector loop %d of %s, which has %d: update OPS"
                             % (op, idx, k.name, len(k.vector_loops)))
        loop = k.vector_loops[idx]
        elems = 4 * len(loop.v4_loads) / streams
        if elems != int(elems) or elems % 4:
            raise SystemExit("perf-model: %s: loop %d of %s has %d float4 loads, not a multiple of %d streams"
                             % (op, idx, k.name, len(loop.v4_loads), streams))
        ins, mufu = loop.shortest if path == "short" else loop.longest
        per_elem += ins / elems
        mufu_elem += mufu / elems
    scale = max(1.0, k.expansion(sm))
    blocks_per_sm = occupancy(gpu, regs, smem, p["threads"])
    active = min(nsm, p["grid"])
    resident_threads = min(p["grid"], nsm * blocks_per_sm) * p["threads"]
    # per-row fixed code: every thread of the group that owns a row runs it once
    if p["row_threads"]:
        fixed = rows * p["row_threads"] * k.fixed
    else:
        fixed = p["grid"] * p["threads"] * k.fixed
    thread_instr = (n * per_elem + fixed) * scale
    mufu = n * mufu_elem + (rows * (p["row_threads"] or 0)) * k.fixed_mufu
    t_issue = thread_instr / (active * SCHED_LANES * ghz * 1e9)
    t_mufu = mufu / (active * MUFU_LANES * ghz * 1e9)
    # second reads: L2 when the rows resident at once fit in half of it
    if p["row_threads"]:
        rows_resident = resident_threads / p["row_threads"]
        in_flight_rows_bytes = rows_resident * cols * spec["row_bytes"]
    else:
        in_flight_rows_bytes = 0
    l2_hit = spec["rereads"] and in_flight_rows_bytes <= l2 * 1e6 / 2
    dram = n * (spec["must"] + (0 if l2_hit or not spec["rereads"] else spec["rereads"]))
    # Little's law: each resident thread keeps UNROLL float4s per stream in flight
    streams = max(s for _, s, _ in spec["loops"])
    in_flight = resident_threads * UNROLL * 16 * streams
    bw = min(tbs * 1e12 * active / nsm, in_flight / (LATENCY_NS * 1e-9))
    t_mem = dram / bw
    launches = 1 + spec["extra"]
    t = max(t_mem, t_issue, t_mufu) + launches * LAUNCH_GAP_US * 1e-6
    bound = max((t_mem, "memory"), (t_issue, "issue"), (t_mufu, "MUFU"))[1]
    frac = n * spec["must"] / t / (tbs * 1e12)
    return dict(op=op, gpu=name, shape="%dx%d" % (rows, cols), kernel=k.name, sm=sm, regs=regs, smem=smem,
                threads=p["threads"], grid=p["grid"], occ=blocks_per_sm, active=active, per_elem=per_elem * scale,
                mufu_elem=mufu_elem, budget=SCHED_LANES * nsm * ghz * 1e9 * spec["must"] / (tbs * 1e12),
                l2=bool(l2_hit), dram=dram / n, bound=bound, frac=frac, t_us=t * 1e6, launches=launches)


def load_kernels():
    work = tempfile.mkdtemp()
    try:
        kernels = {}
        for f in sorted(os.listdir(PTX_DIR)):
            if not f.endswith(".ptx"):
                continue
            module = f[:-4]
            path = os.path.join(PTX_DIR, f)
            info = {sm: ptxas_info(path, sm, work) for sm in sorted(set(SMS_REPORTED) | {g[1] for g in GPUS})}
            for name, body in ptx_loops.entries(open(path).read()).items():
                kernels[(module, name)] = Kernel(module, name, body, {sm: info[sm][name] for sm in info})
        return kernels
    finally:
        shutil.rmtree(work, ignore_errors=True)


# Floors: the predicted fraction of peak at FLOOR_SHAPE on FLOOR_GPUS, per op (ci/perf-floors.tsv). Set from what
# the kernels reach, less 2 points so that a change of a few instructions passes; raise them with the kernels.
FLOORS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "perf-floors.tsv")


def read_floors():
    floors = {}
    if os.path.exists(FLOORS_FILE):
        for line in open(FLOORS_FILE):
            line = line.strip()
            if line and not line.startswith("#"):
                op, gpu, floor = line.split("\t")
                floors[(op, gpu)] = float(floor)
    return floors


def main(argv):
    report, check, print_floors = None, False, False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--report":
            report = args.pop(0)
        elif a == "--check":
            check = True
        elif a == "--print-floors":
            print_floors = True
        else:
            raise SystemExit(__doc__)
    if shutil.which(PTXAS) is None:
        msg = "perf-model: ptxas not found, so the model cannot run"
        if os.environ.get("CI") == "true":
            raise SystemExit(msg + " (CI=true requires it)")
        print(msg + "; skipped (it is required when CI=true)")
        return 0
    kernels = load_kernels()
    results = [predict(op, r, c, g, kernels) for op in OPS for (r, c) in SHAPES for g in GPUS]
    if print_floors:  # what ci/perf-floors.tsv would hold now: the prediction less 2 points, in whole percent
        for res in results:
            if res["shape"] == "%dx%d" % FLOOR_SHAPE and res["gpu"] in FLOOR_GPUS:
                print("%s\t%s\t%.2f" % (res["op"], res["gpu"], max(0, math.floor(100 * res["frac"]) - 2) / 100))
        return 0
    floors = read_floors()
    failures = []
    for res in results:
        key = (res["op"], res["gpu"])
        if res["shape"] == "%dx%d" % FLOOR_SHAPE and key in floors and res["frac"] < floors[key]:
            failures.append("%s on %s at %s: predicted %.1f%% of peak, floor %.1f%%"
                            % (res["op"], res["gpu"], res["shape"], 100 * res["frac"], 100 * floors[key]))
    missing = [(op, g) for op in OPS for g in FLOOR_GPUS if (op, g) not in floors]
    text = render(results, kernels, floors)
    if report:
        with open(report, "w") as f:
            f.write(text)
        print("perf-model: wrote " + os.path.relpath(report, ROOT))
    for res in results:
        if res["gpu"] in FLOOR_GPUS:
            print("perf-model: %-18s %-12s %-9s %5.1f%% of peak (%s-bound, %.1f instr/elem)"
                  % (res["op"], res["shape"], res["gpu"], 100 * res["frac"], res["bound"], res["per_elem"]))
    if check:
        for m in missing:
            failures.append("no floor for %s on %s in ci/perf-floors.tsv" % m)
        for f in failures:
            print("perf-model: FAIL: " + f, file=sys.stderr)
        if failures:
            return 1
        print("perf-model: OK (every op at or above its floor at %dx%d on %s)" % (FLOOR_SHAPE + (", ".join(FLOOR_GPUS),)))
    return 0


def render(results, kernels, floors):
    from perf_report import render as r
    return r(results, kernels, floors, globals())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
