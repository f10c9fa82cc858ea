"""The numba lowerings of NumPy's shape calls in the keyword forms Numba lacks (numba_shape_calls.py and the
modules it calls: numba_fills, numba_selections, numba_diffs, numba_crosses, numba_integrals,
numba_gradient's coordinates) on hostile operands: non-contiguous views, size-1 and size-0 axes, negative
axes, broadcasting bounds and pieces, integer arrays, decreasing coordinates.  Each against central
differences and the python backend, reverse (fd.check_vjp) and forward (forward_check.check_jvp).

Each case compiles a primal, an adjoint and a tangent function: CI runs a fixed third of them (crc32 of the
test id); RETROGRAD_NUMBA_FULL=1 runs them all."""
import os
import zlib

import numpy as np
import pytest

import retrograd as rg

import fd
from forward_check import check_jvp

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _numba(monkeypatch, tmp_path_factory, request):
    if not os.environ.get("RETROGRAD_NUMBA_FULL") and zlib.crc32(request.node.nodeid.encode()) % 3:
        pytest.skip("numba CI sample: RETROGRAD_NUMBA_FULL=1 runs this case")
    monkeypatch.setenv("RETROGRAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rgcache"))
    monkeypatch.setattr(fd, "BACKEND", "numba")


def fills(x, y):
    v = x[:, ::-2]                                    # a strided, reversed view (2, 2)
    f = np.ravel(v, order="F") * np.array([1.0, 2.0, 3.0, 4.0])
    r = np.reshape(v.T, shape=(1, -1), order="F")
    full = np.full((3, 2), y[::-1][:2], dtype=np.float64)     # an array fill, broadcast over the rows
    a = np.array(v, dtype=np.float64) * v.astype(dtype=np.float64)
    c = np.clip(x, y, 0.25)                             # a bound of the operand's row shape, one a scalar
    return np.sum(f * f) + np.sum(np.sin(r)) + np.sum(full * full) + np.sum(a) + np.sum(c * c)


def zero_d(z, y):
    full = np.full((2, 2), z, dtype=np.float64)        # a 0-d fill
    c = np.clip(z, y, 0.75)                            # a 0-d operand clipped by a 1-D bound
    return np.sum(full * y[:2]) + np.sum(np.sin(c)) + np.sum(np.asarray(z) ** 2)


def diffs(x, p, q):
    ints = np.diff(np.arange(4) * 3, axis=0, prepend=-1)       # integers: NumPy's integer result
    a = np.diff(x, axis=-1, prepend=p, append=q)               # an array piece and a 0-d one
    b = np.diff(x, 3, axis=1, prepend=0.5)                     # n = 3 over 4 entries: one left
    e = np.diff(x, 2, axis=0)                                  # n = 2 over 2 rows: a size-0 axis
    return np.sum(a * a) + np.sum(np.cos(b)) * np.sum(ints) + np.sum(e) + np.sum(np.diff(x, 0, axis=0) ** 2)


def selections(x):
    d = np.delete(x, [0, -1], axis=-1)                 # a negative index
    c = np.compress([True, False, True], x, axis=1)
    none = np.compress([False, False], x, axis=0)      # nothing kept: a size-0 axis
    r = np.roll(x, (-1, 4), axis=(1, 0)) + np.roll(x, 2, axis=(0, 1))      # tuples; one shift for both axes
    return np.sum(d * d) + np.sum(np.sin(c)) + np.sum(none) + np.sum(r * np.arange(6.0).reshape(2, 3))


def crosses(a, b):
    u = np.cross(a, b, axisa=0, axisb=-1, axisc=0)     # a (3, 1) broadcast against b (4, 3)
    w = np.cross(a.T, b[:1], axis=-1)
    return np.sum(u * u) + np.sum(np.sin(w))


def gradients(x, h):
    down = np.array([2.0, 1.5, -0.5])                  # decreasing, uneven coordinates
    g0 = np.gradient(x, down, axis=0, edge_order=2)
    g1 = np.gradient(x, np.array([0.0, 1.0]), axis=-1)  # two entries: the one-sided stencil only
    t = np.trapezoid(x, dx=h, axis=0)
    u = np.trapezoid(x, x=np.array([0.0, 0.25]), axis=-1)
    return np.sum(g0 * g0) + np.sum(np.sin(g1)) + np.sum(t * t) + np.sum(np.cos(u))


_R = np.random.default_rng(16)
CASES = [
    (fills, lambda: [_R.normal(size=(2, 4)) * 0.5, _R.normal(size=4) * 0.5], (0, 1)),
    (zero_d, lambda: [np.array(0.3), np.array([0.1, 0.9, 0.4])], (0, 1)),
    (diffs, lambda: [_R.normal(size=(2, 4)), _R.normal(size=(2, 1)), np.array(0.7)], (0, 1, 2)),
    (selections, lambda: [_R.normal(size=(2, 3))], 0),
    (crosses, lambda: [_R.normal(size=(3, 1)), _R.normal(size=(4, 3))], (0, 1)),
    (gradients, lambda: [_R.normal(size=(3, 2)), 0.3], (0, 1)),
]


@pytest.mark.parametrize("f,make,wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_vjp_and_jvp_on_numba(f, make, wrt):
    fd.check_vjp(f, make(), wrt=wrt, rtol=1e-5, atol=1e-7)
    check_jvp(f, make(), wrt=wrt, backend="numba")


def flat_cross(a, b):
    return np.sum(np.cross(a, b, axisa=0, axisb=0))


def test_cross_of_2_vectors_with_axes_is_refused_at_the_users_line():
    """The cross product of 2-vectors has an axis less: Numba cannot type it, with axes too."""
    with pytest.raises(rg.BackendError) as info:
        rg.differentiate(flat_cross, backend="numba").grad(np.ones((2, 3)), np.ones((2, 3)))
    err = info.value
    assert 'backend="python"' in (err.hint or "") and err.lineno == flat_cross.__code__.co_firstlineno + 1
