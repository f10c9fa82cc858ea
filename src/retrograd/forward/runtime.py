"""Helpers the generated tangent code calls, besides those of retrograd.runtime."""
import numpy as np

from .. import runtime as _rt
from ..runtime import *  # noqa: F401,F403  (generated code calls these by their bare names)

__all__ = list(_rt.__all__) + ["broadcast_like", "tape_push"]   # scalar_seed: put in by the hvp driver


def tape_push(tape, value):
    """`tape.append(value)` as a value (a generated adjoint's tape, differentiated forward: see hvp)."""
    tape.append(value)
    return tape


def broadcast_like(t, y):
    """The tangent `t` of an elementwise result `y` whose differentiated operands were smaller than it
    (`x + c` with a scalar `x` and an array `c`): spread over `y`'s shape, as the value was."""
    if type(y) is float:      # a float result had float operands: the tangent is one already (the fast case)
        return t
    shape = np.shape(y)
    if np.shape(t) == shape:
        return t
    return np.zeros(shape) + t


def scalar_seed(out, name):
    """The seed of the gradient an hvp differentiates (1.0, as .grad seeds it), once `out` is known to be
    a scalar: a gradient is only defined for a scalar output, and the adjoint would broadcast a 1.0."""
    if isinstance(out, (tuple, list, dict)) or np.ndim(out) != 0:
        from ..errors import UsageError
        what = f"a {type(out).__name__} of {len(out)}" if isinstance(out, (tuple, list, dict)) else \
            f"a value of shape {np.shape(out)}"
        raise UsageError(f"{name} returned {what}; hvp and hessian need a scalar output",
                         hint="use jacfwd of a vjp for non-scalar outputs")
    return np.ones_like(out) if isinstance(out, (np.ndarray, np.generic)) else 1.0
