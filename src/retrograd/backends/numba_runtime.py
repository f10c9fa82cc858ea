"""The runtime seam for the numba backend: the helpers of `retrograd.runtime`, compiled.

Generated code calls the same names (`zeros_like`, `unbroadcast`, ...).  Here each is a plain Python
function (so the python backend's behaviour stays the reference) plus a Numba `@overload` that picks
the implementation from the argument *types* at compile time: scalars and arrays get different code,
and nothing dynamic is left for run time.
"""
import math  # noqa: F401  (generated code uses math.*)

import numpy as np
from numba import njit, types
from numba.extending import overload
from numba.typed import List  # noqa: F401  (tapes are typed lists)

from .. import runtime as _py

__all__ = ["push", "push_at", "pop", "zeros_like", "snapshot", "add_into", "unbroadcast", "unreduce", "not_a_view", "no_repeats",
           "List", "np", "math"]


@njit(cache=True, inline="always")
def push(tape, top, x):
    """Save a float on an array tape, growing it when full; returns (tape, new top)."""
    if top == tape.shape[0]:
        grown = np.empty(2 * tape.shape[0] + 64)
        grown[:top] = tape
        tape = grown
    tape[top] = x
    return tape, top + 1


@njit(cache=True, inline="always")
def push_at(tape, top, x):
    """Save a float on a tape allocated with its final size; returns the new top."""
    tape[top] = x
    return top + 1


@njit(cache=True, inline="always")
def pop(tape, top):
    """The last float saved on an array tape; returns (value, new top)."""
    return tape[top - 1], top - 1


def zeros_like(x):
    return _py.zeros_like(x)


def snapshot(x):
    return _py.snapshot(x)


def add_into(acc, g):
    return _py.add_into(acc, g)


def unbroadcast(g, x):
    return _py.unbroadcast(g, x)


def unreduce(g, x, axis=None, keepdims=False):
    return _py.unreduce(g, x, axis, keepdims)


def not_a_view(value, message):
    return _py.not_a_view(value, message)


def no_repeats(index, message):
    return _py.no_repeats(index, message)


def _is_scalar(t):
    return isinstance(t, (types.Float, types.Integer, types.Boolean))


@overload(zeros_like)
def _zeros_like(x):
    if isinstance(x, types.Array):
        if isinstance(x.dtype, types.Float):
            return lambda x: np.zeros_like(x)
        return lambda x: np.zeros(x.shape)
    if _is_scalar(x):
        return lambda x: 0.0
    return None


@overload(snapshot)
def _snapshot(x):
    if isinstance(x, types.Array):
        return lambda x: x.copy()
    if _is_scalar(x):
        return lambda x: x
    return None


@overload(add_into)
def _add_into(acc, g):
    if isinstance(acc, types.Array) and acc.ndim > 0:
        def impl(acc, g):
            acc += g
            return acc
        return impl
    return lambda acc, g: acc + g


@overload(unbroadcast)
def _unbroadcast(g, x):
    if _is_scalar(x) and _is_scalar(g):
        return lambda g, x: g
    if _is_scalar(x) and isinstance(g, types.Array):
        return lambda g, x: np.sum(g)
    if isinstance(x, types.Array) and isinstance(g, types.Array):
        if g.ndim == x.ndim == 1:
            def impl1(g, x):
                if g.shape[0] == x.shape[0]:
                    return g
                return np.full(x.shape, np.sum(g))
            return impl1
        if g.ndim == 2 and x.ndim == 1:
            def impl21(g, x):
                return np.sum(g, axis=0)
            return impl21
        if g.ndim == x.ndim == 2:
            def impl2(g, x):
                if g.shape == x.shape:
                    return g
                out = g
                if x.shape[0] == 1 and g.shape[0] != 1:
                    out = np.sum(out, axis=0).reshape((1, out.shape[1]))
                if x.shape[1] == 1 and g.shape[1] != 1:
                    out = np.sum(out, axis=1).reshape((out.shape[0], 1))
                return out
            return impl2
    if isinstance(x, types.Array) and _is_scalar(g):
        return lambda g, x: np.full(x.shape, g)
    return None


@overload(unreduce)
def _unreduce(g, x, axis=None, keepdims=False):
    if isinstance(x, types.Array) and (axis is None or isinstance(axis, (types.NoneType, types.Omitted))):
        if _is_scalar(g):
            return lambda g, x, axis=None, keepdims=False: np.full(x.shape, g)
        return lambda g, x, axis=None, keepdims=False: np.full(x.shape, g.ravel()[0])
    return None


@overload(not_a_view)
def _not_a_view(value, message):
    if isinstance(value, types.Array) and value.ndim > 0:
        def impl(value, message):
            raise ValueError("retrograd: a view into an array that is written while the view is in use")
        return impl
    return lambda value, message: None


@overload(no_repeats)
def _no_repeats(index, message):
    if _is_scalar(index) or isinstance(index, (types.SliceType, types.BaseTuple)):
        return lambda index, message: None
    return None
