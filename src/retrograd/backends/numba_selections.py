"""np.delete and np.compress along an axis (Numba's take none): the kept positions of the axis, gathered
from the operand's rows (their cotangents, undelete and uncompress, are numba_manipulation's); and
np.select of tuples (tangent code binds its conditions to a name), which numba_picks.select_value takes.
numba_shape_calls.lower_shape_calls makes the delete_along / compress_along calls."""
import numpy as np
from numba import types
from numba.extending import overload

from .numba_manipulation import _from_rows, _kept, _to_rows
from .numba_picks import _tuple, select_value

__all__ = ["delete_along", "compress_along"]


def delete_along(arr, obj, axis):
    return np.delete(arr, obj, axis)


def compress_along(condition, a, axis):
    return np.compress(condition, a, axis)


def _gather(rows, shape, kept, axis):
    """The columns `kept` of (rows, n), back in the operand's axis order."""


@overload(_gather)
def _gather_ol(rows, shape, kept, axis):
    def impl(rows, shape, kept, axis):
        out = np.empty((rows.shape[0], kept.size), dtype=rows.dtype)
        for k in range(kept.size):
            if kept[k] >= rows.shape[1]:
                raise IndexError("index out of bounds for the axis (np.compress: a True past its length)")
        for i in range(rows.shape[0]):
            for k in range(kept.size):
                out[i, k] = rows[i, kept[k]]
        return _from_rows(out, shape[:-1] + (kept.size,), axis)
    return impl


@overload(delete_along)
def _delete_along(arr, obj, axis):
    if not isinstance(arr, types.Array) or arr.ndim == 0 or not isinstance(axis, types.Integer):
        return None

    def impl(arr, obj, axis):
        rows, shape = _to_rows(arr, axis)
        return _gather(rows, shape, np.delete(np.arange(rows.shape[1]), obj), axis)
    return impl


@overload(compress_along)
def _compress_along(condition, a, axis):
    if not isinstance(a, types.Array) or a.ndim == 0 or not isinstance(axis, types.Integer):
        return None

    def impl(condition, a, axis):
        rows, shape = _to_rows(a, axis)
        return _gather(rows, shape, _kept(condition), axis)
    return impl


@overload(np.select)
def _select_tuples(condlist, choicelist, default=0):
    """Numba's np.select takes lists of equal shapes; tuples (of any shapes that broadcast) go to
    select_value, NumPy's semantics."""
    if not (_tuple(condlist) and _tuple(choicelist)):
        return None
    return lambda condlist, choicelist, default=0: select_value(condlist, choicelist, default)
