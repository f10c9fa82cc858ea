"""`scipy.special` in Numba: each ufunc the rules (and users) call, as a Numba ufunc over SciPy's own
compiled scalar kernel (`scipy.special.cython_special`), so the numba backend computes the same numbers as
SciPy.  `polygamma` is a Python function in SciPy: here it is the recurrence plus asymptotic series.
Imported only when SciPy is importable (numba_rules.py)."""
import ctypes
import math

import numpy as np
from numba import njit, vectorize
from numba.extending import get_cython_function_address, overload
from scipy import special

from ..reverse.rules import special as _rules

_D1 = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double, ctypes.c_int)
_D2 = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double, ctypes.c_double, ctypes.c_int)


def _kernel(name, proto):
    import scipy.special.cython_special as cs
    for key in ("__pyx_fuse_1" + name, "__pyx_fuse_0" + name, name):
        if key in cs.__pyx_capi__ and "double (double" in repr(cs.__pyx_capi__[key]):
            return proto(get_cython_function_address("scipy.special.cython_special", key))
    raise ImportError(f"scipy.special.cython_special has no real kernel for {name}")


# A ufunc is compiled when a compiled function first calls it (at that function's typing), not at import:
# compiled eagerly, the 35 kernels took 2.9 s of every process's start, whether it used any or not.  (They
# are not on-disk cacheable: they call SciPy through a ctypes pointer.)
_UFUNCS = {}


def _lazy(key, build):
    if key not in _UFUNCS:
        _UFUNCS[key] = build()
    return _UFUNCS[key]


def _unary(name):
    def build():
        f = _kernel(name, _D1)

        @vectorize(["float64(float64)"])
        def ufunc(x):
            return f(x, 0)
        return ufunc

    @overload(getattr(special, name))
    def _ol(x):
        ufunc = _lazy(name, build)
        return lambda x: ufunc(x)


def _binary(name):
    def build():
        f = _kernel(name, _D2)

        @vectorize(["float64(float64, float64)"])
        def ufunc(x, y):
            return f(x, y, 0)
        return ufunc

    @overload(getattr(special, name))
    def _ol(x, y):
        ufunc = _lazy(name, build)
        return lambda x, y: ufunc(x, y)


for _name in ("erf", "erfc", "erfcx", "erfinv", "erfcinv", "ndtr", "log_ndtr", "ndtri", "expit", "log_expit",
              "logit", "gammaln", "loggamma", "gamma", "rgamma", "psi", "entr", "exp10", "i0", "i1", "i0e", "i1e",
              "j0", "j1", "y0", "y1", "k0", "k1", "dawsn"):
    _unary(_name)
for _name in ("betaln", "beta", "xlogy", "xlog1py", "rel_entr", "kl_div"):
    _binary(_name)

# Bernoulli numbers B_2k, k = 1..10, for the asymptotic series of the polygamma functions
_B2K = np.array([1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798, -174611 / 330])


@njit(cache=True)
def _polygamma(n, x):
    """psi^(n)(x) for n >= 1, x > 0: shift x above 20 with psi^(n)(x) = psi^(n)(x + 1) + (-1)^(n+1) n! / x^(n+1),
    then (-1)^(n+1) [(n-1)!/x^n + n!/(2 x^(n+1)) + sum_k B_2k (2k+n-1)! / ((2k)! x^(2k+n))]."""
    if x <= 0.0:
        return np.nan
    sign = 1.0 if n % 2 == 1 else -1.0
    nfact = math.gamma(n + 1.0)
    acc = 0.0
    while x < 20.0:
        acc += sign * nfact / x ** (n + 1)
        x += 1.0
    s = math.gamma(float(n)) / x ** n + nfact / (2.0 * x ** (n + 1))
    for k in range(1, _B2K.size + 1):
        s += _B2K[k - 1] * math.gamma(2.0 * k + n) / (math.gamma(2.0 * k + 1.0) * x ** (2 * k + n))
    return acc + sign * s


def _polygamma_build():
    @vectorize(["float64(int64, float64)"])
    def polygamma(n, x):
        if n == 0:
            return special.psi(x)
        return _polygamma(n, x)
    return polygamma


def _x_over_y_build():
    @vectorize(["float64(float64, float64)"])
    def x_over_y(x, y):
        return 0.0 if x == 0 else x / y
    return x_over_y


def _over_x_build():
    @vectorize(["float64(float64, float64, float64)"])
    def over_x(f, x, at0):
        return at0 if x == 0 else f / x
    return over_x


@overload(special.polygamma)
def _polygamma_ol(n, x):
    ufunc = _lazy("polygamma", _polygamma_build)
    return lambda n, x: ufunc(n, x)


@overload(_rules.x_over_y)
def _x_over_y_ol(x, y):
    ufunc = _lazy("x_over_y", _x_over_y_build)
    return lambda x, y: ufunc(x, y)


@overload(_rules.bessel_over_x)
def _over_x_ol(f, x, at0):
    ufunc = _lazy("over_x", _over_x_build)
    return lambda f, x, at0: ufunc(f, x, at0)
