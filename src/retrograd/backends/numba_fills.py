"""Numba versions of NumPy's fills and copies in the forms Numba lacks: np.full of an array (or with
dtype=), np.array(x, dtype=) of an array and np.asarray's cotangent (unarray), reshapes / ravels in
Fortran order (order='F') with their cotangent (reverse/rules/shape.unreshape), and np.clip with bounds
that do not broadcast to the operand.  numba_shape_calls.lower_shape_calls makes the calls."""
import numpy as np
from numba import types
from numba.extending import overload

from ..reverse.rules import shape as _shape
from .numba_axes import compile_source, is_none, is_scalar

__all__ = ["full_of", "array_of", "reshape_order"]


def full_of(shape, fill_value, dtype=None):
    return np.full(shape, fill_value, dtype=dtype)


def array_of(obj, dtype=None):
    return np.array(obj, dtype=dtype)


def reshape_order(a, shape, order="C"):
    return np.reshape(a, shape, order=order)


def _shape_len(shape):
    """The rank a shape argument gives (an int: 1), or None."""
    if isinstance(shape, types.Integer):
        return 1
    if isinstance(shape, types.BaseTuple) and all(isinstance(t, types.Integer) for t in shape.types):
        return len(shape)
    return None


@overload(full_of)
def _full_of(shape, fill_value, dtype=None):
    n = _shape_len(shape)
    if n is None:
        return None
    if is_scalar(fill_value):
        if is_none(dtype):
            return lambda shape, fill_value, dtype=None: np.full(shape, fill_value)
        return lambda shape, fill_value, dtype=None: np.full(shape, fill_value, dtype)
    if not isinstance(fill_value, types.Array):
        return lambda shape, fill_value, dtype=None: np.full(shape, fill_value, dtype)     # Numba's own, or its error
    shp = "(shape,)" if isinstance(shape, types.Integer) else "shape"
    dt = "fill_value.dtype" if is_none(dtype) else "dtype"
    if n == 0:          # a 0-d result: the fill must be 0-d (broadcast_to says so otherwise)
        body = f"    return np.full((), np.broadcast_to(fill_value, ())[()], {dt})\n"
    else:               # the fill broadcast over the shape, as NumPy's copyto does
        body = (f"    out = np.empty({shp}, {dt})\n"
                f"    out[:] = np.broadcast_to(fill_value, {shp})\n    return out\n")
    return compile_source("def impl(shape, fill_value, dtype=None):\n" + body)


@overload(array_of)
def _array_of(obj, dtype=None):
    if isinstance(obj, types.Array):      # a copy, in the dtype (C-ordered, as np.array gives)
        if is_none(dtype):
            return lambda obj, dtype=None: obj.copy()
        return lambda obj, dtype=None: obj.astype(dtype)
    if is_scalar(obj):
        if is_none(dtype):
            return lambda obj, dtype=None: np.full((), obj)
        return lambda obj, dtype=None: np.full((), obj, dtype)
    if is_none(dtype):                    # a list or tuple: Numba's own np.array
        return lambda obj, dtype=None: np.array(obj)
    return lambda obj, dtype=None: np.array(obj, dtype)


def _literal_order(order):
    if is_none(order):
        return "C"
    if isinstance(order, types.StringLiteral) and order.literal_value in ("C", "F"):
        return order.literal_value
    return None


def _reshape_source(params, value, shape, n, order):
    """Source of `value` (C-ordered copy, or read in Fortran order) in the shape `shape` of rank n."""
    head = f"def impl({params}):\n    s = {shape}\n"
    if order == "C":
        return head + f"    return np.ascontiguousarray({value}).reshape(s)\n"
    # Fortran order is C order of the reversed axes: transpose, read in C order into the reversed shape,
    # transpose back (a copy, so the result is C-ordered like the rest of the generated code's arrays)
    rev = "(" + "".join(f"s[{k}], " for k in reversed(range(n))) + ")"
    return head + (f"    r = np.ascontiguousarray({value}.T).reshape({rev})\n"
                   "    return np.ascontiguousarray(r.T)\n")


@overload(reshape_order, prefer_literal=True)
def _reshape_order(a, shape, order="C"):
    n, o = _shape_len(shape), _literal_order(order)
    if not isinstance(a, types.Array) or n is None or n == 0 or o is None:
        return None
    shp = "(shape,)" if isinstance(shape, types.Integer) else "shape"
    return compile_source(_reshape_source("a, shape, order='C'", "a", shp, n, o))


@overload(_shape.unreshape, prefer_literal=True)
def _unreshape(g, a, order="C"):
    o = _literal_order(order)
    if not isinstance(g, types.Array) or not isinstance(a, types.Array) or o is None:
        return None
    if a.ndim == 0:
        return lambda g, a, order="C": np.ascontiguousarray(g).reshape(())
    return compile_source(_reshape_source("g, a, order='C'", "g", "a.shape", a.ndim, o))


@overload(_shape.unarray)
def _unarray_array(g, obj):
    """np.asarray / np.array of one array or scalar (numba_picks takes the tuples): g summed to its shape."""
    from ..runtime import unbroadcast
    if isinstance(obj, types.Array) or is_scalar(obj):
        return lambda g, obj: unbroadcast(g, obj)
    return None


def clip_values(a, a_min, a_max):
    return np.clip(a, a_min, a_max)


@overload(clip_values)
def _clip_values(a, a_min, a_max):
    """np.clip with array bounds of any shape (Numba's needs them to broadcast to `a`): NumPy's definition,
    minimum(maximum(a, a_min), a_max), so a_min > a_max gives a_max, and a NaN anywhere gives NaN."""
    return lambda a, a_min, a_max: np.minimum(np.maximum(a, a_min), a_max)


__all__ += ["clip_values"]
