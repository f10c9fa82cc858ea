"""Forward mode on the numba backend: the generated tangent functions, compiled in nopython mode.

The tangent code is the python backend's (forward/transform.py), lowered as the adjoint is (`_lower`:
reductions over axes, products, rolls, spellings) with its keyword-only tangent parameters made positional
(Traits.keyword_only).  It runs in the numba runtime's namespace plus the helpers only tangent code
calls (`broadcast_like`, `tape_push`, and the lowerings of tangent helpers below); numba.load_forward
loads it, and compile errors surface at the first call as a BackendError at the user's line.
"""
import numpy as np
from numba import types
from numba.extending import overload

from ..forward import runtime as _fw
from ..reverse.rules import reductions as _reductions
from . import numba_runtime as _rt
from . import numba_tangents  # noqa: F401  (the tangent helpers' overloads)
from .numba_runtime import *  # noqa: F401,F403  (generated code calls these by their bare names)

__all__ = list(_rt.__all__) + ["broadcast_like", "tape_push"]


def broadcast_like(t, y):
    return _fw.broadcast_like(t, y)


def tape_push(tape, value):
    return _fw.tape_push(tape, value)


@overload(broadcast_like)
def _broadcast_like(t, y):
    if isinstance(y, types.Array):
        # Numba's arithmetic of 0-d arrays gives numbers: a 0-d y's tangent is kept a 0-d array, the type of
        # the tangent variable it is assigned to (the same value as NumPy's)
        if y.ndim == 0 and isinstance(t, types.Array) and t.ndim == 0:
            return lambda t, y: t
        if y.ndim == 0 and isinstance(t, (types.Number, types.Boolean)):
            return lambda t, y: np.asarray(np.zeros(()) + t)
        if isinstance(t, types.Array) and t.ndim == y.ndim:
            def same_rank(t, y):
                if t.shape == y.shape:
                    return t
                return np.zeros(y.shape) + t
            return same_rank
        return lambda t, y: np.zeros(y.shape) + t
    if isinstance(y, (types.Float, types.Integer, types.Boolean)):
        return lambda t, y: t
    return None


@overload(tape_push)
def _tape_push(tape, value):
    if isinstance(tape, types.ListType):
        def impl(tape, value):
            tape.append(value)
            return tape
        return impl
    return None


@overload(_reductions.select_weights)
def _select_weights(a, y, axis=None, keepdims=False):
    """max/min's tangent weights (1/count at each tied entry) are the cotangent of a unit seed."""
    if not isinstance(a, types.Array) or a.ndim not in (1, 2):
        return None
    if isinstance(y, types.Array):
        return lambda a, y, axis=None, keepdims=False: _rt.select_grad(np.ones(y.shape), a, y, axis, keepdims)
    return lambda a, y, axis=None, keepdims=False: _rt.select_grad(1.0, a, y, axis, keepdims)
