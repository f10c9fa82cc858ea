"""Reductions with `axis` and `keepdims`: the cotangent is broadcast back over the reduced axes."""
import numpy as np

from ...runtime import div_or_zero, select_grad, unreduce
from .registry import adjoint, d


def prod_grad(g, a, axis=None, keepdims=False):
    """Cotangent of np.prod: `g` times the product of the *other* entries of each reduced group, built
    from prefix and suffix products so that zeros in `a` give exact values (`prod / a` would be 0/0)."""
    a = np.asarray(a)
    if a.ndim == 0:
        return g * np.ones_like(a, dtype=float)
    axes = tuple(range(a.ndim)) if axis is None else tuple(
        k % a.ndim for k in (axis if isinstance(axis, tuple) else (axis,)))
    last = tuple(range(a.ndim - len(axes), a.ndim))
    moved = np.moveaxis(a, axes, last)
    flat = moved.reshape(moved.shape[:a.ndim - len(axes)] + (-1,))
    if flat.shape[-1] == 0:
        return np.zeros(a.shape)
    ones = np.ones(flat.shape[:-1] + (1,))
    before = np.concatenate([ones, np.cumprod(flat[..., :-1], axis=-1)], axis=-1)
    after = np.concatenate([np.cumprod(flat[..., :0:-1], axis=-1)[..., ::-1], ones], axis=-1)
    others = np.moveaxis((before * after).reshape(moved.shape), last, axes)
    return unreduce(g, a, axis, keepdims) * others


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
    d[a] = prod_grad(d[y], a, axis, keepdims)


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
    d[a] = unreduce(div_or_zero(d[y], y), a, axis, keepdims) * ((a - np.mean(a, axis=axis, keepdims=True))
                                                     / (np.size(a) / np.size(y) - ddof))


@adjoint(np.cumsum, methods=("cumsum",))
def cumsum(y, a, axis=None, dtype=None, out=None):
    d[a] = np.reshape(np.flip(np.cumsum(np.flip(d[y], axis), axis), axis), np.shape(a))
