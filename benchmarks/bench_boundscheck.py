"""What Numba's bounds checks cost retrograd's numba backend (it compiles with boundscheck=True).

    python benchmarks/bench_boundscheck.py            # the workloads of bench_numba_backend.py
    python benchmarks/bench_boundscheck.py --quick    # smaller workloads, fewer repeats

For each workload the gradient (`.grad`, compiled primal + adjoint) and the plain call (`f(*args)`, the
compiled forward without tape) are timed with the generated code as
retrograd compiles it (`njit(cache=True, boundscheck=True)`) and, in the same process, with the decorator
rewritten to `boundscheck=False` (what the backend compiled before bounds were checked); the repeats of
the two are interleaved and their ratio (checked / unchecked) is printed.  Both gradients are checked to
agree before they are timed.  The on-disk transform cache is bypassed so that each variant generates its
own module.  Compiled with NUMBA_OPT as the environment says (Numba's default 3 when unset).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import retrograd as rg  # noqa: E402
from retrograd.backends import numba as nb  # noqa: E402
from bench_numba_backend import (  # noqa: E402
    HEAT_WRT, LJ_WRT, LORENZ_WRT, MLP_WRT, RNN_WRT, SPRING_WRT, heat_args, heat_loss, heat_loss_preassigned,
    lj_args, lj_energy,
    lorenz_args, mlp_args, rnn_args, rnn_loss, spring_args, spring_chain)
from bench_python_backend import best_of_pair, environment, lorenz_final_sum, mlp_loss  # noqa: E402


def _gradient(fn, wrt, checked, args):
    """A numba Differentiable of `fn` whose generated code (for `args`' kinds) is compiled with
    boundscheck=`checked`."""
    import gast
    njit = nb._njit

    def patched():
        call = njit()
        for kw in call.keywords:
            if kw.arg == "boundscheck":
                kw.value = gast.Constant(value=checked, kind=None)
        return call
    nb._njit = patched
    try:
        d = rg.differentiate(fn, wrt=wrt, backend="numba")
        d.source_for(*args)     # generates (and loads) the module now, with the patched decorator
    finally:
        nb._njit = njit
    return d


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", default="", help="run the workloads whose name contains this text")
    p.add_argument("--repeat", type=int, default=None)
    a = p.parse_args(argv)
    repeat, min_time = (3, 0.05) if a.quick else (7, 0.2)
    repeat = a.repeat or repeat
    nb.NumbaTarget.cached_transform = lambda self, diff, kinds: None      # each variant generates its own
    nb.NumbaTarget.remember_transform = lambda self, *args: None
    workloads = [
        ("Lorenz RK4", lorenz_final_sum, LORENZ_WRT, lorenz_args(10_000 if a.quick else 100_000)),
        ("Heat 1-D", heat_loss, HEAT_WRT, heat_args(1000, 100 if a.quick else 500)),
        ("Heat 1-D (un preassigned)", heat_loss_preassigned, HEAT_WRT, heat_args(1000, 100 if a.quick else 500)),
        ("Lennard-Jones", lj_energy, LJ_WRT, lj_args(100 if a.quick else 300)),
        ("Mass-spring chain", spring_chain, SPRING_WRT, spring_args(1000, 200 if a.quick else 1000)),
        ("MLP", mlp_loss, MLP_WRT, mlp_args()),
        ("RNN", rnn_loss, RNN_WRT, rnn_args()),
    ]
    print("environment:", environment(), "NUMBA_OPT:", os.environ.get("NUMBA_OPT", "default"))
    print("\n| workload | gradient, boundscheck=True | boundscheck=False | ratio | plain call, True | False | ratio |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, fn, wrt, args in workloads:
        if a.only not in name:
            continue
        try:
            on, off = _gradient(fn, wrt, True, args), _gradient(fn, wrt, False, args)
            assert "boundscheck=True" in on.source_for(*args) and "boundscheck=False" in off.source_for(*args)
            g_on, g_off = on.grad(*args), off.grad(*args)
        except rg.RetrogradError as exc:       # a workload the numba backend refuses (with or without checks)
            print(f"| {name} | refused: {str(exc).splitlines()[0][-90:]} | | |", flush=True)
            continue
        for x, y in zip(g_on if isinstance(g_on, tuple) else (g_on,), g_off if isinstance(g_off, tuple) else (g_off,)):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=0)
        assert on(*args) == off(*args)
        t_on, t_off = best_of_pair(lambda: on.grad(*args), lambda: off.grad(*args), repeat, min_time)
        p_on, p_off = best_of_pair(lambda: on(*args), lambda: off(*args), repeat, min_time)
        print(f"| {name} | {t_on * 1e3:.3f} ms | {t_off * 1e3:.3f} ms | {t_on / t_off:.2f} "
              f"| {p_on * 1e3:.3f} ms | {p_off * 1e3:.3f} ms | {p_on / p_off:.2f} |", flush=True)


if __name__ == "__main__":
    main()
