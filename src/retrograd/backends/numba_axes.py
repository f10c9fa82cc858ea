"""Axis plumbing shared by the numba overloads of the rule helpers: a reduced value spread back over the
axes it was reduced over (`spread`, the general case of `unreduce`), for constant axes (an int, a tuple
of ints or None, known when the function is compiled) and constant keepdims, at any rank."""
import numpy as np
from numba import types
from numba.extending import overload

from .numba_reductions import _axes, _keep


def is_none(t):
    return t is None or isinstance(t, (types.NoneType, types.Omitted))


def is_scalar(t):
    return isinstance(t, (types.Number, types.Boolean))


def literal_int(t, default=None):
    """The value of an int literal type (or `default` for an omitted/None argument); None otherwise."""
    if is_none(t):
        return default
    if isinstance(t, int) and not isinstance(t, bool):
        return t
    if isinstance(t, types.IntegerLiteral):
        return t.literal_value
    if isinstance(t, types.Omitted) and isinstance(t.value, int):
        return t.value
    return None


def compile_source(src, name="impl", **scope):
    ns = {"np": np, **scope}
    exec(src, ns)
    return ns[name]


def kept_shape(ndim, axes):
    """Source of the keepdims shape of `x` reduced over `axes`."""
    return "(" + "".join(("1" if k in axes else f"x.shape[{k}]") + ", " for k in range(ndim)) + ")"


def spread(g, x, axis=None, keepdims=False):
    """`g`, the result (or cotangent) of a reduction of `x` over `axis`, broadcast back to x's shape."""
    from .. import runtime
    return runtime.unreduce(g, x, axis, keepdims)


@overload(spread, prefer_literal=True)
def _spread(g, x, axis=None, keepdims=False):
    if not isinstance(x, types.Array):
        return None
    axes, keep = _axes(axis, x.ndim), _keep(keepdims)
    if axes is None or keep is None:
        return None
    if is_scalar(g):
        return lambda g, x, axis=None, keepdims=False: np.full(x.shape, g)
    if not isinstance(g, types.Array):
        return None
    if g.ndim == 0:
        return lambda g, x, axis=None, keepdims=False: np.full(x.shape, g[()])
    if x.ndim == 0:
        return None
    body = "gk = g" if keep else f"gk = np.ascontiguousarray(g).reshape({kept_shape(x.ndim, axes)})"
    return compile_source(f"def impl(g, x, axis=None, keepdims=False):\n    {body}\n"
                          "    return np.zeros(x.shape) + gk\n")
