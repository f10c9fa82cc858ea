"""Helpers the generated tangent code calls, besides those of retrograd.runtime."""
import numpy as np

from .. import runtime as _rt
from ..runtime import *  # noqa: F401,F403  (generated code calls these by their bare names)

__all__ = list(_rt.__all__) + ["broadcast_like", "tape_push"]


def tape_push(tape, value):
    """`tape.append(value)` as a value (a generated adjoint's tape, differentiated forward: see hvp)."""
    tape.append(value)
    return tape


def broadcast_like(t, y):
    """The tangent `t` of an elementwise result `y` whose differentiated operands were smaller than it
    (`x + c` with a scalar `x` and an array `c`): spread over `y`'s shape, as the value was."""
    shape = np.shape(y)
    if np.shape(t) == shape:
        return t
    return np.zeros(shape) + t
