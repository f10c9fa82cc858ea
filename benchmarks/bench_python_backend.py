"""Benchmarks of retrograd's python backend.

    python benchmarks/bench_python_backend.py            # full run
    python benchmarks/bench_python_backend.py --quick    # fewer repeats, shorter Lorenz run

Two workloads, each timed as "forward" (the undifferentiated function) and "gradient" (retrograd's
generated primal + adjoint, which also computes the forward pass), and their ratio:

1. Lorenz RK4: 10,000 RK4 steps of the Lorenz system written as a Python ``for`` loop over floats;
   gradient of x(T) + y(T) + z(T) w.r.t. the initial state (x0, y0, z0) and sigma.
2. MLP: mean((tanh(x @ W1 + b1) @ W2 + b2 - y) ** 2) with 512x512 weights, batch 64, float64;
   gradient w.r.t. W1, b1, W2, b2.  A hand-written NumPy adjoint is the reference.

Peers (autograd, PyTorch, JAX) are measured when importable and skipped otherwise.  Every gradient is
verified (against finite differences or the hand-written adjoint) before it is timed.  Times are the
best of N repeats (``timeit`` style: each repeat runs enough calls to last at least --min-time s).
The output is a markdown table; --json PATH also writes the numbers.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import time

import numpy as np

import retrograd as rg

# --------------------------------------------------------------------------------------------------
# Timing


SLOW_CALL_S = 2.0


def timed(fn):
    """(fn(), seconds it took)."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def best_of(fn, repeat, min_time, first=None):
    """Best per-call time in seconds over `repeat` repeats of `number` calls (number auto-calibrated).

    `first` is the time of a call already made (e.g. the one whose result was verified); it serves as
    the warm-up.  A call slower than SLOW_CALL_S (a tracer over 10,000 Python-level steps) is timed
    once more at most.
    """
    if first is None:
        first = timed(fn)[1]  # warm-up (first-call compilation / caches)
    if first > SLOW_CALL_S:
        return first if first > 10 * SLOW_CALL_S else min(first, timed(fn)[1])
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time or number >= 1 << 20:
            break
        number = max(number * 2, int(number * min_time / max(elapsed, 1e-9) * 1.1))
    times = [elapsed / number]
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat - 1):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times.append((time.perf_counter() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return min(times)


def best_of_pair(fwd, grad, repeat, min_time):
    """(forward, gradient) best per-call times, their repeats interleaved so that both see the same
    machine conditions: the ratio of the two is what this benchmark reports."""
    def calibrate(fn):
        fn()  # warm-up
        number = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time or number >= 1 << 20:
                return number
            number = max(number * 2, int(number * min_time / max(elapsed, 1e-9) * 1.1))

    counts = [calibrate(fwd), calibrate(grad)]
    best = [float("inf"), float("inf")]
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            for k, fn in enumerate((fwd, grad)):
                t0 = time.perf_counter()
                for _ in range(counts[k]):
                    fn()
                best[k] = min(best[k], (time.perf_counter() - t0) / counts[k])
    finally:
        if gc_was_enabled:
            gc.enable()
    return best[0], best[1]


class Results:
    def __init__(self):
        self.rows = []  # dicts: benchmark, implementation, forward_s, gradient_s, note

    def add(self, benchmark, implementation, forward_s=None, gradient_s=None, note=""):
        self.rows.append(
            dict(benchmark=benchmark, implementation=implementation, forward_s=forward_s,
                 gradient_s=gradient_s, note=note)
        )
        fwd = "-" if forward_s is None else f"{forward_s * 1e3:.3f} ms"
        grd = "-" if gradient_s is None else f"{gradient_s * 1e3:.3f} ms"
        print(f"  {benchmark:<12} {implementation:<34} forward {fwd:>12}  gradient {grd:>12}  {note}",
              file=sys.stderr, flush=True)

    def skip(self, benchmark, implementation, why):
        self.add(benchmark, implementation, note=f"skipped: {why}")

    def markdown(self):
        lines = [
            "| benchmark | implementation | forward (ms) | gradient (ms) | gradient / forward | note |",
            "|---|---|---:|---:|---:|---|",
        ]
        for r in self.rows:
            f, g = r["forward_s"], r["gradient_s"]
            fs = "-" if f is None else f"{f * 1e3:.3f}"
            gs = "-" if g is None else f"{g * 1e3:.3f}"
            ratio = "-" if (f is None or g is None) else f"{g / f:.2f}"
            lines.append(f"| {r['benchmark']} | {r['implementation']} | {fs} | {gs} | {ratio} | {r['note']} |")
        return "\n".join(lines)


def _why(exc):
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return text[:120]


# --------------------------------------------------------------------------------------------------
# Workload 1: Lorenz RK4 written as a Python loop over floats


def lorenz_final_sum(x, y, z, sigma, rho, beta, dt, n_steps):
    for step in range(n_steps):
        k1x = sigma * (y - x)
        k1y = x * (rho - z) - y
        k1z = x * y - beta * z

        x2 = x + 0.5 * dt * k1x
        y2 = y + 0.5 * dt * k1y
        z2 = z + 0.5 * dt * k1z
        k2x = sigma * (y2 - x2)
        k2y = x2 * (rho - z2) - y2
        k2z = x2 * y2 - beta * z2

        x3 = x + 0.5 * dt * k2x
        y3 = y + 0.5 * dt * k2y
        z3 = z + 0.5 * dt * k2z
        k3x = sigma * (y3 - x3)
        k3y = x3 * (rho - z3) - y3
        k3z = x3 * y3 - beta * z3

        x4 = x + dt * k3x
        y4 = y + dt * k3y
        z4 = z + dt * k3z
        k4x = sigma * (y4 - x4)
        k4y = x4 * (rho - z4) - y4
        k4z = x4 * y4 - beta * z4

        x = x + dt / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
        y = y + dt / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y)
        z = z + dt / 6.0 * (k1z + 2.0 * k2z + 2.0 * k3z + k4z)
    return x + y + z


LORENZ_WRT = ("x", "y", "z", "sigma")
LORENZ_DT = 0.001


def make_jax_lorenz(jax, rho, beta, dt, n_steps):
    """The Lorenz RK4 loss written for JAX the idiomatic way (`lax.fori_loop`, not a Python loop)."""
    def jax_loss(x, y, z, sigma):
        def body(_, s):
            x, y, z = s
            k1x = sigma * (y - x); k1y = x * (rho - z) - y; k1z = x * y - beta * z  # noqa: E702
            x2 = x + 0.5 * dt * k1x; y2 = y + 0.5 * dt * k1y; z2 = z + 0.5 * dt * k1z  # noqa: E702
            k2x = sigma * (y2 - x2); k2y = x2 * (rho - z2) - y2; k2z = x2 * y2 - beta * z2  # noqa: E702
            x3 = x + 0.5 * dt * k2x; y3 = y + 0.5 * dt * k2y; z3 = z + 0.5 * dt * k2z  # noqa: E702
            k3x = sigma * (y3 - x3); k3y = x3 * (rho - z3) - y3; k3z = x3 * y3 - beta * z3  # noqa: E702
            x4 = x + dt * k3x; y4 = y + dt * k3y; z4 = z + dt * k3z  # noqa: E702
            k4x = sigma * (y4 - x4); k4y = x4 * (rho - z4) - y4; k4z = x4 * y4 - beta * z4  # noqa: E702
            return (x + dt / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x),
                    y + dt / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y),
                    z + dt / 6.0 * (k1z + 2.0 * k2z + 2.0 * k3z + k4z))

        x, y, z = jax.lax.fori_loop(0, n_steps, body, (x, y, z))
        return x + y + z
    return jax_loss


def lorenz_args(n_steps):
    return (1.0, 1.0, 1.0, 10.0, 28.0, 8.0 / 3.0, LORENZ_DT, n_steps)


def lorenz_fd(args, eps=1e-6):
    grads = []
    for i in range(len(LORENZ_WRT)):
        h = eps * max(1.0, abs(args[i]))
        plus, minus = list(args), list(args)
        plus[i] += h
        minus[i] -= h
        grads.append((lorenz_final_sum(*plus) - lorenz_final_sum(*minus)) / (2 * h))
    return np.array(grads)


def check_close(name, got, want, rtol, atol=0.0):
    got = [np.asarray(g, dtype=np.float64) for g in got]
    want = [np.asarray(w, dtype=np.float64) for w in want]
    worst = 0.0
    for g, w in zip(got, want):
        if g.shape != w.shape:
            raise AssertionError(f"{name}: gradient shape {g.shape} != reference shape {w.shape}")
        if not np.all(np.isfinite(g)):
            raise AssertionError(f"{name}: gradient has non-finite entries")
        denom = np.maximum(np.abs(w), atol / max(rtol, 1e-300)) if atol else np.abs(w)
        err = np.max(np.abs(g - w) / np.maximum(denom, 1e-300)) if g.size else 0.0
        worst = max(worst, float(err))
    if worst > rtol:
        raise AssertionError(f"{name}: max relative error {worst:.3e} > {rtol:g}")
    print(f"  verified {name}: max relative error {worst:.2e} (tolerance {rtol:g})", file=sys.stderr)
    return worst


def bench_lorenz(results, n_steps, repeat, min_time, peers):
    bench = f"lorenz-rk4 ({n_steps} steps)"
    print(f"\n[{bench}] gradient of x(T)+y(T)+z(T) w.r.t. (x0, y0, z0, sigma)", file=sys.stderr)
    args = lorenz_args(n_steps)
    dlorenz = rg.differentiate(lorenz_final_sum, wrt=LORENZ_WRT, backend="python")

    # Verify on a horizon where finite differences are trustworthy (the system is chaotic), then check
    # that the full-length gradient is finite and agrees with finite differences loosely.
    short = lorenz_args(min(n_steps, 1000))
    check_close("retrograd lorenz (1000 steps) vs finite differences", dlorenz.grad(*short), lorenz_fd(short), 1e-5)
    full = dlorenz.grad(*args)
    check_close(f"retrograd lorenz ({n_steps} steps) vs finite differences", full, lorenz_fd(args, 1e-7), 1e-2)
    value, _ = dlorenz.value_and_grad(*args)
    assert math.isclose(value, lorenz_final_sum(*args), rel_tol=1e-12), "value_and_grad value != forward"

    fwd, grd = best_of_pair(lambda: lorenz_final_sum(*args), lambda: dlorenz.grad(*args), repeat, min_time)
    results.add(bench, "retrograd (python backend)", fwd, grd)
    if peers:
        _lorenz_peers(results, bench, args, np.array(full), n_steps, repeat, min_time)


def _lorenz_peers(results, bench, args, reference, n_steps, repeat, min_time):
    # autograd: traces the same Python loop (boxes every float operation).
    try:
        import autograd

        def packed(p):
            return lorenz_final_sum(*p, *args[4:])

        ag = autograd.grad(packed)
        p0 = tuple(args[:4])
        grads, first = timed(lambda: ag(p0))
        check_close("autograd lorenz", [np.array([float(g) for g in grads])], [reference], 1e-6)
        fwd = best_of(lambda: lorenz_final_sum(*args), repeat, min_time)
        results.add(bench, "autograd", fwd, best_of(lambda: ag(p0), repeat, min_time, first=first))
    except ImportError:
        results.skip(bench, "autograd", "not installed")
    except Exception as exc:
        results.skip(bench, "autograd", _why(exc))

    # PyTorch eager on 0-d float64 tensors: the same Python loop, one tape node per operation.
    try:
        import torch

        def torch_grad():
            leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args[:4]]
            out = lorenz_final_sum(*leaves, *args[4:])
            return torch.autograd.grad(out, leaves)

        def torch_fwd():
            with torch.no_grad():
                leaves = [torch.tensor(a, dtype=torch.float64) for a in args[:4]]
                return lorenz_final_sum(*leaves, *args[4:])

        check_close("torch lorenz", [np.array([g.item() for g in torch_grad()])], [reference], 1e-6)
        rep = max(1, min(repeat, 3))
        results.add(bench, f"torch {torch.__version__} (eager, CPU)", best_of(torch_fwd, rep, min_time),
                    best_of(torch_grad, rep, min_time))
    except ImportError:
        results.skip(bench, "torch", "not installed")
    except Exception as exc:
        results.skip(bench, "torch", _why(exc))

    # JAX: a Python loop would be unrolled by jit, so the peer uses lax.fori_loop (a different program).
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        rho, beta, dt = args[4], args[5], args[6]

        jax_loss = make_jax_lorenz(jax, rho, beta, dt, n_steps)

        jf = jax.jit(jax_loss)
        jg = jax.jit(jax.grad(jax_loss, argnums=(0, 1, 2, 3)))
        jargs = [jnp.float64(a) for a in args[:4]]
        check_close("jax lorenz", [np.array([float(g) for g in jg(*jargs)])], [reference], 1e-6)
        results.add(bench, f"jax {jax.__version__} (jit + lax.fori_loop)",
                    best_of(lambda: jf(*jargs).block_until_ready(), repeat, min_time),
                    best_of(lambda: [g.block_until_ready() for g in jg(*jargs)], repeat, min_time))
    except ImportError:
        results.skip(bench, "jax", "not installed")
    except Exception as exc:
        results.skip(bench, "jax", _why(exc))


# --------------------------------------------------------------------------------------------------
# Workload 2: two-layer tanh MLP


def mlp_loss(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def mlp_grad_by_hand(W1, b1, W2, b2, x, y):
    """Hand-written reverse pass of mlp_loss (the reference a person would write)."""
    h = np.tanh(x @ W1 + b1)
    r = h @ W2 + b2 - y
    dout = (2.0 / r.size) * r
    dW2 = h.T @ dout
    db2 = dout.sum(axis=0)
    dz = (dout @ W2.T) * (1.0 - h * h)
    dW1 = x.T @ dz
    db1 = dz.sum(axis=0)
    return dW1, db1, dW2, db2


def mlp_data(width=512, batch=64, seed=0):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(scale=1.0 / np.sqrt(width), size=(width, width))
    b1 = rng.normal(scale=0.1, size=width)
    W2 = rng.normal(scale=1.0 / np.sqrt(width), size=(width, width))
    b2 = rng.normal(scale=0.1, size=width)
    x = rng.normal(size=(batch, width))
    y = rng.normal(size=(batch, width))
    return W1, b1, W2, b2, x, y


def bench_mlp(results, repeat, min_time, peers):
    width, batch = 512, 64
    bench = f"mlp {width}x{width}, batch {batch}"
    print(f"\n[{bench}] gradient of mean((tanh(x@W1+b1)@W2+b2 - y)**2) w.r.t. W1, b1, W2, b2 (float64)",
          file=sys.stderr)
    args = mlp_data(width, batch)

    # The hand-written adjoint is itself checked against central differences on a few entries.
    ref = mlp_grad_by_hand(*args)
    rng = np.random.default_rng(1)
    for k in range(4):
        for _ in range(3):
            p = args[k]
            idx = tuple(int(rng.integers(0, s)) for s in p.shape)
            eps = 1e-6
            plus, minus = [a.copy() for a in args[:4]], [a.copy() for a in args[:4]]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            fd = (mlp_loss(*plus, *args[4:]) - mlp_loss(*minus, *args[4:])) / (2 * eps)
            if not math.isclose(fd, ref[k][idx], rel_tol=1e-5, abs_tol=1e-9):
                raise AssertionError(f"hand-written MLP adjoint disagrees with finite differences: {fd} vs {ref[k][idx]}")
    print("  verified hand-written adjoint against finite differences (12 entries)", file=sys.stderr)

    dmlp = rg.differentiate(mlp_loss, wrt=("W1", "b1", "W2", "b2"), backend="python")
    check_close("retrograd mlp vs hand-written adjoint", dmlp.grad(*args), ref, 1e-9, atol=1e-13)

    fwd, grd = best_of_pair(lambda: mlp_loss(*args), lambda: mlp_grad_by_hand(*args), repeat, min_time)
    results.add(bench, "numpy, hand-written adjoint", fwd, grd)
    fwd, grd = best_of_pair(lambda: mlp_loss(*args), lambda: dmlp.grad(*args), repeat, min_time)
    results.add(bench, "retrograd (python backend)", fwd, grd)
    if peers:
        _mlp_peers(results, bench, args, ref, repeat, min_time)


def _mlp_peers(results, bench, args, ref, repeat, min_time):
    try:
        import autograd
        import autograd.numpy as anp

        def ag_loss(W1, b1, W2, b2, x, y):
            h = anp.tanh(anp.dot(x, W1) + b1)
            return anp.mean((anp.dot(h, W2) + b2 - y) ** 2)

        ag = autograd.grad(ag_loss, argnum=(0, 1, 2, 3)) if _autograd_has_tuple_argnum() else None
        if ag is None:
            raise RuntimeError("this autograd has no tuple argnum")
        check_close("autograd mlp", ag(*args), ref, 1e-9, atol=1e-13)
        results.add(bench, "autograd", best_of(lambda: ag_loss(*args), repeat, min_time),
                    best_of(lambda: ag(*args), repeat, min_time))
    except ImportError:
        results.skip(bench, "autograd", "not installed")
    except Exception as exc:
        results.skip(bench, "autograd", _why(exc))

    try:
        import torch

        targs = [torch.from_numpy(a.copy()) for a in args]

        def t_loss(W1, b1, W2, b2, x, y):
            h = torch.tanh(x @ W1 + b1)
            return torch.mean((h @ W2 + b2 - y) ** 2)

        def t_fwd():
            with torch.no_grad():
                return t_loss(*targs)

        def t_grad():
            leaves = [t.detach().requires_grad_(True) for t in targs[:4]]
            return torch.autograd.grad(t_loss(*leaves, *targs[4:]), leaves)

        check_close("torch mlp", [g.numpy() for g in t_grad()], ref, 1e-9, atol=1e-13)
        results.add(bench, f"torch {torch.__version__} (eager, CPU)", best_of(t_fwd, repeat, min_time),
                    best_of(t_grad, repeat, min_time))
    except ImportError:
        results.skip(bench, "torch", "not installed")
    except Exception as exc:
        results.skip(bench, "torch", _why(exc))

    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)

        def j_loss(W1, b1, W2, b2, x, y):
            h = jnp.tanh(x @ W1 + b1)
            return jnp.mean((h @ W2 + b2 - y) ** 2)

        jf = jax.jit(j_loss)
        jg = jax.jit(jax.grad(j_loss, argnums=(0, 1, 2, 3)))
        jargs = [jnp.asarray(a) for a in args]
        check_close("jax mlp", [np.asarray(g) for g in jg(*jargs)], ref, 1e-9, atol=1e-13)
        results.add(bench, f"jax {jax.__version__} (jit)", best_of(lambda: jf(*jargs).block_until_ready(), repeat, min_time),
                    best_of(lambda: [g.block_until_ready() for g in jg(*jargs)], repeat, min_time))
    except ImportError:
        results.skip(bench, "jax", "not installed")
    except Exception as exc:
        results.skip(bench, "jax", _why(exc))


def _autograd_has_tuple_argnum():
    import autograd

    try:
        autograd.grad(lambda a, b: a * b, argnum=(0, 1))(1.0, 2.0)
        return True
    except Exception:
        return False


# --------------------------------------------------------------------------------------------------


def environment():
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ}
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "retrograd": getattr(rg, "__version__", "0.1.0"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "processor": platform.processor() or "unknown",
        "threads": threads or "default",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and a 2,000-step Lorenz run")
    parser.add_argument("--repeat", type=int, default=None, help="repeats per measurement (best is kept)")
    parser.add_argument("--min-time", type=float, default=None, help="seconds each repeat lasts at least")
    parser.add_argument("--steps", type=int, default=None, help="Lorenz RK4 steps (default 10000)")
    parser.add_argument("--no-peers", action="store_true", help="skip autograd / torch / jax")
    parser.add_argument("--only", choices=("lorenz", "mlp"), help="run one workload")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    repeat = args.repeat or (3 if args.quick else 7)
    min_time = args.min_time if args.min_time is not None else (0.02 if args.quick else 0.2)
    steps = args.steps or (2000 if args.quick else 10000)

    env = environment()
    print("environment: " + ", ".join(f"{k} {v}" for k, v in env.items()), file=sys.stderr)
    results = Results()
    if args.only in (None, "lorenz"):
        bench_lorenz(results, steps, repeat, min_time, not args.no_peers)
    if args.only in (None, "mlp"):
        bench_mlp(results, repeat, min_time, not args.no_peers)

    print()
    print(f"retrograd {env['retrograd']}, Python {env['python']}, NumPy {env['numpy']}, {env['machine']}; "
          f"best of {repeat} repeats{' (--quick)' if args.quick else ''}")
    print()
    print(results.markdown())
    hand = [r for r in results.rows if r["implementation"].startswith("numpy, hand-written") and r["gradient_s"]]
    mine = [r for r in results.rows if r["implementation"].startswith("retrograd") and r["benchmark"].startswith("mlp")]
    if hand and mine and mine[0]["gradient_s"]:
        print()
        print(f"MLP: retrograd gradient / hand-written NumPy adjoint = {mine[0]['gradient_s'] / hand[0]['gradient_s']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "quick": args.quick, "repeat": repeat, "lorenz_steps": steps,
                       "rows": results.rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
