"""Numba versions of the rules that pick entries (reverse/rules/manipulation.py, shape.py, reductions.py):
np.select of broadcasting choices and its cotangents (unselect_all, unselect), np.take_along_axis's
cotangent (untake_along), np.squeeze with an axis, the builtin sum() of an array, and np.array's
cotangent (unarray) of a tuple of scalars or arrays.  Their lists of conditions, choices and items are
tuple displays in the generated code (numba_joins.lower_joins makes them so), so every piece's type is
known; axes must be constants."""
import numpy as np
from numba import types
from numba.extending import overload

from ..reverse.rules import manipulation as _manip, shape as _shape
from .numba_axes import compile_source, is_none, literal_int

__all__ = ["select_value", "squeeze_axis", "builtin_sum"]


def _tuple(t):
    return isinstance(t, types.BaseTuple) and len(t) > 0


def _shapes(names):
    return "np.broadcast_shapes(" + ", ".join(f"np.shape({n})" for n in names) + ")"


def select_value(condlist, choicelist, default=0):
    """np.select, what the numba lowering calls it: choices of different ranks broadcast (Numba's takes
    homogeneous lists of equal shapes)."""
    return np.select(condlist, choicelist, default)


@overload(select_value)
def _select_value(condlist, choicelist, default=0):
    if not (_tuple(condlist) and _tuple(choicelist)) or len(condlist) != len(choicelist):
        return None
    n = len(condlist)
    names = [f"condlist[{k}]" for k in range(n)] + [f"choicelist[{k}]" for k in range(n)] + ["default"]
    lines = ["def impl(condlist, choicelist, default=0):", f"    shape = {_shapes(names)}",
             "    out = np.zeros(shape) + default"]
    for k in reversed(range(n)):
        lines.append(f"    out = np.where(np.zeros(shape, dtype=np.bool_) | condlist[{k}], "
                     f"np.zeros(shape) + choicelist[{k}], out)")
    lines.append("    return out")
    return compile_source("\n".join(lines) + "\n")


def _taken_lines(n):
    """Source: for each choice k, `c{k}` where it is the first condition that holds."""
    lines = ["    taken = np.zeros(g.shape, dtype=np.bool_)"]
    for k in range(n):
        lines += [f"    c = np.zeros(g.shape, dtype=np.bool_) | condlist[{k}]",
                  f"    c{k} = c & ~taken", "    taken = taken | c"]
    return lines


@overload(_manip.unselect_all)
def _unselect_all(g, condlist, choicelist):
    from ..runtime import unbroadcast
    if not isinstance(g, types.Array) or not (_tuple(condlist) and _tuple(choicelist)):
        return None
    n = len(choicelist)
    lines = ["def impl(g, condlist, choicelist):"] + _taken_lines(n)
    parts = [f"unbroadcast(np.where(c{k}, g, 0.0), choicelist[{k}])" for k in range(n)]
    lines.append("    return (" + ", ".join(parts) + ",)")
    return compile_source("\n".join(lines) + "\n", unbroadcast=unbroadcast)


@overload(_manip.unselect)
def _unselect(g, condlist, choicelist, k, default_shape=None):
    """The default's cotangent (the only k the rule asks for: len(choicelist)): g where no condition holds."""
    if not isinstance(g, types.Array) or not (_tuple(condlist) and _tuple(choicelist)):
        return None
    if not isinstance(default_shape, types.BaseTuple):
        return None
    n = len(choicelist)
    lines = ["def impl(g, condlist, choicelist, k, default_shape=None):",
             f"    if k != {n}:", "        raise ValueError('unselect: only the default is read here')"]
    lines += _taken_lines(n) + ["    part = np.where(taken, 0.0, g)"]
    if len(default_shape) == 0:
        lines.append("    return part.sum()")
    else:
        from ..runtime import unbroadcast
        lines.append("    return unbroadcast(part, np.zeros(default_shape))")
        return compile_source("\n".join(lines) + "\n", unbroadcast=unbroadcast)
    return compile_source("\n".join(lines) + "\n")


# ---- np.take_along_axis's cotangent: g added where it was taken ----------------------------------------------
@overload(_manip.untake_along, prefer_literal=True)
def _untake_along(g, arr, indices, axis=-1):
    if not all(isinstance(t, types.Array) for t in (g, arr, indices)):
        return None
    if is_none(axis):
        def flat(g, arr, indices, axis=-1):
            idx = np.ascontiguousarray(indices).ravel()
            gf = np.ascontiguousarray(g).ravel()
            out = np.zeros(arr.size)
            for p in range(idx.size):
                out[idx[p] + arr.size if idx[p] < 0 else idx[p]] += gf[p]
            return out.reshape(arr.shape)
        return flat
    ax = literal_int(axis)
    n = arr.ndim
    if ax is None or indices.ndim != n or g.ndim != n:
        return None
    ax %= n
    lines = ["def impl(g, arr, indices, axis=-1):", "    out = np.zeros(arr.shape)",
             f"    m = arr.shape[{ax}]"]
    pad = "    "
    for d in range(n):
        lines.append(pad + f"for i{d} in range(g.shape[{d}]):")
        pad += "    "
    ii = ", ".join(f"i{d} if indices.shape[{d}] != 1 else 0" for d in range(n))
    lines.append(pad + f"j = indices[{ii}{',' if n == 1 else ''}]")
    lines.append(pad + "j = j + m if j < 0 else j")
    oi = ", ".join("j" if d == ax else f"i{d} if arr.shape[{d}] != 1 else 0" for d in range(n))
    lines.append(pad + f"out[{oi}{',' if n == 1 else ''}] += g[{', '.join(f'i{d}' for d in range(n))}{',' if n == 1 else ''}]")
    lines.append("    return out")
    return compile_source("\n".join(lines) + "\n")


# ---- np.squeeze with an axis, builtin sum of an array, np.array's cotangent --------------------------------
def squeeze_axis(a, axis):
    return np.squeeze(a, axis)


@overload(squeeze_axis, prefer_literal=True)
def _squeeze_axis(a, axis):
    if not isinstance(a, types.Array) or a.ndim == 0:
        return None
    one = literal_int(axis)
    if one is not None:
        axes = (one % a.ndim,)
    elif isinstance(axis, types.BaseTuple) and all(isinstance(t, types.IntegerLiteral) for t in axis.types):
        axes = tuple(t.literal_value % a.ndim for t in axis.types)
    else:
        return None
    kept = "(" + "".join(f"a.shape[{d}], " for d in range(a.ndim) if d not in axes) + ")"
    checks = "".join(f"    if a.shape[{d}] != 1:\n        raise ValueError('cannot select an axis to squeeze out "
                     "which has size not equal to one')\n" for d in axes)
    return compile_source(f"def impl(a, axis):\n{checks}    return np.ascontiguousarray(a).reshape({kept})\n")


def builtin_sum(x):
    return sum(x)


@overload(builtin_sum)
def _builtin_sum(x):
    if isinstance(x, types.Array):
        if x.ndim == 0:
            return None                     # Python's sum() iterates: a 0-d array is refused, as in NumPy
        if x.ndim == 1:
            return lambda x: 0 + x.sum()
        return lambda x: np.sum(x, axis=0)
    return lambda x: sum(x)


@overload(_shape.unarray)
def _unarray(g, obj):
    if not isinstance(g, types.Array) or not _tuple(obj):
        return None
    parts = []
    for k, t in enumerate(obj.types):
        if isinstance(t, types.Number):
            parts.append(f"g[{k}]" if g.ndim == 1 else None)
        elif isinstance(t, types.Array) and t.ndim == g.ndim - 1:
            parts.append(f"np.ascontiguousarray(g[{k}])")
        elif isinstance(t, types.BaseTuple):
            parts.append(f"unarray(np.ascontiguousarray(g[{k}]), obj[{k}])")
        else:
            parts.append(None)
    if None in parts:
        return None
    return compile_source("def impl(g, obj):\n    return (" + ", ".join(parts) + ",)\n", unarray=_shape.unarray)
