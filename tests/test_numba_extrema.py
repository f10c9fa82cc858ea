"""The numba lowerings of max/min's and prod's partials at any rank (numba_extrema: select_grad,
select_weights, prod_others for 0-d arrays, three or more axes, tuple axes and run-time int axes; np.amax and
np.amin with axis=/keepdims=) on hostile values: size-1 and size-0 axes, negative and tuple axes, keepdims
both ways, strided views, zeros (one and several in a slice) and ties.  Against central differences and the
python backend (fd.check_vjp, forward_check.check_jvp); ties, where there is no derivative, against the
python backend's convention only."""
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


def extremes(x):
    v = x.transpose((2, 0, 1))                      # a strided view
    a = np.amax(x, axis=-1) + np.min(v, axis=(0, 2)).reshape(x.shape[0], 1)
    b = np.amin(x, axis=(0, 2), keepdims=True)
    c = v.max(axis=0, keepdims=True)
    return np.sum(np.sin(a)) + np.sum(b * b) + np.sum(c * v) + np.max(x[0, 0, 0])


def products(x):
    return (np.sum(np.prod(x, axis=(0, -1), keepdims=True) * x) + np.sum(np.cos(np.prod(x.transpose((1, 2, 0)), -2)))
            + np.prod(x[..., 0]))


def along(x, axis):
    """axis is an argument: a run-time int, a branch over the array's axes."""
    return np.sum(np.max(x, axis) * np.prod(x, axis))


def _distinct(shape, seed):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (rng.permutation(n) / n + 0.5).reshape(shape) * rng.choice([-1.0, 1.0], size=shape)


def _with_zeros(shape, seed):
    x = _distinct(shape, seed)
    flat = x.reshape(-1)
    flat[:: 3] = 0.0                                # one zero in some slices, several in others
    return x


CASES = [(extremes, (2, 3, 4), _distinct), (extremes, (1, 1, 3), _distinct), (extremes, (3, 2, 1), _distinct),
         (products, (2, 3, 4), _with_zeros), (products, (2, 1, 3), _distinct), (products, (2, 0, 3), _distinct)]


@pytest.mark.parametrize("f,shape,draw", CASES, ids=[f"{f.__name__}-{s}" for f, s, _ in CASES])
def test_against_differences_and_python(f, shape, draw):
    x = draw(shape, 3)
    fd.check_vjp(f, [x], rtol=1e-5, atol=1e-7)
    check_jvp(f, [x], backend="numba")


@pytest.mark.parametrize("axis", [0, -1])
def test_runtime_axis(axis):
    """A run-time int axis at three axes: refused with a BackendError, or exactly the python backend's."""
    x = _with_zeros((2, 3, 4), 5)
    want = rg.differentiate(along, wrt=0, backend="python").grad(x, axis)
    np.testing.assert_allclose(want, fd.numerical_gradient(along, [x, axis], 0), rtol=1e-5, atol=1e-7)
    try:
        got = rg.differentiate(along, wrt=0, backend="numba").grad(x, axis)
    except rg.BackendError as err:
        assert 'backend="python"' in (err.hint or ""), str(err)
        return
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_ties_and_nans_follow_the_python_backend():
    x = np.array([[[2.0, 2.0, 1.0], [0.0, 0.0, 0.0]], [[np.nan, 1.0, 1.0], [3.0, 3.0, -1.0]]])
    for f in (extremes, products):
        got = rg.differentiate(f, backend="numba").grad(x)
        want = rg.differentiate(f, backend="python").grad(x)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
