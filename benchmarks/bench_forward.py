"""Forward mode and second order on the python backend (jvp, hvp, hessian) against retrograd's own
gradient and against JAX (jit), on the workloads of bench_python_backend.py (Lorenz RK4, the MLP).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_forward.py           # full run
    python benchmarks/bench_forward.py --quick     # 1,000 Lorenz steps, fewer repeats
    python benchmarks/bench_forward.py --only mlp --json mlp.json
    python benchmarks/bench_forward.py --jacobians  # jacfwd/jacrev: batched basis against the per-direction loop

Each workload runs in its own process (this script re-runs itself with --only), pinned to one CPU (JAX's
thread pool and BLAS otherwise use both cores while NumPy's BLAS uses one; --no-pin disables it).  In a
process every implementation and operation is timed in interleaved repeats (one round runs each of them,
best of --repeat rounds), so the ratios compare them under the same machine conditions.

What is timed (w.r.t. x0, y0, z0, sigma for Lorenz; W1, b1, W2, b2 for the MLP):
  retrograd: the plain call; `.grad`; `rg.jvp`; `rg.hvp` (forward over the generated adjoint);
             `rg.hessian` (one hvp per input entry: Lorenz w.r.t. the 4 scalars, the MLP w.r.t. b1)
  JAX:       `jit(f)`; `jit(grad(f))`; `jit(jvp)`; `jit(jvp(grad(f)))` for hvp; `jit(jax.hessian)`
The MLP's Hessian is w.r.t. b1 of a narrower MLP (--hessian-width, default 64: 64 hvps; at width 512 it
would be 512 of them, ~14 s a call); --big-hessian adds one timed call of each at the full width.

Every result is verified first: retrograd's jvp against <grad, v> and against JAX's jvp; its hvp against
central differences of its gradient and against JAX; its Hessian against JAX's and H v against its hvp;
the gradients against each other.  A disagreement aborts the run.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import retrograd as rg  # noqa: E402
from bench_python_backend import lorenz_args, lorenz_final_sum, make_jax_lorenz, mlp_data, mlp_loss  # noqa: E402

OPS = ("forward", "gradient", "jvp", "hvp", "hessian")


# ---- timing --------------------------------------------------------------------------------------------
def calibrate(fn, min_time):
    """Calls per repeat so that a repeat lasts at least min_time (after one warm-up call)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first >= min_time:
        return 1
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time or number >= 1 << 16:
            return number
        number = max(number * 2, int(number * min_time / max(elapsed, 1e-9) * 1.1))


def best_interleaved(fns, repeat, min_time):
    """({name: best CPU seconds per call}, {name: best wall seconds per call}), the repeats of all `fns`
    interleaved round by round.  CPU time is this process's (all its threads: XLA's too), which other
    processes sharing the machine do not inflate the way they inflate wall time."""
    counts = {k: calibrate(fn, min_time) for k, fn in fns.items()}
    cpu = {k: float("inf") for k in fns}
    wall = dict(cpu)
    was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            for k, fn in fns.items():
                c0, t0 = time.process_time(), time.perf_counter()
                for _ in range(counts[k]):
                    fn()
                wall[k] = min(wall[k], (time.perf_counter() - t0) / counts[k])
                cpu[k] = min(cpu[k], (time.process_time() - c0) / counts[k])
                gc.collect()
    finally:
        if was:
            gc.enable()
    return cpu, wall


# ---- verification --------------------------------------------------------------------------------------
def agree(what, got, want, rtol, atol=0.0):
    got = [np.asarray(g, dtype=np.float64) for g in (got if isinstance(got, (tuple, list)) else [got])]
    want = [np.asarray(w, dtype=np.float64) for w in (want if isinstance(want, (tuple, list)) else [want])]
    assert len(got) == len(want), f"{what}: {len(got)} results against {len(want)}"
    worst = 0.0
    for g, w in zip(got, want):
        assert g.shape == w.shape, f"{what}: shape {g.shape} against {w.shape}"
        assert np.all(np.isfinite(g)), f"{what}: non-finite entries"
        scale = np.maximum(np.abs(w), atol / rtol if atol else 0.0)
        err = float(np.max(np.abs(g - w) / np.maximum(scale, 1e-300))) if g.size else 0.0
        worst = max(worst, err)
    if worst > rtol:
        raise AssertionError(f"{what}: max relative difference {worst:.3e} > {rtol:g}")
    print(f"  verified {what}: max relative difference {worst:.1e} (tolerance {rtol:g})", file=sys.stderr)
    return worst


def _block(x):
    for leaf in (x if isinstance(x, (tuple, list)) else [x]):
        if isinstance(leaf, (tuple, list)):
            _block(leaf)
        else:
            leaf.block_until_ready()
    return x


# ---- workloads -----------------------------------------------------------------------------------------
def lorenz_workload(quick):
    n = 1000 if quick else 10_000
    args = list(lorenz_args(n))
    v = [0.3, -0.2, 0.5, 0.1]
    return dict(name=f"Lorenz RK4 ({n:,} steps)", f=lorenz_final_sum, args=args, wrt=(0, 1, 2, 3), v=v,
                hess=(0, 1, 2, 3), hess_args=args, rtol=1e-6,
                jax=lambda jax: _jax_lorenz(jax, args), hess_what="w.r.t. x0, y0, z0, sigma (4 hvps)")


def _jax_lorenz(jax, args):
    x, y, z, sigma, rho, beta, dt, n = args
    return make_jax_lorenz(jax, rho, beta, dt, n), (x, y, z, sigma), 4


def mlp_workload(quick, hessian_width):
    args = list(mlp_data())
    r = np.random.default_rng(1)
    v = [r.standard_normal(a.shape) for a in args[:4]]
    hess_args = list(mlp_data(width=hessian_width))
    return dict(name="MLP 512x512, batch 64", f=mlp_loss, args=args, wrt=(0, 1, 2, 3), v=v, hess=1,
                hess_args=hess_args, rtol=1e-9, jax=lambda jax: _jax_mlp(jax, args),
                hess_what=f"w.r.t. b1 of a {hessian_width}-wide MLP ({hessian_width} hvps)")


def _jax_mlp_loss(W1, b1, W2, b2, x, y):
    import jax.numpy as jnp
    h = jnp.tanh(x @ W1 + b1)
    return jnp.mean((h @ W2 + b2 - y) ** 2)


def _jax_mlp(jax, args):
    # the data are arguments of the jitted functions, not constants XLA could fold (x @ W1 for the Hessian)
    return _jax_mlp_loss, tuple(jax.numpy.asarray(a) for a in args), 4


def _jax_mlp_hessian(jax, hess_args):
    return jax.jit(jax.hessian(_jax_mlp_loss, argnums=1)), tuple(jax.numpy.asarray(a) for a in hess_args)


def run_workload(w, repeat, min_time, use_jax, big_hessian):
    f, args, wrt, v = w["f"], w["args"], w["wrt"], w["v"]
    tangents = tuple(v[wrt.index(k)] if k in wrt else None for k in range(len(args)))
    d = rg.differentiate(f, wrt=wrt)
    hess = rg.hessian(f, argnums=w["hess"])
    hargs = w["hess_args"]
    print(f"\n[{w['name']}]", file=sys.stderr)

    # retrograd, verified against itself (identities and differences)
    grads = d.grad(*args)
    out, jv = rg.jvp(f, tuple(args), tangents)
    agree("retrograd forward value of jvp", out, f(*args), 1e-12)
    agree("retrograd jvp against <grad, v>", jv, sum(float(np.sum(g * t)) for g, t in zip(grads, v)), 1e-9)
    hv = rg.hvp(f, tuple(args), tangents)
    eps = 1e-6
    gp = d.grad(*[a + eps * t if t is not None else a for a, t in zip(args, tangents)])
    gm = d.grad(*[a - eps * t if t is not None else a for a, t in zip(args, tangents)])
    agree("retrograd hvp against differences of its gradient", hv,
          [(np.asarray(a) - np.asarray(b)) / (2 * eps) for a, b in zip(gp, gm)], 1e-4, atol=1e-6)
    H = hess(*hargs)
    if isinstance(w["hess"], tuple):       # Lorenz: blocks of scalars -> a 4x4 matrix
        H = np.array([[float(b) for b in row] for row in H])
        e = np.array(v)
        agree("retrograd hessian @ v against hvp", H @ e, np.array(hv), 1e-9, atol=1e-9)
    else:
        e = np.random.default_rng(2).standard_normal(hargs[1].shape)
        ht = tuple(e if k == 1 else None for k in range(len(hargs)))
        agree("retrograd hessian @ v against hvp", H @ e, rg.hvp(f, tuple(hargs), ht), 1e-9, atol=1e-12)

    fns = {("retrograd", "forward"): lambda: f(*args),
           ("retrograd", "gradient"): lambda: d.grad(*args),
           ("retrograd", "jvp"): lambda: rg.jvp(f, tuple(args), tangents),
           ("retrograd", "hvp"): lambda: rg.hvp(f, tuple(args), tangents),
           ("retrograd", "hessian"): lambda: hess(*hargs)}
    env = {}
    if use_jax:
        import jax
        jax.config.update("jax_enable_x64", True)
        env["jax"] = jax.__version__
        loss, jargs, n_diff = w["jax"](jax)      # loss(*diff, *data): the first n_diff are differentiated
        jprimals, jdata = jargs[:n_diff], jargs[n_diff:]
        jv_t = tuple(jax.numpy.asarray(t) for t in v)
        nums = tuple(range(n_diff))

        def of_diff(*p, data):
            return loss(*p, *data)
        j_f = jax.jit(loss)
        j_g = jax.jit(jax.grad(loss, argnums=nums))
        j_jvp = jax.jit(lambda p, t, data: jax.jvp(lambda *q: of_diff(*q, data=data), p, t))
        j_hvp = jax.jit(lambda p, t, data: jax.jvp(lambda *q: jax.grad(of_diff, argnums=nums)(*q, data=data),
                                                   p, t)[1])
        if isinstance(w["hess"], tuple):
            j_h = jax.jit(jax.hessian(loss, argnums=nums))
            jh_args = jargs
        else:
            j_h, jh_args = _jax_mlp_hessian(jax, hargs)
        jout, jjv = j_jvp(jprimals, jv_t, jdata)
        agree("gradient: retrograd against JAX", grads, _block(j_g(*jargs)), w["rtol"], atol=1e-13)
        agree("jvp: retrograd against JAX", [out, jv], [jout, jjv], w["rtol"], atol=1e-13)
        agree("hvp: retrograd against JAX", hv, _block(j_hvp(jprimals, jv_t, jdata)), w["rtol"] * 10, atol=1e-12)
        JH = _block(j_h(*jh_args))
        JH = np.array([[float(b) for b in row] for row in JH]) if isinstance(w["hess"], tuple) else JH
        agree("hessian: retrograd against JAX", H, np.asarray(JH), w["rtol"] * 10, atol=1e-12)
        fns.update({("jax", "forward"): lambda: _block(j_f(*jargs)),
                    ("jax", "gradient"): lambda: _block(j_g(*jargs)),
                    ("jax", "jvp"): lambda: _block(j_jvp(jprimals, jv_t, jdata)),
                    ("jax", "hvp"): lambda: _block(j_hvp(jprimals, jv_t, jdata)),
                    ("jax", "hessian"): lambda: _block(j_h(*jh_args))})
    cpu, wall = best_interleaved(fns, repeat, min_time)
    rows = [dict(workload=w["name"], impl=impl, op=op, seconds=s, wall_seconds=wall[(impl, op)])
            for (impl, op), s in cpu.items()]
    extra = []
    if big_hessian:
        big = list(mlp_data())
        hb = rg.hessian(f, argnums=1)
        c0, t0 = time.process_time(), time.perf_counter()
        hb(*big)
        extra.append(dict(workload=w["name"], impl="retrograd", op="hessian w.r.t. b1, width 512 (one call)",
                          seconds=time.process_time() - c0, wall_seconds=time.perf_counter() - t0))
        if use_jax:
            jh, jb = _jax_mlp_hessian(jax, big)
            _block(jh(*jb))
            c0, t0 = time.process_time(), time.perf_counter()
            _block(jh(*jb))
            extra.append(dict(workload=w["name"], impl="jax", op="hessian w.r.t. b1, width 512 (one call)",
                              seconds=time.process_time() - c0, wall_seconds=time.perf_counter() - t0))
    return dict(rows=rows + extra, hess_what=w["hess_what"], hess_same=w["hess_args"] is args, env=env)


# ---- Jacobians: the batched basis against the per-direction loop (--jacobians) -------------------------
def lorenz_state(s, sigma, rho, beta, dt, n_steps):
    """Euler steps of Lorenz from state s (3,): the final state (a vector output, for Jacobians)."""
    y = s.copy()
    for step in range(n_steps):
        dx = sigma * (y[1] - y[0])
        dy = y[0] * (rho - y[2]) - y[1]
        dz = y[0] * y[1] - beta * y[2]
        y[0] += dt * dx
        y[1] += dt * dy
        y[2] += dt * dz
    return y


def mlp_outputs(b1, W1, W2, b2, x):
    return np.tanh(x @ W1 + b1) @ W2 + b2


def jacobian_workloads(quick):
    n = 200 if quick else 1000
    r = np.random.default_rng(3)
    width, batch = 32, 8
    W1, W2 = r.normal(scale=width ** -0.5, size=(2, width, width))
    mlp = (r.normal(scale=0.1, size=width), W1, W2, r.normal(scale=0.1, size=width), r.normal(size=(batch, width)))
    return [(f"Lorenz Euler ({n:,} steps), d state / d s0: 3x3", lorenz_state,
             (np.array([1.0, 1.0, 1.0]), 10.0, 28.0, 8.0 / 3.0, 0.001, n)),
            (f"MLP outputs {batch}x{width}, d out / d b1: {batch * width}x{width}", mlp_outputs, mlp)]


def run_jacobians(quick, repeat, min_time, backends):
    """Rows of {workload, backend, op, batched, loop, ratio}: each Jacobian by the batched path (numba: one
    compiled driver call; python: the tangent code looked up once, called per direction) and by the
    per-direction loop (BATCHED off: one rg.jvp / one pullback per direction), timed interleaved in one
    process after checking that both give the same Jacobian."""
    import retrograd.forward.api as forward_api
    import retrograd.functional as functional

    def loop(fn):
        def run():
            forward_api.BATCHED = functional.BATCHED = False
            try:
                return fn()
            finally:
                forward_api.BATCHED = functional.BATCHED = True
        return run
    rows = []
    for name, f, args in jacobian_workloads(quick):
        for backend in backends:
            jf, jr = rg.jacfwd(f, backend=backend), rg.jacrev(f, backend=backend)
            fns = {}
            for op, j in (("jacfwd", jf), ("jacrev", jr)):
                fns[(op, "batched")] = lambda j=j: j(*args)
                fns[(op, "loop")] = loop(lambda j=j: j(*args))
            ref = fns[("jacrev", "loop")]()
            for k, fn in fns.items():
                agree(f"{name} {backend} {k[0]} ({k[1]}) against the jacrev loop", fn(), ref, 1e-9, atol=1e-12)
            cpu, _ = best_interleaved(fns, repeat, min_time)
            for op in ("jacfwd", "jacrev"):
                b, l = cpu[(op, "batched")], cpu[(op, "loop")]
                rows.append(dict(workload=name, backend=backend, op=op, batched=b, loop=l, ratio=l / b))
    return rows


def jacobian_table(rows):
    lines = ["| workload | backend | operation | batched (ms) | per-direction loop (ms) | loop / batched |",
             "|---|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['backend']} | {r['op']} | {r['batched'] * 1e3:,.3f} | "
                     f"{r['loop'] * 1e3:,.3f} | {r['ratio']:.1f} |")
    return "\n".join(lines)


# ---- driver --------------------------------------------------------------------------------------------
def environment():
    import importlib.metadata as md
    info = dict(python=platform.python_version(), numpy=np.__version__, machine=platform.machine(),
                processor=platform.processor() or "?", cpus=os.cpu_count(), retrograd=md.version("retrograd"),
                threads={k: os.environ.get(k, "unset") for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
                date=time.strftime("%Y-%m-%d %H:%M"), load=os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
    try:
        with open("/proc/cpuinfo") as fh:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


def table(results, key="seconds"):
    lines = ["| workload | operation | retrograd (ms) | / retrograd gradient | JAX jit (ms) | / JAX gradient "
             "| retrograd / JAX |", "|---|---|---:|---:|---:|---:|---:|"]
    for res in results:
        t = {(r["impl"], r["op"]): r[key] for r in res["rows"]}
        name = res["rows"][0]["workload"]
        for op in OPS:
            rg_s, jx_s = t.get(("retrograd", op)), t.get(("jax", op))
            label = f"{op} ({res['hess_what']})" if op == "hessian" else op
            same = op != "hessian" or res["hess_same"]     # the MLP's Hessian is of a narrower MLP
            cells = [f"{rg_s * 1e3:,.2f}" if rg_s is not None else "-",
                     f"{rg_s / t[('retrograd', 'gradient')]:.2f}" if rg_s is not None and same else "-",
                     f"{jx_s * 1e3:,.3f}" if jx_s is not None else "-",
                     f"{jx_s / t[('jax', 'gradient')]:.2f}" if jx_s is not None and same else "-",
                     f"{rg_s / jx_s:,.1f}" if rg_s is not None and jx_s is not None else "-"]
            if op == "hvp":
                cells[1] = f"**{cells[1]}**"
            lines.append(f"| {name} | {label} | " + " | ".join(cells) + " |")
        for (impl, op), s in t.items():
            if op not in OPS:
                lines.append(f"| {name} | {op}, {impl} | {s:,.2f} s | | | | |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 Lorenz steps, 3 repeats of 0.05 s")
    ap.add_argument("--only", choices=("lorenz", "mlp"), help="run this workload in this process")
    ap.add_argument("--repeat", type=int, help="rounds of interleaved repeats (best kept; default 7, quick 3)")
    ap.add_argument("--min-time", type=float, help="seconds per repeat of each operation (default 0.2)")
    ap.add_argument("--hessian-width", type=int, default=64, help="width of the MLP whose Hessian w.r.t. b1 is timed")
    ap.add_argument("--big-hessian", action="store_true", help="also one call of the width-512 MLP's b1 Hessian")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the processes to one CPU")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--jacobians", action="store_true",
                    help="only jacfwd/jacrev: batched against the per-direction loop, python and numba")
    opts = ap.parse_args(argv)
    repeat = opts.repeat or (3 if opts.quick else 7)
    min_time = opts.min_time or (0.05 if opts.quick else 0.2)
    if not opts.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})   # before JAX starts its threads
    if opts.jacobians:
        backends = ["python"]
        try:
            import numba  # noqa: F401
            backends.append("numba")
        except ImportError:
            print("numba is not installed: python backend only", file=sys.stderr)
        rows = run_jacobians(opts.quick, repeat, min_time, backends)
        env = environment()
        env["command"] = " ".join([os.path.basename(sys.executable)] + sys.argv)
        if opts.json:
            with open(opts.json, "w") as fh:
                json.dump(dict(env=env, jacobians=rows), fh, indent=1)
        print(", ".join(f"{k}: {v}" for k, v in env.items()) + "\n")
        print("CPU time of the process (best of the interleaved repeats):\n")
        print(jacobian_table(rows))
        return
    use_jax = not opts.no_jax
    if use_jax:
        try:
            import jax  # noqa: F401
        except ImportError:
            print("jax is not installed: no JAX columns (pip install jax)", file=sys.stderr)
            use_jax = False
    if opts.only:
        w = lorenz_workload(opts.quick) if opts.only == "lorenz" else mlp_workload(opts.quick, opts.hessian_width)
        res = run_workload(w, repeat, min_time, use_jax, opts.big_hessian and opts.only == "mlp")
        results = [res]
    else:
        results = []
        for name in ("lorenz", "mlp"):      # one process per workload
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "r.json")
                cmd = [sys.executable, os.path.abspath(__file__), "--only", name, "--json", path,
                       "--repeat", str(repeat), "--min-time", str(min_time),
                       "--hessian-width", str(opts.hessian_width)]
                cmd += ["--quick"] * opts.quick + ["--big-hessian"] * opts.big_hessian + ["--no-jax"] * opts.no_jax
                cmd += ["--no-pin"] * opts.no_pin
                subprocess.run(cmd, check=True)
                with open(path) as fh:
                    results += json.load(fh)["results"]
    env = environment()
    env.update(next((r["env"] for r in results if r["env"]), {}))
    env["pinned"] = "no" if opts.no_pin else "one CPU per process"
    env["command"] = " ".join([os.path.basename(sys.executable)] + sys.argv)
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump(dict(env=env, results=results), fh, indent=1)
    if not opts.only or not opts.json:
        print(", ".join(f"{k}: {v}" for k, v in env.items()) + "\n")
        print("CPU time of the process (best of the interleaved repeats):\n")
        print(table(results))
        print("\nWall-clock time, same repeats:\n")
        print(table(results, "wall_seconds"))


if __name__ == "__main__":
    main()
