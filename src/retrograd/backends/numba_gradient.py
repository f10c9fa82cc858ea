"""np.gradient for the numba backend (Numba's NumPy has none): a scalar spacing, along one axis (a 1-D
array, or a constant int axis), edge_order 1 or 2, and its cotangent (reverse/rules/statistics.ungradient),
the stencil's transpose.  `lower_statistics` also drops the `None` axis of np.flip / np.cumsum that
nancumsum's adjoint passes over a flattened array.  (Imported by numba_runtime: imports none of it.)"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ..reverse.rules import statistics as _rules
from .numba_axes import compile_source, is_none, is_scalar


def _rows_source(ndim, axes):
    """(source of `t`, the array with the reduced axes last, as (rows, n) `flat`; the inverse perm)."""
    kept = [k for k in range(ndim) if k not in axes]
    perm = tuple(kept + list(axes))
    rows = " * ".join(f"a.shape[{k}]" for k in kept) or "1"
    cols = " * ".join(f"a.shape[{k}]" for k in axes) or "1"
    inv = tuple(int(i) for i in np.argsort(perm))
    src = (f"    t = np.ascontiguousarray(np.asarray(a, dtype=np.float64).transpose({perm!r}))\n"
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


def _gradient_source(params, ndim, ax, kernel):
    """The stencil (or its transpose) along `ax` of `a`, the first parameter."""
    pre, inv = _rows_source(ndim, (ax,))
    return compile_source(f"def impl({params}, varargs=1.0, axis=None, edge_order=1):\n    a = {params.split(',')[0]}\n" + pre +
                          f"    out = {kernel}(flat, float(varargs), edge_order)\n"
                          f"    return np.ascontiguousarray(out.reshape(t.shape).transpose({inv!r}))\n",
                          **{kernel: globals()[kernel]})


def _spacing(h):
    return isinstance(h, (int, float)) or is_scalar(h) or (isinstance(h, types.Omitted) and isinstance(h.value, (int, float)))


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
    if ax is None or not _spacing(varargs):
        return None
    return _gradient_source("f", f.ndim, ax, "_gradient_rows")


@overload(_rules.ungradient, prefer_literal=True)
def _ungradient(g, f, varargs=1.0, axis=None, edge_order=1):
    if _every_axis(f, axis) and _spacing(varargs) and isinstance(g, types.BaseTuple) and len(g) == f.ndim:
        parts = " + ".join(f"ungradient(g[{k}], f, varargs, {k}, edge_order)" for k in range(f.ndim))
        return compile_source(f"def impl(g, f, varargs=1.0, axis=None, edge_order=1):\n    return {parts}\n",
                              ungradient=_rules.ungradient)
    ax = _one_axis(f, axis)
    if ax is None or not _spacing(varargs) or not isinstance(g, types.Array):
        return None
    return _gradient_source("g, f", f.ndim, ax, "_ungradient_rows")


@overload(_rules.gradient_tangent, prefer_literal=True)
def _gradient_tangent(v, varargs=1.0, axis=None, edge_order=1):
    """np.gradient is linear: the tangent is np.gradient of the tangent (a scalar spacing)."""
    if not isinstance(v, types.Array) or not _spacing(varargs):
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
