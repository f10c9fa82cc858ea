"""Numba version of np.trapezoid's cotangent weights (reverse/rules/statistics.trapezoid_weights): dx, or
the gaps of a 1-D `x`, halved at the ends, shaped to broadcast along a constant axis."""
import numpy as np
from numba import types
from numba.extending import overload

from ..reverse.rules import statistics as _stats
from .numba_axes import compile_source, is_none, literal_int


@overload(_stats.trapezoid_weights, prefer_literal=True)
def _trapezoid_weights(y, x=None, dx=1.0, axis=-1):
    ax = literal_int(axis, -1)
    if not isinstance(y, types.Array) or y.ndim == 0 or ax is None or not isinstance(dx, (types.Number, float, int)):
        return None
    if not (is_none(x) or (isinstance(x, types.Array) and x.ndim == 1)):
        return None
    ax %= y.ndim
    shape = "(" + "".join("n, " if d == ax else "1, " for d in range(y.ndim)) + ")"
    if is_none(x):
        body = "    w = np.full(n, float(dx))\n    w[0] /= 2.0\n    w[n - 1] /= 2.0\n"
    else:
        body = ("    gaps = np.diff(x.astype(np.float64))\n    w = np.zeros(n)\n"
                "    w[:n - 1] += gaps\n    w[1:] += gaps\n    w = w / 2.0\n")
    src = (f"def impl(y, x=None, dx=1.0, axis=-1):\n    n = y.shape[{ax}]\n"
           f"    if n < 2:\n        return np.zeros(n).reshape({shape})\n{body}    return w.reshape({shape})\n")
    return compile_source(src)


__all__ = ["trapezoid_along"]


def trapezoid_along(y, x=None, dx=1.0, axis=-1):
    return np.trapezoid(y, x, dx, axis)


@overload(trapezoid_along, prefer_literal=True)
def _trapezoid_along(y, x=None, dx=1.0, axis=-1):
    """np.trapezoid(y, x, dx, axis) along a constant axis (Numba's takes none): NumPy's sum of
    d * (y[1:] + y[:-1]) / 2 along it, d the spacing dx or the gaps of a 1-D x."""
    ax = literal_int(axis, -1)
    if not isinstance(y, types.Array) or y.ndim == 0 or ax is None:
        return None
    if not (is_none(x) or (isinstance(x, types.Array) and x.ndim == 1)):
        return None
    ax %= y.ndim
    gap = "float(dx)" if is_none(x) else "(xf[k + 1] - xf[k])"
    check = "" if is_none(x) else ("    xf = x.astype(np.float64)\n    if xf.size != n:\n"
                                   "        raise ValueError('np.trapezoid: x and y must have the same length along axis')\n")
    kept = [k for k in range(y.ndim) if k != ax]
    perm = tuple(kept + [ax])
    rows = " * ".join(f"y.shape[{k}]" for k in kept) or "1"
    tail = "    return out[0]\n" if y.ndim == 1 else \
        "    return out.reshape(" + "(" + "".join(f"y.shape[{k}], " for k in kept) + "))\n"
    src = (f"def impl(y, x=None, dx=1.0, axis=-1):\n    n = y.shape[{ax}]\n" + check +
           f"    m = np.ascontiguousarray(np.asarray(y, dtype=np.float64).transpose({perm!r})).reshape(({rows}, n))\n"
           "    out = np.zeros(m.shape[0])\n"
           "    for r in range(m.shape[0]):\n        s = 0.0\n"
           f"        for k in range(n - 1):\n            s += {gap} * (m[r, k + 1] + m[r, k]) / 2.0\n"
           "        out[r] = s\n" + tail)
    return compile_source(src)
