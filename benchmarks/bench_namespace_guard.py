"""Per-call cost of re-validating what generated code reads from the user's namespaces.

Every call of value_and_grad / vjp re-reads each global name, closure cell and user-module attribute
the function and its helpers load, and compares identities (frontend/namespace.py); on numba it also
digests every global array (Numba freezes them, so an in-place change must be seen).  This prints the
cost of that check alone and the cost of a whole value_and_grad of a tiny function, with the check and
with it stubbed out.  Not a test: timings only.

    python benchmarks/bench_namespace_guard.py [--backend python|numba] [--repeat 7]
"""
import argparse
import sys
import timeit

import numpy as np

import retrograd as rg
from retrograd.api import Differentiable

scale = 1.5
offset = 0.25
W_SMALL = np.linspace(0.0, 1.0, 16)
W_1K = np.linspace(0.0, 1.0, 1_000)
W_1M = np.linspace(0.0, 1.0, 1_000_000)


def helper(x):
    return offset + np.tanh(scale * x)


def few_globals(x):                       # np, scale, offset, helper: 4 global slots + helper's
    return np.sum(helper(x) ** 2) * np.pi


def small_array(x):
    return np.sum(W_SMALL * x)


def array_1k(x):
    return np.sum(W_1K[:3] * x)


def array_1m(x):
    return np.sum(W_1M[:3] * x)


def best(stmt, number, repeat):
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="python", choices=["python", "numba"])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    x16, x3 = np.linspace(-1, 1, 16), np.array([0.1, 0.2, 0.3])
    cases = [("4 globals + helper", few_globals, x16), ("global array, 16", small_array, x16),
             ("global array, 1e3", array_1k, x3), ("global array, 1e6", array_1m, x3)]
    print(f"backend={args.backend}  (microseconds per call, best of {args.repeat})")
    print("| function | slots | check alone | value_and_grad | value_and_grad, check stubbed |")
    print("|---|---|---|---|---|")
    real = Differentiable._revalidate
    for label, fn, x in cases:
        d = rg.differentiate(fn, backend=args.backend)
        d.value_and_grad(x)
        key = d._last
        n = 200 if "1e6" in label else 5000
        check = best(lambda: d._revalidate(key), n, args.repeat)
        full = best(lambda: d.value_and_grad(x), n, args.repeat)
        Differentiable._revalidate = lambda self, key: None
        try:
            stub = best(lambda: d.value_and_grad(x), n, args.repeat)
        finally:
            Differentiable._revalidate = real
        reads = d._guards[key].reads
        print(f"| {label} | {len(reads.values)} | {check * 1e6:.2f} | {full * 1e6:.1f} | {stub * 1e6:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
