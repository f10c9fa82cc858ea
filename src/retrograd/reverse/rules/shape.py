"""Shape and layout: transpose, reshape, joins, copies.  Cotangents are the inverse rearrangement."""
import numpy as np

from ...runtime import scatter_add, scatter_sub, unbroadcast
from .registry import adjoint, d

KIND = "shape"


def untranspose(g, axes):
    """Cotangent of np.transpose(a, axes): the inverse permutation (negative axes counted from the end)."""
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, np.argsort([k % np.ndim(g) for k in axes]))


def split_like(g, arrays, axis, how="concatenate"):
    """Cotangents of the pieces joined by concatenate / stack / hstack / vstack."""
    if axis is None:               # np.concatenate(..., axis=None) joins the flattened pieces
        sizes = np.cumsum([np.size(a) for a in arrays])[:-1]
        return [np.reshape(p, np.shape(a)) for p, a in zip(np.split(np.ravel(g), sizes), arrays)]
    if how == "stack":
        return [np.take(g, k, axis=axis) for k in range(len(arrays))]
    if how == "hstack":            # 0-d pieces join as 1-D ones (np.hstack applies atleast_1d)
        axis = 0 if np.ndim(np.atleast_1d(arrays[0])) == 1 else 1
        sizes = np.cumsum([np.shape(np.atleast_1d(a))[axis] for a in arrays])[:-1]
        return [np.reshape(p, np.shape(a)) for p, a in zip(np.split(g, sizes, axis=axis), arrays)]
    if how == "vstack":
        shapes = [np.shape(np.atleast_2d(a)) for a in arrays]
        sizes = np.cumsum([s[0] for s in shapes])[:-1]
        return [np.reshape(p, np.shape(a)) for p, a in zip(np.split(g, sizes, axis=0), arrays)]
    sizes = np.cumsum([np.shape(a)[axis] for a in arrays])[:-1]
    return [np.reshape(p, np.shape(a)) for p, a in zip(np.split(g, sizes, axis=axis), arrays)]


def unreshape(g, a, order="C"):
    """Cotangent of a reshape / ravel in `order` ("F" reads and writes column-major: so does its inverse)."""
    return np.reshape(g, np.shape(a), order=order)


def unarray(g, obj):
    """Cotangent of the (nested) sequence passed to np.array."""
    if isinstance(obj, (list, tuple)):
        return [unarray(g[k], e) for k, e in enumerate(obj)]
    return unbroadcast(g, obj)


@adjoint(np.transpose, methods=("transpose",))
def transpose(y, a, axes=None):
    d[a] = untranspose(d[y], axes)


@adjoint(attributes=("T",))
def T(y, a):
    d[a] = np.transpose(d[y])


@adjoint(np.reshape, methods=("reshape",))
def reshape(y, a, shape=None, order="C"):
    d[a] = unreshape(d[y], a, order)


@adjoint(np.ravel, methods=("ravel", "flatten"))
def ravel(y, a, order="C"):
    d[a] = unreshape(d[y], a, order)


@adjoint(np.squeeze, methods=("squeeze",))
def squeeze(y, a, axis=None):
    d[a] = np.reshape(d[y], np.shape(a))


@adjoint(np.expand_dims)
def expand_dims(y, a, axis):
    d[a] = np.reshape(d[y], np.shape(a))


@adjoint(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast(y, a):
    d[a] = np.reshape(d[y], np.shape(a))


@adjoint(np.broadcast_to)
def broadcast_to(y, array, shape):
    d[array] = unbroadcast(d[y], array)


@adjoint(np.swapaxes, methods=("swapaxes",))
def swapaxes(y, a, axis1, axis2):
    d[a] = np.swapaxes(d[y], axis1, axis2)


@adjoint(np.moveaxis)
def moveaxis(y, a, source, destination):
    d[a] = np.moveaxis(d[y], destination, source)


@adjoint(np.flip)
def flip(y, m, axis=None):
    d[m] = np.flip(d[y], axis)


@adjoint(np.concatenate)
def concatenate(y, arrays, axis=0):
    d[arrays] = split_like(d[y], arrays, axis)


@adjoint(np.stack)
def stack(y, arrays, axis=0):
    d[arrays] = split_like(d[y], arrays, axis, "stack")


@adjoint(np.hstack)
def hstack(y, tup):
    d[tup] = split_like(d[y], tup, 0, "hstack")


@adjoint(np.vstack)
def vstack(y, tup):
    d[tup] = split_like(d[y], tup, 0, "vstack")


@adjoint(np.copy, methods=("copy",))
def copy_(y, a):
    d[a] = d[y]


@adjoint(np.ascontiguousarray)
def ascontiguousarray(y, a):
    d[a] = np.reshape(d[y], np.shape(a))     # a 0-d `a` comes back with shape (1,)


@adjoint(scatter_add)          # what `np.add.at(a, idx, x)` becomes
def scatter_add_(y, a, idx, x):
    d[a] = d[y]
    d[x] = unbroadcast(d[y][idx], x)


@adjoint(scatter_sub)          # `np.subtract.at(a, idx, x)`
def scatter_sub_(y, a, idx, x):
    d[a] = d[y]
    d[x] = -unbroadcast(d[y][idx], x)


@adjoint(np.array, np.asarray)
def array(y, obj, dtype=None):
    d[obj] = unarray(d[y], obj)


@adjoint(methods=("astype",))
def astype(y, a, dtype):
    d[a] = d[y]


@adjoint(np.full)
def full(y, shape, fill_value, dtype=None):
    d[fill_value] = unbroadcast(d[y], fill_value)


@adjoint(np.full_like)
def full_like(y, a, fill_value, dtype=None):
    d[fill_value] = unbroadcast(d[y], fill_value)


@adjoint(np.linspace)
def linspace(y, start, stop, num=50):
    d[start] = np.sum(d[y] * (1.0 - np.linspace(0.0, 1.0, num)))
    d[stop] = np.sum(d[y] * np.linspace(0.0, 1.0, num))
