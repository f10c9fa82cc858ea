"""np.median / np.quantile / np.percentile over axes for the numba backend, and their tangents.

Numba 0.68 compiles `np.median(a)` and `np.quantile(a, q)` of a whole array only (no `axis=`, no
`keepdims=`, no `method=` or `overwrite_input=`).  `lower_quantiles` rewrites those calls of generated code
that pass more than (a, q) into `quantile_along(a, q, axis, keepdims, scale)`; its overload views the array
as (kept, reduced) rows (the reduced axes, constants known when the function is compiled, moved last) and
takes Numba's own np.quantile of each row, so the values are NumPy's.  The tangent helpers of reverse/rules/statistics.py
(quantile_tangent, quantile_tangent_q) are lowered the same way: the stable order quantile_grad uses.
(Imported by numba_runtime: imports none of it.)"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ..reverse.rules import statistics as _rules
from .numba_axes import compile_source, is_scalar
from .numba_gradient import _rows_source
from .numba_reductions import _axes, _keep

__all__ = ["quantile_along"]


def quantile_along(a, q, axis=None, keepdims=False, scale=1.0):
    return np.quantile(a, np.asarray(q) / scale, axis=axis, keepdims=keepdims)


def _qflat(q):
    pass


@overload(_qflat)
def _qflat_ol(q):
    if is_scalar(q):
        return lambda q: np.full(1, float(q))
    if isinstance(q, types.Array):
        return lambda q: np.ascontiguousarray(q).astype(np.float64).ravel()
    if isinstance(q, (types.List, types.BaseTuple)):
        return lambda q: np.asarray(q, dtype=np.float64).ravel()
    return None


def _qshape(q):
    """Source of q's shape (a tuple), from its Numba type, or None."""
    if is_scalar(q):
        return "()"
    if isinstance(q, types.Array):
        return "q.shape"
    if isinstance(q, types.List):
        return "(len(q),)"
    if isinstance(q, types.BaseTuple):
        return f"({len(q)},)"
    return None


def _out_shape(a_ndim, axes, keep, qshape):
    dims = "".join(("1" if k in axes else f"a.shape[{k}]") + ", " for k in range(a_ndim) if keep or k not in axes)
    return f"{qshape} + ({dims})"


@njit(cache=True)
def _quantile_rows(flat, qs):
    """out[j, r]: row r's quantile qs[j] (NaN for rows of no entry, as NumPy's)."""
    out = np.empty((qs.size, flat.shape[0]))
    if flat.shape[1] == 0:
        out[:] = np.nan
        return out
    for r in range(flat.shape[0]):
        out[:, r] = np.quantile(flat[r], qs)
    return out



@overload(quantile_along, prefer_literal=True)
def _quantile_along(a, q, axis=None, keepdims=False, scale=1.0):
    if not isinstance(a, types.Array) or a.ndim == 0:
        return None
    axes, keep, qshape = _axes(axis, a.ndim), _keep(keepdims), _qshape(q)
    if axes is None or keep is None or qshape is None:
        return None
    pre, _ = _rows_source(a.ndim, axes)
    shape = _out_shape(a.ndim, axes, keep, qshape)
    scalar = is_scalar(q) and not keep and len(axes) == a.ndim
    back = "out[0, 0]" if scalar else f"out.reshape({shape})"
    dtype = np.float32 if a.dtype == types.float32 else np.float64     # NumPy keeps float32
    src = ("def impl(a, q, axis=None, keepdims=False, scale=1.0):\n" + pre +
           "    out = _quantile_rows(flat, _qflat(q) / scale).astype(_dtype)\n"
           f"    return {back}\n")
    return compile_source(src, _qflat=_qflat, _quantile_rows=_quantile_rows, _dtype=dtype)


# ---- tangents (forward mode) -------------------------------------------------------------------------------
@njit(cache=True)
def _tangent_rows(flat, vflat, qs):
    """out[j, r]: the interpolation of v at the two order statistics of row r around qs[j] (n - 1)."""
    n = flat.shape[1]
    out = np.zeros((qs.size, flat.shape[0]))
    if n == 0:                    # the quantile of nothing is NaN, and so is its tangent
        out[:] = np.nan
        return out
    for r in range(flat.shape[0]):
        order = np.argsort(flat[r], kind="mergesort")
        for j in range(qs.size):
            pos = qs[j] * (n - 1)
            lo = int(np.floor(pos))
            hi = min(lo + 1, n - 1)
            frac = pos - lo
            out[j, r] = (1.0 - frac) * vflat[r, order[lo]] + frac * vflat[r, order[hi]]
    return out


@njit(cache=True)
def _slope_rows(flat, qs, scale):
    """out[j, r]: the slope in q of row r's quantile qs[j] (as quantile_grad_q has it)."""
    n = flat.shape[1]
    out = np.zeros((qs.size, flat.shape[0]))
    if n == 0:
        out[:] = np.nan
        return out
    for r in range(flat.shape[0]):
        s = np.sort(flat[r])
        for j in range(qs.size):
            pos = qs[j] * (n - 1)
            lo = min(max(int(np.floor(pos)), 0), n - 1)
            hi = min(lo + 1, n - 1)
            out[j, r] = (s[hi] - s[lo]) * (n - 1) / scale
    return out


def _rows(value, name, ndim, axes):
    """Source of `name`: `value` (of a's shape) as (kept, reduced) rows, like _rows_source's `flat`."""
    kept = [k for k in range(ndim) if k not in axes]
    rows = " * ".join(f"a.shape[{k}]" for k in kept) or "1"
    cols = " * ".join(f"a.shape[{k}]" for k in axes) or "1"
    return (f"    {name} = np.ascontiguousarray(({value}).transpose({tuple(kept + list(axes))!r}))"
            f".reshape(({rows}, {cols}))\n")


def _back(y):
    """Source returning `out` (quantiles x rows) in the shape of the result `y`."""
    if is_scalar(y):
        return "out[0, 0]"
    if isinstance(y, types.Array):
        return "np.ascontiguousarray(out).reshape(y.shape)"
    return None


@overload(_rules.quantile_tangent, prefer_literal=True)
def _quantile_tangent(v, a, q, y, axis=None, scale=1.0):
    if not isinstance(a, types.Array) or a.ndim == 0 or _qshape(q) is None:
        return None
    axes, back = _axes(axis, a.ndim), _back(y)
    if axes is None or back is None or not (is_scalar(v) or isinstance(v, types.Array)):
        return None
    pre, _ = _rows_source(a.ndim, axes)
    src = ("def impl(v, a, q, y, axis=None, scale=1.0):\n" + pre + _rows("np.zeros(a.shape) + v", "vflat", a.ndim, axes) +
           "    out = _tangent_rows(flat, vflat, _qflat(q) / scale)\n"
           f"    return {back}\n")
    return compile_source(src, _qflat=_qflat, _tangent_rows=_tangent_rows)


@overload(_rules.quantile_tangent_q, prefer_literal=True)
def _quantile_tangent_q(v, a, q, y, axis=None, scale=1.0):
    if not isinstance(a, types.Array) or a.ndim == 0 or _qshape(q) is None:
        return None
    axes, back = _axes(axis, a.ndim), _back(y)
    if axes is None or back is None or not (is_scalar(v) or isinstance(v, types.Array)):
        return None
    pre, _ = _rows_source(a.ndim, axes)
    src = ("def impl(v, a, q, y, axis=None, scale=1.0):\n" + pre +
           "    qs = _qflat(q) / scale\n"
           "    vq = _qflat(v)\n"
           "    out = _slope_rows(flat, qs, float(scale)) * (np.zeros(qs.size) + vq).reshape((qs.size, 1))\n"
           f"    return {back}\n")
    return compile_source(src, _qflat=_qflat, _slope_rows=_slope_rows)


# ---- the rewrite -------------------------------------------------------------------------------------------
# the parameters after the array, in NumPy's order; `scale` turns a percentile into a quantile
_SIGNATURES = {"median": (("axis", "out", "overwrite_input", "keepdims"), 0.5, 1.0),
               "quantile": (("q", "axis", "out", "overwrite_input", "method", "keepdims"), None, 1.0),
               "percentile": (("q", "axis", "out", "overwrite_input", "method", "keepdims"), None, 100.0)}


def lower_quantiles(tree):
    """`np.median(a, ...)`, `np.quantile(a, q, ...)` and `np.percentile(a, q, ...)` of generated code with any
    argument after q become `quantile_along(a, q, axis, keepdims, scale)`; `np.median(a)` and `np.quantile(a, q)`
    are left to Numba.  `out=None`, `overwrite_input=` (it only allows NumPy to sort `a` in place) and
    `method='linear'` are dropped; any other argument leaves the call as it is (Numba then refuses it)."""
    import gast

    def const(v):
        return gast.Constant(value=v, kind=None)

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if not (isinstance(f, gast.Attribute) and f.attr in _SIGNATURES and isinstance(f.value, gast.Name)
                    and f.value.id == "np" and node.args):
                return node
            names, q, scale = _SIGNATURES[f.attr]
            kw = dict(zip(names, node.args[1:]))
            if len(node.args) - 1 > len(names) or any(k.arg is None or k.arg in kw for k in node.keywords):
                return node
            kw.update((k.arg, k.value) for k in node.keywords)
            if not (set(kw) - {"q"}):
                return node
            out, method = kw.pop("out", const(None)), kw.pop("method", const("linear"))
            kw.pop("overwrite_input", None)
            if not (isinstance(out, gast.Constant) and out.value is None) or \
                    not (isinstance(method, gast.Constant) and method.value == "linear"):
                return node
            if q is None and "q" not in kw:
                return node
            args = [node.args[0], kw.pop("q", None) or const(q), kw.pop("axis", const(None)),
                    kw.pop("keepdims", const(False)), const(scale)]
            if kw:
                return node
            return gast.Call(func=gast.Name(id="quantile_along", ctx=gast.Load(), annotation=None, type_comment=None),
                             args=args, keywords=[])
    return Lower().visit(tree)
