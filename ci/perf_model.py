#!/usr/bin/env python3
"""Performance model of the CUDA kernels, from the shipped PTX and ptxas (no GPU needed). python3 stdlib only.

For each benchmarked op, each benchmark shape and each of the GPUs below it predicts the kernel time as the
largest of three bounds, plus a launch gap per kernel:
  memory   DRAM bytes / min(peak bandwidth, what the resident threads keep in flight / latency (Little's law)),
           over the SMs the grid can use (a 16-block grid uses 16 SMs);
  issue    thread-instructions / (active SMs x 4 schedulers x 32 lanes x clock);
  MUFU     exp2/log2/rcp instructions / (active SMs x 16 x clock).
Instructions per element come from the op's steady-state loops in the PTX (ci/ptx_loops.py); the code outside
loops (the tile kernels' whole row work, reductions) is charged once per thread on its costliest path. A variant
scales them by the kernel's SASS/PTX size ratio (the cubin's .text bytes / 16 bytes per instruction) where above 1. Occupancy (blocks per SM) comes from
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
sys.dont_write_bytecode = True
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


def launch(module, kernel, threads, grid, loops=(), reads=0, writes=0, reread=0, window=None, inflight=None):
    """One kernel launch of an op. loops: (index among the kernel's vector loops, streams, path); empty for
    kernels whose row work is straight-line code (the tile kernels: all of it is the per-thread path).
    reads / writes: bytes per element from / to DRAM; reread: bytes per element read a second time, from L2
    when `window` (bytes touched between the two reads, a function of the resident threads) fits in half of it.
    inflight: float4 loads a thread keeps in flight (default: UNROLL per stream of its loops)."""
    return dict(module=module, kernel=kernel, threads=threads, grid=grid, loops=list(loops), reads=reads,
                writes=writes, reread=reread, window=window, inflight=inflight)


def two_pass_rows(module, warp, block, loops, reads, writes, reread, row_bytes):
    """Launch.rowwise: one warp per row (4 warps a block) up to 1024 columns, else one block per row; the row is
    read a second time by the same group, so the window is the rows resident at once."""
    def plan(rows, cols):
        if cols <= 1024:
            threads, grid, row_threads, kernel = 128, (rows + 3) // 4, 32, warp
        else:
            threads, grid, row_threads, kernel = row_block(cols), rows, row_block(cols), block
        window = lambda resident: resident / row_threads * cols * row_bytes
        return [launch(module, kernel, threads, grid, loops, reads, writes, reread, window)]
    return plan


TILE_K, MAX_CHUNK4, MIN_BLOCKS, MIN_CHUNK4 = 8, 8192, 256, 1024  # dev.kullback.cuda.RowTiles


def row_tiles(rows, cols, k=TILE_K):
    """dev.kullback.cuda.RowTiles.of(rows, cols, k) for float4-aligned rows: (kind, grid, threads, chunks)."""
    if cols <= 128 or (cols <= 1024 and k == TILE_K):
        return ("warp_cached1" if cols <= 128 else "warp_cached8"), (rows + 3) // 4, 128, 1
    n4 = cols // 4
    chunks = max(-(-n4 // (1024 * k)), min(-(-MIN_BLOCKS // rows), max(1, n4 // MIN_CHUNK4)))
    chunk4 = -(-n4 // chunks)
    threads = min(1024, max(64, -(-(-(-chunk4 // k)) // 32) * 32))
    return ("block_cached" if chunks == 1 else "chunk"), (rows if chunks == 1 else rows * chunks), threads, chunks


def distillation_tiles(rows, cols):
    """DistillationKernels (forward KL, aligned): both rows in registers, 4 float4s a thread of each."""
    kind, grid, threads, chunks = row_tiles(rows, cols, 4)
    k = 1 if kind == "warp_cached1" else 4
    if kind != "chunk":
        return [launch("distillation", "distillation_rows_" + kind, threads, grid, (), 8, 4, inflight=2 * k)]
    window = lambda resident: rows * cols * 8
    return [launch("distillation", "distillation_chunk_stats", threads, grid, (), 8, 0, inflight=2 * k),
            launch("distillation", "distillation_chunk_write", threads, grid, (), 0, 4, 8, window, inflight=2 * k)]


def tiled(module, kind_names, first, second, reads, writes, chunk_first_reads, chunk_reread, chunk_reads):
    """The tile kernels (log_softmax.cu, cross_entropy.cu): one launch that reads the row once, or the chunk pair (statistics, then
    a write pass that reads its chunk again: from L2 when the whole input fits in half of it)."""
    def plan(rows, cols):
        kind, grid, threads, chunks = row_tiles(rows, cols)
        k = 1 if kind == "warp_cached1" else TILE_K
        if kind != "chunk":
            return [launch(module, kind_names % kind, threads, grid, (), reads, writes, inflight=k)]
        window = lambda resident: rows * cols * chunk_reread
        return [launch(module, first, threads, grid, (), chunk_first_reads, 0, inflight=k),
                launch(module, second, threads, grid, (), chunk_reads, writes, chunk_reread, window, inflight=k)]
    return plan


def flat(module, kernel, grid_of, loops, reads, writes):
    def plan(rows, cols):
        return [launch(module, kernel, 256, grid_of(rows * cols), loops, reads, writes)]
    return plan


def partials(n):  # Launch.partials
    return min(1024, max(1, -(-n // (256 * 8))))


def flat_grid(n):  # Launch.flatGrid
    return min(65535, max(1, -(-n // (256 * 16))))


# Each op: its launches for a shape (float4-aligned tensors, as the benchmark's pooled ones are), its must-bytes per
# element (bytes-model.md), the number of small extra launches (divisors, finalize), and why a loop's path is the
# steady state. path: "long" (every branch's costlier side; the default, conservative) or "short" with a reason.
OPS = {
    "logSoftmax": dict(plan=tiled("log_softmax", "softmax_rows_%s", "softmax_chunk_stats", "softmax_chunk_write", 4, 4, 4, 4, 0),
                       must=8, extra=0, why="row in registers (tile kernels); both modes' code counted"),
    "softmax": dict(plan=tiled("log_softmax", "softmax_rows_%s", "softmax_chunk_stats", "softmax_chunk_write", 4, 4, 4, 4, 0),
                    must=8, extra=0, why="as logSoftmax"),
    "logSoftmaxBackward": dict(plan=tiled("log_softmax", "log_softmax_backward_%s", "log_softmax_backward_chunk_sums",
                                          "log_softmax_backward_chunk_write", 8, 4, 4, 4, 4),
                               must=12, extra=0, why="gradOut in registers, out streamed once"),
    "klDiv": dict(plan=flat("kl_div", "kl_div_partial_sums", partials, [(1, 2, "long")], 8, 0), must=8, extra=1,
                  why="logTarget false: the logf loop; long counts logf's special-value path"),
    "klDivBackward": dict(plan=flat("kl_div", "kl_div_backward", flat_grid, [(3, 2, "long")], 4, 4), must=8, extra=0,
                          why="logTarget false, scalar gradient"),
    "crossEntropy": dict(plan=tiled("cross_entropy", "ce_rows_%s", "ce_chunk_stats", "ce_chunk_write", 4, 4, 4, 4, 0),
                         must=8, extra=2,
                         why="class indices, no smoothing (the benchmark): the tile kernels; + ce_divisors, sum_finalize"),
    "distillation": dict(plan=distillation_tiles, must=12, extra=1,
                         why="forward KL: the tile kernels (+ distillation_chunk_losses when chunked, sum_finalize)"),
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


def predict(op, rows, cols, gpu, kernels, sass_scaled=False):
    name, sm, tbs, nsm, ghz, l2, *_ = gpu
    spec = OPS[op]
    n = rows * cols
    total_t, dram_total, launches, parts = 0.0, 0.0, 0, []
    for p in spec["plan"](rows, cols):
        k = kernels[(p["module"], p["kernel"])]
        regs, smem, spill, _ = k.ptxas[sm]
        per_elem, mufu_elem = 0.0, 0.0
        for idx, streams, path in p["loops"]:
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
        scale = max(1.0, k.expansion(sm)) if sass_scaled else 1.0
        occ = occupancy(gpu, regs, smem, p["threads"])
        active = min(nsm, p["grid"])
        resident = min(p["grid"], nsm * occ) * p["threads"]
        threads_total = p["grid"] * p["threads"]  # each runs the code outside loops once
        thread_instr = (n * per_elem + threads_total * k.fixed) * scale
        mufu = n * mufu_elem + threads_total * k.fixed_mufu
        t_issue = thread_instr / (active * SCHED_LANES * ghz * 1e9)
        t_mufu = mufu / (active * MUFU_LANES * ghz * 1e9)
        l2_hit = bool(p["reread"]) and p["window"](resident) <= l2 * 1e6 / 2
        dram = n * (p["reads"] + p["writes"] + (0 if l2_hit else p["reread"]))
        streams = max([s for _, s, _ in p["loops"]] or [1])
        inflight = p["inflight"] if p["inflight"] is not None else UNROLL * streams
        bw = min(tbs * 1e12 * active / nsm, resident * inflight * 16 / (LATENCY_NS * 1e-9))
        t_mem = dram / bw
        t = max(t_mem, t_issue, t_mufu)
        bound = max((t_mem, "memory"), (t_issue, "issue"), (t_mufu, "MUFU"))[1]
        total_t += t
        dram_total += dram
        launches += 1
        parts.append(dict(kernel=k.name, threads=p["threads"], grid=p["grid"], occ=occ, active=active, regs=regs,
                          per_elem=(per_elem + threads_total * k.fixed / n) * scale, bound=bound, t=t,
                          l2=l2_hit if p["reread"] else None))
    launches += spec["extra"]
    t = total_t + launches * LAUNCH_GAP_US * 1e-6
    main = max(parts, key=lambda q: q["t"])
    frac = n * spec["must"] / t / (tbs * 1e12)
    return dict(op=op, gpu=name, shape="%dx%d" % (rows, cols), parts=parts, kernel=" + ".join(q["kernel"] for q in parts),
                threads=main["threads"], grid=main["grid"], active=main["active"],
                per_elem=sum(q["per_elem"] for q in parts), bound=main["bound"],
                budget=SCHED_LANES * nsm * ghz * 1e9 * spec["must"] / (tbs * 1e12),
                l2=[q["l2"] for q in parts if q["l2"] is not None], dram=dram_total / n, frac=frac, t_us=t * 1e6,
                launches=launches)


def load_kernels(ptx_dir=PTX_DIR):
    work = tempfile.mkdtemp()
    try:
        kernels = {}
        for f in sorted(os.listdir(ptx_dir)):
            if not f.endswith(".ptx"):
                continue
            module = f[:-4]
            path = os.path.join(ptx_dir, f)
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
    scaled = [predict(op, r, c, g, kernels, sass_scaled=True) for op in OPS for (r, c) in SHAPES for g in GPUS
              if g[0] in FLOOR_GPUS] if report else []
    text = render(results, kernels, floors, scaled) if report else ""
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


def fmad_comparison(results):
    """What -fmad=false costs: the kernels rebuilt with -fmad=true (contraction into fma allowed), the same model.
    [(op, shape, gpu, instr/elem false, true, fraction false, true)], or None without nvcc."""
    nvcc = os.environ.get("NVCC", "nvcc")
    if shutil.which(nvcc) is None:
        return None
    work = tempfile.mkdtemp()
    try:
        for f in sorted(os.listdir(os.path.join(ROOT, "kernels"))):
            if f.endswith(".cu"):
                out = os.path.join(work, f[:-3] + ".ptx")
                subprocess.run([nvcc, "-arch=compute_75", "-ptx", "-O3", "-fmad=true", os.path.join(ROOT, "kernels", f),
                                "-o", out], check=True)
                text = open(out).read()
                open(out, "w").write(re.sub(r"(?m)^\.version \d+\.\d+$", ".version 8.0", text))
        fused = load_kernels(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for res in results:
        if res["gpu"] in FLOOR_GPUS:
            r, c = (int(v) for v in res["shape"].split("x"))
            g = [x for x in GPUS if x[0] == res["gpu"]][0]
            other = predict(res["op"], r, c, g, fused)
            rows.append((res["op"], res["shape"], res["gpu"], res["per_elem"], other["per_elem"], res["frac"],
                         other["frac"]))
    return rows


def render(results, kernels, floors, scaled):
    from perf_report import render as r
    return r(results, kernels, floors, dict(globals(), _scaled=scaled), fmad_comparison(results))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
