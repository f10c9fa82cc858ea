"""Reductions over axes for the numba backend.

Numba 0.68 compiles `np.sum(x)` and `np.sum(x, axis=k)` but not `keepdims=`, nor `axis=` for mean, max,
min, prod, var, std or ptp.  The numba backend rewrites those calls in the generated code into
`reduce_<op>(x, axis, keepdims)` (every np.ptp: Numba's crashes on a 0-d array); the overloads below
compile them for constant `axis` (an int, a tuple of ints or None) and constant `keepdims`: the reduced axes are moved last, the array is viewed as
(kept, reduced) rows and each row is reduced with Numba's own 1-D reduction.  An integer axis known
only at run time (an argument, or a value the adjoint reads off its tape) becomes a branch over the
array's axes, since the result's rank does not depend on it; a keepdims flag passed in as an argument
is made a literal with `numba.literally`, and the generated function is compiled once per value.  A tuple axis passed as an argument has no implementation, and Numba's
typing error becomes the usual BackendError.
"""
import numpy as np
from numba import literally, types
from numba.core.errors import TypingError
from numba.extending import overload

OPS = ("sum", "mean", "max", "min", "prod", "var", "std", "ptp",
       "nansum", "nanmean", "nanmax", "nanmin", "nanprod", "nanvar", "nanstd")
_SPREAD = ("var", "std", "nanvar", "nanstd")            # reduce_<op>(x, axis, keepdims, ddof)
__all__ = [f"reduce_{op}" for op in OPS]


def _axes(axis, ndim):
    """The reduced axes as a sorted tuple, from a literal numba type, or None if not a constant."""
    if axis is None or isinstance(axis, (types.NoneType, types.Omitted)):
        return tuple(range(ndim))
    if isinstance(axis, types.IntegerLiteral):
        if ndim == 0 and axis.literal_value in (0, -1):
            return ()          # NumPy's sum / max / prod of a 0-d array take axis 0 or -1: nothing reduced
        return (_in_range(axis.literal_value, ndim),)
    if isinstance(axis, types.BaseTuple) and all(isinstance(t, types.IntegerLiteral) for t in axis.types):
        out = tuple(sorted(_in_range(t.literal_value, ndim) for t in axis.types))
        if len(set(out)) < len(out):
            raise TypingError(f"duplicate value in 'axis': {tuple(t.literal_value for t in axis.types)}")
        return out
    return None


def _in_range(axis, ndim):
    """NumPy's AxisError, at compile time (the axis is a constant): never a wrapped axis."""
    if not -ndim <= axis < ndim:
        raise TypingError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


def _keep(keepdims):
    if isinstance(keepdims, (types.Omitted, types.NoneType)) or keepdims is False:
        return False
    if isinstance(keepdims, types.BooleanLiteral):
        return keepdims.literal_value
    return None


def _spread_source(op, ndim, axes, keep):
    """var / std (and their NaN-skipping versions) with a ddof: the squared deviations from the mean, summed
    and divided by (count - ddof), the count of non-NaN entries for nanvar / nanstd."""
    n = " * ".join(f"x.shape[{k}]" for k in axes) or "1"
    if op.startswith("nan"):
        body = (f"    nan = np.isnan(x)\n"
                f"    count = reduce_sum((~nan).astype(np.float64), {axes!r}, True)\n"
                f"    m = reduce_sum(np.where(nan, 0.0, x), {axes!r}, True) / count\n"
                f"    d = np.where(nan, 0.0, x - m)\n"
                f"    v = reduce_sum(d * d, {axes!r}, {keep}) / (reduce_sum((~nan).astype(np.float64), {axes!r}, {keep})"
                f" - ddof)\n")
    elif ndim == 0:
        body = "    d = x - x\n    v = np.sum(d * d) / (1 - ddof)\n" + ("    v = np.asarray(v)\n" if keep else "")
    else:
        body = (f"    m = reduce_mean(x, {axes!r}, True)\n"
                f"    d = x - m\n"
                f"    v = reduce_sum(d * d, {axes!r}, {keep}) / ({n} - ddof)\n")
    return (f"def impl(x, axis=None, keepdims=False, ddof=0):\n{body}"
            f"    return {'np.sqrt(v)' if op.endswith('std') else 'v'}\n")


def _source(op, ndim, axes, keep):
    """The implementation for one (op, ndim, axes, keepdims), as Python source."""
    kept = [k for k in range(ndim) if k not in axes]
    perm = tuple(kept + list(axes))
    rows = " * ".join(f"x.shape[{k}]" for k in kept) or "1"
    cols = " * ".join(f"x.shape[{k}]" for k in axes) or "1"
    if keep:
        shape = "(" + ", ".join("1" if k in axes else f"x.shape[{k}]" for k in range(ndim)) + ",)"
    else:
        shape = "(" + ", ".join(f"x.shape[{k}]" for k in kept) + ",)" if kept else None
    if op in _SPREAD:
        return _spread_source(op, ndim, axes, keep)
    lines = ["def impl(x, axis=None, keepdims=False, ddof=0):"]
    if ndim == 0:                                       # a 0-d array: its one value (a 0-d array with keepdims)
        value = f"np.{op}(np.ascontiguousarray(x).ravel())"
        return "\n".join(lines + [f"    return {f'np.asarray({value})' if keep else value}"]) + "\n"
    lines.append(f"    t = np.ascontiguousarray(x.transpose({perm!r}))" if perm != tuple(range(ndim))
                 else "    t = np.ascontiguousarray(x)")
    if shape is None:                                   # everything reduced: a scalar
        lines.append(f"    return np.{op}(t.ravel())")
        return "\n".join(lines) + "\n"
    lines += [f"    rows = {rows}",
              f"    flat = t.reshape((rows, {cols}))",
              "    out = np.empty(rows, dtype=x.dtype)",
              "    for i in range(rows):",
              f"        out[i] = np.{op}(flat[i])",
              f"    return out.reshape({shape})"]
    return "\n".join(lines) + "\n"


def _runtime_axis_source(op, ndim, keep):
    lines = ["def impl(x, axis=None, keepdims=False, ddof=0):",
             f"    a = axis % {ndim} if axis >= -{ndim} else {ndim}"]
    lines += [f"    if a == {k}:\n        return reduce_{op}(x, {k}, {keep}, ddof)" for k in range(ndim - 1)]
    lines += [f"    if a != {ndim - 1}:\n        raise ValueError('axis out of range')",
              f"    return reduce_{op}(x, {ndim - 1}, {keep}, ddof)"]
    return "\n".join(lines) + "\n"


def _literal_impl(axis, keep):
    if axis and keep:
        def both(x, axis=None, keepdims=False, ddof=0):
            literally(axis)
            literally(keepdims)
        return both
    if axis:
        return lambda x, axis=None, keepdims=False, ddof=0: literally(axis)
    return lambda x, axis=None, keepdims=False, ddof=0: literally(keepdims)


# the reductions whose value over one number is that number (mean's, as a float)
_OF_ONE = {**{op: (lambda x, axis=None, keepdims=False, ddof=0: x) for op in ("sum", "max", "min", "prod")},
           "mean": lambda x, axis=None, keepdims=False, ddof=0: float(x)}


def _make(op):
    def stub(x, axis=None, keepdims=False, ddof=0):
        extra = {"ddof": ddof} if op in _SPREAD else {}
        return getattr(np, op)(x, axis=axis, keepdims=keepdims, **extra)
    stub.__name__ = f"reduce_{op}"

    @overload(stub, prefer_literal=True)
    def _ol(x, axis=None, keepdims=False, ddof=0):
        if op == "ptp" and isinstance(x, (types.Integer, types.Float)) and _keep(keepdims) is False \
                and (axis is None or isinstance(axis, (types.NoneType, types.Omitted))):
            return lambda x, axis=None, keepdims=False, ddof=0: x - x       # np.ptp of a number
        if (isinstance(x, types.Number) and op in _OF_ONE and _keep(keepdims) is not None
                and (axis is None or isinstance(axis, (types.NoneType, types.Omitted)))):
            # a number (an adjoint's scalar cotangent): NumPy gives a number, keepdims or not
            return _OF_ONE[op]
        if not isinstance(x, types.Array):
            return None
        axes, keep = _axes(axis, x.ndim), _keep(keepdims)
        runtime_axis = isinstance(axis, types.Integer) and axes is None
        runtime_keep = isinstance(keepdims, types.Boolean) and keep is None
        if runtime_keep:
            # keepdims passed in as an argument decides the rank of the result: compile a version for its
            # value (Numba re-dispatches the whole generated function with that argument as a literal)
            return _literal_impl(runtime_axis, runtime_keep)
        if runtime_axis:
            # an int axis known only at run time: the result's rank does not depend on it, so branch over
            # the x.ndim possible axes, each compiled with a constant axis
            scope = {f"reduce_{op}": globals()[f"reduce_{op}"]}
            exec(_runtime_axis_source(op, x.ndim, keep), scope)
            return scope["impl"]
        if axes is None or keep is None:
            return None
        scope = {"np": np, **{f"reduce_{o}": globals().get(f"reduce_{o}") for o in OPS}}
        exec(_source(op, x.ndim, axes, keep), scope)
        return scope["impl"]
    return stub


for _op in OPS:
    globals()[f"reduce_{_op}"] = _make(_op)


# the parameters after the array, in NumPy's order (extra positional arguments are these, not dropped)
_POSITIONAL = {**{op: ("axis", "dtype", "out", "keepdims") for op in ("sum", "mean", "prod")},
               **{op: ("axis", "out", "keepdims") for op in ("max", "min", "ptp")},
               **{op: ("axis", "dtype", "out", "ddof", "keepdims") for op in ("var", "std")}}
_POSITIONAL.update({"nan" + op: v for op, v in _POSITIONAL.items() if "nan" + op in OPS})


# np.amax / np.amin are np.max / np.min (Numba has the names, not their axis= or keepdims=)
_ALIASES = {"amax": "max", "amin": "min"}


def _float_dtype(v):
    """`np.float64` (or `np.float32`) written as an attribute: the cast the dtype= keyword asks for."""
    import gast
    return (isinstance(v, gast.Attribute) and isinstance(v.value, gast.Name) and v.value.id == "np"
            and v.attr in ("float64", "float32"))


def lower_reductions(tree):
    """Rewrite `np.<op>(x, axis=..., keepdims=...)` (and `x.<op>(axis=...)`) in generated code into the
    `reduce_<op>` calls above; calls without an axis or keepdims are left to Numba."""
    import gast

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if not (isinstance(f, gast.Attribute) and (f.attr in OPS or f.attr in _ALIASES)):
                return node
            on_np = isinstance(f.value, gast.Name) and f.value.id == "np"
            if (f.attr.startswith("nan") or f.attr in _ALIASES or f.attr == "ptp") and not on_np:
                return node
            op = _ALIASES.get(f.attr, f.attr)
            args = list(node.args) if on_np else [f.value] + list(node.args)
            kw = {k.arg: k.value for k in node.keywords}
            kw.update(zip(_POSITIONAL[op], args[1:]))    # NumPy's positions: np.std(x, 1, None, None, 1)
            kw = {k: v for k, v in kw.items()
                  if not (k in ("dtype", "out") and isinstance(v, gast.Constant) and v.value is None)}
            x = args[0] if args else None
            if "dtype" in kw and _float_dtype(kw["dtype"]) and x is not None:
                # the reduction in that precision: the array cast first (NumPy accumulates in dtype)
                x = gast.Call(func=gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None,
                                                                  type_comment=None), attr="asarray", ctx=gast.Load()),
                              args=[x], keywords=[gast.keyword(arg="dtype", value=kw.pop("dtype"))])
            wanted = {"axis", "keepdims", "ddof"} if op in _SPREAD else {"axis", "keepdims"}
            if not set(kw) <= wanted or x is None:
                return node
            if not (wanted & set(kw)) and x is args[0] and op != "ptp":
                return node                                     # Numba's own reduction of the whole array
            none = gast.Constant(value=None, kind=None)
            extra = [kw["ddof"]] if "ddof" in kw else []
            return gast.Call(func=gast.Name(id=f"reduce_{op}", ctx=gast.Load(), annotation=None,
                                            type_comment=None),
                             args=[x, kw.get("axis", none), kw.get("keepdims", gast.Constant(value=False, kind=None))]
                             + extra, keywords=[])
    return Lower().visit(tree)
