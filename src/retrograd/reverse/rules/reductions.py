"""Reductions with `axis` and `keepdims`: the cotangent is broadcast back over the reduced axes."""
import numpy as np

from ...runtime import select_grad, unreduce
from .registry import adjoint, d


@adjoint(np.sum, methods=("sum",))
def sum_(y, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] = unreduce(d[y], a, axis, keepdims)


@adjoint(sum)
def builtin_sum(y, a):
    d[a] = unreduce(d[y], a, 0, False)


@adjoint(np.mean, methods=("mean",))
def mean(y, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] = unreduce(d[y], a, axis, keepdims) * (np.size(y) / np.size(a))


@adjoint(np.prod, methods=("prod",))
def prod(y, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] = unreduce(d[y] * y, a, axis, keepdims) / a


@adjoint(np.max, np.amax, methods=("max",))
def max_(y, a, axis=None, out=None, keepdims=False):
    d[a] = select_grad(d[y], a, y, axis, keepdims)


@adjoint(np.min, np.amin, methods=("min",))
def min_(y, a, axis=None, out=None, keepdims=False):
    d[a] = select_grad(d[y], a, y, axis, keepdims)


@adjoint(np.var, methods=("var",))
def var(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    d[a] = unreduce(d[y], a, axis, keepdims) * (2.0 * (a - np.mean(a, axis=axis, keepdims=True))
                                                 / (np.size(a) / np.size(y) - ddof))


@adjoint(np.std, methods=("std",))
def std(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    d[a] = unreduce(d[y] / y, a, axis, keepdims) * ((a - np.mean(a, axis=axis, keepdims=True))
                                                     / (np.size(a) / np.size(y) - ddof))


@adjoint(np.cumsum, methods=("cumsum",))
def cumsum(y, a, axis=None, dtype=None, out=None):
    d[a] = np.reshape(np.flip(np.cumsum(np.flip(d[y], axis), axis), axis), np.shape(a))
