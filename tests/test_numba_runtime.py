"""The Numba overloads in backends/numba_runtime.py against the Python reference in runtime.py.

Each helper is called from a small @njit function on several shapes (1-D and 2-D operands, every
axis, keepdims on and off, ties in max/min) and must give the reference's shape and values.
"""
import numpy as np
import pytest

numba = pytest.importorskip("numba")

from retrograd import runtime as ref  # noqa: E402
from retrograd.backends import numba_overloads  # noqa: E402,F401  (registers the overloads)
from retrograd.backends import numba_runtime as nr  # noqa: E402

njit = numba.njit


@njit
def _matmul_grad_a(g, a, b):
    return nr.matmul_grad_a(g, a, b)


@njit
def _matmul_grad_b(g, a, b):
    return nr.matmul_grad_b(g, a, b)


@njit
def _unreduce(g, x, axis, keepdims):
    return nr.unreduce(g, x, axis, keepdims)


@njit
def _unreduce_all(g, x):
    return nr.unreduce(g, x, None, False)


@njit
def _select_grad(g, x, result, axis, keepdims):
    return nr.select_grad(g, x, result, axis, keepdims)


@njit
def _select_grad_all(g, x, result):
    return nr.select_grad(g, x, result, None, False)


@njit
def _unbroadcast(g, x):
    return nr.unbroadcast(g, x)


def _rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def _scalar_or_array(v):
    return float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float)


def _same(got, expected, exact=True):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape
    if exact:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("sa,sb", [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)), ((1, 1), (1, 3))])
def test_matmul_grads(sa, sb):
    a, b = _rand(sa, 1), _rand(sb, 2)
    g = _scalar_or_array(_rand(np.shape(a @ b), 3))
    _same(_matmul_grad_a(g, a, b), ref.matmul_grad_a(g, a, b), exact=False)
    _same(_matmul_grad_b(g, a, b), ref.matmul_grad_b(g, a, b), exact=False)


def test_matmul_grads_of_transposed_operands():
    C = _rand((2, 4), 4)
    g = _rand((2, 2), 5)
    _same(_matmul_grad_a(g, C, C.T), ref.matmul_grad_a(g, C, C.T), exact=False)
    _same(_matmul_grad_b(g, C, C.T), ref.matmul_grad_b(g, C, C.T), exact=False)


def _with_ties(shape, seed):
    x = _rand(shape, seed)
    x.flat[0] = x.flat[-1] = x.max()     # a tie for max
    x.flat[1 % x.size] = x.min()         # and for min
    return x


SHAPES = [(5,), (3, 4), (1, 4), (3, 1)]


@pytest.mark.parametrize("shape", SHAPES)
def test_unreduce(shape):
    x = _rand(shape, 6)
    for axis in range(-len(shape), len(shape)):
        for keepdims in (False, True):
            g = _scalar_or_array(_rand(np.shape(np.sum(x, axis=axis, keepdims=keepdims)), 7))
            _same(_unreduce(g, x, axis, keepdims), ref.unreduce(g, x, axis, keepdims))
    _same(_unreduce_all(1.5, x), ref.unreduce(1.5, x))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduce", [np.max, np.min])
def test_select_grad(shape, reduce):
    x = _with_ties(shape, 8)
    for axis in range(-len(shape), len(shape)):
        for keepdims in (False, True):
            r = _scalar_or_array(reduce(x, axis=axis, keepdims=keepdims))
            g = _scalar_or_array(_rand(np.shape(r), 9))
            _same(_select_grad(g, x, r, axis, keepdims), ref.select_grad(g, x, r, axis, keepdims))
    r = float(reduce(x))
    _same(_select_grad_all(-0.75, x, r), ref.select_grad(-0.75, x, r))


def test_select_grad_with_no_match_is_nan():
    x = np.array([1.0, np.nan, 2.0])
    r = float(np.max(x))   # nan: no entry compares equal
    with np.errstate(invalid="ignore"):
        _same(_select_grad_all(1.0, x, r), ref.select_grad(1.0, x, r))


def test_unreduce_axis_out_of_bounds_raises():
    with pytest.raises(ValueError):
        _unreduce(np.ones(3), np.ones((2, 3)), 2, False)


@pytest.mark.parametrize("gshape,xshape", [
    ((4,), (4,)), ((4,), (1,)), ((3, 4), (4,)), ((3, 4), (1,)), ((3, 1), (1,)),
    ((3, 4), (3, 4)), ((3, 4), (1, 4)), ((3, 4), (3, 1)), ((3, 4), (1, 1)),
    ((3, 4), ()), ((), ()),
])
def test_unbroadcast(gshape, xshape):
    g = _rand(gshape, 10)
    x = _rand(xshape, 11)
    _same(_unbroadcast(g, x), ref.unbroadcast(g, x), exact=False)


def test_unbroadcast_scalars():
    _same(_unbroadcast(2.5, 1.0), ref.unbroadcast(2.5, 1.0))
    _same(_unbroadcast(np.arange(6.0).reshape(2, 3), 1.0), ref.unbroadcast(np.arange(6.0).reshape(2, 3), 1.0))


@njit
def _zeros_like(x):
    return nr.zeros_like(x)


@njit
def _add_into(acc, g):
    return nr.add_into(acc, g)


def test_tuple_of_scalars_cotangent():
    for t in [(0.5, -1.5), (0.5, 2, True)]:
        z = _zeros_like(t)
        assert isinstance(z, np.ndarray) and z.dtype == np.float64
        _same(z, np.asarray(ref.zeros_like(t)))
        _same(_add_into(z, t), np.asarray(ref.add_into(ref.zeros_like(t), t), dtype=float))
    with pytest.raises(ValueError):
        _add_into(np.zeros(3), (1.0, 2.0))
