"""Shape and layout: transpose, reshape, joins, copies.  Cotangents are the inverse rearrangement."""
import numpy as np

from ...runtime import scatter_add, scatter_sub, unbroadcast
from .registry import adjoint, d, same_rank, t, tangent

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


@adjoint(np.transpose, methods=("transpose",), rank=same_rank("a"))
def transpose(y, a, axes=None):
    d[a] = untranspose(d[y], axes)


@tangent(transpose)
def transpose(y, a, axes=None):
    t[y] = np.transpose(t[a], axes)


@adjoint(attributes=("T",))
def T(y, a):
    d[a] = np.transpose(d[y])


@tangent(T)
def T(y, a):
    t[y] = np.transpose(t[a])


@adjoint(np.reshape, methods=("reshape",))
def reshape(y, a, shape=None, order="C"):
    d[a] = unreshape(d[y], a, order)


@tangent(reshape)
def reshape(y, a, shape=None, order="C"):
    t[y] = np.reshape(t[a], np.shape(y), order=order)


@adjoint(np.ravel, methods=("ravel", "flatten"))
def ravel(y, a, order="C"):
    d[a] = unreshape(d[y], a, order)


@tangent(ravel)
def ravel(y, a, order="C"):
    t[y] = np.reshape(t[a], np.shape(y), order=order)


@adjoint(np.squeeze, methods=("squeeze",))
def squeeze(y, a, axis=None):
    d[a] = np.reshape(d[y], np.shape(a))


@tangent(squeeze)
def squeeze(y, a, axis=None):
    t[y] = np.reshape(t[a], np.shape(y))


@adjoint(np.expand_dims)
def expand_dims(y, a, axis):
    d[a] = np.reshape(d[y], np.shape(a))


@tangent(expand_dims)
def expand_dims(y, a, axis):
    t[y] = np.reshape(t[a], np.shape(y))


@adjoint(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast(y, a):
    d[a] = np.reshape(d[y], np.shape(a))


@tangent(atleast)
def atleast(y, a):
    t[y] = np.reshape(t[a], np.shape(y))


@adjoint(np.broadcast_to)
def broadcast_to(y, array, shape):
    d[array] = unbroadcast(d[y], array)


@tangent(broadcast_to)
def broadcast_to(y, array, shape):
    t[y] = np.broadcast_to(t[array], np.shape(y))


@adjoint(np.swapaxes, methods=("swapaxes",), rank=same_rank("a"))
def swapaxes(y, a, axis1, axis2):
    d[a] = np.swapaxes(d[y], axis1, axis2)


@tangent(swapaxes)
def swapaxes(y, a, axis1, axis2):
    t[y] = np.swapaxes(t[a], axis1, axis2)


@adjoint(np.moveaxis, rank=same_rank("a"))
def moveaxis(y, a, source, destination):
    d[a] = np.moveaxis(d[y], destination, source)


@tangent(moveaxis)
def moveaxis(y, a, source, destination):
    t[y] = np.moveaxis(t[a], source, destination)


@adjoint(np.flip, rank=same_rank("m"))
def flip(y, m, axis=None):
    d[m] = np.flip(d[y], axis)


@tangent(flip)
def flip(y, m, axis=None):
    t[y] = np.flip(t[m], axis)


@adjoint(np.concatenate)
def concatenate(y, arrays, axis=0):
    d[arrays] = split_like(d[y], arrays, axis)


@tangent(concatenate)
def concatenate(y, arrays, axis=0):
    t[y] = np.concatenate(t[arrays], axis=axis)


@adjoint(np.stack)
def stack(y, arrays, axis=0):
    d[arrays] = split_like(d[y], arrays, axis, "stack")


@tangent(stack)
def stack(y, arrays, axis=0):
    t[y] = np.stack(t[arrays], axis=axis)


@adjoint(np.hstack)
def hstack(y, tup):
    d[tup] = split_like(d[y], tup, 0, "hstack")


@tangent(hstack)
def hstack(y, tup):
    t[y] = np.hstack(t[tup])


@adjoint(np.vstack)
def vstack(y, tup):
    d[tup] = split_like(d[y], tup, 0, "vstack")


@tangent(vstack)
def vstack(y, tup):
    t[y] = np.vstack(t[tup])


@adjoint(np.copy, methods=("copy",), rank=same_rank("a"))
def copy_(y, a):
    d[a] = d[y]


@tangent(copy_)
def copy_(y, a):
    t[y] = np.copy(t[a])


@adjoint(np.ascontiguousarray)
def ascontiguousarray(y, a):
    d[a] = np.reshape(d[y], np.shape(a))     # a 0-d `a` comes back with shape (1,)


@tangent(ascontiguousarray)
def ascontiguousarray(y, a):
    t[y] = np.reshape(t[a], np.shape(y))


@adjoint(scatter_add)          # what `np.add.at(a, idx, x)` becomes
def scatter_add_(y, a, idx, x):
    d[a] = d[y]
    d[x] = unbroadcast(d[y][idx], x)


@tangent(scatter_add_)
def scatter_add_(y, a, idx, x):
    t[y] = scatter_add(t[a], idx, t[x])


@adjoint(scatter_sub)          # `np.subtract.at(a, idx, x)`
def scatter_sub_(y, a, idx, x):
    d[a] = d[y]
    d[x] = -unbroadcast(d[y][idx], x)


@tangent(scatter_sub_)
def scatter_sub_(y, a, idx, x):
    t[y] = scatter_sub(t[a], idx, t[x])


@adjoint(np.array, np.asarray)
def array(y, obj, dtype=None):
    d[obj] = unarray(d[y], obj)


@tangent(array)
def array(y, obj, dtype=None):
    t[y] = np.array(t[obj], dtype=np.float64)


@adjoint(methods=("astype",), rank=same_rank("a"))
def astype(y, a, dtype):
    d[a] = d[y]


@tangent(astype)
def astype(y, a, dtype):
    t[y] = t[a]


@adjoint(np.full)
def full(y, shape, fill_value, dtype=None):
    d[fill_value] = unbroadcast(d[y], fill_value)


@tangent(full)
def full(y, shape, fill_value, dtype=None):
    t[y] = np.full(np.shape(y), t[fill_value])


def zero_unless_float(g, y):
    """`g`, or zeros where the result `y` holds integers or booleans: np.full_like(np.arange(3), v) takes
    the dtype of its first argument, so the value written is truncated and its derivative is 0."""
    return g if np.asarray(y).dtype.kind in "fc" else np.zeros_like(g)


@adjoint(np.full_like, zero=("a",))
def full_like(y, a, fill_value, dtype=None):
    d[fill_value] = unbroadcast(zero_unless_float(d[y], y), fill_value)


@tangent(full_like)
def full_like(y, a, fill_value, dtype=None):
    t[y] = zero_unless_float(np.full(np.shape(y), t[fill_value]), y)


@adjoint(np.linspace)
def linspace(y, start, stop, num=50):
    d[start] = np.sum(d[y] * (1.0 - np.linspace(0.0, 1.0, num)))
    d[stop] = np.sum(d[y] * np.linspace(0.0, 1.0, num))


@tangent(linspace)
def linspace(y, start, stop, num=50):
    t[y] = t[start] * (1.0 - np.linspace(0.0, 1.0, num)) + t[stop] * np.linspace(0.0, 1.0, num)
