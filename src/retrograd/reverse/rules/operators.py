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


@adjoint(operator.pow, np.power, pow, math.pow)
def power(y, a, b):
    d[a] = unbroadcast(d[y] * b * a ** (b - 1), a)
    d[b] = unbroadcast(d[y] * y * np.log(a), b)


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
