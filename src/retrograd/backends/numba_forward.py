"""Forward mode on the numba backend: the generated tangent functions, compiled in nopython mode.

The tangent code is the python backend's (forward/transform.py), lowered as the adjoint is (`_lower`:
reductions over axes, products, rolls, spellings) with its keyword-only tangent parameters made positional
(Traits.keyword_only).  It runs in the numba runtime's namespace plus the two helpers only tangent code
calls (`broadcast_like`, `tape_push`), and compile errors surface at the first call as a BackendError at
the user's line (numba.call).
"""
import functools

import numpy as np
from numba import types
from numba.extending import overload

from ..forward import runtime as _fw
from ..reverse.rules import reductions as _reductions
from . import numba_runtime as _rt
from .numba_runtime import *  # noqa: F401,F403  (generated code calls these by their bare names)

__all__ = list(_rt.__all__) + ["broadcast_like", "tape_push"]


def broadcast_like(t, y):
    return _fw.broadcast_like(t, y)


def tape_push(tape, value):
    return _fw.tape_push(tape, value)


@overload(broadcast_like)
def _broadcast_like(t, y):
    if isinstance(y, types.Array):
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


def load_forward(program, source, title, name):
    """The compiled tangent function `name` of `source` (a callable taking the primals positionally and
    the tangents by keyword, like the python backend's)."""
    from . import numba
    ns = numba.load(program, source, title, runtime=__import__(__name__, fromlist=["*"]))
    return functools.partial(_call, ns[name], source, dict(program.line_locations))


def _call(fn, source, locations, *args, **kwargs):
    from .numba import call
    return call(functools.partial(fn, **kwargs) if kwargs else fn, args, source, locations)
