"""Python operators (`a + b`, `-x`, `a ** b`, `a @ b`) and their NumPy ufunc twins."""
import math
import operator

import numpy as np

from ...runtime import matmul_grad_a, matmul_grad_b, unbroadcast
from .registry import adjoint, d


@adjoint(operator.add, np.add)
def add(y, a, b):
    d[a] = unbroadcast(d[y], a)
    d[b] = unbroadcast(d[y], b)


@adjoint(operator.sub, np.subtract)
def sub(y, a, b):
    d[a] = unbroadcast(d[y], a)
    d[b] = unbroadcast(-d[y], b)


@adjoint(operator.mul, np.multiply)
def mul(y, a, b):
    d[a] = unbroadcast(d[y] * b, a)
    d[b] = unbroadcast(d[y] * a, b)


@adjoint(operator.truediv, np.divide, np.true_divide)
def div(y, a, b):
    d[a] = unbroadcast(d[y] / b, a)
    d[b] = unbroadcast(-d[y] * a / (b * b), b)


def power_slope(a, b):
    """d(a ** b)/da = b * a ** (b - 1), and 0 where b == 0 (a ** 0 is 1 everywhere, also at a = 0).
    np.power, not `**`, so that 0.0 ** -0.5 is inf (the derivative's value) instead of a Python error.
    The transform writes `power_slope(x, 2)` as `2 * x` (simplify.Peephole)."""
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        return 0.0 if b == 0 else b * np.power(float(a), b - 1)
    b = np.asarray(b)
    return b * np.power(a, np.where(b == 0, 1, b - 1))


def power_log_slope(y, a, b):
    """d(a ** b)/db = a ** b * log(a), and 0 at a == 0 where b > 0 (0 ** b is 0 for every b > 0);
    NaN for a < 0, where a ** b is real only at integer b and has no derivative in b."""
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        if a == 0:
            return 0.0 if b > 0 else math.nan
        return y * (np.log(a) if a > 0 else math.nan)
    a, b = np.asarray(a), np.asarray(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a == 0, np.where(b > 0, 0.0, np.nan), y * np.log(np.where(a == 0, 1.0, a)))


@adjoint(operator.pow, np.power, pow, math.pow)
def power(y, a, b):
    d[a] = unbroadcast(d[y] * power_slope(a, b), a)
    d[b] = unbroadcast(d[y] * power_log_slope(y, a, b), b)


@adjoint(operator.mod, np.mod, np.remainder)
def mod(y, a, b):
    d[a] = unbroadcast(d[y], a)
    d[b] = unbroadcast(-d[y] * np.floor_divide(a, b), b)


@adjoint(operator.neg, np.negative)
def neg(y, x):
    d[x] = -d[y]


@adjoint(operator.pos, np.positive)
def pos(y, x):
    d[x] = d[y]


@adjoint(operator.matmul, np.matmul)
def matmul(y, a, b):
    d[a] = matmul_grad_a(d[y], a, b)
    d[b] = matmul_grad_b(d[y], a, b)
