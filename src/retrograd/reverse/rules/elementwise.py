"""Elementwise functions of `math` and NumPy."""
import math

import numpy as np

from ...runtime import unbroadcast
from .reductions import div_or_zero
from .registry import adjoint, d, t, tangent

KIND = "elementwise"


@adjoint(np.sin, math.sin)
def sin(y, x):
    d[x] = d[y] * np.cos(x)


@tangent(sin)
def sin(y, x):
    t[y] = t[x] * np.cos(x)


@adjoint(np.cos, math.cos)
def cos(y, x):
    d[x] = -d[y] * np.sin(x)


@tangent(cos)
def cos(y, x):
    t[y] = -t[x] * np.sin(x)


@adjoint(np.tan, math.tan)
def tan(y, x):
    d[x] = d[y] * (1.0 + y * y)


@tangent(tan)
def tan(y, x):
    t[y] = t[x] * (1.0 + y * y)


@adjoint(np.arcsin, math.asin)
def arcsin(y, x):
    d[x] = d[y] / np.sqrt(1.0 - x * x)


@tangent(arcsin)
def arcsin(y, x):
    t[y] = t[x] / np.sqrt(1.0 - x * x)


@adjoint(np.arccos, math.acos)
def arccos(y, x):
    d[x] = -d[y] / np.sqrt(1.0 - x * x)


@tangent(arccos)
def arccos(y, x):
    t[y] = -t[x] / np.sqrt(1.0 - x * x)


@adjoint(np.arctan, math.atan)
def arctan(y, x):
    d[x] = d[y] / (1.0 + x * x)


@tangent(arctan)
def arctan(y, x):
    t[y] = t[x] / (1.0 + x * x)


@adjoint(np.arctan2, math.atan2)
def arctan2(r, y, x):
    d[y] = unbroadcast(d[r] * x / (x * x + y * y), y)
    d[x] = unbroadcast(-d[r] * y / (x * x + y * y), x)


@tangent(arctan2)
def arctan2(r, y, x):
    t[r] = t[y] * x / (x * x + y * y) - t[x] * y / (x * x + y * y)


@adjoint(np.sinh, math.sinh)
def sinh(y, x):
    d[x] = d[y] * np.cosh(x)


@tangent(sinh)
def sinh(y, x):
    t[y] = t[x] * np.cosh(x)


@adjoint(np.cosh, math.cosh)
def cosh(y, x):
    d[x] = d[y] * np.sinh(x)


@tangent(cosh)
def cosh(y, x):
    t[y] = t[x] * np.sinh(x)


@adjoint(np.tanh, math.tanh)
def tanh(y, x):
    d[x] = d[y] * (1.0 - y * y)


@tangent(tanh)
def tanh(y, x):
    t[y] = t[x] * (1.0 - y * y)


@adjoint(np.arcsinh, math.asinh)
def arcsinh(y, x):
    d[x] = d[y] / np.sqrt(x * x + 1.0)


@tangent(arcsinh)
def arcsinh(y, x):
    t[y] = t[x] / np.sqrt(x * x + 1.0)


@adjoint(np.arccosh, math.acosh)
def arccosh(y, x):
    d[x] = d[y] / np.sqrt(x * x - 1.0)


@tangent(arccosh)
def arccosh(y, x):
    t[y] = t[x] / np.sqrt(x * x - 1.0)


@adjoint(np.arctanh, math.atanh)
def arctanh(y, x):
    d[x] = d[y] / (1.0 - x * x)


@tangent(arctanh)
def arctanh(y, x):
    t[y] = t[x] / (1.0 - x * x)


@adjoint(np.exp, math.exp)
def exp(y, x):
    d[x] = d[y] * y


@tangent(exp)
def exp(y, x):
    t[y] = t[x] * y


@adjoint(np.exp2)
def exp2(y, x):
    d[x] = d[y] * y * 0.6931471805599453


@tangent(exp2)
def exp2(y, x):
    t[y] = t[x] * y * 0.6931471805599453


@adjoint(np.expm1, math.expm1)
def expm1(y, x):
    d[x] = d[y] * (y + 1.0)


@tangent(expm1)
def expm1(y, x):
    t[y] = t[x] * (y + 1.0)


@adjoint(np.log)
def log(y, x):
    d[x] = d[y] / x


@tangent(log)
def log(y, x):
    t[y] = t[x] / x


@adjoint(math.log)
def math_log(y, x, base=math.e):
    d[x] = d[y] / (x * math.log(base))
    d[base] = -d[y] * y / (base * math.log(base))


@tangent(math_log)
def math_log(y, x, base=math.e):
    t[y] = t[x] / (x * math.log(base)) - t[base] * y / (base * math.log(base))


@adjoint(np.log1p, math.log1p)
def log1p(y, x):
    d[x] = d[y] / (1.0 + x)


@tangent(log1p)
def log1p(y, x):
    t[y] = t[x] / (1.0 + x)


@adjoint(np.log2, math.log2)
def log2(y, x):
    d[x] = d[y] / (x * 0.6931471805599453)


@tangent(log2)
def log2(y, x):
    t[y] = t[x] / (x * 0.6931471805599453)


@adjoint(np.log10, math.log10)
def log10(y, x):
    d[x] = d[y] / (x * 2.302585092994046)


@tangent(log10)
def log10(y, x):
    t[y] = t[x] / (x * 2.302585092994046)


@adjoint(np.sqrt)
def sqrt(y, x):
    d[x] = d[y] * 0.5 / y


@tangent(sqrt)
def sqrt(y, x):
    t[y] = t[x] * 0.5 / y


@adjoint(math.sqrt)
def math_sqrt(y, x):
    d[x] = d[y] * np.divide(0.5, y)    # inf at 0, as the slope is: a Python float `0.5 / y` would raise


@tangent(math_sqrt)
def math_sqrt(y, x):
    t[y] = t[x] * np.divide(0.5, y)


@adjoint(np.cbrt)
def cbrt(y, x):
    d[x] = d[y] / (3.0 * y * y)


@tangent(cbrt)
def cbrt(y, x):
    t[y] = t[x] / (3.0 * y * y)


@adjoint(np.square)
def square(y, x):
    d[x] = d[y] * 2.0 * x


@tangent(square)
def square(y, x):
    t[y] = t[x] * 2.0 * x


@adjoint(np.reciprocal)
def reciprocal(y, x):
    d[x] = -d[y] * y * y


@tangent(reciprocal)
def reciprocal(y, x):
    t[y] = -t[x] * y * y


@adjoint(np.abs, np.absolute, abs, math.fabs, np.fabs)
def absolute(y, x):
    d[x] = d[y] * np.sign(x)


@tangent(absolute)
def absolute(y, x):
    t[y] = t[x] * np.sign(x)


@adjoint(np.maximum, np.fmax)
def maximum(y, a, b):
    d[a] = unbroadcast(d[y] * (a >= b), a)
    d[b] = unbroadcast(d[y] * (a < b), b)


@tangent(maximum)
def maximum(y, a, b):
    t[y] = t[a] * (a >= b) + t[b] * (a < b)


@adjoint(np.minimum, np.fmin)
def minimum(y, a, b):
    d[a] = unbroadcast(d[y] * (a <= b), a)
    d[b] = unbroadcast(d[y] * (a > b), b)


@tangent(minimum)
def minimum(y, a, b):
    t[y] = t[a] * (a <= b) + t[b] * (a > b)


def clip_mask(a, a_min, a_max, which):
    """Where np.clip's result comes from: 0 -> `a`, 1 -> `a_min`, 2 -> `a_max` (a 0/1 float array of the
    broadcast shape).  np.clip is minimum(maximum(a, a_min), a_max) and ties go to the first operand: at
    a == a_min the gradient goes to `a` (a valid one-sided derivative); with a_min > a_max all of it goes
    to `a_max`, as the value does.  A None bound is no bound."""
    a = np.asarray(a)
    lo = -np.inf if a_min is None else np.asarray(a_min)
    hi = np.inf if a_max is None else np.asarray(a_max)
    above = np.maximum(a, lo) > hi
    pick = (a >= lo) & ~above if which == 0 else (a < lo) & ~above if which == 1 else above
    return np.asarray(pick, dtype=np.float64)[()]


@adjoint(np.clip, methods=("clip",))
def clip(y, a, a_min=None, a_max=None):
    d[a] = unbroadcast(d[y] * clip_mask(a, a_min, a_max, 0), a)
    d[a_min] = unbroadcast(d[y] * clip_mask(a, a_min, a_max, 1), a_min)
    d[a_max] = unbroadcast(d[y] * clip_mask(a, a_min, a_max, 2), a_max)


@tangent(clip)
def clip(y, a, a_min=None, a_max=None):
    t[y] = t[a] * clip_mask(a, a_min, a_max, 0) + t[a_min] * clip_mask(a, a_min, a_max, 1) + t[a_max] * clip_mask(a, a_min, a_max, 2)


@adjoint(np.where, zero=("condition",))
def where(y, condition, x, z):
    d[x] = unbroadcast(np.where(condition, d[y], 0.0), x)
    d[z] = unbroadcast(np.where(condition, 0.0, d[y]), z)


@tangent(where)
def where(y, condition, x, z):
    t[y] = np.where(condition, t[x], t[z])


@adjoint(np.hypot, math.hypot)
def hypot(r, x, y):
    d[x] = unbroadcast(div_or_zero(d[r] * x, r), x)      # 0 at the origin: a subgradient of the cone
    d[y] = unbroadcast(div_or_zero(d[r] * y, r), y)


@tangent(hypot)
def hypot(r, x, y):
    t[r] = t[x] * div_or_zero(x, r) + t[y] * div_or_zero(y, r)


@adjoint(np.logaddexp)
def logaddexp(y, a, b):
    d[a] = unbroadcast(d[y] * np.exp(a - y), a)
    d[b] = unbroadcast(d[y] * np.exp(b - y), b)


@tangent(logaddexp)
def logaddexp(y, a, b):
    t[y] = t[a] * np.exp(a - y) + t[b] * np.exp(b - y)


@adjoint(np.sinc)
def sinc(y, x):
    d[x] = d[y] * np.where(x == 0.0, 0.0, (np.cos(np.pi * x) - y) / np.where(x == 0.0, 1.0, x))


@tangent(sinc)
def sinc(y, x):
    t[y] = t[x] * np.where(x == 0.0, 0.0, (np.cos(np.pi * x) - y) / np.where(x == 0.0, 1.0, x))


@adjoint(np.deg2rad, np.radians, math.radians)
def deg2rad(y, x):
    d[x] = d[y] * 0.017453292519943295


@tangent(deg2rad)
def deg2rad(y, x):
    t[y] = t[x] * 0.017453292519943295


@adjoint(np.rad2deg, np.degrees, math.degrees)
def rad2deg(y, x):
    d[x] = d[y] * 57.29577951308232


@tangent(rad2deg)
def rad2deg(y, x):
    t[y] = t[x] * 57.29577951308232


@adjoint(float, np.float64, np.real)
def identity(y, x):
    d[x] = d[y]


@tangent(identity)
def identity(y, x):
    t[y] = t[x]


@adjoint(max)
def builtin_max(y, a, b):
    d[a] = d[y] * (a >= b)
    d[b] = d[y] * (a < b)


@tangent(builtin_max)
def builtin_max(y, a, b):
    t[y] = t[a] * (a >= b) + t[b] * (a < b)


@adjoint(min)
def builtin_min(y, a, b):
    d[a] = d[y] * (a <= b)
    d[b] = d[y] * (a > b)


@tangent(builtin_min)
def builtin_min(y, a, b):
    t[y] = t[a] * (a <= b) + t[b] * (a > b)
