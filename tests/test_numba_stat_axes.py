"""The numba lowerings of the statistics over axes (numba_reductions' nan*/ddof/dtype, numba_orderstats,
numba_average, numba_sorting, numba_gradient's every-axis np.gradient) on hostile values: NaNs, size-1
and size-0 axes, negative and tuple axes, keepdims both ways, ties.  Each against central differences and
the python backend (fd.check_vjp, forward_check.check_jvp); ties, where the derivative does not exist,
against the python backend's convention only."""
import numpy as np
import pytest

import retrograd as rg

import fd
from forward_check import check_jvp

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _numba(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    monkeypatch.setattr(fd, "BACKEND", "numba")


def nan_family(x):
    x = np.where(x > 0.9, np.nan, x)          # two NaNs, in different rows and columns (see CASES)
    a = np.nansum(x, axis=-1, keepdims=True) * 0.5
    b = np.nanmean(x, axis=(0, 2))
    c = np.nanvar(x, axis=0, ddof=1, keepdims=False)
    d = np.nanstd(x, axis=-1, keepdims=True, dtype=np.float64)
    m = x[:, 0, :]                             # max/min's cotangent is lowered for 1-D and 2-D arrays
    e = np.nanmax(m, axis=-1) + np.nanmin(m, axis=-2, keepdims=True).T
    return np.sum(a * d) + np.sum(b) + np.sum(c * c) + np.sum(np.sin(e))


def spreads(x):
    return (np.sum(np.var(x, axis=-1, ddof=1)) + np.sum(np.std(x, axis=(0, 2), keepdims=True) ** 2)
            + np.mean(x, dtype=np.float64) + np.std(x, ddof=2))


def order_statistics(x):
    m = np.median(x, axis=-1, keepdims=True)
    q = np.quantile(x, np.array([0.1, 0.75]), axis=(0, 2))
    p = np.percentile(x, 30.0, axis=0, keepdims=False, method="linear", overwrite_input=False)
    w = np.quantile(x, np.array([0.0, 0.4, 1.0]), method="linear", overwrite_input=False)    # no axis
    return np.sum(m * m) + np.sum(np.cos(q)) + np.sum(p) + np.sum(w * w) + np.median(x, overwrite_input=False)


def averages(x, w):
    return (np.sum(np.average(x, axis=-1, weights=w) ** 2) + np.sum(np.average(x, axis=(0, 1), keepdims=True))
            + np.average(x, weights=x * 0.0 + 1.0 + w))


def sorted_along(x):
    s = np.sort(x, axis=0)
    t = np.take_along_axis(x, np.argsort(x, axis=-1, kind="stable"), axis=-1)
    return np.sum(s * np.arange(s.shape[0] * s.shape[1]).reshape(s.shape)) + np.sum(t[..., -1] ** 2)


def every_axis(x):
    p, q, r = np.gradient(x, 0.5)
    return np.sum(p * q) + np.sum(r ** 2)


def _distinct(shape, seed):
    r = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return r.permutation((np.arange(n) - n / 2.0) * 0.23 + r.uniform(-0.05, 0.05, n)).reshape(shape)


CASES = [
    (nan_family, lambda: [_distinct((3, 1, 4), 1)], 0),          # a size-1 axis, NaNs (entries > 0.9)
    (spreads, lambda: [_distinct((2, 1, 3), 2)], 0),
    (order_statistics, lambda: [_distinct((3, 2, 4), 3)], 0),
    (order_statistics, lambda: [_distinct((1, 1, 1), 4)], 0),     # one entry per row
    (averages, lambda: [_distinct((2, 3), 5), np.array([0.5, 1.5, 2.0])], (0, 1)),
    (sorted_along, lambda: [_distinct((3, 4), 6)], 0),
    (every_axis, lambda: [_distinct((3, 2, 4), 7)], 0),
]


@pytest.mark.parametrize("f,make,wrt", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_vjp_and_jvp_on_numba(f, make, wrt):
    with np.errstate(all="ignore"):
        fd.check_vjp(f, make(), wrt=wrt, rtol=1e-5, atol=1e-7)
        check_jvp(f, make(), wrt=wrt, backend="numba")


def nan_rows(x):
    x = np.where(x > 0.0, np.nan, x)           # the first row all NaN: NumPy's nan and a nan gradient
    return np.nansum(x, axis=1) + np.nanmean(x, axis=1, keepdims=False)


def test_nan_reductions_of_all_nan_and_empty_rows_match_python():
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, -2.0]])
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = rg.differentiate(nan_rows).vjp(x)
    with np.errstate(all="ignore"):
        got = rg.differentiate(nan_rows, backend="numba").vjp(x)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1](np.ones(2))[0], want[1](np.ones(2))[0])
    empty = np.zeros((0, 3))

    def total(e):
        return np.sum(np.nansum(e, axis=0, keepdims=True)) + np.sum(np.sum(e, axis=-2))
    assert rg.differentiate(total, backend="numba").grad(empty).shape == (0, 3)


def tied_median(x):
    return np.sum(np.median(x, axis=0) * np.array([1.0, 2.0])) + np.sum(np.quantile(x, 0.25, axis=-1))


def test_ties_follow_the_python_backend_convention():
    """At a tie the median has no derivative: numba gives the python backend's choice (the stable order)."""
    x = np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 0.5]])
    want = rg.differentiate(tied_median).grad(x)
    np.testing.assert_array_equal(rg.differentiate(tied_median, backend="numba").grad(x), want)
    v = np.arange(6.0).reshape(3, 2) / 7
    _, tw = rg.jvp(tied_median, (x,), (v,))
    _, tg = rg.jvp(tied_median, (x,), (v,), backend="numba")
    assert tg == pytest.approx(tw, rel=1e-12)


def cross_2(x, y):
    return np.cross(x, y)


def test_cross_of_2_vectors_is_refused_at_the_users_line():
    with pytest.raises(rg.BackendError) as err:
        rg.differentiate(cross_2, wrt=(0, 1), backend="numba").vjp(np.ones(2), np.ones(2))
    assert err.value.lineno is not None and err.value.filename.endswith("test_numba_stat_axes.py")
    assert 'backend="python"' in err.value.hint
