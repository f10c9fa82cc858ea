"""np.average over axes for the numba backend, and its tangent.

Numba 0.68 compiles `np.average(a)` and `np.average(a, weights=w)` of a whole array only.  `lower_average`
rewrites the calls of generated code with an axis or keepdims into `average_along(a, axis, weights,
keepdims)`: sum(w a) / sum(w) over the (constant) axes, a 1-D `weights` laid along `axis` as NumPy does.
reverse/rules/statistics.average_tangent is lowered the same way.  (Imported by numba_runtime: imports
none of it.)"""
import numpy as np
from numba import types
from numba.extending import overload

from ..reverse.rules import statistics as _rules
from .numba_axes import compile_source, is_none, literal_int
from .numba_reductions import _axes, _keep, reduce_sum

__all__ = ["average_along"]


def average_along(a, axis=None, weights=None, keepdims=False):
    return np.average(a, axis=axis, weights=weights, keepdims=keepdims)


def _weights(a, axis, weights):
    """Source of `wf`, the weights as an array of a's shape, or None where NumPy's rule is not met here."""
    if is_none(weights):
        return "    wf = np.ones(a.shape)\n"
    if not isinstance(weights, types.Array):
        return None
    if weights.ndim == 1 and a.ndim > 1:           # laid along the one axis (NumPy requires it to be given)
        ax = literal_int(axis)
        if ax is None:
            return None
        ax %= a.ndim
        shape = "(" + "".join(("weights.shape[0]" if k == ax else "1") + ", " for k in range(a.ndim)) + ")"
        return f"    wf = np.zeros(a.shape) + np.ascontiguousarray(weights).astype(np.float64).reshape({shape})\n"
    if weights.ndim != a.ndim:
        return None
    return "    wf = np.zeros(a.shape) + weights\n"


@overload(average_along, prefer_literal=True)
def _average_along(a, axis=None, weights=None, keepdims=False):
    if not isinstance(a, types.Array) or a.ndim == 0:
        return None
    axes, keep, wf = _axes(axis, a.ndim), _keep(keepdims), _weights(a, axis, weights)
    if axes is None or keep is None or wf is None:
        return None
    src = ("def impl(a, axis=None, weights=None, keepdims=False):\n" + wf +
           f"    return reduce_sum(wf * a, {axes!r}, {keep}) / reduce_sum(wf, {axes!r}, {keep})\n")
    return compile_source(src, reduce_sum=reduce_sum)


@overload(_rules.average_tangent, prefer_literal=True)
def _average_tangent(v, a, y, axis, weights, keepdims, which):
    if isinstance(a, types.Array) and a.ndim == 0:
        return _average_tangent_0d(v, y, weights, axis, keepdims, which)
    if not isinstance(a, types.Array):
        return None
    axes, keep, w, wf = _axes(axis, a.ndim), _keep(keepdims), literal_int(which), _weights(a, axis, weights)
    if axes is None or keep is None or w is None or wf is None:
        return None
    head = "def impl(v, a, y, axis, weights, keepdims, which):\n" + wf
    total = f"reduce_sum(wf, {axes!r}, {keep})"
    if w == 0:
        return compile_source(head + f"    return reduce_sum(wf * v, {axes!r}, {keep}) / {total}\n",
                              reduce_sum=reduce_sum)
    if is_none(weights):
        return None
    vf = _weights(a, axis, v).replace("wf =", "vf =").replace("weights", "v")
    yk = "y" if keep else f"np.ascontiguousarray(np.asarray(y)).reshape({_kept(a.ndim, axes)})"
    return compile_source(head + vf + f"    return reduce_sum(vf * (a - {yk}), {axes!r}, {keep}) / {total}\n",
                          reduce_sum=reduce_sum)


def _value(name, t):
    """Source of the number `t` holds (a 0-d array's one entry), or None for anything else."""
    if isinstance(t, types.Array) and t.ndim == 0:
        return f"{name}[()]"
    return name if isinstance(t, (types.Float, types.Integer)) else None


def _average_tangent_0d(v, y, weights, axis, keepdims, which):
    """A 0-d `a` (no axis, no keepdims: the primal's numba lowering has none either): the python helper's
    sum(w v) / sum(w), or sum(v (a - y)) / sum(w), of single entries, a number as NumPy's is."""
    w, vv, yy = ("1.0" if is_none(weights) else _value("weights", weights)), _value("v", v), _value("y", y)
    if not is_none(axis) or _keep(keepdims) is not False or None in (w, vv, yy) or literal_int(which) not in (0, 1):
        return None
    if literal_int(which) == 0:
        body = f"({w} * {vv}) / {w}"
    elif is_none(weights):
        return None
    else:
        body = f"({vv} * (a[()] - {yy})) / {w}"
    return compile_source(f"def impl(v, a, y, axis, weights, keepdims, which):\n    return {body}\n")


def _kept(ndim, axes):
    return "(" + "".join(("1" if k in axes else f"a.shape[{k}]") + ", " for k in range(ndim)) + ")"


# the parameters after the array, in NumPy's order
_PARAMS = ("axis", "weights", "returned", "keepdims")


def lower_average(tree):
    """`np.average(a, axis=, weights=, keepdims=)` of generated code with an axis or keepdims becomes
    `average_along(a, axis, weights, keepdims)`; `returned=True` leaves it as it is (the rule refuses it)."""
    import gast

    def const(v):
        return gast.Constant(value=v, kind=None)

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if not (isinstance(f, gast.Attribute) and f.attr == "average" and isinstance(f.value, gast.Name)
                    and f.value.id == "np" and node.args) or len(node.args) > 1 + len(_PARAMS):
                return node
            kw = dict(zip(_PARAMS, node.args[1:]))
            if any(k.arg is None or k.arg in kw or k.arg not in _PARAMS for k in node.keywords):
                return node
            kw.update((k.arg, k.value) for k in node.keywords)
            returned = kw.pop("returned", const(False))
            if not (isinstance(returned, gast.Constant) and returned.value is False):
                return node
            if not ({"axis", "keepdims"} & set(kw)):
                return node
            args = [node.args[0], kw.get("axis", const(None)), kw.get("weights", const(None)),
                    kw.get("keepdims", const(False))]
            return gast.Call(func=gast.Name(id="average_along", ctx=gast.Load(), annotation=None, type_comment=None),
                             args=args, keywords=[])
    return Lower().visit(tree)
