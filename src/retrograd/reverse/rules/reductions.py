"""Reductions with `axis` and `keepdims`: the cotangent is broadcast back over the reduced axes."""
import numpy as np

from ...runtime import reduce_shape, select_grad, unreduce
from .registry import adjoint, d, reduced, same_rank, t, tangent

KIND = "reduction"


def prod_others(a, axis=None):
    """For each entry of `a`, the product of the others along `axis` (the partial derivative of np.prod).

    Not `prod / a`: that is NaN at a zero.  With one zero in a slice, the zero's entry is the product of
    the rest and the others are 0; with two or more zeros, every entry is 0.
    """
    a = np.asarray(a)
    zero = a == 0
    count = np.sum(zero, axis=axis, keepdims=True)
    rest = np.prod(np.where(zero, 1, a), axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        plain = rest / np.where(zero, 1, a)
    return np.where(count == 0, plain, np.where(zero & (count == 1), rest, 0.0))


def div_or_zero(g, y):
    """`g / y`, and 0 where `y` is 0: np.std is 0 only where every entry equals the mean (one element, or
    ddof-free ties), and there 0 is its derivative (size 1) or a valid subgradient (a cone's apex)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(y == 0, 0.0, g / np.where(y == 0, 1.0, y))
    return out[()]


def select_weights(a, y, axis=None, keepdims=False):
    """Where max/min took its value from: 1/count at each tied entry, 0 elsewhere (a's shape): the
    tangent of the result is the mean of the selected entries' tangents, as the cotangent is split."""
    r = y if keepdims else np.reshape(y, reduce_shape(a, axis))
    mask = a == r
    return mask / np.sum(mask, axis=axis, keepdims=True)


@adjoint(np.sum, methods=("sum",), rank=reduced())
def sum_(y, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] = unreduce(d[y], a, axis, keepdims)


@tangent(sum_)
def sum_(y, a, axis=None, dtype=None, out=None, keepdims=False):
    t[y] = np.sum(t[a], axis=axis, keepdims=keepdims)


@adjoint(sum)
def builtin_sum(y, a):
    d[a] = unreduce(d[y], a, 0, False)


@tangent(builtin_sum)
def builtin_sum(y, a):
    t[y] = np.sum(t[a], axis=0)


@adjoint(np.mean, methods=("mean",), rank=reduced())
def mean(y, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] = unreduce(d[y], a, axis, keepdims) * np.true_divide(np.size(y), np.size(a))   # not `/`: 0 / 0 on an empty axis


@tangent(mean)
def mean(y, a, axis=None, dtype=None, out=None, keepdims=False):
    t[y] = np.sum(t[a], axis=axis, keepdims=keepdims) * np.true_divide(np.size(y), np.size(a))


@adjoint(np.prod, methods=("prod",), rank=reduced())
def prod(y, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] = unreduce(d[y], a, axis, keepdims) * prod_others(a, axis)


@tangent(prod)
def prod(y, a, axis=None, dtype=None, out=None, keepdims=False):
    t[y] = np.sum(t[a] * prod_others(a, axis), axis=axis, keepdims=keepdims)


@adjoint(np.max, np.amax, methods=("max",), rank=reduced())
def max_(y, a, axis=None, out=None, keepdims=False):
    d[a] = select_grad(d[y], a, y, axis, keepdims)


@tangent(max_)
def max_(y, a, axis=None, out=None, keepdims=False):
    t[y] = np.sum(t[a] * select_weights(a, y, axis, keepdims), axis=axis, keepdims=keepdims)


@adjoint(np.min, np.amin, methods=("min",), rank=reduced())
def min_(y, a, axis=None, out=None, keepdims=False):
    d[a] = select_grad(d[y], a, y, axis, keepdims)


@tangent(min_)
def min_(y, a, axis=None, out=None, keepdims=False):
    t[y] = np.sum(t[a] * select_weights(a, y, axis, keepdims), axis=axis, keepdims=keepdims)


@adjoint(np.var, methods=("var",), rank=reduced())
def var(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    d[a] = unreduce(d[y], a, axis, keepdims) * (2.0 * (a - np.mean(a, axis=axis, keepdims=True))
                                                 / (np.true_divide(np.size(a), np.size(y)) - ddof))


@tangent(var)
def var(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    t[y] = np.sum(t[a] * (a - np.mean(a, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims) * 2.0 / (np.true_divide(np.size(a), np.size(y)) - ddof)


@adjoint(np.std, methods=("std",), rank=reduced())
def std(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    d[a] = unreduce(div_or_zero(d[y], y), a, axis, keepdims) * ((a - np.mean(a, axis=axis, keepdims=True))
                                                     / (np.true_divide(np.size(a), np.size(y)) - ddof))


@tangent(std)
def std(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    t[y] = div_or_zero(np.sum(t[a] * (a - np.mean(a, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims) / (np.true_divide(np.size(a), np.size(y)) - ddof), y)


@adjoint(np.cumsum, methods=("cumsum",))
def cumsum(y, a, axis=None, dtype=None, out=None):
    d[a] = np.reshape(np.flip(np.cumsum(np.flip(d[y], axis), axis), axis), np.shape(a))


@tangent(cumsum)
def cumsum(y, a, axis=None, dtype=None, out=None):
    t[y] = np.cumsum(t[a], axis=axis)
