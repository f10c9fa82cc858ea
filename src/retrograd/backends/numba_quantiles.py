"""Numba versions of more cotangent helpers of reverse/rules/statistics.py: the order statistics'
(quantile_grad, quantile_grad_q: np.median, np.quantile, np.percentile), the NaN-skipping reductions'
(nan_count, nan_center), np.average's (weighted_grad) and np.trapezoid's (trapezoid_weights,
trapezoid_grad_x).  Reduced axes (None, an int or a tuple of ints) and keepdims must be constants, known
when the function is compiled: the array is viewed as (kept, reduced) rows and each row handled by a loop."""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ..reverse.rules import statistics as _rules
from .numba_axes import compile_source, is_none, is_scalar, spread
from .numba_gradient import _rows_source
from .numba_reductions import _axes, _keep, reduce_sum
from .numba_runtime import unbroadcast


def _flat(g):
    pass


@overload(_flat)
def _flat_ol(g):
    if is_scalar(g):
        return lambda g: np.full(1, float(g))
    if isinstance(g, types.Array):
        return lambda g: np.ascontiguousarray(g).astype(np.float64).ravel()
    if isinstance(g, (types.List, types.BaseTuple)):         # q written as a list: np.percentile(x, [10.0, 70.0])
        return lambda g: np.asarray(g, dtype=np.float64).ravel()
    return None


@njit(cache=True)
def _spread_rows(flat, q, gq):
    """out[r, order[lo]] += (1 - frac) g, out[r, order[hi]] += frac g for each quantile q_j and row r
    (order: the row's stable sort, so tied entries are taken in order)."""
    n = flat.shape[1]
    out = np.zeros(flat.shape)
    for r in range(flat.shape[0]):
        order = np.argsort(flat[r], kind="mergesort")
        for j in range(q.size):
            pos = q[j] * (n - 1)
            lo = int(np.floor(pos))
            hi = min(lo + 1, n - 1)
            frac = pos - lo
            out[r, order[lo]] += (1.0 - frac) * gq[j, r]
            out[r, order[hi]] += frac * gq[j, r]
    return out


@njit(cache=True)
def _slopes(flat, q, gq, scale):
    """d q_j = sum_r g[j, r] (s[r, hi] - s[r, lo]) (n - 1) / scale, s the sorted rows."""
    n = flat.shape[1]
    out = np.zeros(q.size)
    for r in range(flat.shape[0]):
        s = np.sort(flat[r])
        for j in range(q.size):
            pos = q[j] * (n - 1)
            lo = min(max(int(np.floor(pos)), 0), n - 1)
            hi = min(lo + 1, n - 1)
            out[j] += gq[j, r] * (s[hi] - s[lo]) * (n - 1) / scale
    return out


@overload(_rules.quantile_grad)
def _quantile_grad(g, a, q, axis=None, keepdims=False, scale=1.0):
    if not isinstance(a, types.Array) or a.ndim == 0:
        return None
    axes = _axes(axis, a.ndim)
    if axes is None:
        return None
    pre, inv = _rows_source(a.ndim, axes)
    src = ("def impl(g, a, q, axis=None, keepdims=False, scale=1.0):\n" + pre +
           "    qs = _flat(q) / scale\n"
           "    gq = _flat(g).reshape((qs.size, flat.shape[0]))\n"
           "    out = _spread_rows(flat, qs, gq)\n"
           f"    return np.ascontiguousarray(out.reshape(t.shape).transpose({inv!r}))\n")
    return compile_source(src, _flat=_flat, _spread_rows=_spread_rows)


@overload(_rules.quantile_grad_q)
def _quantile_grad_q(g, a, q, axis=None, keepdims=False, scale=1.0):
    if not isinstance(a, types.Array) or a.ndim == 0:
        return None
    axes = _axes(axis, a.ndim)
    if axes is None:
        return None
    pre, _ = _rows_source(a.ndim, axes)
    back = "out[0]" if is_scalar(q) else "out.reshape(np.shape(q))"
    src = ("def impl(g, a, q, axis=None, keepdims=False, scale=1.0):\n" + pre +
           "    qs = _flat(q) / scale\n"
           "    gq = _flat(g).reshape((qs.size, flat.shape[0]))\n"
           "    out = _slopes(flat, qs, gq, float(scale))\n"
           f"    return {back}\n")
    return compile_source(src, _flat=_flat, _slopes=_slopes)


# ---- the NaN-skipping reductions -------------------------------------------------------------------------
@overload(_rules.nan_count, prefer_literal=True)
def _nan_count(a, axis, keepdims=True):
    if not isinstance(a, types.Array):
        return None
    return lambda a, axis, keepdims=True: reduce_sum((~np.isnan(a)).astype(np.float64), axis, keepdims)


@overload(_rules.nan_center, prefer_literal=True)
def _nan_center(a, axis):
    if not isinstance(a, types.Array):
        return None

    def impl(a, axis):
        nan = np.isnan(a)
        zeroed = np.where(nan, 0.0, a)
        mean = reduce_sum(zeroed, axis, True) / reduce_sum((~nan).astype(np.float64), axis, True)
        return np.where(nan, 0.0, a - mean)
    return impl


# ---- np.average ----------------------------------------------------------------------------------------------
@overload(_rules.weighted_grad, prefer_literal=True)
def _weighted_grad(g, a, y, axis, weights, keepdims, which):
    if not isinstance(a, types.Array) or not isinstance(which, types.IntegerLiteral):
        return None
    w = which.literal_value
    if is_none(weights):
        if w == 1:
            return None
        return lambda g, a, y, axis, weights, keepdims, which: spread(g, a, axis, keepdims) / _count(a, axis)
    if not isinstance(weights, types.Array):
        return None
    along = weights.ndim == 1 and a.ndim > 1
    if along:
        if not isinstance(axis, types.IntegerLiteral):
            return None                          # NumPy needs the axis for 1-D weights
        ax = axis.literal_value % a.ndim
        shape = "(" + "".join(("weights.shape[0]" if k == ax else "1") + ", " for k in range(a.ndim)) + ")"
        lay = f"np.ascontiguousarray(weights).astype(np.float64).reshape({shape})"
        other = tuple(k for k in range(a.ndim) if k != ax)
        fold = f"reduce_sum(full, {other!r}, False)"
    else:
        lay, fold = "np.asarray(weights, dtype=np.float64)", "unbroadcast(full, weights)"
    src = ("def impl(g, a, y, axis, weights, keepdims, which):\n"
           f"    wf = np.zeros(a.shape) + {lay}\n"
           "    total = spread(reduce_sum(wf, axis, True), a, axis, True)\n"
           "    gb = spread(g, a, axis, keepdims)\n")
    if w == 0:
        src += "    return gb * wf / total\n"
    else:
        src += ("    full = gb * (a - spread(y, a, axis, keepdims)) / total\n"
                f"    return {fold}\n")
    return compile_source(src, spread=spread, reduce_sum=reduce_sum, unbroadcast=unbroadcast)


def _count(a, axis):
    pass


@overload(_count, prefer_literal=True)
def _count_ol(a, axis):
    axes = _axes(axis, a.ndim)
    if axes is None:
        return None
    n = " * ".join(f"a.shape[{k}]" for k in axes) or "1"
    return compile_source(f"def impl(a, axis):\n    return float({n})\n")


# ---- np.trapezoid ----------------------------------------------------------------------------------------------
@overload(_rules.trapezoid_weights, prefer_literal=True)
def _trapezoid_weights(y, x=None, dx=1.0, axis=-1):
    if not isinstance(y, types.Array) or y.ndim == 0:
        return None
    ax = axis if isinstance(axis, int) else getattr(axis, "literal_value", getattr(axis, "value", None))
    if not isinstance(ax, int):
        return None
    ax %= y.ndim
    shape = "(" + "".join(("n" if k == ax else "1") + ", " for k in range(y.ndim)) + ")"
    if is_none(x):
        body = ("    w = np.full(n, float(dx))\n"
                "    w[0] /= 2.0\n"
                "    w[-1] /= 2.0\n")
    elif isinstance(x, types.Array) and x.ndim == 1:
        body = ("    gaps = np.diff(np.asarray(x, dtype=np.float64))\n"
                "    w = np.zeros(n)\n"
                "    w[:-1] += gaps\n"
                "    w[1:] += gaps\n"
                "    w = w / 2.0\n")
    else:
        return None
    return compile_source(f"def impl(y, x=None, dx=1.0, axis=-1):\n    n = y.shape[{ax}]\n{body}"
                          f"    return w.reshape({shape})\n")


@overload(_rules.trapezoid_grad_x, prefer_literal=True)
def _trapezoid_grad_x(g, y, x, axis=-1):
    if not isinstance(y, types.Array) or not (isinstance(x, types.Array) and x.ndim == 1):
        return None
    ax = axis if isinstance(axis, int) else getattr(axis, "literal_value", getattr(axis, "value", None))
    if not isinstance(ax, int):
        return None
    pre, _ = _rows_source(y.ndim, ((ax % y.ndim),))
    src = ("def impl(g, y, x, axis=-1):\n    a = y\n" + pre +
           "    gs = _flat(g)\n"
           "    n = flat.shape[1]\n"
           "    out = np.zeros(n)\n"
           "    if n < 2:\n"
           "        return out\n"
           "    for r in range(flat.shape[0]):\n"
           "        row = flat[r]\n"
           "        for i in range(n):\n"
           "            lo = row[i - 1] if i > 0 else row[0]\n"
           "            hi = row[i + 1] if i < n - 1 else row[n - 1]\n"
           "            d = (lo - hi) / 2.0\n"
           "            if i == 0:\n"
           "                d = -(row[0] + row[1]) / 2.0\n"
           "            elif i == n - 1:\n"
           "                d = (row[n - 2] + row[n - 1]) / 2.0\n"
           "            out[i] += gs[r] * d\n"
           "    return out\n")
    return compile_source(src, _flat=_flat)

