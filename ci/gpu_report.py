#!/usr/bin/env python3
"""docs/benchmarks/gpu-results.md from the GPU benchmark's TSV (GpuBench) and the performance model.

Usage: ci/gpu_report.py MEASURED.tsv OUT.md. The model's GPU is the one of ci/perf_model.py's table whose name
the device's name contains (A100 by its memory size); without a match the prediction column says so.
"""
import datetime
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import perf_model  # noqa: E402


def model_gpu(device):
    d = device.upper()
    if "PCIE" in d or "NVL" in d:
        return None  # other memory and clocks than the SXM parts of the table
    for g in perf_model.GPUS:
        family = g[0].split()[0]
        if family in d:
            if family == "A100":
                return [x for x in perf_model.GPUS if x[0].startswith("A100 80" if "80G" in d else "A100 40")][0]
            return g
    return None


def main(tsv, out):
    lines = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
    _, device, peak = lines[0]
    peak = float(peak)
    gpu = model_gpu(device)
    kernels = perf_model.load_kernels() if gpu else None
    rows = []
    for op, shape, ms, gbs in lines[1:]:
        r, c = (int(v) for v in shape.split("x"))
        pred = perf_model.predict(op, r, c, gpu, kernels) if gpu and op in perf_model.OPS else None
        rows.append((op, shape, float(ms), float(gbs), pred))
    md = ["# GPU benchmark results (measured)\n",
          "Written by `ci/gpu.sh` on %s, %s UTC. Each op timed with CUDA events on the device's stream "
          "(`GpuBench`), float32. TB/s: the op's must-bytes (`bytes-model.md`) per second; peak: the driver's "
          "memory clock × bus width (%.2f TB/s here). Predicted: `perf-model.md`'s fraction of the datasheet "
          "bandwidth for %s (the model expects measurements about 10 points below it, see its cross-check).\n"
          % (device, datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), peak / 1e12,
             gpu[0] if gpu else "no GPU of the model's table"),
          "| op | shape | ms | measured TB/s | % of peak | predicted % (model) | predicted bound |",
          "|---|---|---:|---:|---:|---:|---|"]
    for op, shape, ms, gbs, pred in rows:
        md.append("| %s | %s | %.4f | %.2f | %.0f%% | %s | %s |" % (
            op, shape, ms, gbs / 1e3, 100 * gbs * 1e9 / peak,
            "%.0f%%" % (100 * pred["frac"]) if pred else "—", pred["bound"] if pred else "—"))
    with open(out, "w") as f:
        f.write("\n".join(md) + "\n")
    print("gpu-report: wrote " + out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
