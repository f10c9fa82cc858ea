"""np.cross with axisa / axisb / axisc / axis (Numba's takes (a, b) only): the vector axes moved last, the
product, its axis moved to axisc; and the cotangents (reverse/rules/contractions.cross_grad) of those
forms, the same moves around b x g and g x a.  3-vectors only: the product of 2-vectors has an axis
less, which Numba cannot type (numba.call refuses it at the user's line: its marker is "cross(", hence
the name moved_cross).
numba_shape_calls.lower_shape_calls makes the calls."""
import numpy as np
from numba import types
from numba.extending import overload

from ..reverse.rules import contractions as _rules
from .numba_axes import compile_source, is_none, literal_int

__all__ = ["moved_cross"]

_ONLY3 = "    if A.shape[-1] != 3 or B.shape[-1] != 3:\n        raise ValueError('cross: the numba backend takes 3-vectors only')\n"


def moved_cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    return np.cross(a, b, axisa, axisb, axisc, axis)


def _axes(axisa, axisb, axisc, axis):
    """The three constant axes (axis= overrides them all, as in NumPy), or None."""
    if not is_none(axis):
        ax = literal_int(axis)
        return None if ax is None else (ax, ax, ax)
    got = tuple(literal_int(t, -1) for t in (axisa, axisb, axisc))
    return None if None in got else got


@overload(moved_cross, prefer_literal=True)
def _moved_cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    axes = _axes(axisa, axisb, axisc, axis)
    if axes is None or not all(isinstance(t, types.Array) and t.ndim >= 1 for t in (a, b)):
        return None
    pa, pb, pc = axes
    return compile_source(f"def impl(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):\n"
                          f"    A, B = np.moveaxis(a, {pa}, -1), np.moveaxis(b, {pb}, -1)\n" + _ONLY3 +
                          f"    return np.ascontiguousarray(np.moveaxis(np.cross(A, B), -1, {pc}))\n")


@overload(_rules.cross_grad, prefer_literal=True)
def _cross_grad_axes(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, k=0):
    """The forms with axes (numba_contractions' overload takes the default ones)."""
    from ..runtime import unbroadcast
    axes, kk = _axes(axisa, axisb, axisc, axis), literal_int(k, 0)
    if axes is None or (is_none(axis) and axes == (-1, -1, -1)) or kk not in (0, 1) \
            or not all(isinstance(t, types.Array) and t.ndim >= 1 for t in (g, a, b)):
        return None
    pa, pb, pc = axes
    part, own, back = ("np.cross(B, G)", "A", pa) if kk == 0 else ("np.cross(G, A)", "B", pb)
    src = (f"def impl(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, k=0):\n"
           f"    A, B = np.moveaxis(a, {pa}, -1), np.moveaxis(b, {pb}, -1)\n" + _ONLY3 +
           f"    G = np.moveaxis(g, {pc}, -1)\n"
           f"    return np.ascontiguousarray(np.moveaxis(unbroadcast({part}, {own}), -1, {back}))\n")
    return compile_source(src, unbroadcast=unbroadcast)
