"""Rearrangements Numba's NumPy lacks a form of: np.repeat with an axis or a list of counts (Numba's takes
neither), np.rot90 with axes= (Numba's rotates axes 0 and 1 only), and the method spellings `x.repeat`,
`x.swapaxes` (Numba has the functions only), np.atleast_<n>d and np.hstack of a scalar.  `lower_layout_calls` rewrites those calls; axes must be
constants, counts and k may vary at run time."""
import numpy as np
from numba import types
from numba.extending import overload

from .numba_axes import compile_source, is_none, literal_int
from .numba_manipulation import _counts, _from_rows, _to_rows

__all__ = ["repeat_axis", "reshape_like", "rot90_axes"]


def repeat_axis(a, repeats, axis=None):
    """np.repeat(a, repeats, axis), what the numba lowering calls it."""
    return np.repeat(a, repeats, axis)


@overload(repeat_axis, prefer_literal=True)
def _repeat_axis(a, repeats, axis=None):
    if isinstance(a, (types.Number, types.Boolean)):
        return lambda a, repeats, axis=None: repeat_axis(np.full((), a), repeats, axis)
    if not isinstance(a, types.Array):
        return None
    if is_none(axis):
        def flat(a, repeats, axis=None):
            v = np.ascontiguousarray(a).ravel()
            r = _counts(repeats, v.size)
            out = np.empty(r.sum(), dtype=a.dtype)
            o = 0
            for k in range(v.size):
                for _ in range(r[k]):
                    out[o] = v[k]
                    o += 1
            return out
        return flat
    ax = literal_int(axis)
    if ax is None or a.ndim == 0 or not -a.ndim <= ax < a.ndim:
        return None

    def along(a, repeats, axis=None):
        rows, shape = _to_rows(a, axis)
        r = _counts(repeats, rows.shape[1])
        out = np.empty((rows.shape[0], r.sum()), dtype=a.dtype)
        o = 0
        for k in range(rows.shape[1]):
            for _ in range(r[k]):
                out[:, o] = rows[:, k]
                o += 1
        return _from_rows(out, shape[:-1] + (out.shape[1],), axis)
    return along


def rot90_axes(m, k=1, axes=(0, 1)):
    """np.rot90(m, k, axes), what the numba lowering calls it."""
    return np.rot90(m, k, axes)


def _pair(axes, ndim):
    if isinstance(axes, types.Omitted):
        axes = axes.value
    if isinstance(axes, tuple):
        vals = axes
    elif isinstance(axes, types.BaseTuple) and all(isinstance(t, types.IntegerLiteral) for t in axes.types):
        vals = tuple(t.literal_value for t in axes.types)
    else:
        return None
    if len(vals) != 2 or not all(-ndim <= v < ndim for v in vals) or vals[0] % ndim == vals[1] % ndim:
        return None
    return vals[0] % ndim, vals[1] % ndim


@overload(rot90_axes, prefer_literal=True)
def _rot90_axes(m, k=1, axes=(0, 1)):
    if not isinstance(m, types.Array) or m.ndim < 2:
        return None
    got = _pair(axes, m.ndim)
    if got is None or not (isinstance(k, (types.Integer, types.Omitted)) or isinstance(k, int)):
        return None
    a0, a1 = got
    n = m.ndim
    perm = list(range(n))
    perm[a0], perm[a1] = perm[a1], perm[a0]

    def flipped(*axs):
        return "[" + ", ".join("::-1" if d in axs else ":" for d in range(n)) + "]"
    # NumPy's own steps (k % 4 quarter turns from axes[0] towards axes[1]); each branch a C-ordered copy
    src = ("def impl(m, k=1, axes=(0, 1)):\n    q = k % 4\n"
           "    if q == 0:\n        return m.copy()\n"
           f"    if q == 2:\n        return np.ascontiguousarray(m{flipped(a0, a1)})\n"
           f"    if q == 1:\n        return np.ascontiguousarray(m{flipped(a1)}.transpose({tuple(perm)!r}))\n"
           f"    return np.ascontiguousarray(m.transpose({tuple(perm)!r}){flipped(a1)})\n")
    return compile_source(src)


def _atleast(rank):
    """np.atleast_<rank>d of a scalar (Numba's takes arrays only): a one-entry array of that rank."""
    def ol(*arys):
        if len(arys) == 1 and isinstance(arys[0], (types.Number, types.Boolean)):
            ones = (1,) * rank
            return lambda *arys: np.full(ones, arys[0])
        return None
    return ol


for _rank, _fn in ((1, np.atleast_1d), (2, np.atleast_2d), (3, np.atleast_3d)):
    overload(_fn)(_atleast(_rank))


def reshape_like(v, w):
    """np.reshape(v, np.shape(w)) (a cotangent given its argument's shape), what the numba lowering calls it."""
    return np.reshape(v, np.shape(w))


@overload(reshape_like)
def _reshape_like(v, w):
    if isinstance(w, (types.Number, types.Boolean)):     # the cotangent of a scalar is a scalar, not a 0-d array
        if isinstance(v, types.Array):
            return lambda v, w: np.ascontiguousarray(v).ravel()[0]
        return lambda v, w: v
    if isinstance(w, types.Array):
        return lambda v, w: np.reshape(v, w.shape)
    return None


def lower_layout_calls(tree):
    """`np.repeat` / `x.repeat` with an axis (None too) or a list of counts become repeat_axis, `np.rot90`
    with axes (or k by keyword) rot90_axes, the method `x.swapaxes(a, b)` np.swapaxes(x, a, b), and each piece
    of `np.hstack([...])` np.atleast_1d(piece); `np.reshape(v, np.shape(w))` is reshape_like(v, w)."""
    import gast

    def _is_np_call(node, attr):
        f = getattr(node, "func", None)
        return isinstance(node, gast.Call) and isinstance(f, gast.Attribute) and f.attr == attr \
            and isinstance(f.value, gast.Name) and f.value.id == "np"

    def name(n):
        return gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None)

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if _is_np_call(node, "reshape") and len(node.args) == 2 and not node.keywords \
                    and _is_np_call(node.args[1], "shape") and len(node.args[1].args) == 1:
                node.func, node.args = name("reshape_like"), [node.args[0], node.args[1].args[0]]
                return node
            if not isinstance(f, gast.Attribute) or f.attr not in ("repeat", "rot90", "swapaxes", "hstack"):
                return node
            on_np = isinstance(f.value, gast.Name) and f.value.id == "np"
            if f.attr == "hstack":
                # NumPy makes each piece 1-D first; Numba's joins need arrays of one rank (a 0-d piece failed)
                pieces = node.args[0] if on_np and len(node.args) == 1 else None
                if isinstance(pieces, (gast.List, gast.Tuple)):
                    pieces.elts = [gast.Call(func=gast.Attribute(value=name("np"), attr="atleast_1d", ctx=gast.Load()),
                                             args=[e], keywords=[]) for e in pieces.elts]
                return node
            if isinstance(f.value, gast.Name) and f.value.id in ("math", "itertools"):
                return node
            args = list(node.args) if on_np else [f.value] + list(node.args)
            if f.attr == "swapaxes":
                if not on_np:
                    node.func, node.args = gast.Attribute(value=name("np"), attr="swapaxes", ctx=gast.Load()), args
                return node
            if f.attr == "rot90":
                if on_np and (len(args) > 2 or node.keywords):
                    node.func = name("rot90_axes")
                return node
            listed = len(args) > 1 and isinstance(args[1], (gast.List, gast.Tuple))
            if len(args) > 2 or node.keywords or listed or not on_np:
                node.func, node.args = name("repeat_axis"), args
            return node
    return Lower().visit(tree)
