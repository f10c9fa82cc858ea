"""numba_softmax's scipy.special.softmax / log_softmax / logsumexp against SciPy itself on hostile inputs:
infinite and NaN entries, rows of only -inf, ties, huge and tiny values, zero and negative weights, size-1
and size-0 axes, 0-d arrays and numbers, negative and tuple axes, keepdims; a form SciPy raises on must
raise (or be refused) on numba too.  Then the 0-d pieces the adjoints use: lse_tangent of 0-d operands and
the reductions of a number.

Each (call, rank) case compiles a function per input type: CI runs a fixed third of them (crc32 of the
test id); RETROGRAD_NUMBA_FULL=1 runs them all."""
import os
import warnings
import zlib

import numpy as np
import pytest

pytest.importorskip("numba")
special = pytest.importorskip("scipy.special")

import numba  # noqa: E402

from retrograd.backends import numba_overloads  # noqa: E402,F401  (registers the overloads)
from retrograd.backends.numba_reductions import reduce_max, reduce_mean, reduce_sum  # noqa: E402
from retrograd.reverse.rules.special import lse_tangent  # noqa: E402

inf, nan = np.inf, np.nan
R = np.random.default_rng(3).standard_normal
XS = {
    0: [np.array(1.5), np.array(-inf), np.array(inf), np.array(nan), 2.5],
    1: [np.array([1.0, 2.0, 3.0]), np.array([-inf, -inf]), np.array([inf, 1.0]), np.array([inf, inf]),
        np.array([1.0, nan]), np.array([-1000.0, -1000.0]), np.array([1000.0, 999.0]), np.array([7.0]),
        np.array([1e308, 1e308]), np.array([2.0, 2.0, 1.0]), np.zeros(0)],
    2: [np.array([[1.0, 2.0, 3.0], [-inf, -inf, -inf]]), np.array([[inf, 0.0, 1.0], [2.0, nan, 0.0]]),
        np.array([[5.0], [-inf]]), np.zeros((2, 0)), np.zeros((0, 3))],
    3: [R((2, 1, 3)), np.zeros((2, 0, 1))],
}
INTS = [np.array([[3, 1], [2, 2]]), np.array([4, 4])]


def _sampled(request):
    if not os.environ.get("RETROGRAD_NUMBA_FULL") and zlib.crc32(request.node.nodeid.encode()) % 3:
        pytest.skip("numba CI sample: RETROGRAD_NUMBA_FULL=1 runs this case")


def _same(f, ref, refused=False):
    """f's compiled result equals ref's (SciPy's) to rounding, or both raise (f raises where `refused`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = ref()
            if refused:
                raise ValueError
        except (ValueError, IndexError):
            with pytest.raises((ValueError, numba.core.errors.TypingError)):
                f()
            return
    got = f()
    assert np.shape(got) == np.shape(expected)
    assert np.ndim(got) or not isinstance(got, np.ndarray), "a number was expected, as SciPy gives"
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)


SOFTMAX = ["softmax(x)", "softmax(x, axis=-1)", "softmax(x, axis=(0, -1))", "softmax(x, axis=())",
           "log_softmax(x)", "log_softmax(x, 0)", "log_softmax(x, axis=(-1, 0))"]


@pytest.mark.parametrize("call", SOFTMAX)
@pytest.mark.parametrize("ndim", sorted(XS))
def test_softmax_like_scipy(call, ndim, request):
    _sampled(request)
    f = numba.njit(eval(f"lambda x: special.{call}", {"special": special}))
    for x in XS[ndim] + (INTS if ndim == 2 else []):
        _same(lambda: f(x), lambda: eval(f"special.{call}", {"special": special, "x": x}))


LSE = ["logsumexp(x)", "logsumexp(x, axis=-1)", "logsumexp(x, axis=0, keepdims=True)", "logsumexp(x, axis=(0, -1))",
       "logsumexp(x, keepdims=True)", "logsumexp(x, axis=())", "logsumexp(x, return_sign=False)",
       "logsumexp(x, b=b)", "logsumexp(x, axis=-1, b=b)", "logsumexp(x, -1, b, True)", "logsumexp(x, axis=(0,), b=b)"]


def _weights(x):
    """None, a number, 0-d and 1-D weights (negative, zero), and weights of x's shape: zero where x is not
    finite (SciPy drops those entries), a range from 0."""
    out = [2.0, np.array(0.5), np.array([1.0, 0.0, -1.0]), -np.ones(np.shape(x)[-1:])]
    if np.ndim(x):
        out += [np.where(np.isfinite(x), 2.0, 0.0), np.arange(np.size(x), dtype=float).reshape(np.shape(x))]
    return out


@pytest.mark.parametrize("call", LSE)
@pytest.mark.parametrize("ndim", sorted(XS))
def test_logsumexp_like_scipy(call, ndim, request):
    _sampled(request)
    f = numba.njit(eval(f"lambda x, b: special.{call}", {"special": special}))
    for x in XS[ndim] + (INTS if ndim == 2 else []):
        for b in _weights(x) if "b" in call.replace("logsumexp", "") else [None]:
            # SciPy's -inf for an empty array reduced over no axis has shape (1,) * ndim: numba raises
            _same(lambda: f(x, b), lambda: eval(f"special.{call}", {"special": special, "x": x, "b": b}),
                  refused="axis=()" in call and np.size(x) == 0)


@pytest.mark.parametrize("call", ["softmax(x, axis=axis)", "logsumexp(x, axis=axis)", "logsumexp(x, keepdims=k)",
                                  "logsumexp(x, return_sign=True)", "logsumexp(x.astype(np.float32))",
                                  "softmax(x.astype(np.complex128))", "logsumexp(x, axis=2)", "softmax(x, axis=(0, 0))"])
def test_unlowered_forms_are_refused(call):
    """A run-time axis or keepdims, return_sign=True, float32 or complex operands, an axis out of range or
    repeated: not lowered (Numba's typing error), never a wrong number."""
    f = numba.njit(eval(f"lambda x, axis, k: special.{call}", {"special": special, "np": np}))
    with pytest.raises(numba.core.errors.TypingError):
        f(np.ones((2, 3)), 1, True)


def test_lse_tangent_of_0d_operands():
    """The tangent helper at 0-d a (the python helper's number), with and without weights."""
    f = numba.njit(lambda v, a, y: lse_tangent(v, a, y, None, None, False))
    fb = numba.njit(lambda v, a, y, b: lse_tangent(v, a, y, None, b, False))
    b = np.array(3.0)
    for v, a in [(0.3, np.array(1.5)), (np.array(-2.0), np.array(-inf)), (1.0, 0.25)]:
        y, yb = special.logsumexp(a), special.logsumexp(a, b=b)
        with np.errstate(invalid="ignore"):
            expected, expected_b = lse_tangent(v, a, y, None, None, False), lse_tangent(v, a, yb, None, b, False)
        assert f(v, a, y) == pytest.approx(expected, rel=1e-15, nan_ok=True)
        assert fb(v, a, yb, b) == pytest.approx(expected_b, rel=1e-15, nan_ok=True)


def test_reductions_of_a_number():
    """reduce_sum / reduce_max / reduce_mean of a number (an adjoint's scalar cotangent) are the number, as
    NumPy's are with or without keepdims."""
    f = numba.njit(lambda x: (reduce_sum(x, None, True), reduce_max(x, None, False), reduce_mean(x, None, True)))
    for x in (2.5, -inf, 3):
        got = f(x)
        assert got == (np.sum(x, keepdims=True), np.max(x), np.mean(x, keepdims=True))
        assert type(got[2]) is float
