"""The numba backend's on-disk transform cache: a new `differentiate` of an unchanged function reuses the
generated module without running the transform; an edit of the function, of a helper or of a global it
reads makes a new entry; a function whose inputs cannot be pinned down is never cached."""
import importlib
import os
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

import retrograd as rg  # noqa: E402
from retrograd.reverse import program as program_mod  # noqa: E402

MODULE = '''
import math
SCALE = {scale}


def helper(x):
    return x * x


def f(x, y):
    return SCALE * helper(x) + math.sin(y) * x
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "rg_cache_user_mod.py"

    def write(scale="2.0", helper_body="x * x"):
        path.write_text(MODULE.format(scale=scale).replace("return x * x", f"return {helper_body}"))
        sys.modules.pop("rg_cache_user_mod", None)
        importlib.invalidate_caches()
        return importlib.import_module("rg_cache_user_mod")
    yield write
    sys.modules.pop("rg_cache_user_mod", None)


def _entries(tmp_path):
    d = tmp_path / "cache" / "numba" / "transforms"
    return sorted(os.listdir(d)) if d.exists() else []


class _NoTransform:
    """Makes any run of the transform fail the test."""

    def __init__(self, monkeypatch):
        def refuse(*a, **k):
            raise AssertionError("the transform ran although the cache had it")
        monkeypatch.setattr(program_mod.Program, "variant", refuse)


def test_cached_transform_is_reused_and_edits_invalidate_it(user_module, tmp_path, monkeypatch):
    mod = user_module()
    expected = (2.0 * 2 * 1.5 + np.sin(0.5), np.cos(0.5) * 1.5)
    got = rg.differentiate(mod.f, wrt=(0, 1), backend="numba").grad(1.5, 0.5)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    first = _entries(tmp_path)
    assert len(first) == 1

    with monkeypatch.context() as m:      # same function again (as in a new process): no transform
        _NoTransform(m)
        d = rg.differentiate(mod.f, wrt=(0, 1), backend="numba")
        np.testing.assert_allclose(d.grad(1.5, 0.5), expected, rtol=1e-13)
        assert "def adjoint_f" in d.source
        with pytest.raises(rg.RetrogradError, match="the transform ran"):   # other kinds: not cached yet
            rg.differentiate(mod.f, wrt=(0, 1), backend="numba").grad(np.array([1.5]), 0.5)
        with pytest.raises(rg.RetrogradError, match="the transform ran"):   # other wrt: not cached yet
            rg.differentiate(mod.f, wrt=0, backend="numba").grad(1.5, 0.5)

    # an edited global constant, an edited helper: new keys, the right gradients
    mod = user_module(scale="3.0")
    np.testing.assert_allclose(rg.differentiate(mod.f, wrt=(0, 1), backend="numba").grad(1.5, 0.5),
                               (3.0 * 2 * 1.5 + np.sin(0.5), np.cos(0.5) * 1.5), rtol=1e-13)
    mod = user_module(scale="3.0", helper_body="x * x * x")
    np.testing.assert_allclose(rg.differentiate(mod.f, wrt=(0, 1), backend="numba").grad(1.5, 0.5),
                               (3.0 * 3 * 1.5 ** 2 + np.sin(0.5), np.cos(0.5) * 1.5), rtol=1e-13)
    assert len(_entries(tmp_path)) == 3 and first[0] in _entries(tmp_path)


def test_transform_cache_key_refuses_what_it_cannot_pin_down(user_module):
    from retrograd.backends import transform_cache
    mod = user_module()
    k, functions = transform_cache.key(mod.f, ("x",), {"x": "scalar", "y": "scalar"}, "numba")
    assert k is not None and functions[:2] == [mod.f, mod.helper]
    mod.SCALE = np.array([2.0])       # an array global: no stable description, so no key
    assert transform_cache.key(mod.f, ("x",), {"x": "scalar", "y": "scalar"}, "numba")[0] is None
    mod.SCALE = 2.5
    k2, _ = transform_cache.key(mod.f, ("x",), {"x": "scalar", "y": "scalar"}, "numba")
    assert k2 not in (None, k)
