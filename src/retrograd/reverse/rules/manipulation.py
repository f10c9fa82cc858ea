"""Rearrangements that move, copy, select or drop entries: triangles and diagonals, rolls and rotations,
tiles and repeats, pads, splits, takes, sorts.  Each cotangent sends every entry of `d[y]` back to the
entry (or entries, summed) of the operand it came from."""
import numpy as np

from ...runtime import unbroadcast
from .registry import adjoint, d, t, tangent

KIND = "shape"


def undiagonal(g, a, offset=0, axis1=0, axis2=1):
    """Cotangent of np.diagonal(a, offset, axis1, axis2) (and of np.trace's diagonal): `g` written onto
    that diagonal of zeros shaped like `a`.  The diagonal's axis is the last one of `g`."""
    out = np.zeros(np.shape(a))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))       # a view: writes land in `out`
    k = np.arange(np.shape(g)[-1] if np.ndim(g) else 0)
    view[..., k + max(-offset, 0), k + max(offset, 0)] = g
    return out


def undiag(g, v, k=0):
    """Cotangent of np.diag(v, k): the k-th diagonal of `g` for a 1-D `v`, else `g` on v's k-th diagonal."""
    if np.ndim(v) == 1:
        return np.diagonal(g, k).copy()
    return undiagonal(g, v, k)


def unrollaxis(g, axis, start=0):
    """Cotangent of np.rollaxis(a, axis, start): the inverse permutation (NumPy's own normalisation)."""
    n = np.ndim(g)
    axis, start = axis % n, start + n if start < 0 else start
    if axis < start:
        start -= 1
    order = [k for k in range(n) if k != axis]
    order.insert(start, axis)
    return np.transpose(g, np.argsort(order))


def untile(g, a, reps):
    """Cotangent of np.tile(a, reps): the sum of the copies (g viewed as (rep, size) pairs per axis)."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    n = max(np.ndim(a), len(reps))
    shape = (1,) * (n - np.ndim(a)) + np.shape(a)
    reps = (1,) * (n - len(reps)) + reps
    pairs = [s for pair in zip(reps, shape) for s in pair]
    return np.reshape(np.sum(np.reshape(g, pairs), axis=tuple(range(0, 2 * n, 2))), np.shape(a))


def unrepeat(g, a, repeats, axis=None):
    """Cotangent of np.repeat(a, repeats, axis): each entry gets the sum of its copies (none: 0)."""
    if axis is None:
        src = np.repeat(np.arange(np.size(a)), repeats)
        return np.reshape(np.bincount(src, weights=g, minlength=np.size(a)), np.shape(a))
    n = np.shape(a)[axis]
    out = np.zeros(np.shape(a))
    np.add.at(np.moveaxis(out, axis, 0), np.repeat(np.arange(n), repeats), np.moveaxis(g, axis, 0))
    return out


_PAD_BY_INDEX = ("constant", "edge", "reflect", "symmetric", "wrap")


def _pad_source(a, pad_width, mode, reflect_type):
    """For each entry of np.pad's result, the flat index of the entry of `a` it copies (-1: a constant)."""
    idx = np.reshape(np.arange(np.size(a)), np.shape(a))
    if mode == "constant":
        return np.pad(idx, pad_width, mode="constant", constant_values=-1)
    if mode in ("reflect", "symmetric"):
        return np.pad(idx, pad_width, mode=mode, reflect_type=reflect_type)
    return np.pad(idx, pad_width, mode=mode)


def unpad(g, array, pad_width, mode="constant", reflect_type="even"):
    """Cotangent of `array` in np.pad: every entry of `g` goes back to the entry it copies (summed)."""
    src = np.ravel(_pad_source(array, pad_width, mode, reflect_type))
    keep = src >= 0
    return np.reshape(np.bincount(src[keep], weights=np.ravel(g)[keep], minlength=np.size(array)), np.shape(array))


def unpad_value(g, array, pad_width):
    """Cotangent of a scalar `constant_values`: the sum of `g` over the padding."""
    return np.sum(np.ravel(g)[np.ravel(_pad_source(array, pad_width, "constant", "even")) < 0])


def sort_tangent(v, a, y, axis=-1):
    """Tangent of a rearrangement `y` of `a`'s entries along `axis` (np.sort, np.partition): the entry of
    rank r in `y` moves with the entry of rank r in `a`, by the stable ranks unsort uses, so that jvp and
    vjp agree at ties too."""
    if axis is None:
        return sort_tangent(np.ravel(v), np.ravel(a), np.ravel(y), 0)
    src = np.argsort(a, axis=axis, kind="stable")
    rank_y = np.argsort(np.argsort(y, axis=axis, kind="stable"), axis=axis, kind="stable")
    return np.take_along_axis(np.broadcast_to(v, np.shape(a)), np.take_along_axis(src, rank_y, axis=axis), axis=axis)


def pad_tangent(v, pad_width, mode="constant", reflect_type="even"):
    """Tangent of `array` in np.pad: the tangent padded the same way (0 in a constant padding)."""
    if mode == "constant":
        return np.pad(v, pad_width)
    if mode in ("reflect", "symmetric"):
        return np.pad(v, pad_width, mode=mode, reflect_type=reflect_type)
    return np.pad(v, pad_width, mode=mode)


def pad_value_tangent(v, array, pad_width):
    """Tangent of a scalar `constant_values`: `v` on the padding, 0 on the copy of `array`."""
    return np.where(_pad_source(array, pad_width, "constant", "even") < 0, v, 0.0)


def _pad_check(args):
    mode = args.get("mode", "constant")
    if mode not in _PAD_BY_INDEX:
        return (f"with mode={mode!r}" if isinstance(mode, str) else "with a mode not written as a string literal",
                f"use one of the modes {', '.join(_PAD_BY_INDEX)} (written as a literal)")
    if args.get("reflect_type", "even") != "even":
        return ("with reflect_type='odd' (its entries are not copies)", "use reflect_type='even'")
    for k in ("stat_length", "end_values"):
        if args.get(k) is not None:
            return (f"with {k}=", f"{k} belongs to modes without a rule")
    return None


def unappend(g, arr, axis, which):
    """Cotangents of np.append(arr, values, axis): g split where `arr` ends (flattened when axis is None)."""
    if axis is None:
        g, cut = np.ravel(g), np.size(arr)
    else:
        cut = np.shape(arr)[axis]
    part = np.split(g, [cut], axis=0 if axis is None else axis)[which]
    return part


def split_pieces(g, arrays, axis, prep):
    """Cotangents of the pieces of a join along `axis` after `prep` (np.atleast_3d for dstack, 2-D columns
    for column_stack): `g` split at the pieces' extents, each reshaped back to its piece."""
    shapes = [np.shape(prep(a)) for a in arrays]
    cuts = np.cumsum([s[axis] for s in shapes])[:-1]
    return [np.reshape(p, np.shape(a)) for p, a in zip(np.split(g, cuts, axis=axis), arrays)]


def _column(a):
    return np.reshape(a, (-1, 1)) if np.ndim(a) < 2 else a


def unsplit(g, ary, axis):
    """Cotangent of the array split by np.split / array_split / hsplit / vsplit / dsplit: the pieces'
    cotangents joined back (a piece the function never used has a zero cotangent)."""
    if axis == "h":
        axis = 1 if np.ndim(ary) > 1 else 0
    return np.reshape(np.concatenate([np.asarray(p) for p in g], axis=axis), np.shape(ary))


def untake(g, a, indices, axis=None, mode="raise"):
    """Cotangent of np.take(a, indices, axis, mode): g added at the indices taken (repeats add up)."""
    n = np.size(a) if axis is None else np.shape(a)[axis]
    idx = np.asarray(indices)
    idx = idx % n if mode == "wrap" else np.clip(idx, 0, n - 1) if mode == "clip" else idx
    if axis is None:
        out = np.zeros(np.size(a))
        np.add.at(out, idx, g)
        return np.reshape(out, np.shape(a))
    axis = axis % np.ndim(a)
    out = np.zeros(np.shape(a))
    lead = list(range(axis, axis + idx.ndim))
    np.add.at(np.moveaxis(out, axis, 0), idx, np.moveaxis(g, lead, list(range(idx.ndim))))
    return out


def untake_along(g, arr, indices, axis=-1):
    """Cotangent of np.take_along_axis: g added where it was taken (repeats add up)."""
    if axis is None:
        out = np.zeros(np.size(arr))
        np.add.at(out, np.ravel(indices), np.ravel(g))
        return np.reshape(out, np.shape(arr))
    axis = axis % np.ndim(arr)
    out = np.zeros(np.shape(arr))
    grid = np.indices(np.shape(g), sparse=True)          # indices broadcast against arr's other axes
    where = tuple(np.broadcast_to(indices, np.shape(g)) if k == axis else grid[k] for k in range(np.ndim(arr)))
    np.add.at(out, where, g)
    return out


def unsort(g, a, y, axis=-1):
    """Cotangent of a rearrangement `y` of `a`'s entries along `axis` (np.sort, np.partition): the entry
    of rank r in `y` came from the entry of rank r in `a` (stable ranks, so tied entries, which are
    interchangeable, get the cotangents of their positions in order)."""
    if axis is None:
        return np.reshape(unsort(np.ravel(g), np.ravel(a), np.ravel(y), 0), np.shape(a))
    src = np.argsort(a, axis=axis, kind="stable")                  # rank -> position in a
    rank_y = np.argsort(np.argsort(y, axis=axis, kind="stable"), axis=axis, kind="stable")   # position in y -> rank
    out = np.zeros(np.shape(a))
    np.put_along_axis(out, np.take_along_axis(src, rank_y, axis=axis), g, axis=axis)
    return out


def unselect(g, condlist, choicelist, k, default_shape=None):
    """Cotangent of choice k of np.select (k == len(choicelist): the default): g where k was chosen."""
    n = len(choicelist)
    shape = np.broadcast_shapes(*[np.shape(c) for c in condlist], *[np.shape(c) for c in choicelist])
    which = np.select([np.broadcast_to(c, shape) for c in condlist], [np.full(shape, i) for i in range(n)], n)
    part = np.where(which == k, g, 0.0)
    target = choicelist[k] if k < n else np.zeros(default_shape)
    return unbroadcast(part, target)


def unselect_all(g, condlist, choicelist):
    return [unselect(g, condlist, choicelist, k) for k in range(len(choicelist))]


def undelete(g, arr, obj, axis=None):
    """Cotangent of np.delete(arr, obj, axis): g on the entries kept, 0 on those deleted."""
    if axis is None:
        kept = np.delete(np.arange(np.size(arr)), obj)
        out = np.zeros(np.size(arr))
        out[kept] = np.ravel(g)
        return np.reshape(out, np.shape(arr))
    kept = np.delete(np.arange(np.shape(arr)[axis]), obj)
    out = np.zeros(np.shape(arr))
    np.moveaxis(out, axis, 0)[kept] = np.moveaxis(g, axis, 0)
    return out


def uncompress(g, condition, a, axis=None):
    """Cotangent of np.compress(condition, a, axis): g on the entries selected."""
    kept = np.nonzero(np.ravel(condition))[0]
    return untake(g, a, kept, axis)


def real_only(g, x, name):
    """The cotangent of a real operand of np.real/imag/conj/angle/real_if_close; complex operands are
    refused (retrograd differentiates real functions only)."""
    if np.iscomplexobj(x):
        from ...errors import UsageError
        raise UsageError(f"np.{name} of a complex array is not differentiated (retrograd differentiates real "
                         "functions of real arguments)", construct=f"np.{name}",
                         hint="keep the computation real: split real and imaginary parts yourself")
    return g


@adjoint(np.tril)
def tril(y, m, k=0):
    d[m] = np.tril(d[y], k)


@tangent(tril)
def tril(y, m, k=0):
    t[y] = np.tril(t[m], k)


@adjoint(np.triu)
def triu(y, m, k=0):
    d[m] = np.triu(d[y], k)


@tangent(triu)
def triu(y, m, k=0):
    t[y] = np.triu(t[m], k)


@adjoint(np.diag)
def diag(y, v, k=0):
    d[v] = undiag(d[y], v, k)


@tangent(diag)
def diag(y, v, k=0):
    t[y] = np.diag(t[v], k)


@adjoint(np.diagonal, methods=("diagonal",))
def diagonal(y, a, offset=0, axis1=0, axis2=1):
    d[a] = undiagonal(d[y], a, offset, axis1, axis2)


@tangent(diagonal)
def diagonal(y, a, offset=0, axis1=0, axis2=1):
    t[y] = np.diagonal(t[a], offset, axis1, axis2)


@adjoint(np.diagflat)
def diagflat(y, v, k=0):
    d[v] = np.reshape(np.diagonal(d[y], k), np.shape(v))


@tangent(diagflat)
def diagflat(y, v, k=0):
    t[y] = np.diagflat(t[v], k)


@adjoint(np.roll)
def roll(y, a, shift, axis=None):
    d[a] = np.roll(d[y], np.negative(shift), axis)


@tangent(roll)
def roll(y, a, shift, axis=None):
    t[y] = np.roll(t[a], shift, axis)


@adjoint(np.rollaxis)
def rollaxis(y, a, axis, start=0):
    d[a] = unrollaxis(d[y], axis, start)


@tangent(rollaxis)
def rollaxis(y, a, axis, start=0):
    t[y] = np.rollaxis(t[a], axis, start)


@adjoint(np.matrix_transpose)
def matrix_transpose(y, x):
    d[x] = np.swapaxes(d[y], -1, -2)


@tangent(matrix_transpose)
def matrix_transpose(y, x):
    t[y] = np.swapaxes(t[x], -1, -2)


@adjoint(np.flipud)
def flipud(y, m):
    d[m] = np.flipud(d[y])


@tangent(flipud)
def flipud(y, m):
    t[y] = np.flipud(t[m])


@adjoint(np.fliplr)
def fliplr(y, m):
    d[m] = np.fliplr(d[y])


@tangent(fliplr)
def fliplr(y, m):
    t[y] = np.fliplr(t[m])


@adjoint(np.rot90)
def rot90(y, m, k=1, axes=(0, 1)):
    d[m] = np.rot90(d[y], -k, axes)


@tangent(rot90)
def rot90(y, m, k=1, axes=(0, 1)):
    t[y] = np.rot90(t[m], k, axes)


@adjoint(np.tile)
def tile(y, A, reps):
    d[A] = untile(d[y], A, reps)


@tangent(tile)
def tile(y, A, reps):
    t[y] = np.tile(t[A], reps)


@adjoint(np.repeat, methods=("repeat",))
def repeat(y, a, repeats, axis=None):
    d[a] = unrepeat(d[y], a, repeats, axis)


@tangent(repeat)
def repeat(y, a, repeats, axis=None):
    t[y] = np.repeat(t[a], repeats, axis)


@adjoint(np.pad, check=_pad_check)
def pad(y, array, pad_width, mode="constant", constant_values=0, reflect_type="even", stat_length=None,
        end_values=None):
    d[array] = unpad(d[y], array, pad_width, mode, reflect_type)
    d[constant_values] = unpad_value(d[y], array, pad_width)


@tangent(pad)
def pad(y, array, pad_width, mode="constant", constant_values=0, reflect_type="even", stat_length=None,
        end_values=None):
    t[y] = pad_tangent(t[array], pad_width, mode, reflect_type) + pad_value_tangent(t[constant_values], array, pad_width)


@adjoint(np.append)
def append(y, arr, values, axis=None):
    d[arr] = np.reshape(unappend(d[y], arr, axis, 0), np.shape(arr))
    d[values] = np.reshape(unappend(d[y], arr, axis, 1), np.shape(values))


@tangent(append)
def append(y, arr, values, axis=None):
    t[y] = np.append(t[arr], t[values], axis)


@adjoint(np.column_stack)
def column_stack(y, tup):
    d[tup] = split_pieces(d[y], tup, 1, _column)


@tangent(column_stack)
def column_stack(y, tup):
    t[y] = np.column_stack(t[tup])


@adjoint(np.dstack)
def dstack(y, tup):
    d[tup] = split_pieces(d[y], tup, 2, np.atleast_3d)


@tangent(dstack)
def dstack(y, tup):
    t[y] = np.dstack(t[tup])


@adjoint(np.split)
def split(y, ary, indices_or_sections, axis=0):
    d[ary] = unsplit(d[y], ary, axis)


@tangent(split)
def split(y, ary, indices_or_sections, axis=0):
    t[y] = np.split(t[ary], indices_or_sections, axis)


@adjoint(np.array_split)
def array_split(y, ary, indices_or_sections, axis=0):
    d[ary] = unsplit(d[y], ary, axis)


@tangent(array_split)
def array_split(y, ary, indices_or_sections, axis=0):
    t[y] = np.array_split(t[ary], indices_or_sections, axis)


@adjoint(np.hsplit)
def hsplit(y, ary, indices_or_sections):
    d[ary] = unsplit(d[y], ary, "h")


@tangent(hsplit)
def hsplit(y, ary, indices_or_sections):
    t[y] = np.hsplit(t[ary], indices_or_sections)


@adjoint(np.vsplit)
def vsplit(y, ary, indices_or_sections):
    d[ary] = unsplit(d[y], ary, 0)


@tangent(vsplit)
def vsplit(y, ary, indices_or_sections):
    t[y] = np.vsplit(t[ary], indices_or_sections)


@adjoint(np.dsplit)
def dsplit(y, ary, indices_or_sections):
    d[ary] = unsplit(d[y], ary, 2)


@tangent(dsplit)
def dsplit(y, ary, indices_or_sections):
    t[y] = np.dsplit(t[ary], indices_or_sections)


@adjoint(np.unstack)
def unstack(y, x, axis=0):
    d[x] = np.stack(d[y], axis)


@tangent(unstack)
def unstack(y, x, axis=0):
    t[y] = np.unstack(t[x], axis=axis)


@adjoint(np.take, methods=("take",))
def take(y, a, indices, axis=None, out=None, mode="raise"):
    d[a] = untake(d[y], a, indices, axis, mode)


@tangent(take)
def take(y, a, indices, axis=None, out=None, mode="raise"):
    t[y] = np.take(t[a], indices, axis, mode=mode)


@adjoint(np.take_along_axis)
def take_along_axis(y, arr, indices, axis=-1):
    d[arr] = untake_along(d[y], arr, indices, axis)


@tangent(take_along_axis)
def take_along_axis(y, arr, indices, axis=-1):
    t[y] = np.take_along_axis(t[arr], indices, axis)


@adjoint(np.sort)
def sort(y, a, axis=-1, kind=None, order=None, stable=None):
    d[a] = unsort(d[y], a, y, axis)


@tangent(sort)
def sort(y, a, axis=-1, kind=None, order=None, stable=None):
    t[y] = sort_tangent(t[a], a, y, axis)


@adjoint(np.partition)
def partition(y, a, kth, axis=-1, kind="introselect", order=None):
    d[a] = unsort(d[y], a, y, axis)


@tangent(partition)
def partition(y, a, kth, axis=-1, kind="introselect", order=None):
    t[y] = sort_tangent(t[a], a, y, axis)


@adjoint(np.select, zero=("condlist",))
def select(y, condlist, choicelist, default=0):
    d[choicelist] = unselect_all(d[y], condlist, choicelist)
    d[default] = unselect(d[y], condlist, choicelist, len(choicelist), np.shape(default))


@tangent(select)
def select(y, condlist, choicelist, default=0):
    t[y] = np.select(condlist, t[choicelist], t[default])


@adjoint(np.delete)
def delete(y, arr, obj, axis=None):
    d[arr] = undelete(d[y], arr, obj, axis)


@tangent(delete)
def delete(y, arr, obj, axis=None):
    t[y] = np.delete(t[arr], obj, axis)


@adjoint(np.compress, zero=("condition",))        # not `x.compress(c)`: a method binds x to the first parameter, here `condition`
def compress(y, condition, a, axis=None):
    d[a] = uncompress(d[y], condition, a, axis)


@tangent(compress)
def compress(y, condition, a, axis=None):
    t[y] = np.compress(condition, t[a], axis)


@adjoint(np.extract, zero=("condition",))
def extract(y, condition, arr):
    d[arr] = np.reshape(uncompress(d[y], condition, np.ravel(arr), 0), np.shape(arr))


@tangent(extract)
def extract(y, condition, arr):
    t[y] = np.extract(condition, t[arr])


@adjoint(np.conj, np.conjugate, methods=("conj", "conjugate"), kind="elementwise")
def conj(y, x):
    d[x] = real_only(d[y], x, "conj")


@tangent(conj)
def conj(y, x):
    t[y] = real_only(t[x], x, "conj")


@adjoint(np.real_if_close, kind="elementwise", zero=("tol",))
def real_if_close(y, a, tol=100):
    d[a] = real_only(d[y], a, "real_if_close")


@tangent(real_if_close)
def real_if_close(y, a, tol=100):
    t[y] = real_only(t[a], a, "real_if_close")


@adjoint(np.imag, kind="elementwise")
def imag(y, val):
    d[val] = 0.0 * real_only(d[y], val, "imag")       # a real array's imaginary part is the constant 0


@tangent(imag)
def imag(y, val):
    t[y] = 0.0 * real_only(t[val], val, "imag")


@adjoint(np.angle, kind="elementwise")
def angle(y, z, deg=False):
    d[z] = 0.0 * real_only(d[y], z, "angle")          # 0 or pi: constant away from z == 0


@tangent(angle)
def angle(y, z, deg=False):
    t[y] = 0.0 * real_only(t[z], z, "angle")
