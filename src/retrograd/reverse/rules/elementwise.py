"""Elementwise functions of `math` and NumPy."""
import math

import numpy as np

from ...runtime import unbroadcast
from .reductions import div_or_zero
from .registry import adjoint, d

KIND = "elementwise"


@adjoint(np.sin, math.sin)
def sin(y, x):
    d[x] = d[y] * np.cos(x)


@adjoint(np.cos, math.cos)
def cos(y, x):
    d[x] = -d[y] * np.sin(x)


@adjoint(np.tan, math.tan)
def tan(y, x):
    d[x] = d[y] * (1.0 + y * y)


@adjoint(np.arcsin, math.asin)
def arcsin(y, x):
    d[x] = d[y] / np.sqrt(1.0 - x * x)


@adjoint(np.arccos, math.acos)
def arccos(y, x):
    d[x] = -d[y] / np.sqrt(1.0 - x * x)


@adjoint(np.arctan, math.atan)
def arctan(y, x):
    d[x] = d[y] / (1.0 + x * x)


@adjoint(np.arctan2, math.atan2)
def arctan2(r, y, x):
    d[y] = unbroadcast(d[r] * x / (x * x + y * y), y)
    d[x] = unbroadcast(-d[r] * y / (x * x + y * y), x)


@adjoint(np.sinh, math.sinh)
def sinh(y, x):
    d[x] = d[y] * np.cosh(x)


@adjoint(np.cosh, math.cosh)
def cosh(y, x):
    d[x] = d[y] * np.sinh(x)


@adjoint(np.tanh, math.tanh)
def tanh(y, x):
    d[x] = d[y] * (1.0 - y * y)


@adjoint(np.arcsinh, math.asinh)
def arcsinh(y, x):
    d[x] = d[y] / np.sqrt(x * x + 1.0)


@adjoint(np.arccosh, math.acosh)
def arccosh(y, x):
    d[x] = d[y] / np.sqrt(x * x - 1.0)


@adjoint(np.arctanh, math.atanh)
def arctanh(y, x):
    d[x] = d[y] / (1.0 - x * x)


@adjoint(np.exp, math.exp)
def exp(y, x):
    d[x] = d[y] * y


@adjoint(np.exp2)
def exp2(y, x):
    d[x] = d[y] * y * 0.6931471805599453


@adjoint(np.expm1, math.expm1)
def expm1(y, x):
    d[x] = d[y] * (y + 1.0)


@adjoint(np.log)
def log(y, x):
    d[x] = d[y] / x


@adjoint(math.log)
def math_log(y, x, base=math.e):
    d[x] = d[y] / (x * math.log(base))
    d[base] = -d[y] * y / (base * math.log(base))


@adjoint(np.log1p, math.log1p)
def log1p(y, x):
    d[x] = d[y] / (1.0 + x)


@adjoint(np.log2, math.log2)
def log2(y, x):
    d[x] = d[y] / (x * 0.6931471805599453)


@adjoint(np.log10, math.log10)
def log10(y, x):
    d[x] = d[y] / (x * 2.302585092994046)


@adjoint(np.sqrt)
def sqrt(y, x):
    d[x] = d[y] * 0.5 / y


@adjoint(math.sqrt)
def math_sqrt(y, x):
    d[x] = d[y] * np.divide(0.5, y)    # inf at 0, as the slope is: a Python float `0.5 / y` would raise


@adjoint(np.cbrt)
def cbrt(y, x):
    d[x] = d[y] / (3.0 * y * y)


@adjoint(np.square)
def square(y, x):
    d[x] = d[y] * 2.0 * x


@adjoint(np.reciprocal)
def reciprocal(y, x):
    d[x] = -d[y] * y * y


@adjoint(np.abs, np.absolute, abs, math.fabs, np.fabs)
def absolute(y, x):
    d[x] = d[y] * np.sign(x)


@adjoint(np.maximum, np.fmax)
def maximum(y, a, b):
    d[a] = unbroadcast(d[y] * (a >= b), a)
    d[b] = unbroadcast(d[y] * (a < b), b)


@adjoint(np.minimum, np.fmin)
def minimum(y, a, b):
    d[a] = unbroadcast(d[y] * (a <= b), a)
    d[b] = unbroadcast(d[y] * (a > b), b)


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


@adjoint(np.where)
def where(y, condition, x, z):
    d[x] = unbroadcast(np.where(condition, d[y], 0.0), x)
    d[z] = unbroadcast(np.where(condition, 0.0, d[y]), z)


@adjoint(np.hypot, math.hypot)
def hypot(r, x, y):
    d[x] = unbroadcast(div_or_zero(d[r] * x, r), x)      # 0 at the origin: a subgradient of the cone
    d[y] = unbroadcast(div_or_zero(d[r] * y, r), y)


@adjoint(np.logaddexp)
def logaddexp(y, a, b):
    d[a] = unbroadcast(d[y] * np.exp(a - y), a)
    d[b] = unbroadcast(d[y] * np.exp(b - y), b)


@adjoint(np.sinc)
def sinc(y, x):
    d[x] = d[y] * np.where(x == 0.0, 0.0, (np.cos(np.pi * x) - y) / np.where(x == 0.0, 1.0, x))


@adjoint(np.deg2rad, np.radians, math.radians)
def deg2rad(y, x):
    d[x] = d[y] * 0.017453292519943295


@adjoint(np.rad2deg, np.degrees, math.degrees)
def rad2deg(y, x):
    d[x] = d[y] * 57.29577951308232


@adjoint(float, np.float64, np.real)
def identity(y, x):
    d[x] = d[y]


@adjoint(max)
def builtin_max(y, a, b):
    d[a] = d[y] * (a >= b)
    d[b] = d[y] * (a < b)


@adjoint(min)
def builtin_min(y, a, b):
    d[a] = d[y] * (a <= b)
    d[b] = d[y] * (a > b)
