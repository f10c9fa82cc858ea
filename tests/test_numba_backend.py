"""The numba backend against the same construct cases as the python backend.

Every case either gives the python backend's gradient (to float64 rounding) and passes the
finite-difference check, or is listed in NUMBA_REFUSES and must raise rg.BackendError naming the
user's line with a hint to use the python backend.  Nothing is silently skipped: a case that starts
working, or starts failing differently, fails this test.
"""
import numpy as np
import pytest

numba = pytest.importorskip("numba")

import fd  # noqa: E402
import retrograd as rg  # noqa: E402
from test_constructs import (ARITH_CASES, HELPER_CASES, LOOP_CASES, RETURN_CASES, WHILE_CASES,  # noqa: E402
                             WRITE_CASES)

CASES = (ARITH_CASES + LOOP_CASES + WHILE_CASES + WRITE_CASES + HELPER_CASES
         + [(f, (lambda a=a: a), tuple(range(len(a)))) for f, a in RETURN_CASES])

# Cases the numba backend refuses (with a BackendError), and why: each is work for the numba backend.
NUMBA_REFUSES = {
    "calls_recursion": "a recursive helper's saved state has a recursive type",
}


@pytest.fixture(autouse=True)
def numba_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def _flat(g):
    return g if isinstance(g, tuple) else (g,)


@pytest.mark.parametrize("f,make_args,wrt", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_numba_matches_python_backend(f, make_args, wrt, monkeypatch):
    args = make_args()
    expected = rg.differentiate(f, wrt=wrt).grad(*args)
    nb = rg.differentiate(f, wrt=wrt, backend="numba")
    if f.__name__ in NUMBA_REFUSES:
        with pytest.raises(rg.BackendError) as info:
            nb.grad(*args)
        assert 'backend="python"' in (info.value.hint or "")
        return
    got = nb.grad(*args)
    for g, e in zip(_flat(got), _flat(expected)):
        np.testing.assert_allclose(np.asarray(g, dtype=float), np.asarray(e, dtype=float), rtol=1e-12, atol=1e-14)
    monkeypatch.setattr(fd, "BACKEND", "numba")
    fd.check_grad(f, args, wrt)
    assert "@njit(cache=True)" in nb.source
