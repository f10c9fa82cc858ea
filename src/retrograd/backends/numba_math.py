"""The math module's calls Numba 0.68 lacks, for the numba backend: `math.fmod(x, y)` and the two-argument
`math.log(x, base)` (Numba types math.log of one number only).  Each follows CPython's math module on
floats and ints, its errors included: math.fmod is C's fmod (LLVM's frem, as Numba's np.fmod) with
fmod(x, +-inf) = x and a ValueError where the result is NaN from non-NaN inputs (y == 0, x infinite);
math.log(x, base) is log(x) / log(base), a ValueError for a non-positive x or base (CPython's loghelper)
and a ZeroDivisionError for base 1.
(Imported by numba_overloads: registering the overloads is the point; it exports nothing.)"""
import math

import numpy as np
from numba import types
from numba.extending import overload


def _real(t):
    return isinstance(t, (types.Float, types.Integer, types.Boolean))


@overload(math.fmod)
def _fmod(x, y):
    if not (_real(x) and _real(y)):
        return None

    def impl(x, y):
        a, b = np.float64(x), np.float64(y)
        if np.isinf(b) and np.isfinite(a):
            return a
        r = np.fmod(a, b)
        if np.isnan(r) and not np.isnan(a) and not np.isnan(b):
            raise ValueError("math domain error")
        return r
    return impl


@overload(math.log)
def _log_base(x, base):
    if not (_real(x) and _real(base)):
        return None

    def impl(x, base):
        a, b = np.float64(x), np.float64(base)
        if a <= 0.0 or b <= 0.0:
            raise ValueError("math domain error")
        den = math.log(b)
        if den == 0.0:
            raise ZeroDivisionError("float division by zero")
        return math.log(a) / den
    return impl
