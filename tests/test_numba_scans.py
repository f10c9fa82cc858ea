"""The numba lowerings of np.cumprod / np.nancumsum along an axis (numba_scans), of np.ptp (numba_reductions'
reduce_ptp) and the 0-d cases of broadcast_like, average_tangent and cumprod_tangent, compiled and compared
with NumPy (or the python helper) on hostile operands: zeros, infinities and NaNs, size-1 and size-0 axes,
negative axes, 0-d arrays, integer, boolean, float32 and complex dtypes; then the rewritten calls end to end
(reverse and forward against central differences and the python backend)."""
import os

import numpy as np
import pytest

import fd
from forward_check import check_jvp

numba = pytest.importorskip("numba")
pytestmark = pytest.mark.skipif(
    "numba" not in os.environ.get("RETROGRAD_TEST_BACKENDS", "python,numba").split(","),
    reason="numba is not in RETROGRAD_TEST_BACKENDS")

from retrograd.backends import numba_overloads  # noqa: E402,F401  (registers the overloads)
from retrograd.backends import numba_forward as nf  # noqa: E402
from retrograd.backends import numba_runtime as rt  # noqa: E402
from retrograd.forward import runtime as fw  # noqa: E402
from retrograd.reverse.rules import statistics as stat  # noqa: E402


def _hostile(shape, dtype=np.float64, seed=0):
    """Values of `shape`: zeros, infinities and NaNs among them for inexact dtypes, small ints (and zeros)
    for integer ones, both truth values for booleans."""
    r = np.random.default_rng(seed)
    kind = np.dtype(dtype).kind
    if kind == "b":
        return r.integers(0, 2, shape).astype(dtype)
    if kind in "iu":
        return r.integers(-3, 4, shape).astype(dtype)
    x = r.uniform(-2.0, 2.0, shape)
    flat = x.reshape(-1)
    for k, v in zip(range(0, flat.size, 3), (0.0, np.inf, np.nan, -np.inf, 0.0)):
        flat[k] = v
    if kind == "c":
        x = x + 1j * r.uniform(-1.0, 1.0, shape)
    return x.astype(dtype)


def _same(got, want):
    want = np.asarray(want)
    assert np.asarray(got).dtype == want.dtype, (np.asarray(got).dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


@numba.njit
def _cumprod(a, axis):
    return rt.cumprod_along(a, axis)


@numba.njit
def _nancumsum(a, axis):
    return rt.nancumsum_along(a, axis)


SHAPES_AXES = [((4,), 0), ((4,), -1), ((2, 3), 0), ((2, 3), -1), ((3, 1), 1), ((1, 4), 0), ((2, 0), 1),
               ((0, 3), 0), ((2, 0), 0), ((2, 1, 3), 1), ((2, 3, 2), -3)]


def _cases(dtypes):
    """Every shape in float64, the 2-D ones in the other dtypes (each rank and dtype is one more compile)."""
    return [(shape, axis, np.float64) for shape, axis in SHAPES_AXES] + \
        [(shape, axis, dt) for dt in dtypes for shape, axis in SHAPES_AXES if len(shape) == 2]


@pytest.mark.parametrize("shape,axis,dtype", _cases([np.float32, np.int32, np.bool_]))
def test_cumprod_along(shape, axis, dtype):
    x = _hostile(shape, dtype)
    _same(_cumprod(x, axis), np.cumprod(x, axis=axis))
    if dtype is np.float64:
        t = np.swapaxes(x, 0, -1)            # a strided view
        _same(_cumprod(t, axis), np.cumprod(t, axis=axis))


@pytest.mark.parametrize("shape,axis,dtype", _cases([np.float32, np.int64, np.complex128]))
def test_nancumsum_along(shape, axis, dtype):
    x = _hostile(shape, dtype, seed=1)
    _same(_nancumsum(x, axis), np.nancumsum(x, axis=axis))


def test_nancumsum_of_an_all_nan_row():
    x = np.array([[np.nan, np.nan], [1.0, np.nan]])
    _same(_nancumsum(x, -1), np.nancumsum(x, axis=-1))


@pytest.mark.parametrize("fn", [_cumprod, _nancumsum])
def test_scans_refuse_an_axis_out_of_range(fn):
    with pytest.raises(Exception):
        fn(np.ones((2, 3)), 2)


def test_cumprod_along_refuses_complex():
    with pytest.raises(numba.core.errors.TypingError):
        _cumprod(np.ones((2, 3), dtype=np.complex128), 0)


@numba.njit
def _ptp_all(x):
    return rt.reduce_ptp(x)


@numba.njit
def _ptp_last_kept(x):
    return rt.reduce_ptp(x, -1, True)


@numba.njit
def _ptp_first(x):
    return rt.reduce_ptp(x, 0, False)


@numba.njit
def _ptp_outer(x):
    return rt.reduce_ptp(x, (0, 2), True)


@pytest.mark.parametrize("shape,dtype", [(s, np.float64) for s in [(), (1,), (4,), (2, 3), (3, 1), (1, 4), (2, 1, 3)]]
                         + [((2, 3), np.int64)])
def test_ptp(shape, dtype):
    x = _hostile(shape, dtype, seed=2)
    np.testing.assert_array_equal(_ptp_all(x), np.ptp(x))
    if x.ndim >= 1:
        _same(_ptp_last_kept(x), np.ptp(x, axis=-1, keepdims=True))
        _same(_ptp_first(x), np.ptp(x, axis=0))
    if x.ndim == 3:
        _same(_ptp_outer(x), np.ptp(x, axis=(0, 2), keepdims=True))


def test_ptp_of_a_number_and_of_nothing():
    assert _ptp_all(2.5) == np.ptp(2.5) and _ptp_all(7) == np.ptp(7) and np.isnan(_ptp_all(np.nan))
    with pytest.raises(ValueError):
        _ptp_all(np.zeros((2, 0)))
    with pytest.raises(ValueError):
        _ptp_last_kept(np.zeros((2, 0)))


@numba.njit
def _broadcast_like(t, y):
    return nf.broadcast_like(t, y)


@pytest.mark.parametrize("t", [np.array(1.5), 1.5, 2, np.array([1.0, 2.0])])
def test_broadcast_like_of_a_0d_result(t):
    y = np.array(0.25)
    got, want = _broadcast_like(t, y), fw.broadcast_like(t, y)
    np.testing.assert_array_equal(got, want)
    assert np.shape(got) == np.shape(want) and isinstance(got, np.ndarray)


@numba.njit
def _average_tangent_0(v, a, y, weights):
    return stat.average_tangent(v, a, y, None, weights, False, 0)


@numba.njit
def _average_tangent_1(v, a, y, weights):
    return stat.average_tangent(v, a, y, None, weights, False, 1)


@numba.njit
def _average_tangent_unweighted(v, a, y):
    return stat.average_tangent(v, a, y, None, None, False, 0)


@pytest.mark.parametrize("a", [np.array(0.7), np.array(-np.inf), np.array(np.nan)])
@pytest.mark.parametrize("w", [np.array(2.5), 0.5, np.array(-3.0)])     # (zero weights: the primal raises)
@pytest.mark.parametrize("which", [0, 1])
def test_average_tangent_of_a_0d_array(a, w, which):
    v, y = np.array(-1.25), float(a)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal((_average_tangent_0, _average_tangent_1)[which](v, a, y, w),
                                      stat.average_tangent(v, a, y, None, w, False, which))
    np.testing.assert_array_equal(_average_tangent_unweighted(v, a, y),
                                  stat.average_tangent(v, a, y, None, None, False, 0))


@numba.njit
def _cumprod_tangent(v, a):
    return stat.cumprod_tangent(v, a, None)


@pytest.mark.parametrize("a", [0.0, 1.5, np.inf, np.nan])
def test_cumprod_tangent_of_a_0d_array(a):
    v, a = np.array(-0.5), np.array(a)
    _same(_cumprod_tangent(v, a), stat.cumprod_tangent(v, a, None))


# ---- the rewritten calls, end to end ---------------------------------------------------------------------
def scans(x):
    a = np.cumprod(x, -1) + x.cumprod(axis=0) * np.cumprod(x[0], dtype=np.float64)
    b = np.nancumsum(np.where(x > 0.5, np.nan, x), 0, np.float64)
    return np.sum(a * a) + np.sum(np.sin(b)) + np.sum(np.ptp(x, 1)) + np.ptp(x) * np.ptp(x, (0, 1), None, True)[0, 0]


@pytest.mark.parametrize("shape", [(2, 3), (1, 3)])
def test_scans_end_to_end(shape, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    monkeypatch.setattr(fd, "BACKEND", "numba")
    x = np.random.default_rng(3).permutation(np.linspace(-1.0, 1.0, int(np.prod(shape)))).reshape(shape) + 0.01
    fd.check_vjp(scans, [x])
    check_jvp(scans, [x], backend="numba")
