"""Bounded CI sample of tests/progen.py's random in-place / view programs (issue 10).

Every program NumPy runs must be either refused with a RetrogradError or exact (value, FD
gradient, caller arrays untouched, repeatable pullback).  Standalone, without pytest:

    python tests/test_progen.py            # the CI sample; prints failures, exit status 1 if any
    python tools/soak_progen.py --n 5000   # the long soak
"""
import os
import pathlib
import random
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import progen  # noqa: E402
from fd import load_module  # noqa: E402

# (backend, remat, number of programs, seed base): 100 python programs, a few dozen per remat mode (the
# soaks, tools/soak_progen.py, run thousands outside CI).
SAMPLE = [("python", "none", 100, 0), ("python", "recompute", 25, 1), ("python", "checkpoint", 25, 2),
          ("numba", "none", 10, 3)]
BACKENDS = [b for b in os.environ.get("RETROGRAD_TEST_BACKENDS", "python,numba").split(",") if b]
CASES = [(b, m, s * 100_000 + i) for b, m, n, s in SAMPLE if b in BACKENDS for i in range(n)]


# Hand-reduced repros of the failure classes the soak found (see /work/reports/progen.md), bodies of
# f(x, w, p) with x (4, 6), w (6,), p (6, 6).
REPROS = {
    "A_scalar_into_slice": "w[1:3] = np.tanh(p[1, 2])\nreturn np.sum(w * w)",
    "A_row_into_fancy": "x[[0, 2]] = np.cos(p[0, :])\nreturn np.sum(x * x)",
    "A_column_into_rows": "x[0:2] = np.cos(p[0:2, 0:1])\nreturn np.sum(x * x)",
    "A_scalar_into_mask": "m = w > 0.0\nw[m] = np.cos(p[0, 0])\nreturn np.sum(w * w)",
    "B_inline_mask_reads_target": "a = x * 1.0\na[a < -0.3] *= np.tanh(p[4, 1])\nreturn np.sum(a * a)",
    "C_write_through_arg_slice": "v = w[1:-3]\nv[-2] /= 2.0\nreturn np.sum(v * v)",
    "C_fancy_write_through_arg_slice": "v = x[:3]\nv[[-1]] -= 0.4\nreturn np.sum(v * v)",
    "D_negative_repeat_assign": "w[[1, 3, -3]] = np.cos(p[0:3, 4])\nreturn np.sum(w * w)",
    "D_negative_repeat_add": "w[[1, 3, -3]] += np.cos(p[0:3, 4])\nreturn np.sum(w * w)",
    "D_negative_repeat_named": "ix = np.array([1, -4, -5, -6])\nw[ix] *= np.cos(p[3, 4:5])\nreturn np.sum(np.sin(w))",
    "E_higher_rank_value": "w[1:3] = np.sin(p[1:2, 3:4])\nreturn np.sum(w * w)",
    "E_higher_rank_value_row": "x[0] = np.sin(p[1:2, 3:4])\nreturn np.sum(x * x)",
    "E_rank3_value": "x[...] = np.sin(p.reshape(-1)[:4].reshape((1, 4, 1)))\nreturn np.sum(x * x)",
}


# Classes still open (issue 10): each listed case is a strict xfail, so it fails the suite once it passes
OPEN = {}
OPEN_SEEDS = {}


def repro_source(body):
    return "import numpy as np\n\n\ndef f(x, w, p):\n" + "".join(f"    {ln}\n" for ln in body.splitlines())


# the repros have no loop: remat modes on python only
REPRO_CONFIGS = [(b, m) for b in BACKENDS for m in progen.REMATS if b == "python" or m == "none"]


@pytest.mark.parametrize("backend,remat", REPRO_CONFIGS)
@pytest.mark.parametrize("name", list(REPROS))
def test_progen_repro(request, progdir, name, backend, remat):
    if (name, backend) in OPEN:
        request.applymarker(pytest.mark.xfail(strict=True, reason=OPEN[name, backend]))
    if backend == "numba":
        pytest.importorskip("numba")
    import numpy as np
    src = repro_source(REPROS[name])
    nrng = np.random.default_rng(0)
    inputs = {k: nrng.uniform(-1.0, 1.0, size=sh) for k, sh in progen.SHAPES.items()}
    o = progen.check(load_module(src, progdir, prefix="rgrepro").f, inputs, backend, remat)
    assert o.kind in ("ok", "refused"), f"{name} [{backend}, remat={remat}]: {o}\n{src}"


def run_case(backend, remat, seed, directory):
    src, inputs, _ = progen.generate(random.Random(seed))
    fn = load_module(src, directory, prefix="rgprogen").f
    return src, progen.check(fn, inputs, backend, remat)


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return tmp_path_factory.mktemp("rg_progen")


@pytest.mark.parametrize("backend,remat,seed", CASES)
def test_progen(request, progdir, backend, remat, seed):
    if (backend, remat, seed) in OPEN_SEEDS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=OPEN_SEEDS[backend, remat, seed]))
    if backend == "numba":
        pytest.importorskip("numba")
    src, o = run_case(backend, remat, seed, progdir)
    assert o.kind != "failure", f"{o.cls} [{backend}, remat={remat}, seed={seed}]: {o.detail}\n{src}"


try:
    from hypothesis import given, note, settings
    from hypothesis import strategies as st
except ImportError:     # pragma: no cover - hypothesis is a test dependency
    pass
else:
    @settings(max_examples=20)
    @given(prog=progen.programs(), remat=st.sampled_from(list(progen.REMATS)))
    def test_progen_hypothesis(progdir, prog, remat):
        """The same oracle driven by hypothesis (HYPOTHESIS_PROFILE=explore for fresh draws)."""
        src, inputs, _ = prog
        note(src)
        o = progen.check(load_module(src, progdir, prefix="rgprogen").f, inputs, "python", remat)
        assert o.kind != "failure", f"{o.cls} [python, remat={remat}]: {o.detail}\n{src}"


if __name__ == "__main__":
    import tempfile
    d = pathlib.Path(tempfile.mkdtemp())
    bad = 0
    for b, m, s in CASES:
        src, o = run_case(b, m, s, d)
        if o.kind == "failure":
            bad += 1
            print(f"--- {o.cls} [{b}, remat={m}, seed={s}]: {o.detail.splitlines()[0]}\n{src}")
    print(f"{len(CASES)} programs, {bad} failures")
    sys.exit(1 if bad else 0)
