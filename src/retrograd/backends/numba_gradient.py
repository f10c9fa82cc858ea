"""np.gradient for the numba backend (Numba's NumPy has none): a scalar spacing or 1-D coordinates (NumPy's
non-uniform stencil), along one axis (a 1-D
array, or a constant int axis), edge_order 1 or 2, and its cotangent (reverse/rules/statistics.ungradient),
the stencil's transpose.  `lower_statistics` also drops the `None` axis of np.flip / np.cumsum that
nancumsum's adjoint passes over a flattened array.  (Imported by numba_runtime: imports none of it.)"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ..reverse.rules import statistics as _rules
from .numba_axes import compile_source, is_none, is_scalar


def _rows_source(ndim, axes, keep_dtype=False):
    """(source of `t`, the array with the reduced axes last, as (rows, n) `flat`; the inverse perm).  `flat` is
    float64 unless keep_dtype (a sort or an argsort: int64 above 2**53 must keep its order, float32 its type)."""
    kept = [k for k in range(ndim) if k not in axes]
    perm = tuple(kept + list(axes))
    rows = " * ".join(f"a.shape[{k}]" for k in kept) or "1"
    cols = " * ".join(f"a.shape[{k}]" for k in axes) or "1"
    inv = tuple(int(i) for i in np.argsort(perm))
    value = "a" if keep_dtype else "np.asarray(a, dtype=np.float64)"
    src = (f"    t = np.ascontiguousarray({value}.transpose({perm!r}))\n"
           f"    flat = t.reshape(({rows}, {cols}))\n")
    return src, inv



__all__ = ["gradient_along"]


def gradient_along(f, varargs=1.0, axis=None, edge_order=1):
    return np.gradient(f, varargs, axis=axis, edge_order=edge_order)


def _one_axis(f, axis):
    """The one axis np.gradient differentiates along (a 1-D array, or a constant int axis), or None."""
    if not isinstance(f, types.Array) or f.ndim == 0:
        return None
    if is_none(axis):
        return 0 if f.ndim == 1 else None
    if isinstance(axis, types.IntegerLiteral):
        return axis.literal_value % f.ndim
    if isinstance(axis, types.BaseTuple) and len(axis) == 1 and isinstance(axis.types[0], types.IntegerLiteral):
        return axis.types[0].literal_value % f.ndim
    return None


@njit(cache=True)
def _gradient_rows(m, h, edge):
    n = m.shape[1]
    if n < edge + 1:
        raise ValueError("Shape of array too small to calculate a numerical gradient, at least (edge_order + 1) "
                         "elements are required.")
    out = np.empty(m.shape)
    for r in range(m.shape[0]):
        for i in range(1, n - 1):
            out[r, i] = (m[r, i + 1] - m[r, i - 1]) / (2.0 * h)
        if edge == 1:
            out[r, 0] = (m[r, 1] - m[r, 0]) / h
            out[r, n - 1] = (m[r, n - 1] - m[r, n - 2]) / h
        else:
            out[r, 0] = (-1.5 * m[r, 0] + 2.0 * m[r, 1] - 0.5 * m[r, 2]) / h
            out[r, n - 1] = (1.5 * m[r, n - 1] - 2.0 * m[r, n - 2] + 0.5 * m[r, n - 3]) / h
    return out


@njit(cache=True)
def _ungradient_rows(g, h, edge):
    """The transpose of _gradient_rows."""
    n = g.shape[1]
    out = np.zeros(g.shape)
    for r in range(g.shape[0]):
        for i in range(1, n - 1):
            out[r, i + 1] += g[r, i] / (2.0 * h)
            out[r, i - 1] -= g[r, i] / (2.0 * h)
        if edge == 1:
            out[r, 1] += g[r, 0] / h
            out[r, 0] -= g[r, 0] / h
            out[r, n - 1] += g[r, n - 1] / h
            out[r, n - 2] -= g[r, n - 1] / h
        else:
            out[r, 0] += -1.5 * g[r, 0] / h
            out[r, 1] += 2.0 * g[r, 0] / h
            out[r, 2] += -0.5 * g[r, 0] / h
            out[r, n - 1] += 1.5 * g[r, n - 1] / h
            out[r, n - 2] += -2.0 * g[r, n - 1] / h
            out[r, n - 3] += 0.5 * g[r, n - 1] / h
    return out


@njit(cache=True)
def _stencil(x, n, edge):
    """NumPy's stencil of np.gradient over coordinates x (n of them): for each position i, the first
    index it reads and its weights on three neighbours (second-order inside, first- or second-order
    one-sided at the ends)."""
    if x.size != n:
        raise ValueError("when 1d, distances must match the length of the corresponding dimension")
    if n < edge + 1:
        raise ValueError("Shape of array too small to calculate a numerical gradient, at least (edge_order + 1) "
                         "elements are required.")
    start = np.empty(n, dtype=np.int64)
    w = np.zeros((n, 3))
    for i in range(1, n - 1):
        hl, hr = x[i] - x[i - 1], x[i + 1] - x[i]
        start[i] = i - 1
        w[i, 0] = -hr / (hl * (hl + hr))
        w[i, 1] = (hr - hl) / (hl * hr)
        w[i, 2] = hl / (hr * (hl + hr))
    if edge == 1:
        start[0], start[n - 1] = 0, n - 2
        w[0, 0], w[0, 1] = -1.0 / (x[1] - x[0]), 1.0 / (x[1] - x[0])
        w[n - 1, 0], w[n - 1, 1] = -1.0 / (x[n - 1] - x[n - 2]), 1.0 / (x[n - 1] - x[n - 2])
    else:
        d1, d2 = x[1] - x[0], x[2] - x[1]
        start[0] = 0
        w[0, 0] = -(2.0 * d1 + d2) / (d1 * (d1 + d2))
        w[0, 1] = (d1 + d2) / (d1 * d2)
        w[0, 2] = -d1 / (d2 * (d1 + d2))
        d1, d2 = x[n - 2] - x[n - 3], x[n - 1] - x[n - 2]
        start[n - 1] = n - 3
        w[n - 1, 0] = d2 / (d1 * (d1 + d2))
        w[n - 1, 1] = -(d2 + d1) / (d1 * d2)
        w[n - 1, 2] = (2.0 * d2 + d1) / (d2 * (d1 + d2))
    return start, w


@njit(cache=True)
def _gradient_coords_rows(m, x, edge):
    xf = x.astype(np.float64)
    start, w = _stencil(xf, m.shape[1], edge)
    n = m.shape[1]
    out = np.empty(m.shape)
    for r in range(m.shape[0]):
        for i in range(n):
            if edge == 1 and i == 0:          # NumPy's one-sided first differences, as it writes them
                out[r, i] = (m[r, 1] - m[r, 0]) / (xf[1] - xf[0])
            elif edge == 1 and i == n - 1:
                out[r, i] = (m[r, n - 1] - m[r, n - 2]) / (xf[n - 1] - xf[n - 2])
            else:
                s = start[i]
                out[r, i] = w[i, 0] * m[r, s] + w[i, 1] * m[r, s + 1] + w[i, 2] * m[r, s + 2]
    return out


@njit(cache=True)
def _ungradient_coords_rows(g, x, edge):
    """The transpose of _gradient_coords_rows (the first-order ends read two entries, not three)."""
    start, w = _stencil(x.astype(np.float64), g.shape[1], edge)
    n = g.shape[1]
    out = np.zeros(g.shape)
    for r in range(g.shape[0]):
        for i in range(n):
            terms = 2 if edge == 1 and (i == 0 or i == n - 1) else 3
            for j in range(terms):
                out[r, start[i] + j] += w[i, j] * g[r, i]
    return out


def _gradient_source(params, ndim, ax, kernel):
    """The stencil (or its transpose) along `ax` of `a`, the first parameter."""
    pre, inv = _rows_source(ndim, (ax,))
    return compile_source(f"def impl({params}, varargs=1.0, axis=None, edge_order=1):\n    a = {params.split(',')[0]}\n" + pre +
                          f"    out = {kernel}(flat, {'varargs' if 'coords' in kernel else 'float(varargs)'}, edge_order)\n"
                          f"    return np.ascontiguousarray(out.reshape(t.shape).transpose({inv!r}))\n",
                          **{kernel: globals()[kernel]})


def _spacing(h):
    return isinstance(h, (int, float)) or is_scalar(h) or (isinstance(h, types.Omitted) and isinstance(h.value, (int, float)))


def _coordinates(h):
    """A 1-D array of coordinates (NumPy's non-uniform spacing), one axis only."""
    return isinstance(h, types.Array) and h.ndim == 1


def _every_axis(f, axis):
    """np.gradient of an array of rank >= 2 without an axis: a tuple, one gradient per axis."""
    return isinstance(f, types.Array) and f.ndim >= 2 and is_none(axis)


@overload(gradient_along, prefer_literal=True)
def _gradient_along(f, varargs=1.0, axis=None, edge_order=1):
    if _every_axis(f, axis) and _spacing(varargs):
        parts = "".join(f"gradient_along(f, varargs, {k}, edge_order), " for k in range(f.ndim))
        return compile_source(f"def impl(f, varargs=1.0, axis=None, edge_order=1):\n    return ({parts})\n",
                              gradient_along=gradient_along)
    ax = _one_axis(f, axis)
    if ax is None or not (_spacing(varargs) or _coordinates(varargs)):
        return None
    return _gradient_source("f", f.ndim, ax, "_gradient_coords_rows" if _coordinates(varargs) else "_gradient_rows")


@overload(_rules.ungradient, prefer_literal=True)
def _ungradient(g, f, varargs=1.0, axis=None, edge_order=1):
    if _every_axis(f, axis) and _spacing(varargs) and isinstance(g, types.BaseTuple) and len(g) == f.ndim:
        parts = " + ".join(f"ungradient(g[{k}], f, varargs, {k}, edge_order)" for k in range(f.ndim))
        return compile_source(f"def impl(g, f, varargs=1.0, axis=None, edge_order=1):\n    return {parts}\n",
                              ungradient=_rules.ungradient)
    ax = _one_axis(f, axis)
    if ax is None or not (_spacing(varargs) or _coordinates(varargs)) or not isinstance(g, types.Array):
        return None
    return _gradient_source("g, f", f.ndim, ax, "_ungradient_coords_rows" if _coordinates(varargs) else "_ungradient_rows")


@overload(_rules.gradient_tangent, prefer_literal=True)
def _gradient_tangent(v, varargs=1.0, axis=None, edge_order=1):
    """np.gradient is linear: the tangent is np.gradient of the tangent (a scalar spacing)."""
    if not isinstance(v, types.Array) or not (_spacing(varargs) or _coordinates(varargs)):
        return None
    return lambda v, varargs=1.0, axis=None, edge_order=1: gradient_along(v, varargs, axis, edge_order)


def lower_statistics(tree):
    """`np.gradient(f, h, axis=, edge_order=)` of generated code becomes `gradient_along(...)` (one axis, a
    scalar spacing); `np.flip(x, None)` / `np.cumsum(x, None)` (nancumsum's adjoint over the flattened
    array) drop the None, which Numba's versions do not take, and the flip it reshapes is made contiguous."""
    import gast

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if not (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == "np"):
                return node
            if f.attr == "gradient" and len(node.args) <= 2:
                node.func = gast.Name(id="gradient_along", ctx=gast.Load(), annotation=None, type_comment=None)
            elif (f.attr == "reshape" and node.args and isinstance(node.args[0], gast.Call)
                  and isinstance(node.args[0].func, gast.Attribute) and node.args[0].func.attr == "flip"):
                node.args[0] = gast.Call(func=gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None,
                                                                             type_comment=None),
                                                             attr="ascontiguousarray", ctx=gast.Load()),
                                         args=[node.args[0]], keywords=[])      # Numba reshapes contiguous arrays only
            elif (f.attr in ("flip", "cumsum") and len(node.args) == 2 and not node.keywords
                  and isinstance(node.args[1], gast.Constant) and node.args[1].value is None):
                node.args = node.args[:1]
            return node
    return Lower().visit(tree)
