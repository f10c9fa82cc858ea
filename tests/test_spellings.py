"""Library functions are the same function however they were imported (`import numpy`, `from numpy import
tanh`, `import numpy.linalg as la`, `from math import sin as msin`): frontend/spelling.py gives each one
spelling before the other passes, so every backend sees `np.*` / `math.*`."""
import numpy as np
import pytest

import spelling_module as sm
from conftest import FD_BACKENDS
from fd import check_grad

X = np.array([0.3, -1.2, 0.7, 1.1])

CASES = ["plain_numpy", "from_import", "linalg_alias", "other_alias", "newaxis_and_dtype", "in_a_loop",
         "local_named_np", "through_a_helper"]


@pytest.mark.parametrize("name", CASES)
def test_import_styles(name, fd_backend):
    check_grad(getattr(sm, name), [X.copy()])


def test_generated_source_uses_one_spelling():
    import retrograd as rg
    src = rg.differentiate(sm.linalg_alias).source
    code = "\n".join(l for l in src.splitlines() if not l.strip().startswith("#"))   # comments quote the user
    assert "np.linalg.inv(" in code and "math.sin(x[0])" in code and "math.sin(x[1])" in code
    assert "la." not in code and "m.sin" not in code.replace("math.sin", "") and "msin" not in code


@pytest.mark.parametrize("backend", FD_BACKENDS)
def test_a_rebound_import_is_seen(backend, monkeypatch, tmp_path):
    """`tanh` is respelled `np.tanh` in generated code, but the user's name is still what is read: rebinding
    it (to np.sin here) must change the result, not leave the old function in place."""
    import retrograd as rg
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path))
    d = rg.differentiate(sm.from_import, backend=backend)
    before = d.grad(X.copy())
    np.testing.assert_allclose(before, np.pi * (1 - np.tanh(X) ** 2), rtol=1e-12)
    monkeypatch.setattr(sm, "tanh", np.sin)
    np.testing.assert_allclose(d(X.copy()), np.sum(np.sin(X) * np.pi), rtol=1e-12)
    np.testing.assert_allclose(d.grad(X.copy()), np.pi * np.cos(X), rtol=1e-12)
