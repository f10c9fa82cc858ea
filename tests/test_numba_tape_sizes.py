"""Numba array tapes sized at a loop nest's entry (reverse/tape_sizes.py): triangular and other
data-independent nested bounds reserve their room once and push with `push_at`; anything else keeps the
growing `push`.  Every case is checked against central differences, the plain call and the python backend."""
import re

import numpy as np
import pytest

pytest.importorskip("numba")

import retrograd as rg  # noqa: E402
from fd import check_grad  # noqa: E402
import fd  # noqa: E402


@pytest.fixture(autouse=True)
def numba_everywhere(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    monkeypatch.setattr(fd, "BACKEND", "numba")


def pairs(pos):
    n = pos.shape[0]
    e = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            d = pos[i] - pos[j]
            r2 = d * d + 0.5
            e = e + 1.0 / r2
    return e


def triple(x):
    """Three levels, the innermost bound reading both enclosing indices, a push at every level."""
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        a = np.sin(x[i])
        s = s + a * a
        for j in range(i):
            b = np.cos(x[j] * a)
            s = s + b * b
            for k in range(j, i + 1):
                c = np.sin(b * x[k])
                s = s + c * c
    return s


def bound_set_in_body(x):
    """`m` is assigned in the outer body: the inner count is known only at the inner loop's entry."""
    n = x.shape[0]
    s = 0.0
    m = 1
    for i in range(n):
        for j in range(m):
            t = np.sin(x[j] + s)
            s = s + t * t
        m = m + 1
        if m > n:
            m = n
    return s


def downward_steps(x):
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        for j in range(n - 1, i, -2):
            t = x[i] * x[j]
            s = s + np.sin(t) * t
    return s


def inside_while(x, n_rounds):
    """A reserving loop nest inside a while loop: it reserves again on every round (growing the tape)."""
    n = x.shape[0]
    s = 0.0
    r = 0
    while r < n_rounds:
        for i in range(n):
            for j in range(i, n):
                t = np.sin(x[i] * x[j] + s)
                s = s + t
        r = r + 1
    return s


def index_name_reused(x):
    """The user's names next to the generated counter's: `i_2` exists, `j_trips` too."""
    n = x.shape[0]
    i_2 = 0.5
    j_trips = 2.0
    s = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            t = np.sin(x[i] - x[j]) * i_2 + j_trips
            s = s + t * t
    return s


def early_exit(x):
    """A break: the inner trip count is data-dependent, the tape must grow."""
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        for j in range(i, n):
            t = np.sin(x[j]) * x[i]
            s = s + t
            if s > 2.0:
                break
    return s


R = np.random.default_rng(3)
CASES = {
    "pairs": (pairs, (R.normal(size=6),)),
    "pairs_size1": (pairs, (R.normal(size=1),)),
    "pairs_size0": (pairs, (np.zeros(0),)),
    "triple": (triple, (R.normal(size=5),)),
    "bound_set_in_body": (bound_set_in_body, (R.normal(size=5),)),
    "downward_steps": (downward_steps, (R.normal(size=7),)),
    "inside_while": (inside_while, (R.normal(size=4), 3)),
    "index_name_reused": (index_name_reused, (R.normal(size=5),)),
    "early_exit": (early_exit, (R.normal(size=6) * 0.3 + 0.4,)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sized_tapes_match_differences_and_python(name):
    f, args = CASES[name]
    g = check_grad(f, args, 0)
    py = rg.differentiate(f, wrt=0).grad(*args)
    np.testing.assert_allclose(g, py, rtol=1e-12, atol=1e-14)


def _primal_source(f, args, remat="store"):
    d = rg.differentiate(f, wrt=0, backend="numba", remat=remat)
    d.grad(*args)
    src = d.source
    return src[src.index("def primal_"):src.index("def adjoint_")]


def test_triangular_pushes_are_reserved():
    src = _primal_source(*CASES["pairs"])
    assert "reserve(" in src and "push_at(" in src
    assert not re.search(r"\bpush\(", src)          # no growing push left in the pair loop
    src = _primal_source(*CASES["triple"])
    assert "reserve(" in src and not re.search(r"\bpush\(", src)


def test_data_dependent_counts_keep_growing_tapes():
    src = _primal_source(*CASES["early_exit"])
    assert "reserve(" not in src and re.search(r"\bpush\(", src)
    src = _primal_source(*CASES["bound_set_in_body"])
    # reserved at the inner loop's entry (m is known there), not before the outer loop
    outer = src.index("for i in range")
    assert src.index("reserve(") > outer
