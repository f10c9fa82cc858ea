"""Rematerialisation benchmark: memory against time for a long Lorenz RK4 simulation.

    python benchmarks/bench_remat.py                       # 1,000,000 steps, numba backend
    python benchmarks/bench_remat.py --steps 100000 --backend python
    python benchmarks/bench_remat.py --plot docs/remat_lorenz.png --json results-remat.json

Gradient of x(T) + y(T) + z(T) w.r.t. (x0, y0, z0, sigma) after N RK4 steps (dt = 1e-4, so t runs to 100 as in
benchmarks/bench_python_backend.py), under remat=None (store all), remat="recompute" (the state per
step, each step recomputed once) and remat=Checkpoint(snapshots=k) for k in 10, 20, 50, 100.

Each setting runs in a fresh process (so peak memory is its own): it compiles and warms up on a short
run, reads the process's peak resident memory (ru_maxrss), then times the full gradient (best of
--repeat) and reads the peak again.  Reported per setting: the tape (``f.tape_bytes``: what the forward
pass keeps for the backward pass), the growth of the process's peak memory during the full gradient,
the gradient time and its ratio to store-all, and the gradient's largest relative difference from
store-all (must be ~1e-15: the same arithmetic in another order is not involved, the recomputed steps
repeat the forward pass exactly).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

WRT = ("x", "y", "z", "sigma")
DT = 1e-4   # 1,000,000 steps span t = 100 (with dt = 1e-3 the chaotic sensitivities overflow float64)
SETTINGS = ["store-all", "recompute", "k=10", "k=20", "k=50", "k=100"]


def _remat(name):
    import retrograd as rg
    if name == "store-all":
        return None
    if name == "recompute":
        return "recompute"
    return rg.Checkpoint(snapshots=int(name.split("=")[1]))


def _args(n):
    return (1.0, 1.0, 1.05, 10.0, 28.0, 8.0 / 3.0, DT, n)


def child(setting, n, backend, repeat):
    """Run one setting in this (fresh) process and print its numbers as JSON."""
    import numpy as np

    import retrograd as rg
    from bench_python_backend import lorenz_final_sum
    f = rg.differentiate(lorenz_final_sum, wrt=WRT, backend=backend, remat=_remat(setting))
    f.grad(*_args(1000))                         # compile and warm up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    best, g = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        g = f.grad(*_args(n))
        best = min(best, time.perf_counter() - t)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"setting": setting, "grad_s": best, "tape_bytes": f.tape_bytes(*_args(n)),
                      "peak_growth_bytes": max(after - before, 0), "grad": [float(v) for v in np.ravel(g)]}))


def run(n, backend, repeat, settings):
    rows = []
    for s in settings:
        out = subprocess.run([sys.executable, __file__, "--child", s, "--steps", str(n), "--backend", backend,
                              "--repeat", str(repeat)], capture_output=True, text=True, env=dict(os.environ))
        if out.returncode != 0:
            raise SystemExit(f"{s} failed:\n{out.stderr[-3000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  {s}: {rows[-1]['grad_s']:.3f} s, tape {rows[-1]['tape_bytes']:,} B", file=sys.stderr)
    base = rows[0]
    for r in rows:
        r["time_ratio"] = r["grad_s"] / base["grad_s"]
        r["tape_ratio"] = base["tape_bytes"] / r["tape_bytes"]
        r["max_rel_diff"] = max(abs(a - b) / abs(a) for a, b in zip(base["grad"], r["grad"]))
    return rows


def _mib(b):
    return f"{b / 2**20:,.2f} MiB" if b >= 2**20 else f"{b / 1024:,.1f} KiB" if b >= 1024 else f"{b} B"


def markdown(rows, n, backend):
    lines = [f"Lorenz RK4, {n:,} steps, backend={backend!r}", "",
             "| remat | tape | less tape than store-all | peak memory growth | gradient (s) | time / store-all "
             "| max rel. diff |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['setting']} | {_mib(r['tape_bytes'])} | {r['tape_ratio']:,.0f}x | "
                     f"{_mib(r['peak_growth_bytes'])} | {r['grad_s']:.3f} | {r['time_ratio']:.2f} | "
                     f"{r['max_rel_diff']:.1e} |")
    return "\n".join(lines)


def plot(rows, path, n, backend):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in rows:
        ax.scatter(r["grad_s"], r["tape_bytes"], s=40)
        ax.annotate(r["setting"], (r["grad_s"], r["tape_bytes"]), textcoords="offset points", xytext=(6, 4))
    ax.set_yscale("log")
    ax.set_xlabel("gradient time (s)")
    ax.set_ylabel("tape held for the backward pass (bytes)")
    ax.set_title(f"Lorenz RK4, {n:,} steps ({backend} backend): memory against time")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--backend", default="numba", choices=["numba", "python"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--settings", default=",".join(SETTINGS))
    p.add_argument("--plot", help="write a PNG of memory against time here")
    p.add_argument("--json", help="write the numbers here")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        return child(a.child, a.steps, a.backend, a.repeat)
    rows = run(a.steps, a.backend, a.repeat, a.settings.split(","))
    print(markdown(rows, a.steps, a.backend))
    if a.plot:
        plot(rows, a.plot, a.steps, a.backend)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"steps": a.steps, "backend": a.backend, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
