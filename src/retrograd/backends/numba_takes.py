"""np.take with an axis or a mode, which Numba's np.take lacks (it takes no mode, and along an axis only a
1-D index: a 2-D one failed at run time with a raw ValueError).  `lower_takes` rewrites those calls into
take_modes, whose source is generated for the operand's rank and the index's (known when the function
is compiled); the axis must be a constant, the mode a literal string."""
import numpy as np
from numba import njit, types
from numba.extending import overload

from .numba_axes import compile_source, is_none, literal_int
from .numba_manipulation import _index_array, _mode_code

__all__ = ["take_modes"]


def take_modes(a, indices, axis=None, mode="raise"):
    """np.take(a, indices, axis, mode), what the numba lowering calls it."""
    return np.take(a, indices, axis=axis, mode=mode)


@njit(cache=True)
def _positions(idx, n, mode):
    """The indices as positions in an axis of n: wrapped (1), clipped (2), or checked (0), as np.take."""
    out = np.empty(idx.size, dtype=np.int64)
    if n == 0 and idx.size > 0:
        raise IndexError("cannot do a non-empty take from an empty axis")
    for k in range(idx.size):
        i = idx[k]
        if mode == 1:
            i = i % n
        elif mode == 2:
            i = min(max(i, 0), n - 1)
        else:
            if i < -n or i >= n:
                raise IndexError("index out of bounds for np.take")
            if i < 0:
                i += n
        out[k] = i
    return out


def _index_shape(indices):
    """Source of the index's shape (a tuple), or None for an index Numba cannot take here."""
    if isinstance(indices, types.Integer):
        return "()"
    if isinstance(indices, types.Array) and isinstance(indices.dtype, types.Integer):
        return "indices.shape"
    if isinstance(indices, (types.List, types.UniTuple)) and isinstance(indices.dtype, types.Integer):
        return "(len(indices),)"
    return None


@overload(take_modes, prefer_literal=True)
def _take_modes(a, indices, axis=None, mode="raise"):
    code, ishape = _mode_code(mode), _index_shape(indices)
    if not isinstance(a, types.Array) or code is None or ishape is None:
        return None
    scalar = isinstance(indices, types.Integer)
    head = "def impl(a, indices, axis=None, mode='raise'):\n"
    if is_none(axis):
        src = (head + f"    idx = _positions(_index_array(indices), a.size, {code})\n"
               "    flat = np.ascontiguousarray(a).ravel()\n"
               "    out = np.empty(idx.size, dtype=a.dtype)\n"
               "    for k in range(idx.size):\n        out[k] = flat[idx[k]]\n"
               + ("    return out[0]\n" if scalar else f"    return out.reshape({ishape})\n"))
        return compile_source(src, _positions=_positions, _index_array=_index_array)
    ax = literal_int(axis)
    if ax is None or a.ndim == 0 or not -a.ndim <= ax < a.ndim:
        return None
    ax %= a.ndim
    before = "".join(f" * a.shape[{k}]" for k in range(ax))
    after = "".join(f" * a.shape[{k}]" for k in range(ax + 1, a.ndim))
    # the result's axes: a's before `axis`, then the index's, then a's after
    shape = ("(" + "".join(f"a.shape[{k}], " for k in range(ax)) + ")", ishape,
             "(" + "".join(f"a.shape[{k}], " for k in range(ax + 1, a.ndim)) + ")")
    src = (head + f"    idx = _positions(_index_array(indices), a.shape[{ax}], {code})\n"
           f"    before = 1{before}\n    after = 1{after}\n"
           f"    a3 = np.ascontiguousarray(a).reshape((before, a.shape[{ax}], after))\n"
           "    out = np.empty((before, idx.size, after), dtype=a.dtype)\n"
           "    for i in range(before):\n        for k in range(idx.size):\n            for j in range(after):\n"
           "                out[i, k, j] = a3[i, idx[k], j]\n"
           f"    return out.reshape({shape[0]} + {shape[1]} + {shape[2]})\n")
    return compile_source(src, _positions=_positions, _index_array=_index_array)


def lower_takes(tree):
    """`np.take(a, i, axis, mode)` and `a.take(i, axis, mode)` with an axis or a mode become take_modes
    (the plain `np.take(a, i)` is Numba's own)."""
    import gast

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            if not (isinstance(f, gast.Attribute) and f.attr == "take"):
                return node
            on_np = isinstance(f.value, gast.Name) and f.value.id == "np"
            args = list(node.args) if on_np else [f.value] + list(node.args)
            if len(args) <= 2 and not node.keywords:
                return node
            node.args = args
            node.func = gast.Name(id="take_modes", ctx=gast.Load(), annotation=None, type_comment=None)
            return node
    return Lower().visit(tree)
