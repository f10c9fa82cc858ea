"""np.cumprod and np.nancumsum along an axis for the numba backend (Numba's take no axis, nor a dtype).

numba_shape_calls.lower_shape_calls rewrites `np.cumprod(a, axis)` / `a.cumprod(axis)` into
`cumprod_along(a, axis)` and `np.nancumsum(a, axis)` into `nancumsum_along(a, axis)`; a float `dtype=`
becomes a cast of the operand first (NumPy accumulates in that precision), and `axis=None` leaves Numba's
own flattened versions.  cumprod_along (of a real, integer or boolean array) runs Numba's 1-D np.cumprod along each row (so its result dtype is
Numba's np.cumprod's, NumPy's: ints and bools accumulate in int64); nancumsum_along is np.cumsum (which
Numba takes with an axis) of the operand with its NaNs made zeros of its own dtype.
"""
import numpy as np
from numba import types
from numba.extending import overload

from .numba_manipulation import _from_rows, _to_rows

__all__ = ["cumprod_along", "nancumsum_along"]


def cumprod_along(a, axis):
    return np.cumprod(a, axis=axis)


def nancumsum_along(a, axis):
    return np.nancumsum(a, axis=axis)


def _along(a, axis):
    return isinstance(a, types.Array) and a.ndim > 0 and isinstance(axis, types.Integer)


@overload(cumprod_along)
def _cumprod_along(a, axis):
    if not _along(a, axis) or isinstance(a.dtype, types.Complex):
        return None         # (Numba's complex product of an infinity is NaN where NumPy's is infinite)

    def impl(a, axis):
        rows, shape = _to_rows(a, axis)
        out = np.empty(rows.shape, dtype=np.cumprod(rows[:1, :0].ravel()).dtype)
        for i in range(rows.shape[0]):
            out[i] = np.cumprod(rows[i])
        return _from_rows(out, shape, axis)
    return impl


@overload(nancumsum_along)
def _nancumsum_along(a, axis):
    if not _along(a, axis) or isinstance(a.dtype, types.Boolean):
        return None
    if isinstance(a.dtype, types.Integer):              # no NaNs
        return lambda a, axis: np.cumsum(a, axis=axis)
    return lambda a, axis: np.cumsum(np.where(np.isnan(a), np.zeros_like(a), a), axis=axis)
