"""`f(*args)` on backend="numba" runs the compiled forward (`plain_<f>` in the generated module): the
primal's statements and guards without tape.  Its value is the plain call's, the caller's arrays stay as
they were, the guards raise as in the gradient, compile errors name the user's line, and the namespace is
re-validated per call.  (Every FD-suite test also compares `d(*args)` with `f(*args)` on numba: fd.check_grad.)"""
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

import retrograd as rg  # noqa: E402

K = 2.0
TABLE = np.array([1.0, 2.0, 3.0])


def lorenz(x, y, z, sigma, dt, n):
    for step in range(n):
        dx = sigma * (y - x)
        dy = x * (28.0 - z) - y
        dz = x * y - 8.0 / 3.0 * z
        x = x + dt * dx
        y = y + dt * dy
        z = z + dt * dz
    return x + y + z


def square(a):
    return a * a


def early_exit(x, n):
    s = 0.0
    for i in range(n):
        s = s + square(x) * K
        if s > 10.0:
            break
    return s


def writes_argument(u, c):
    u[0] = u[0] * c
    for i in range(1, u.shape[0]):
        u[i] = u[i - 1] + c * u[i]
    return np.sum(u * TABLE[: u.shape[0]])


def scatter(x, idx):
    y = np.zeros(4)
    y[idx] = 2.0 * x
    return np.sum(y * y)


def into_ints(x, k):
    k[0] = x
    return x * 2.0


def with_aux(x):
    y = np.sin(x)
    return np.sum(y), y


def _plain(d):
    """The compiled dispatcher the last call ran."""
    return d._plain[d._last].args[0]


def test_the_compiled_forward_is_what_runs():
    d = rg.differentiate(lorenz, wrt=("x", "sigma"), backend="numba")
    args = (1.0, 1.0, 1.0, 10.0, 0.001, 300)
    got = d(*args)
    assert got == pytest.approx(lorenz(*args), rel=1e-13, abs=0)
    assert "def plain_lorenz(x, y, z, sigma, dt, n):" in d.source
    fn = _plain(d)
    assert type(fn).__name__ == "CPUDispatcher" and fn.signatures      # a compiled njit function
    body = d.source.split("def plain_lorenz")[1]
    assert "push" not in body and "tape" not in body                   # no tape in the plain call


def test_a_new_differentiable_takes_the_plain_call_from_the_transform_cache(monkeypatch):
    from retrograd.reverse import program
    d = rg.differentiate(early_exit, backend="numba")
    assert d(2.0, 3) == early_exit(2.0, 3)

    def refuse(*a, **k):
        raise AssertionError("the transform ran although the cache had it")
    monkeypatch.setattr(program.Program, "variant", refuse)
    again = rg.differentiate(early_exit, backend="numba")      # as a new process would
    assert again(2.0, 3) == early_exit(2.0, 3) and _plain(again).signatures


def test_helpers_run_their_own_plain_call_and_trip_counters_are_gone():
    d = rg.differentiate(early_exit, backend="numba")
    for n in (0, 1, 3, 40):
        assert d(1.5, n) == early_exit(1.5, n)
    body = d.source.split("def plain_early_exit")[1]
    assert "plain_square" in body and "trips" not in body and "saved" not in body


def test_arguments_written_into_are_copied_and_values_agree():
    d = rg.differentiate(writes_argument, wrt=("u", "c"), backend="numba")
    u = np.array([1.0, -2.0, 0.5])
    expected = writes_argument(u.copy(), 0.3)
    before = u.copy()
    assert d(u, 0.3) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_array_equal(u, before)          # the plain call would have written into u
    for n in (1, 2):                                  # (size 0: u[0] is out of bounds, which Numba does not check)
        v = np.ones(n)
        assert d(v, 0.3) == pytest.approx(writes_argument(v.copy(), 0.3), rel=1e-14)


def test_guards_of_the_primal_raise_in_the_plain_call():
    d = rg.differentiate(scatter, backend="numba")
    assert d(np.array([1.0, 2.0]), np.array([0, 3])) == scatter(np.array([1.0, 2.0]), np.array([0, 3]))
    with pytest.raises(rg.RepeatedIndexError, match="repeated"):
        d(np.array([1.0, 2.0]), np.array([1, 1]))
    with pytest.raises(rg.RepeatedIndexError):
        d(np.array([1.0, 2.0]), np.array([1, -3]))     # -3 is element 1 of a length-4 axis
    e = rg.differentiate(into_ints, backend="numba")
    with pytest.raises(rg.CastError, match="integers"):
        e(1.5, np.zeros(2, dtype=np.int64))


def test_has_aux_returns_value_and_aux():
    d = rg.differentiate(with_aux, has_aux=True, backend="numba")
    x = np.linspace(-1.0, 1.0, 5)
    v, aux = d(x)
    ev, eaux = with_aux(x)
    assert v == pytest.approx(ev, rel=1e-14)
    np.testing.assert_allclose(aux, eaux, rtol=1e-14)


def test_namespace_is_revalidated_per_call(monkeypatch):
    d = rg.differentiate(early_exit, backend="numba")
    assert d(1.0, 2) == 4.0
    monkeypatch.setattr(sys.modules[__name__], "K", 3.0)     # Numba froze K: the call must notice
    assert d(1.0, 2) == 6.0
    w = rg.differentiate(writes_argument, wrt=("u", "c"), backend="numba")
    u = np.array([1.0, 1.0])
    first = w(u, 1.0)
    TABLE[0] = 10.0                                         # an in-place change keeps the identity
    try:
        assert w(u, 1.0) == pytest.approx(writes_argument(u.copy(), 1.0)) != first
    finally:
        TABLE[0] = 1.0


def test_what_the_backend_does_not_differentiate_runs_the_original():
    d = rg.differentiate(square, backend="numba")
    assert d(3.0) == d(3.0) == 9.0                              # compiled (the second call: the fast path)
    assert d(3) == 9 and isinstance(d(3), int)                  # an int in a wrt position
    assert d(3) == 9 and isinstance(d(3), int) and d(2.0) == 4.0
    assert d(np.arange(3)).dtype == np.arange(3).dtype
    with pytest.raises(TypeError):                             # Python's own binding error
        d(1.0, 2.0)
    with rg.debug_nans():                                      # its checks are the python backend's
        assert d(2.0) == 4.0


def bad_forward(x):
    y = np.squeeze(x)          # no axis: the result's rank is the run-time shape's, which Numba cannot type
    return np.sum(y * x)


def test_compile_errors_name_the_users_line():
    d = rg.differentiate(bad_forward, backend="numba")
    with pytest.raises(rg.BackendError) as info:
        d(np.ones(3))
    err = info.value
    assert err.filename.endswith("test_numba_call.py")
    assert "squeeze" in err.source_line or "squeeze" in str(err)
    assert 'backend="python"' in err.hint
