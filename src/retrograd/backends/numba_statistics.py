"""Numba versions of the cotangent helpers of reverse/rules/statistics.py: cumprod's (exact at zeros),
np.diff's (the transposed difference, with prepend/append)."""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ..reverse.rules import statistics as _rules
from .numba_axes import is_none, literal_int
from .numba_manipulation import _from_rows, _to_rows


@njit(cache=True)
def _cumprod_rows(g, a):
    """Along each row: d a_k = prod(a_<k) * S_k with S_k = g_k + a_{k+1} S_{k+1} (no division)."""
    out = np.empty(a.shape)
    for i in range(a.shape[0]):
        n = a.shape[1]
        s = 0.0
        acc = np.empty(n)
        for k in range(n - 1, -1, -1):
            s = g[i, k] + (a[i, k + 1] * s if k + 1 < n else 0.0)
            acc[k] = s
        before = 1.0
        for k in range(n):
            out[i, k] = before * acc[k]
            before *= a[i, k]
    return out


@overload(_rules.cumprod_grad)
def _cumprod_grad(g, a, axis=None):
    if not isinstance(a, types.Array):
        return None
    if is_none(axis):
        def flat(g, a, axis=None):
            n = a.size
            return _cumprod_rows(np.ascontiguousarray(g).reshape((1, n)).astype(np.float64),
                                 np.ascontiguousarray(a).reshape((1, n)).astype(np.float64)).reshape(a.shape)
        return flat

    def along(g, a, axis=None):
        gr, _ = _to_rows(g, axis)
        ar, shape = _to_rows(a, axis)
        return _from_rows(_cumprod_rows(gr.astype(np.float64), ar.astype(np.float64)), shape, axis)
    return along


@njit(cache=True)
def _undiff_rows(g, n):
    """The transpose of `n` differences along each row of g: dx_j = g_{j-1} - g_j, n times."""
    for _ in range(n):
        out = np.zeros((g.shape[0], g.shape[1] + 1))
        for i in range(g.shape[0]):
            for j in range(g.shape[1]):
                out[i, j] -= g[i, j]
                out[i, j + 1] += g[i, j]
        g = out
    return g


@overload(_rules.undiff, prefer_literal=True)
def _undiff(g, a, n=1, axis=-1, prepend=None, append=None, which=0):
    if not isinstance(a, types.Array) or not isinstance(g, types.Array):
        return None
    w = literal_int(which, 0)
    if w is None:
        return None
    if w == 1:
        def mine(g, a, n=1, axis=-1, prepend=None, append=None, which=0):
            gr, _ = _to_rows(np.asarray(g, dtype=np.float64), axis)
            ar, shape = _to_rows(a, axis)
            full = _undiff_rows(np.ascontiguousarray(gr), n)
            first = _piece_width(prepend, a, axis)
            return _from_rows(np.ascontiguousarray(full[:, first:first + ar.shape[1]]), shape, axis)
        return mine
    return None        # prepend= / append= cotangents: not lowered (Numba's np.diff takes neither anyway)


def _piece_width(p, a, axis):
    return 0


@overload(_piece_width)
def _piece_width_ol(p, a, axis):
    if is_none(p):
        return lambda p, a, axis: 0
    if isinstance(p, (types.Number,)):
        return lambda p, a, axis: 1
    if isinstance(p, types.Array):
        if p.ndim == 0:
            return lambda p, a, axis: 1
        return lambda p, a, axis: p.shape[axis]
    return None

