"""numba_math's math.fmod and two-argument math.log, compiled, against CPython's math module on hostile
numbers: signed zeros, infinities, NaNs, ints and bools, and the inputs CPython refuses (its ValueError for
fmod(x, 0), fmod(inf, y), log of a non-positive number or base; its ZeroDivisionError for base 1)."""
import math

import numpy as np
import pytest

numba = pytest.importorskip("numba")
from retrograd.backends import numba_overloads  # noqa: E402,F401  (registers the overloads)

INF, NAN = math.inf, math.nan


@numba.njit
def _fmod(x, y):
    return math.fmod(x, y)


@numba.njit
def _log(x, base):
    return math.log(x, base)


def _same(f, g, x, y):
    try:
        want = g(x, y)
    except (ValueError, ZeroDivisionError) as err:
        with pytest.raises(type(err)):
            f(x, y)
        return
    got = f(x, y)
    assert isinstance(got, float)
    same_sign = math.copysign(1, got) == math.copysign(1, want)
    assert (math.isnan(got) and math.isnan(want)) or (got == want and same_sign), (x, y, got, want)


@pytest.mark.parametrize("x,y", [(5.5, 2.0), (-5.5, 2.0), (5.5, -2.0), (-0.0, 3.0), (0.0, -3.0), (1e308, 1e-308),
                                 (5.5, INF), (-5.5, -INF), (INF, 2.0), (-INF, INF), (1.0, 0.0), (0.0, -0.0),
                                 (NAN, 0.0), (1.0, NAN), (NAN, INF), (INF, NAN), (2.0, 0.5)])
def test_fmod_floats(x, y):
    _same(_fmod, math.fmod, x, y)


@pytest.mark.parametrize("x,y", [(7, -3), (-7, 3), (0, 5), (3, 0), (True, 2), (9, 2.5)])
def test_fmod_ints(x, y):
    _same(_fmod, math.fmod, x, y)


@pytest.mark.parametrize("x,y", [(8.0, 2.0), (2.3, 1.7), (0.5, 10.0), (1.0, 3.0), (INF, 2.0), (2.0, INF), (INF, INF),
                                 (2.0, 0.5), (NAN, 2.0), (2.0, NAN), (0.0, 2.0), (-0.0, 2.0), (-1.0, 2.0),
                                 (2.0, 0.0), (2.0, -3.0), (-INF, 2.0), (2.0, 1.0), (1.0, 1.0)])
def test_log_base_floats(x, y):
    _same(_log, math.log, x, y)


@pytest.mark.parametrize("x,y", [(8, 2), (1000, 10), (1, 7), (0, 2), (-4, 2), (5, 1), (True, 3), (2**60, 2)])
def test_log_base_ints(x, y):
    _same(_log, math.log, x, y)


def test_one_argument_log_is_numbas():
    assert numba.njit(lambda x: math.log(x))(2.5) == math.log(2.5)
