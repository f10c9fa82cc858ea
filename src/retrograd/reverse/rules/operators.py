"""Python operators (`a + b`, `-x`, `a ** b`, `a @ b`) and their NumPy ufunc twins."""
import math
import operator

import numpy as np

from ...runtime import matmul_grad_a, matmul_grad_b, unbroadcast
from .registry import adjoint, d, t, tangent

KIND = "elementwise"


def pow_base_grad(a, b):
    """d(a ** b)/da: `b * a ** (b - 1)`, and 0 where b == 0 (a ** 0 is 1 for every a, 0 included).  At
    a == 0 with 0 < b < 1 it is inf, as the slope of NumPy's value is; it never raises ZeroDivisionError."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(b == 0, 0.0, b * np.power(a, b - 1.0))
    return out[()]


def pow_exp_grad(a, b, y):
    """d(a ** b)/db: `a ** b * log(a)`.  At a == 0 it is 0 for b > 0 (0 ** b is 0 around b) and NaN for
    b <= 0 (0 ** b jumps from 1 to inf there); for a < 0 it is NaN (a ** b is not real around b)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(a == 0, np.where(b > 0, 0.0, np.nan), y * np.log(a))
    return out[()]


@adjoint(operator.add, np.add)
def add(y, a, b):
    d[a] = unbroadcast(d[y], a)
    d[b] = unbroadcast(d[y], b)


@tangent(add)
def add(y, a, b):
    t[y] = t[a] + t[b]


@adjoint(operator.sub, np.subtract)
def sub(y, a, b):
    d[a] = unbroadcast(d[y], a)
    d[b] = unbroadcast(-d[y], b)


@tangent(sub)
def sub(y, a, b):
    t[y] = t[a] - t[b]


@adjoint(operator.mul, np.multiply)
def mul(y, a, b):
    d[a] = unbroadcast(d[y] * b, a)
    d[b] = unbroadcast(d[y] * a, b)


@tangent(mul)
def mul(y, a, b):
    t[y] = t[a] * b + a * t[b]


@adjoint(operator.truediv, np.divide, np.true_divide)
def div(y, a, b):
    d[a] = unbroadcast(d[y] / b, a)
    d[b] = unbroadcast(-d[y] * a / (b * b), b)


@tangent(div)
def div(y, a, b):
    t[y] = t[a] / b - t[b] * a / (b * b)


@adjoint(operator.pow, np.power, pow, math.pow)
def power(y, a, b):
    d[a] = unbroadcast(d[y] * pow_base_grad(a, b), a)
    d[b] = unbroadcast(d[y] * pow_exp_grad(a, b, y), b)


@tangent(power)
def power(y, a, b):
    t[y] = t[a] * pow_base_grad(a, b) + t[b] * pow_exp_grad(a, b, y)


@adjoint(operator.mod, np.mod, np.remainder)
def mod(y, a, b):
    d[a] = unbroadcast(d[y], a)
    d[b] = unbroadcast(-d[y] * np.floor_divide(a, b), b)


@tangent(mod)
def mod(y, a, b):
    t[y] = t[a] - t[b] * np.floor_divide(a, b)


@adjoint(operator.neg, np.negative)
def neg(y, x):
    d[x] = -d[y]


@tangent(neg)
def neg(y, x):
    t[y] = -t[x]


@adjoint(operator.pos, np.positive)
def pos(y, x):
    d[x] = d[y]


@tangent(pos)
def pos(y, x):
    t[y] = t[x]


@adjoint(operator.matmul, np.matmul, kind="product")
def matmul(y, a, b):
    d[a] = matmul_grad_a(d[y], a, b)
    d[b] = matmul_grad_b(d[y], a, b)


@tangent(matmul)
def matmul(y, a, b):
    t[y] = t[a] @ b + a @ t[b]
