"""Numba versions of joins, splits, transposes and flips the rules use (reverse/rules/shape.py and
manipulation.py): the cotangents of np.concatenate/stack/hstack/vstack/column_stack/dstack/append
(split_like, split_pieces, unappend), of np.transpose (untranspose), np.flip with an axis, and the real
case of np.real/imag/conj/angle/real_if_close.  The pieces of a join are a tuple in the generated code
(the numba lowering turns a list display into one, since Numba's joins take tuples), so each piece's
cotangent is sliced out with its rank known; axes must be constants."""
import numpy as np
from numba import types
from numba.extending import overload

from ..reverse.rules import manipulation as _manip, shape as _shape
from .numba_axes import compile_source, is_none, literal_int

__all__ = ["flip_axes"]


def _tuple_of_arrays(t):
    return isinstance(t, types.BaseTuple) and len(t) > 0 and all(
        isinstance(e, (types.Array, types.Number)) for e in t.types)


def _nd(t):
    return t.ndim if isinstance(t, types.Array) else 0


def _slice(ndim, axis, what):
    """Source of an index of an ndim array: `what` at `axis`, `:` elsewhere."""
    parts = [":"] * ndim
    parts[axis] = what
    return "[" + ", ".join(parts) + ("," if ndim == 1 else "") + "]"


def _back(piece, t, j):
    """Source of `piece` (a part of g) given back the shape of operand j (type t)."""
    if isinstance(t, types.Array):
        if t.ndim == 0:
            return f"np.full((), np.ascontiguousarray({piece}).ravel()[0])"
        return f"np.ascontiguousarray({piece}).reshape(arrays[{j}].shape)"
    return f"np.ascontiguousarray({piece}).ravel()[0]"


def _pieces_source(head, g_ndim, ts, axis, lengths):
    """Cut g (rank g_ndim) along `axis` into consecutive pieces of the given lengths (source expressions),
    each reshaped back to its operand."""
    lines = [head, "    o = 0"]
    outs = []
    for j, (t, n) in enumerate(zip(ts, lengths)):
        lines.append(f"    n{j} = {n}")
        lines.append(f"    p{j} = {_back('g' + _slice(g_ndim, axis, f'o:o + n{j}'), t, j)}")
        lines.append(f"    o += n{j}")
        outs.append(f"p{j}")
    lines.append("    return (" + ", ".join(outs) + ",)")
    return "\n".join(lines) + "\n"


def _flat_source(head, ts):
    lines = [head, "    gf = np.ascontiguousarray(g).ravel()", "    o = 0"]
    outs = []
    for j, t in enumerate(ts):
        size = f"arrays[{j}].size" if isinstance(t, types.Array) else "1"
        lines.append(f"    p{j} = {_back(f'gf[o:o + {size}]', t, j)}")
        lines.append(f"    o += {size}")
        outs.append(f"p{j}")
    lines.append("    return (" + ", ".join(outs) + ",)")
    return "\n".join(lines) + "\n"


def _how(how):
    if is_none(how):
        return "concatenate"
    if isinstance(how, str):
        return how
    if isinstance(how, types.Omitted):
        return how.value
    return how.literal_value if isinstance(how, types.StringLiteral) else None


@overload(_shape.split_like, prefer_literal=True)
def _split_like(g, arrays, axis, how="concatenate"):
    kind = _how(how)
    if not isinstance(g, types.Array) or not _tuple_of_arrays(arrays) or kind is None:
        return None
    ts = list(arrays.types)
    head = "def impl(g, arrays, axis, how='concatenate'):"
    if is_none(axis):
        return compile_source(_flat_source(head, ts))
    ax = literal_int(axis)
    if ax is None:
        return None
    if kind == "stack":
        ax %= g.ndim
        outs = [_back("g" + _slice(g.ndim, ax, str(j)), t, j) for j, t in enumerate(ts)]
        return compile_source(head + "\n    return (" + ", ".join(outs) + ",)\n")
    if kind == "hstack":
        ax = 0 if _nd(ts[0]) <= 1 else 1
        lengths = ["1" if _nd(t) == 0 else f"arrays[{j}].shape[{ax}]" for j, t in enumerate(ts)]
    elif kind == "vstack":
        ax = 0
        lengths = ["1" if _nd(t) <= 1 else f"arrays[{j}].shape[0]" for j, t in enumerate(ts)]
    else:
        ax %= g.ndim
        if any(_nd(t) != g.ndim for t in ts):
            return None
        lengths = [f"arrays[{j}].shape[{ax}]" for j in range(len(ts))]
    return compile_source(_pieces_source(head, g.ndim, ts, ax, lengths))


@overload(_manip.split_pieces)
def _split_pieces(g, arrays, axis, prep):
    """column_stack (axis 1: 0-/1-D pieces are columns) and dstack (axis 2: np.atleast_3d's pieces)."""
    ax = literal_int(axis)
    if not isinstance(g, types.Array) or not _tuple_of_arrays(arrays) or ax not in (1, 2):
        return None
    ts = list(arrays.types)
    if ax == 1:
        lengths = ["1" if _nd(t) < 2 else f"arrays[{j}].shape[1]" for j, t in enumerate(ts)]
    else:             # atleast_3d: () and (n,) -> (1, n, 1), (m, n) -> (m, n, 1)
        lengths = ["1" if _nd(t) < 3 else f"arrays[{j}].shape[2]" for j, t in enumerate(ts)]
    return compile_source(_pieces_source("def impl(g, arrays, axis, prep):", g.ndim, ts, ax, lengths))


@overload(_manip.unappend, prefer_literal=True)
def _unappend(g, arr, axis, which):
    w = literal_int(which)
    if not isinstance(g, types.Array) or w not in (0, 1):
        return None
    if is_none(axis):
        cut = "arr.size" if isinstance(arr, types.Array) else "1"
        part = "gf[:cut]" if w == 0 else "gf[cut:]"
        return compile_source(f"def impl(g, arr, axis, which):\n    gf = np.ascontiguousarray(g).ravel()\n"
                              f"    cut = {cut}\n    return {part}.copy()\n")
    ax = literal_int(axis)
    if ax is None or not isinstance(arr, types.Array):
        return None
    ax %= g.ndim
    part = "g" + _slice(g.ndim, ax, ":cut" if w == 0 else "cut:")
    return compile_source(f"def impl(g, arr, axis, which):\n    cut = arr.shape[{ax}]\n"
                          f"    return np.ascontiguousarray({part})\n")


# ---- transposes and flips -------------------------------------------------------------------------------
def _literal_axes(axes):
    """A tuple of int literals (or a UniTuple of ints, by value only at run time: None)."""
    if isinstance(axes, types.BaseTuple) and all(isinstance(t, types.IntegerLiteral) for t in axes.types):
        return tuple(t.literal_value for t in axes.types)
    return None


@overload(_shape.untranspose, prefer_literal=True)
def _untranspose(g, axes):
    if not isinstance(g, types.Array):
        return None
    if g.ndim < 2:        # nothing to permute (and ascontiguousarray would make a 0-d array 1-d)
        return lambda g, axes: g.copy()
    if is_none(axes):
        return lambda g, axes: np.ascontiguousarray(g.T)
    fixed = _literal_axes(axes)
    if fixed is not None:
        if len(fixed) != g.ndim:
            return None
        inverse = tuple(int(k) for k in np.argsort([k % g.ndim for k in fixed]))
        return lambda g, axes: np.ascontiguousarray(g.transpose(inverse))
    if isinstance(axes, types.UniTuple) and isinstance(axes.dtype, types.Integer) and len(axes) == g.ndim:
        n = g.ndim
        perm = "(" + "".join(f"inv[{k}], " for k in range(n)) + ")"
        return compile_source(f"def impl(g, axes):\n    inv = np.empty({n}, dtype=np.int64)\n"
                              f"    for k in range({n}):\n        inv[axes[k] % {n}] = k\n"
                              f"    return np.ascontiguousarray(g.transpose({perm}))\n")
    return None


def flip_axes(m, axis=None):
    """np.flip(m, axis), what the numba lowering calls it (Numba's np.flip takes no axis)."""
    return np.flip(m, axis)


@overload(flip_axes, prefer_literal=True)
def _flip_axes(m, axis=None):
    if isinstance(m, (types.Number, types.Boolean)) and is_none(axis):    # a 0-d result's cotangent
        return lambda m, axis=None: m
    if not isinstance(m, types.Array):
        return None
    n = m.ndim
    if n == 0:
        return lambda m, axis=None: m.copy()
    if is_none(axis):
        axes = tuple(range(n))
    elif literal_int(axis) is not None:
        axes = (literal_int(axis) % n,)
    elif _literal_axes(axis) is not None:
        axes = tuple(k % n for k in _literal_axes(axis))
    elif isinstance(axis, types.Integer):       # known at run time only: one branch per axis
        lines = ["def impl(m, axis=None):", f"    a = axis % {n}"]
        for k in range(n):
            lines.append(f"    if a == {k}:\n        return np.ascontiguousarray(m{_slice(n, k, '::-1')})")
        lines.append(f"    return np.ascontiguousarray(m{_slice(n, n - 1, '::-1')})")
        return compile_source("\n".join(lines) + "\n")
    else:
        return None
    index = "[" + ", ".join("::-1" if k in axes else ":" for k in range(n)) + ("," if n == 1 else "") + "]"
    return compile_source(f"def impl(m, axis=None):\n    return np.ascontiguousarray(m{index})\n")


# ---- np.real / imag / conj / angle / real_if_close of real operands --------------------------------------
@overload(_manip.real_only)
def _real_only(g, x, name):
    dt = x.dtype if isinstance(x, types.Array) else x
    if isinstance(dt, types.Complex):
        return None          # refused: retrograd differentiates real functions (the python backend says so)
    return lambda g, x, name: g


@overload(np.real_if_close)
def _real_if_close(a, tol=100):
    dt = a.dtype if isinstance(a, types.Array) else a
    if isinstance(dt, (types.Float, types.Integer)):
        return lambda a, tol=100: a
    return None


def lower_joins(tree):
    """A list display passed to a join (np.concatenate/stack/hstack/vstack/column_stack/dstack/append and
    the cotangent helpers) becomes a tuple display: Numba's joins take tuples, and a tuple keeps each
    piece's type.  `np.flip(m, axis)` becomes flip_axes."""
    import gast

    joins = {"concatenate", "stack", "hstack", "vstack", "column_stack", "dstack", "select"}
    helpers = {"split_like": (1,), "split_pieces": (1,), "unselect_all": (1, 2), "unselect": (1, 2),
               "unarray": (1,), "multi_dot_grads": (1,)}

    def name(n):
        return gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None)

    def tuples(node):
        """A list display as a tuple display (nested ones too: np.array's items)."""
        if isinstance(node, (gast.List, gast.Tuple)):
            return gast.Tuple(elts=[tuples(e) for e in node.elts], ctx=gast.Load())
        return node

    def positions_of(f, on_np):
        if on_np and f.attr in joins:
            return (0, 1) if f.attr == "select" else (0,)
        return helpers.get(f.id, ()) if isinstance(f, gast.Name) else ()

    # the adjoint binds a list argument to a name once (`select_1 = [x > 0]`): that list becomes a tuple too
    counts, passed = {}, set()
    for n in gast.walk(tree):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            counts[n.id] = counts.get(n.id, 0) + 1
        if isinstance(n, gast.Call):
            on = isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name) and n.func.value.id == "np"
            passed |= {n.args[k].id for k in positions_of(n.func, on)
                       if len(n.args) > k and isinstance(n.args[k], gast.Name)}
    for n in gast.walk(tree):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) \
                and n.targets[0].id in passed and counts.get(n.targets[0].id) == 1 and isinstance(n.value, gast.List):
            n.value = tuples(n.value)

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            on_np = isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == "np"
            positions = positions_of(f, on_np)
            for k in positions:
                if len(node.args) > k and isinstance(node.args[k], gast.List):
                    node.args[k] = tuples(node.args[k])
            if on_np and f.attr == "select" and len(node.args) >= 2 and all(isinstance(a, gast.Tuple) for a in node.args[:2]) \
                    and all(k.arg == "default" for k in node.keywords):
                node.func, node.args = name("select_value"), node.args + [k.value for k in node.keywords]
                node.keywords = []
                return node
            if f.__class__ is gast.Attribute and f.attr == "squeeze":
                args = ([] if on_np else [f.value]) + list(node.args)
                axis = [k.value for k in node.keywords if k.arg == "axis"]
                if len(args) + len(axis) == 2 and len(node.keywords) == len(axis):
                    node.func, node.args, node.keywords = name("squeeze_axis"), args + axis, []
                return node
            if isinstance(f, gast.Name) and f.id == "sum" and len(node.args) == 1 and not node.keywords:
                node.func = name("builtin_sum")
                return node
            if isinstance(f, gast.Name) and f.id == "split_pieces" and len(node.args) == 4:
                node.args[3] = gast.Constant(value=None, kind=None)     # the NumPy `prep` function: typed by rank here
            if on_np and f.attr in ("vstack", "dstack") and len(node.args) == 1 and not node.keywords \
                    and isinstance(node.args[0], gast.Tuple):
                # Numba's joins need equal ranks: the pieces made 2-D (3-D) first, as NumPy does
                lift = "atleast_2d" if f.attr == "vstack" else "atleast_3d"
                node.args = [gast.Tuple(elts=[gast.Call(func=gast.Attribute(value=f.value, attr=lift, ctx=gast.Load()),
                                                        args=[e], keywords=[]) for e in node.args[0].elts],
                                        ctx=gast.Load()), gast.Constant(value=0 if f.attr == "vstack" else 2, kind=None)]
                f.attr = "concatenate"
                return node
            if on_np and f.attr == "concatenate" and node.args and isinstance(node.args[0], gast.Tuple):
                axis = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "axis"), None)
                if isinstance(axis, gast.Constant) and axis.value is None:       # joins the flattened pieces
                    node.args = [gast.Tuple(elts=[gast.Call(func=gast.Attribute(value=f.value, attr="ravel", ctx=gast.Load()),
                                                            args=[e], keywords=[]) for e in node.args[0].elts],
                                            ctx=gast.Load())]
                    node.keywords = []
                    return node
            if on_np and f.attr == "flip":          # Numba's takes no axis, nor a 0-d array
                node.func = gast.Name(id="flip_axes", ctx=gast.Load(), annotation=None, type_comment=None)
            return node
    return Lower().visit(tree)
