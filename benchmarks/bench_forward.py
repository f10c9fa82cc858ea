"""Forward mode and second order on the python backend: jvp, hvp (forward-over-reverse), against the
gradient, on the workloads of bench_python_backend.py (Lorenz RK4, the 512x512 MLP).

    python benchmarks/bench_forward.py            # full run
    python benchmarks/bench_forward.py --quick    # fewer repeats, shorter Lorenz run

Every number is verified before it is timed: jvp against <grad, v> (an identity that holds to rounding),
hvp against central differences of the gradient along v.  Times are the best of N repeats.  The goal of
issue 15 is hvp <= 4x the gradient's time.  JAX is not installed here: no peer column.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import retrograd as rg  # noqa: E402
from bench_python_backend import best_of, lorenz_args, lorenz_final_sum, mlp_data, mlp_loss  # noqa: E402


def _direction(args, k, seed):
    r = np.random.default_rng(seed)
    return [None if i not in k else (r.standard_normal(np.shape(a)) if np.ndim(a) else float(r.standard_normal()))
            for i, a in enumerate(args)]


def _dot(a, b):
    return float(sum(np.sum(np.asarray(x) * np.asarray(y)) for x, y in zip(a, b)))


def bench(name, f, args, wrt, repeat, min_time):
    d = rg.differentiate(f, wrt=tuple(wrt))
    v = _direction(args, wrt, 0)
    grads = d.grad(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    _, jv = rg.jvp(f, tuple(args), tuple(v))
    assert np.isclose(jv, _dot(grads, [v[k] for k in wrt]), rtol=1e-9), "jvp disagrees with the gradient"
    hv = rg.hvp(f, tuple(args), tuple(v))
    hv = hv if isinstance(hv, tuple) else (hv,)
    eps = 1e-6
    plus = [a + eps * t if t is not None else a for a, t in zip(args, v)]
    minus = [a - eps * t if t is not None else a for a, t in zip(args, v)]
    gp, gm = d.grad(*plus), d.grad(*minus)
    gp, gm = (gp, gm) if isinstance(gp, tuple) else ((gp,), (gm,))
    for h, a, b in zip(hv, gp, gm):
        np.testing.assert_allclose(h, (np.asarray(a) - np.asarray(b)) / (2 * eps), rtol=1e-4, atol=1e-6)
    t_f = best_of(lambda: f(*args), repeat, min_time)
    t_g = best_of(lambda: d.grad(*args), repeat, min_time)
    t_j = best_of(lambda: rg.jvp(f, tuple(args), tuple(v)), repeat, min_time)
    t_h = best_of(lambda: rg.hvp(f, tuple(args), tuple(v)), repeat, min_time)
    return [(name, "forward (plain call)", t_f, t_f), (name, "gradient", t_g, t_f), (name, "jvp", t_j, t_f),
            (name, "hvp (forward over reverse)", t_h, t_f), (name, "hvp / gradient", t_h / t_g, None)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    opts = ap.parse_args(argv)
    repeat, min_time = (3, 0.05) if opts.quick else (7, 0.2)
    n_steps = 1000 if opts.quick else 10_000
    rows = bench(f"Lorenz RK4 ({n_steps} steps)", lorenz_final_sum, list(lorenz_args(n_steps)), [0, 1, 2, 3],
                 repeat, min_time)
    rows += bench("MLP 512x512, batch 64", mlp_loss, list(mlp_data()), [0, 1, 2, 3], repeat, min_time)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} cpus\n")
    print("| workload | what | time | x forward |\n|---|---|---|---|")
    for name, what, t, base in rows:
        if base is None:
            print(f"| {name} | {what} | **{t:.2f}x** | |")
        else:
            print(f"| {name} | {what} | {t * 1e3:.2f} ms | {t / base:.1f} |")


if __name__ == "__main__":
    main()
