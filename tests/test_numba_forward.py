"""Forward mode on backend="numba" beyond the shared suites of test_forward.py (which run every construct and
rule case on both backends): what is particular to compiling tangent code with Numba.  Every value is
checked against directional central differences and the python backend (forward_check.check_jvp)."""
import inspect

import numpy as np
import pytest

import retrograd as rg
from forward_check import check_jvp

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _cache_dir(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))


def line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, l in enumerate(lines) if text in l)


# ---- signatures: keyword-only tangents become positional, defaults kept ---------------------------------
def scaled(x, c=2.0):
    return np.sin(x) * c


def keyword_only(x, *, s=1.5):
    return x * x * s


def calls_defaults(x, y):
    a = scaled(x)                 # c left at its default: the tangent helper has `dx=None` after it
    b = scaled(y, c=0.5)
    return np.sum(a * b) + np.sum(keyword_only(x, s=3.0)) + np.sum(keyword_only(y))


def test_helpers_with_defaults_and_keyword_only_parameters():
    check_jvp(calls_defaults, (np.array([0.3, -1.2, 0.7]), np.array([1.1, 0.4, -0.2])), (0, 1), backend="numba")
    src = rg.differentiate(calls_defaults, backend="numba").source_for(np.ones(3), np.ones(3), mode="forward")
    assert "@njit(cache=True, boundscheck=True)" in src and "def tangent_calls_defaults(x, y, dx, dy):" in src
    assert "*," not in src


# ---- global arrays: Numba freezes them, so an in-place change regenerates -------------------------------
WEIGHTS = np.array([1.0, 2.0, 3.0])


def reads_a_global(x):
    return np.sum(np.sin(x) * WEIGHTS)


def test_an_in_place_change_of_a_global_array_is_seen():
    x, v = np.array([0.3, -0.5, 1.1]), np.array([1.0, 0.5, -2.0])
    _, t1 = rg.jvp(reads_a_global, (x,), (v,), backend="numba")
    assert np.isclose(t1, np.sum(np.cos(x) * v * WEIGHTS), rtol=1e-12)
    WEIGHTS[:] = [-4.0, 0.0, 10.0]
    try:
        _, t2 = rg.jvp(reads_a_global, (x,), (v,), backend="numba")
        assert np.isclose(t2, np.sum(np.cos(x) * v * WEIGHTS), rtol=1e-12)
    finally:
        WEIGHTS[:] = [1.0, 2.0, 3.0]


# ---- loops, while, branches, in-place writes; jacfwd ----------------------------------------------------
def euler(x, k):
    y = x.copy()
    t = 0.0
    while t < 1.0:
        for i in range(y.shape[0]):
            if y[i] > 0:
                y[i] = y[i] - 0.1 * k * y[i] ** 2
            else:
                y[i] += 0.1 * np.sin(y[i])
        t += 0.25
    return y


def test_jacfwd_through_while_for_if_and_writes():
    x, k = np.array([0.4, -0.3, 1.2]), 0.7
    check_jvp(euler, (x, k), (0, 1), backend="numba")
    J = rg.jacfwd(euler, argnums=(0, 1), backend="numba")(x, k)
    Jp = rg.jacfwd(euler, argnums=(0, 1))(x, k)
    for a, b in zip(J, Jp):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert J[0].shape == (3, 3) and J[1].shape == (3,)


def max_with_ties(A):
    return np.sum(np.max(A, axis=0)) + np.min(A) * np.max(A[0])


def test_max_min_tangents_split_between_ties_like_python():
    A = np.array([[1.0, 3.0, 3.0], [3.0, -2.0, 0.5]])          # ties in a column, in a row, at the min
    V = np.arange(6.0).reshape(2, 3) + 1.0
    out, t = rg.jvp(max_with_ties, (A,), (V,), backend="numba")
    out_p, t_p = rg.jvp(max_with_ties, (A,), (V,))
    assert out == out_p and np.isclose(t, t_p, rtol=1e-14)
    check_jvp(max_with_ties, (A + np.array([[0.0, 0.1, 0.2], [0.3, 0.4, 0.5]]),), 0, backend="numba")


# ---- refusals: a BackendError at the user's line, saying backend="python" ------------------------------
def draws(x):
    return np.sum(x * np.random.normal())


def transposed_reshape(A):
    B = A.T * 2.0
    return np.sum(B.reshape(-1) * np.arange(6.0))


def second_order(x):
    return np.sum(x ** 3)


def test_refusals_name_the_line():
    x = np.array([0.3, -0.5, 1.1])
    with pytest.raises(rg.BackendError, match="draws random numbers") as err:      # Numba's generator
        rg.jvp(draws, (x,), (x,), backend="numba")
    assert err.value.lineno == line_of(draws, "np.random.normal") and 'backend="python"' in err.value.hint
    A = np.arange(6.0).reshape(2, 3)
    for run in (lambda: rg.jvp(transposed_reshape, (A,), (A,), backend="numba"),
                lambda: rg.grad(transposed_reshape, backend="numba")(A)):      # reverse mode too
        with pytest.raises(rg.BackendError, match="contiguous") as err:
            run()
        assert err.value.lineno == line_of(transposed_reshape, "B.reshape") and 'backend="python"' in err.value.hint
    for run in (lambda: rg.hvp(second_order, (x,), (x,), backend="numba"),
                lambda: rg.hessian(second_order, backend="numba")(x)):
        with pytest.raises(rg.BackendError, match="hvp and hessian") as err:
            run()
        assert 'backend="python"' in err.value.hint
    np.testing.assert_allclose(rg.hessian(second_order)(x), np.diag(6 * x), rtol=1e-12)


def test_a_differentiable_on_numba_and_the_functional_form_agree():
    d = rg.differentiate(euler, backend="numba")
    x, k, v = np.array([0.4, -0.3, 1.2]), 0.7, np.array([1.0, 2.0, -1.0])
    a = d.jvp((x, k), (v, None))
    b = rg.jvp(euler, (x, k), (v, None), backend="numba")
    c = rg.jvp(d, (x, k), (v, None), backend="python")        # backend= chooses over the Differentiable's
    np.testing.assert_allclose(a[1], b[1], rtol=1e-15)
    np.testing.assert_allclose(a[1], c[1], rtol=1e-12, atol=1e-14)
    with pytest.raises(rg.UsageError, match="unknown backend"):
        rg.jvp(euler, (x, k), (v, None), backend="numpy")
