"""numba_sorting's lowerings, compiled, against NumPy on hostile arrays: np.partition with int, tuple, list
and array kth (negative ones, -n included), every axis, NaNs, ties, size-0 and size-1 axes, 0-d arrays
flattened, ints; np.sort / np.argsort with stable=True or a stable kind keep ties (-0.0 and 0.0) in order;
the rewrite leaves to Numba (which refuses them) the arguments it cannot honour."""
import numpy as np
import pytest

from retrograd import astutil as A

numba = pytest.importorskip("numba")
from retrograd.backends import numba_overloads  # noqa: E402,F401
from retrograd.backends.numba_sorting import argsort_along, lower_sorting, partition_along, sort_along  # noqa: E402

R = np.random.default_rng(3)


def _hostile(shape):
    x = np.round(R.standard_normal(shape), 1)           # ties
    flat = x.reshape(-1)
    flat[::5] = np.nan
    flat[1::7] = -0.0
    flat[2::7] = 0.0
    return x


def _is_partition(got, x, kth, axis):
    """NumPy's order statistic at each kth, no larger entry before it and no smaller one after it, the same
    entries: what NumPy promises (it leaves the order of the others to itself)."""
    if axis is None:
        x, got, axis = x.reshape(-1), got.reshape(-1), 0
    want = np.partition(x, kth, axis=axis)
    assert got.shape == want.shape and got.dtype == want.dtype
    g, s = np.moveaxis(got, axis, -1), np.moveaxis(np.sort(x, axis=axis), axis, -1)
    n = s.shape[-1]
    for k in np.atleast_1d(kth) % max(n, 1):
        np.testing.assert_array_equal(g[..., k], s[..., k])
        low, high = g[..., :k], g[..., k + 1:]
        pivot = g[..., k:k + 1]
        assert not np.any(low > pivot) and not np.any(high < pivot)
        assert not np.any(np.isnan(low) & ~np.isnan(pivot))
    np.testing.assert_array_equal(np.sort(g, axis=-1), s)


@numba.njit
def _parts(x, kth):
    return partition_along(x, kth, 0), partition_along(x, kth, -1), partition_along(x, kth, None)


@pytest.mark.parametrize("kth", [0, (-3, 1, 1)])
def test_partition_along_an_axis(kth):
    for shape in [(5, 3), (3, 4), (1, 4), (4, 1), (6, 2)]:
        x = _hostile(shape)
        ks = np.atleast_1d(kth)
        if np.any(ks < -min(shape)) or np.any(ks >= min(shape)):
            with pytest.raises(ValueError):
                _parts(x, kth)
            continue
        for got, axis in zip(_parts(x, kth), (0, -1, None)):
            _is_partition(got, x, kth, axis)


@numba.njit
def _others(x, y, z, w, b):
    return (partition_along(x, -4, 0), partition_along(y, (0, 2), 1), partition_along(z, [2, 0], 0),
            partition_along(z, np.array([1, -3]), -1), partition_along(w, 0, None), partition_along(b, 2, 0))


def test_partition_kth_of_other_kinds_ints_bools_3d_0d():
    x, y, z, b = np.array([3, 1, 2, 1]), _hostile((3, 4, 5)), _hostile((3, 3)), np.array([True, False, True, False])
    got = _others(x, y, z, np.array(2.5), b)
    _is_partition(got[0], x, -4, 0)                 # kth -n is NumPy's 0 (Numba's np.partition refuses it)
    _is_partition(got[1], y, (0, 2), 1)
    _is_partition(got[2], z, [2, 0], 0)             # a list written in the generated code
    _is_partition(got[3], z, [1, -3], -1)
    assert got[4].tolist() == [2.5]                 # a 0-d array, flattened
    np.testing.assert_array_equal(got[5], np.partition(b, 2))


def test_partition_edges():
    for shape in ((0, 3), (2, 0)):                  # NumPy checks no kth of an empty array
        assert all(p.shape == s for p, s in zip(_parts(np.zeros(shape), 5), (shape, shape, (0,))))
    with pytest.raises(ValueError):
        _parts(np.zeros((3, 3)), 3)
    with pytest.raises(ValueError):
        _parts(np.zeros((3, 3)), (0, -4, 1))
    with pytest.raises(numba.core.errors.TypingError):
        _parts(np.zeros((3, 3)), True)              # NumPy refuses booleans as kth
    with pytest.raises(numba.core.errors.TypingError):
        numba.njit(lambda x: partition_along(x, 0, 2))(np.zeros((2, 3)))   # no axis 2


@numba.njit
def _sorts(x):
    return sort_along(x, 0, True), sort_along(x, -1, True), sort_along(x, None, True), argsort_along(x, 0, True)


def test_stable_sorts_keep_ties_in_order():
    x = _hostile((7, 6))
    for got, want in zip(_sorts(x), (np.sort(x, axis=0, kind="stable"), np.sort(x, axis=-1, stable=True),
                                     np.sort(x, axis=None, kind="mergesort"), np.argsort(x, axis=0, kind="stable"))):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_sort_along_refuses_an_axis_out_of_range():
    with pytest.raises(numba.core.errors.TypingError):
        numba.njit(lambda x: sort_along(x, -3, False))(np.zeros((2, 3)))


def _lowered(src):
    return A.unparse(lower_sorting(A.parse_expr(src))).strip()


@pytest.mark.parametrize("src,want", [
    ("np.sort(x, stable=True, order=None)", "sort_along(x, -1, True)"),
    ("np.sort(x, stable=False)", "sort_along(x, -1, False)"),
    ("np.sort(x, 0, 'Stab')", "sort_along(x, 0, True)"),
    ("np.sort(x, axis=None, kind='M')", "sort_along(x, None, True)"),
    ("np.sort(x, kind='heap')", "sort_along(x, -1, False)"),
    ("np.argsort(x, kind='quicksort')", "argsort_along(x, -1, False)"),
    ("m.argsort(axis=-1, kind='stable')", "argsort_along(m, -1, True)"), ("m.argsort(0)", "argsort_along(m, 0, False)"),
    ("a.b.argsort(kind='m')", "argsort_along(a.b, -1, True)"), ("m.argsort()", None),
    ("np.partition(x, (0, 2), axis=0, kind='introselect', order=None)", "partition_along(x, (0, 2), 0)"),
    ("np.partition(x, 1)", "partition_along(x, 1, -1)"),
    ("np.partition(x, kth=k, axis=None)", "partition_along(x, k, None)"),
    # left to Numba, which refuses them: NumPy refuses the first three, the others are not honoured
    ("np.sort(x, kind='stable', stable=True)", None), ("np.sort(x, kind='x')", None), ("np.sort(x, kind='')", None),
    ("np.sort(x, order='f')", None), ("np.sort(x, kind=k)", None), ("np.sort(x, stable='yes')", None),
    ("np.partition(x, 1, kind='quicksort')", None), ("np.partition(x, 1, order=['f'])", None),
    ("np.sort(x)", None), ("np.argsort(x)", None)])
def test_the_rewrite(src, want):
    assert _lowered(src) == (want or src)
