"""Numba-backend regressions for patterns found by the benchmarks (element loops over fresh arrays)."""
import numpy as np
import pytest

pytest.importorskip("numba")

import retrograd as rg  # noqa: E402
from fd import check_grad  # noqa: E402
import fd  # noqa: E402


def stencil_fresh_array(u, c, n_steps):
    n = u.shape[0]
    for step in range(n_steps):
        un = np.zeros(n)                 # a fresh array each step, written element by element
        for i in range(1, n - 1):
            un[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = un
    return np.sum(u * u)


def map_fresh_like(u, n_steps):
    for step in range(n_steps):
        un = np.zeros_like(u)
        for i in range(len(u)):
            un[i] = 2.0 * np.sin(u[i])
        u = un
    return np.sum(u)


@pytest.fixture(autouse=True)
def numba_everywhere(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    monkeypatch.setattr(fd, "BACKEND", "numba")


@pytest.mark.parametrize("f,args,wrt", [
    (stencil_fresh_array, (np.linspace(0.1, 0.9, 7), 0.2, 3), (0, 1)),
    (map_fresh_like, (np.linspace(0.1, 0.5, 4), 3), 0),
])
def test_numba_element_loops_over_fresh_arrays(f, args, wrt):
    check_grad(f, args, wrt)
    py = rg.differentiate(f, wrt=wrt).grad(*args)
    nb = rg.differentiate(f, wrt=wrt, backend="numba").grad(*args)
    for a, b in zip(py if isinstance(py, tuple) else (py,), nb if isinstance(nb, tuple) else (nb,)):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
