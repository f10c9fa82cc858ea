"""np.trace at any rank, with axis1/axis2 and dtype= (Numba's takes a matrix and an offset only, and has no
method), and its cotangent (reverse/rules/linalg.trace_grad): the diagonal's axes moved last, then a loop
over the other axes, generated for the operand's rank; the axes must be constants, the offset may vary.
`lower_traces` rewrites `np.trace(...)` and `a.trace(...)` into trace_axes."""
import numpy as np
from numba import types
from numba.extending import overload

from ..reverse.rules import linalg as _linalg
from .numba_axes import compile_source, is_none, literal_int
from .numba_manipulation import _idx, _last_two, _loops

__all__ = ["trace_axes"]


def trace_axes(a, offset=0, axis1=0, axis2=1, dtype=None):
    """np.trace(a, offset, axis1, axis2, dtype), what the numba lowering calls it."""
    return np.trace(a, offset, axis1, axis2, dtype)


def _layout(a, axis1, axis2):
    """(permutation putting axis1, axis2 last, number of other axes), or None."""
    if not isinstance(a, types.Array) or a.ndim < 2:
        return None
    ax1, ax2 = literal_int(axis1, 0), literal_int(axis2, 1)
    if ax1 is None or ax2 is None or not (-a.ndim <= ax1 < a.ndim and -a.ndim <= ax2 < a.ndim) \
            or ax1 % a.ndim == ax2 % a.ndim:
        return None
    return _last_two(a.ndim, ax1, ax2), a.ndim - 2


def _lead(n):
    """Source of the first n indices of a subscript, each followed by a comma: `i0, i1, `."""
    return "".join(f"i{k}, " for k in range(n))


_START = ("    r0, c0 = max(-offset, 0), max(offset, 0)\n"
          "    k = max(0, min(v.shape[-2] - r0, v.shape[-1] - c0))\n")


@overload(trace_axes, prefer_literal=True)
def _trace_axes(a, offset=0, axis1=0, axis2=1, dtype=None):
    got = _layout(a, axis1, axis2)
    if got is None:
        return None
    perm, lead = got
    # NumPy sums integers and booleans as int64, or in the dtype asked for
    acc = "a.dtype" if isinstance(a.dtype, (types.Float, types.Complex)) else "np.int64"
    acc = acc if is_none(dtype) else "dtype"
    entry = f"v[{_lead(lead)}i + r0, i + c0]"
    head = f"def impl(a, offset=0, axis1=0, axis2=1, dtype=None):\n    v = a.transpose({perm!r})\n" + _START
    if lead == 0:
        src = head + f"    s = np.zeros(1, dtype={acc})\n    for i in range(k):\n        s[0] += {entry}\n    return s[0]\n"
    else:
        src = (head + f"    out = np.zeros(v.shape[:-2], dtype={acc})\n"
               + _loops(lead, "out.shape", f"for i in range(k):\n" + "    " * (lead + 2)
                        + f"out[{_idx(lead)}] += {entry}") + "\n    return out\n")
    return compile_source(src)


@overload(_linalg.trace_grad, prefer_literal=True)
def _trace_grad(g, a, offset=0, axis1=0, axis2=1):
    """g (the trace's cotangent, shaped like the trace) on that diagonal of zeros shaped like a."""
    got = _layout(a, axis1, axis2)
    if got is None:
        return None
    perm, lead = got
    if lead == 0:
        value = "g[()]" if isinstance(g, types.Array) else "g"
        target = "v[i + r0, i + c0]"
    else:
        if not isinstance(g, types.Array) or g.ndim != lead:
            return None
        value, target = f"g[{_idx(lead)}]", f"v[{_lead(lead)}i + r0, i + c0]"
    src = (f"def impl(g, a, offset=0, axis1=0, axis2=1):\n    out = np.zeros(a.shape)\n"
           f"    v = out.transpose({perm!r})\n" + _START
           + (f"    for i in range(k):\n        {target} = {value}\n" if lead == 0 else
              _loops(lead, "g.shape", "for i in range(k):\n" + "    " * (lead + 2) + f"{target} = {value}") + "\n")
           + "    return out\n")
    return compile_source(src)


def lower_traces(tree):
    """`np.trace(a, ...)` and the method `a.trace(...)` become trace_axes (every form: Numba's own takes a
    matrix and an offset only)."""
    import gast

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if not (isinstance(f, gast.Attribute) and f.attr == "trace"):
                return node
            on_np = isinstance(f.value, gast.Name) and f.value.id == "np"
            if isinstance(f.value, gast.Attribute) and f.value.attr == "linalg":    # np.linalg.trace: not ours
                return node
            node.args = list(node.args) if on_np else [f.value] + list(node.args)
            node.func = gast.Name(id="trace_axes", ctx=gast.Load(), annotation=None, type_comment=None)
            return node
    return Lower().visit(tree)
