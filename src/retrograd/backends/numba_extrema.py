"""max/min's and prod's partials at any rank, for the numba backend: `select_grad` (the cotangent of
np.max/np.min, split evenly between ties), `select_weights` (its tangent weights) and `prod_others` (the
product of the other entries, exact at zeros) for what numba_runtime's, numba_forward's and numba_rules'
versions do not take: 0-d arrays, three or more axes, tuple axes.

Axes are constants (an int, a tuple of ints or None, as the primal's reduce_<op> lowering needs) and so is
keepdims.  An int axis known only at run time, at three or more axes, is left to Numba's refusal: a branch
over the axes gave wrong values (test_numba_extrema.test_runtime_axis).  Each computes the python helper's
formula: the mask of entries equal to the (spread) result over its count along the axes, NaN where none is
equal (a NaN in the slice), as NumPy's 0/0.
"""
import numpy as np
from numba import types
from numba.extending import overload

from ..reverse.rules import reductions as _red
from .numba_axes import compile_source, is_none, spread
from .numba_reductions import _axes, _keep, reduce_sum
from .numba_rules import _others_rows
from .numba_runtime import select_grad


def _handled_elsewhere(x, axis):
    """The 1-D and 2-D arrays reduced over one axis or all of them, which the older overloads take."""
    return x.ndim in (1, 2) and (is_none(axis) or isinstance(axis, types.Integer))


def _constant(axis, keepdims, ndim):
    """(axes, keep) when both are constants, else None."""
    axes, keep = _axes(axis, ndim), _keep(keepdims)
    return None if axes is None or keep is None else (axes, keep)


def _mask_source(x, r):
    """The tie weights of x against the result r spread back (x's shape): mask / count, NaN where the
    count is 0 (NumPy's 0/0 on arrays)."""
    return (f"    mask = ({x} == spread({r}, {x}, axis, keepdims)).astype(np.float64)\n"
            f"    w = mask / reduce_sum(mask, axes, True)\n")


@overload(select_grad, prefer_literal=True)
def _select_grad_nd(g, x, result, axis=None, keepdims=False):
    if isinstance(x, (types.Float, types.Integer)) and isinstance(g, (types.Float, types.Integer)):
        # np.max of one number (`np.max(x[0, 0])`): all of g, NaN at a NaN as NumPy's 0/0
        return lambda g, x, result, axis=None, keepdims=False: g if x == x else np.nan
    if not isinstance(x, types.Array) or _handled_elsewhere(x, axis):
        return None
    if x.ndim == 0:
        # one entry: all of g, or NaN when x is NaN (x != x), in array arithmetic (NumPy's 0/0, no raise)
        def zero_d(g, x, result, axis=None, keepdims=False):
            mask = np.full((1,), 1.0 if x[()] == x[()] else 0.0)
            return np.full(x.shape, (spread(g, x) * mask / mask)[0])
        return zero_d
    plan = _constant(axis, keepdims, x.ndim)
    if plan is None:
        return None
    src = ("def impl(g, x, result, axis=None, keepdims=False):\n" + _mask_source("x", "result")
           + "    return spread(g, x, axis, keepdims) * w\n")
    return compile_source(src, spread=spread, reduce_sum=reduce_sum, axes=plan[0])


@overload(_red.select_weights, prefer_literal=True)
def _select_weights_low(a, y, axis=None, keepdims=False):
    """0-d arrays and tuple axes of 1-D and 2-D arrays (numba_tangents has 3-D and up, numba_forward the rest)."""
    if isinstance(a, (types.Float, types.Integer)):
        return lambda a, y, axis=None, keepdims=False: 1.0 if a == a else np.nan
    if not isinstance(a, types.Array) or a.ndim >= 3 or _handled_elsewhere(a, axis):
        return None
    if a.ndim == 0:
        def zero_d(a, y, axis=None, keepdims=False):
            mask = np.full((1,), 1.0 if a[()] == a[()] else 0.0)
            return np.full(a.shape, (mask / mask)[0])
        return zero_d
    plan = _constant(axis, keepdims, a.ndim)
    if plan is None:
        return None
    src = "def impl(a, y, axis=None, keepdims=False):\n" + _mask_source("a", "y") + "    return w\n"
    return compile_source(src, spread=spread, reduce_sum=reduce_sum, axes=plan[0])


@overload(_red.prod_others, prefer_literal=True)
def _prod_others_nd(a, axis=None):
    """The reduced axes moved last, each row's products of the others (numba_rules._others_rows), moved back."""
    if not isinstance(a, types.Array) or _handled_elsewhere(a, axis) or a.ndim == 0:
        return None
    axes = _axes(axis, a.ndim)
    if axes is None:
        return None
    kept = [k for k in range(a.ndim) if k not in axes]
    perm = tuple(kept + list(axes))
    back = tuple(perm.index(k) for k in range(a.ndim))
    rows = " * ".join(f"t.shape[{i}]" for i in range(len(kept))) or "1"
    cols = " * ".join(f"t.shape[{i}]" for i in range(len(kept), a.ndim)) or "1"
    src = ("def impl(a, axis=None):\n"
           f"    t = np.ascontiguousarray(a.transpose({perm!r})).astype(np.float64)\n"
           f"    out = _others_rows(t.reshape(({rows}, {cols})))\n"
           f"    return np.ascontiguousarray(out.reshape(t.shape).transpose({back!r}))\n")
    return compile_source(src, _others_rows=_others_rows)
