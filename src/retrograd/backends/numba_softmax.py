"""scipy.special's softmax, log_softmax and logsumexp in Numba (which has none of them), with SciPy's
(1.17) numbers at the edges, since the python backend calls SciPy itself:

* softmax shifts by the plain maximum (a slice holding +inf, or only -inf, is NaN), log_softmax by the
  maximum with non-finite maxima taken as 0; both raise, as SciPy does, over an empty axis.  A 0-d array
  or a number gives a number.
* logsumexp broadcasts `a` with the weights `b` and makes the result at least 1-D first (a 0-d `a` with
  keepdims=True gives shape (1,), as SciPy's does); each reduced row is SciPy's `_logsumexp`: entries of
  zero weight are dropped, the (last) maximum is taken out of the sum, log1p(s / m) + log|m| + max, NaN
  where the weighted sum is negative, and log(sum(b exp(a))) wherever that is not finite.  An empty
  row is -inf; an empty array reduced over none or several axes raises, as SciPy fails there.

Constant axes only (None, an int, negative ones and tuples) and a constant keepdims; float64 or integer
operands.  Anything else (a run-time axis, float32, complex, return_sign=True) is not lowered, so Numba's
typing error becomes the usual BackendError.  The cotangents lse_grad / lse_grad_b are here too; the
tangent lse_tangent is in numba_tangents."""
import numpy as np
from numba import njit, types
from numba.extending import overload
from scipy import special

from ..reverse.rules import special as _rules
from .numba_axes import compile_source, is_none, spread
from .numba_reductions import reduce_max, reduce_sum
from .numba_runtime import unbroadcast


def _real(t):
    """Whether `t` is a float64 or integer array or number (what these overloads compute on)."""
    dtype = t.dtype if isinstance(t, types.Array) else t
    return (isinstance(dtype, types.Integer) and not isinstance(dtype, types.Boolean)) or dtype == types.float64


def _ndim(t):
    return t.ndim if isinstance(t, types.Array) else 0


def _axes_of(axis, ndim):
    """The reduced axes, sorted and non-negative, of a constant `axis` valid for rank `ndim`, else None (a
    0-d array takes None, 0, -1 or (), as NumPy's reductions do)."""
    if is_none(axis):
        return tuple(range(ndim))
    values = (axis.literal_value,) if isinstance(axis, types.IntegerLiteral) else \
        tuple(t.literal_value for t in axis.types) if isinstance(axis, types.BaseTuple) and all(
            isinstance(t, types.IntegerLiteral) for t in axis.types) else None
    if values is None:
        return None
    bound = max(ndim, 1)
    if ndim == 0 and isinstance(axis, types.BaseTuple) and values:
        return None
    if not all(-bound <= v < bound for v in values) or len({v % bound for v in values}) != len(values):
        return None
    return tuple(sorted(v % bound for v in values)) if ndim else ()


def _flag(t):
    """A constant bool (omitted: False), or None when it is only known at run time."""
    if is_none(t) or t is False:
        return False
    if isinstance(t, types.BooleanLiteral):
        return t.literal_value
    return None


@njit(cache=True)
def _finite_or_zero(m):
    return np.where(np.isfinite(m), m, 0.0)


def _softmax_axes(x, axis):
    """The constant axes softmax / log_softmax of a real array or number normalise over, or None (no overload)."""
    if not (isinstance(x, (types.Array, types.Number)) and _real(x)):
        return None
    return _axes_of(axis, _ndim(x))


@overload(special.softmax, prefer_literal=True)
def _softmax(x, axis=None):
    axes = _softmax_axes(x, axis)
    if axes is None:
        return None
    if _ndim(x) == 0:
        value = "x[()]" if isinstance(x, types.Array) else "x"
        return compile_source(f"def impl(x, axis=None):\n    e = np.exp({value} - {value})\n    return e / e\n")
    return compile_source("def impl(x, axis=None):\n"
                          f"    e = np.exp(x - reduce_max(x, {axes!r}, True))\n"
                          f"    return e / reduce_sum(e, {axes!r}, True)\n",
                          reduce_max=reduce_max, reduce_sum=reduce_sum)


@overload(special.log_softmax, prefer_literal=True)
def _log_softmax(x, axis=None):
    axes = _softmax_axes(x, axis)
    if axes is None:
        return None
    if _ndim(x) == 0:
        value = "x[()]" if isinstance(x, types.Array) else "x"
        return compile_source(f"def impl(x, axis=None):\n    v = {value}\n"
                              "    s = v - (v if np.isfinite(v) else 0.0)\n    return s - np.log(np.exp(s))\n")
    return compile_source("def impl(x, axis=None):\n"
                          f"    s = x - _finite_or_zero(reduce_max(x, {axes!r}, True))\n"
                          f"    return s - np.log(reduce_sum(np.exp(s), {axes!r}, True))\n",
                          reduce_max=reduce_max, reduce_sum=reduce_sum, _finite_or_zero=_finite_or_zero)


@njit(cache=True)
def _lse_row(a, b):
    """SciPy's logsumexp of one row `a` with weights `b` (real, return_sign=False)."""
    n = a.size
    if n == 0:
        return -np.inf
    amax, imax, nan = -np.inf, -1, False
    for i in range(n):
        ai = a[i] if b[i] != 0 else -np.inf
        if np.isnan(ai):
            nan = True
        elif ai >= amax:
            amax, imax = ai, i
    out = np.nan                        # a NaN or an infinite maximum: SciPy's sum is not finite
    if not nan and np.isfinite(amax):
        m, s = b[imax], 0.0
        for i in range(n):
            ai = -np.inf if i == imax or b[i] == 0 else a[i]
            s += b[i] * np.exp(ai - amax)
        if s != 0:
            s = s / m
        sgn = np.sign(s + 1) * np.sign(m)
        if s < -1:
            s = -s - 2
        out = np.log1p(s) + np.log(abs(m)) + amax
        if sgn < 0:
            out = np.nan
    if not np.isfinite(out):
        t = 0.0
        for i in range(n):
            t += b[i] * np.exp(a[i])
        out = np.log(t)
    return out


def _lse_source(nd, axes, keep, a, b):
    """logsumexp over `axes` of the broadcast of a and b, made rank `nd` >= 1: A and B (ones without
    weights) are float64 arrays of that shape."""
    def value(name, t):
        return name if _ndim(t) else f"{name}[()]" if isinstance(t, types.Array) else name
    av = value("a", a)
    if is_none(b):
        lines = ["    A = np.asarray(a).astype(np.float64)" if _ndim(a) else f"    A = np.full(1, np.float64({av}))",
                 "    B = np.ones(A.shape)"]
    elif max(_ndim(a), _ndim(b)) == 0:
        lines = [f"    A = np.full(1, np.float64({av}))", f"    B = np.full(1, np.float64({value('b', b)}))"]
    else:
        shape = ("np.broadcast_shapes(a.shape, b.shape)" if _ndim(a) and _ndim(b) else
                 "a.shape" if _ndim(a) else "b.shape")
        lines = [f"    shape = {shape}", f"    A = np.zeros(shape) + {av}",
                 f"    B = np.zeros(shape) + {value('b', b)}"]
    kept = [k for k in range(nd) if k not in axes]
    perm = tuple(kept + list(axes))
    rows = " * ".join(f"A.shape[{k}]" for k in kept) or "1"
    cols = " * ".join(f"A.shape[{k}]" for k in axes) or "1"
    if len(axes) != 1:                  # SciPy's `shape[axis] = 1` for its -inf result holds for one axis only
        lines.append("    if A.size == 0:\n        raise ValueError('logsumexp of an empty array over other than one "
                     "axis (SciPy fails there)')")
    lines += [f"    tA = np.ascontiguousarray(A.transpose({perm!r})).reshape(({rows}, {cols}))",
              f"    tB = np.ascontiguousarray(B.transpose({perm!r})).reshape(({rows}, {cols}))",
              f"    out = np.empty({rows})",
              f"    for i in range({rows}):",
              "        out[i] = _lse_row(tA[i], tB[i])"]
    if keep:
        lines.append("    return out.reshape((" + "".join(("1" if k in axes else f"A.shape[{k}]") + ", "
                                                          for k in range(nd)) + "))")
    elif kept:
        lines.append("    return out.reshape((" + "".join(f"A.shape[{k}], " for k in kept) + "))")
    else:
        lines.append("    return out[0]")
    return "def impl(a, axis=None, b=None, keepdims=False, return_sign=False):\n" + "\n".join(lines) + "\n"


@overload(special.logsumexp, prefer_literal=True)
def _logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    operands = (a,) if is_none(b) else (a, b)
    if not all(isinstance(t, (types.Array, types.Number)) and _real(t) for t in operands):
        return None
    if _flag(return_sign) is not False:
        return None                       # (value, sign) pairs: refused by the rule before this
    nd = max(1, *(_ndim(t) for t in operands))
    axes, keep = _axes_of(axis, nd), _flag(keepdims)
    if axes is None or keep is None:
        return None
    return compile_source(_lse_source(nd, axes, keep, a, b), _lse_row=_lse_row)


@overload(_rules.lse_grad, prefer_literal=True)
def _lse_grad(g, a, y, axis, b, keepdims):
    if is_none(b):
        return lambda g, a, y, axis, b, keepdims: (np.exp(a - spread(y, a, axis, keepdims))
                                                   * spread(g, a, axis, keepdims))

    def impl(g, a, y, axis, b, keepdims):
        full = a + np.zeros_like(b)
        return np.exp(full - spread(y, full, axis, keepdims)) * spread(g, full, axis, keepdims) * b
    return impl


@overload(_rules.lse_grad_b, prefer_literal=True)
def _lse_grad_b(g, a, y, axis, b, keepdims):
    def impl(g, a, y, axis, b, keepdims):
        full = a + np.zeros_like(b)
        return unbroadcast(np.exp(full - spread(y, full, axis, keepdims)) * spread(g, full, axis, keepdims), b)
    return impl
