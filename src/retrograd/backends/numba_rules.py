"""Numba overloads of the rule helpers that keep a rule right on its whole domain (reverse/rules/*):
the product of the others for np.prod, std's `g / y` that is 0 where y is 0, the two partials of `a ** b`,
and np.clip's masks.  Elementwise ones are Numba ufuncs, so scalars and broadcasting arrays both work."""
import numpy as np
from numba import njit, types, vectorize
from numba.extending import overload

from ..reverse.rules import elementwise as _elementwise, operators as _operators
from ..reverse.rules import reductions as _reductions, shape as _shape


def _is_none(t):
    return t is None or isinstance(t, (types.NoneType, types.Omitted))


def _is_scalar(t):
    return isinstance(t, (types.Number, types.Boolean))


_UFUNCS = {}


def _ufunc(signature):
    """A Numba ufunc made at the first typing of a call to it, not at import: `vectorize` with signatures
    compiles (or loads from the cache) eagerly, which cost every process ~0.3 s (1-2 s on a loaded machine)
    for helpers most functions never call."""
    def wrap(py):
        def get():
            if py.__name__ not in _UFUNCS:
                _UFUNCS[py.__name__] = vectorize([signature], cache=True)(py)
            return _UFUNCS[py.__name__]
        return get
    return wrap


@_ufunc("float64(float64, float64)")
def _div_or_zero(g, y):
    return 0.0 if y == 0 else g / y


@_ufunc("float64(float64, float64)")
def _pow_base(a, b):
    return 0.0 if b == 0 else b * np.power(a, b - 1.0)


@_ufunc("float64(float64, float64, float64)")
def _pow_exp(a, b, y):
    if a == 0:
        return 0.0 if b > 0 else np.nan
    return y * np.log(a)


@_ufunc("float64(float64, float64, float64, int64)")
def _clip(a, lo, hi, which):
    above = max(a, lo) > hi
    if which == 0:
        return 1.0 if a >= lo and not above else 0.0
    if which == 1:
        return 1.0 if a < lo and not above else 0.0
    return 1.0 if above else 0.0



def _div_or_zero_impl(g, y):
    f = _div_or_zero()
    return lambda g, y: f(g, y)


def _pow_base_impl(a, b):
    f = _pow_base()
    return lambda a, b: f(a, b)


def _pow_exp_impl(a, b, y):
    f = _pow_exp()
    return lambda a, b, y: f(a, b, y)


overload(_reductions.div_or_zero)(_div_or_zero_impl)
overload(_operators.pow_base_grad)(_pow_base_impl)
overload(_operators.pow_exp_grad)(_pow_exp_impl)


@overload(_elementwise.clip_mask)
def _clip_mask(a, a_min, a_max, which):
    clip = _clip()
    if _is_none(a_min) and _is_none(a_max):
        return lambda a, a_min, a_max, which: clip(a, -np.inf, np.inf, which)
    if _is_none(a_min):
        return lambda a, a_min, a_max, which: clip(a, -np.inf, a_max, which)
    if _is_none(a_max):
        return lambda a, a_min, a_max, which: clip(a, a_min, np.inf, which)
    return lambda a, a_min, a_max, which: clip(a, a_min, a_max, which)


@njit(cache=True)
def _others_1d(v, out):
    """out[k] = product of v without v[k] (exact at zeros: see reductions.prod_others)."""
    zeros, rest = 0, 1.0
    for x in v:
        if x == 0:
            zeros += 1
        else:
            rest *= x
    for k in range(v.size):
        out[k] = rest / v[k] if zeros == 0 else (rest if zeros == 1 and v[k] == 0 else 0.0)


@njit(cache=True)
def _others_rows(m):
    out = np.empty(m.shape)
    for i in range(m.shape[0]):
        _others_1d(m[i], out[i])
    return out


@overload(_reductions.prod_others)
def _prod_others(a, axis=None):
    if _is_scalar(a):
        return lambda a, axis=None: 1.0
    if not isinstance(a, types.Array):
        return None
    if _is_none(axis) or (a.ndim == 1 and isinstance(axis, types.Integer)):
        def flat(a, axis=None):
            v = np.ascontiguousarray(a).ravel().astype(np.float64)
            out = np.empty(v.size)
            _others_1d(v, out)
            return out.reshape(a.shape)
        return flat
    if a.ndim == 2 and isinstance(axis, types.Integer):
        def along(a, axis=None):
            if axis % 2 == 1:
                return _others_rows(np.ascontiguousarray(a).astype(np.float64))
            return np.ascontiguousarray(_others_rows(np.ascontiguousarray(a.T).astype(np.float64)).T)
        return along
    return None   # other axes: the numba backend refuses (BackendError), the python backend has it


def _zero_unless_float(g, y):
    """Decided by the result's type when the function is compiled (reverse/rules/shape.zero_unless_float)."""
    floats = isinstance(getattr(y, "dtype", y), (types.Float, types.Complex))
    if floats:
        return lambda g, y: g
    if _is_scalar(g):
        return lambda g, y: 0.0
    return lambda g, y: np.zeros_like(g)


overload(_shape.zero_unless_float)(_zero_unless_float)

