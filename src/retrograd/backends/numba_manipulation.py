"""Numba versions of the rearrangements of reverse/rules/manipulation.py: the primal calls Numba's NumPy
lacks (np.tile, np.pad, np.diagonal, np.roll with an axis) and the cotangent helpers (untile, unrepeat,
unpad, undiag/undiagonal, unsort, untake, unsplit).  Loops over every rank are generated as source for
the operand's rank (known when the function is compiled); axes must be constants or ints."""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ..reverse.rules import manipulation as _rules
from .numba_axes import compile_source, is_none, literal_int

__all__ = ["roll_axis"]


def _loops(ndim, shape, body, indent=1):
    """Nested loops over `shape` (source of a tuple-like of length ndim) with indices i0, i1, ..."""
    pad = "    " * indent
    lines = []
    for k in range(ndim):
        lines.append(pad + "    " * k + f"for i{k} in range({shape}[{k}]):")
    lines.append(pad + "    " * ndim + body)
    return "\n".join(lines)


def _idx(ndim, fmt="i{k}"):
    return ", ".join(fmt.format(k=k) for k in range(ndim)) + ("," if ndim == 1 else "")


def _reps_len(reps):
    if isinstance(reps, types.Integer):
        return 1
    if isinstance(reps, types.BaseTuple) and all(isinstance(t, types.Integer) for t in reps.types):
        return len(reps)
    if isinstance(reps, types.List) and isinstance(reps.dtype, types.Integer):
        return None
    return None


def _tile_prelude(a, reps):
    r = _reps_len(reps)
    if not isinstance(a, types.Array) or r is None:
        return None
    n = max(a.ndim, r)
    rep = "(reps,)" if isinstance(reps, types.Integer) else "reps"
    lines = [f"    rr = (1,) * {n - r} + tuple({rep})" if r < n else f"    rr = tuple({rep})",
             f"    ss = (1,) * {n - a.ndim} + a.shape" if a.ndim < n else "    ss = a.shape",
             "    ap = np.ascontiguousarray(a).reshape(ss)" if a.ndim else "    ap = a.reshape(ss)"]
    return n, "\n".join(lines)


@overload(np.tile)
def _tile(A, reps):
    got = _tile_prelude(A, reps)
    if got is None:
        return None
    n, pre = got
    shape = "(" + "".join(f"rr[{k}] * ss[{k}], " for k in range(n)) + ")"
    src = (f"def impl(A, reps):\n    a = A\n{pre}\n    out = np.empty({shape}, dtype=a.dtype)\n"
           + _loops(n, "out.shape", f"out[{_idx(n)}] = ap[{_idx(n, 'i{k} % ss[{k}]')}]") + "\n    return out\n")
    return compile_source(src)


@overload(_rules.untile)
def _untile(g, a, reps):
    got = _tile_prelude(a, reps)
    if got is None or not isinstance(g, types.Array):
        return None
    n, pre = got
    src = (f"def impl(g, a, reps):\n{pre}\n    out = np.zeros(ss)\n"
           + _loops(n, "g.shape", f"out[{_idx(n, 'i{k} % ss[{k}]')}] += g[{_idx(n)}]") + "\n    return out.reshape(a.shape)\n")
    return compile_source(src)


def _to_rows(x, axis):
    """x with `axis` moved last, as a contiguous (rows, n) array."""


@overload(_to_rows)
def _to_rows_ol(x, axis):
    def impl(x, axis):
        m = np.ascontiguousarray(np.moveaxis(x, axis, -1))
        rows = 1          # the product of the other axes (m.size // n is 0, not it, when n is 0)
        for k in range(m.ndim - 1):
            rows *= m.shape[k]
        return m.reshape((rows, m.shape[-1])), m.shape
    return impl


def _from_rows(rows, moved_shape, axis):
    """The inverse of _to_rows: (rows, n) back to the array's own axis order."""


@overload(_from_rows)
def _from_rows_ol(rows, moved_shape, axis):
    return lambda rows, moved_shape, axis: np.ascontiguousarray(np.moveaxis(rows.reshape(moved_shape), -1, axis))


def _counts(repeats, n):
    """The count of each of n entries (an int broadcast, or one per entry), checked as NumPy does."""


@overload(_counts)
def _counts_ol(repeats, n):
    if isinstance(repeats, types.Integer):
        def one(repeats, n):
            if repeats < 0:
                raise ValueError("repeats may not contain negative values.")
            return np.full(n, repeats, dtype=np.int64)
        return one
    if isinstance(repeats, types.Array) and isinstance(repeats.dtype, types.Integer):
        as_array = "np.ascontiguousarray(repeats).ravel().astype(np.int64)"
    elif isinstance(repeats, (types.List, types.UniTuple)) and isinstance(repeats.dtype, types.Integer):
        as_array = "np.array(repeats, dtype=np.int64)"
    else:
        return None
    return compile_source(f"""def impl(repeats, n):
    r = {as_array}
    if r.size == 1:
        r = np.full(n, r[0], dtype=np.int64)
    if r.size != n:
        raise ValueError("operands could not be broadcast together (np.repeat's repeats)")
    for k in range(n):
        if r[k] < 0:
            raise ValueError("repeats may not contain negative values.")
    return r
""")


@overload(_rules.unrepeat)
def _unrepeat(g, a, repeats, axis=None):
    if isinstance(a, (types.Number, types.Boolean)) and is_none(axis):       # a scalar: its copies' sum
        return lambda g, a, repeats, axis=None: np.sum(g) if _counts(repeats, 1)[0] else 0.0
    if not isinstance(a, types.Array):
        return None
    if is_none(axis):
        def flat(g, a, repeats, axis=None):
            src = np.repeat(np.arange(a.size), _counts(repeats, a.size))
            gf = np.ascontiguousarray(g).ravel()
            out = np.zeros(a.size)
            for k in range(src.size):
                out[src[k]] += gf[k]
            return out.reshape(a.shape)
        return flat

    def along(g, a, repeats, axis=None):
        gr, _ = _to_rows(g, axis)
        ar, shape = _to_rows(a, axis)
        src = np.repeat(np.arange(ar.shape[1]), _counts(repeats, ar.shape[1]))
        out = np.zeros(ar.shape)
        for i in range(ar.shape[0]):
            for k in range(src.size):
                out[i, src[k]] += gr[i, k]
        return _from_rows(out, shape, axis)
    return along


# ---- np.pad: every mode whose entries are copies (constant, edge, reflect, symmetric, wrap) -------------
_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


@njit(cache=True)
def _pad_axis(n, before, after, mode):
    """For each position along one padded axis, the index it copies (-1: the constant)."""
    src = np.empty(n + before + after, dtype=np.int64)
    for j in range(src.size):
        i = j - before
        if 0 <= i < n:
            src[j] = i
        elif mode == 0 or n == 0:
            src[j] = -1
        elif mode == 1:
            src[j] = 0 if i < 0 else n - 1
        elif mode == 4:
            src[j] = i % n
        else:                      # reflect (2, edge not repeated) / symmetric (3, repeated)
            period = 2 * (n - 1) if mode == 2 else 2 * n
            if period == 0:
                src[j] = 0
                continue
            k = i % period
            if mode == 2:
                src[j] = k if k < n else period - k
            else:
                src[j] = k if k < n else period - 1 - k
    return src


def _widths(pad_width, ndim):
    """Source turning pad_width (an int, a (before, after) pair, or one pair per axis) into bb, aa."""
    def rep(v):
        return "(" + f"{v}, " * ndim + ")"
    if isinstance(pad_width, types.Integer):
        return f"    bb = {rep('pad_width')}\n    aa = {rep('pad_width')}\n"
    if isinstance(pad_width, types.BaseTuple) and all(isinstance(t, types.Integer) for t in pad_width.types):
        if len(pad_width) == 1:
            return f"    bb = {rep('pad_width[0]')}\n    aa = {rep('pad_width[0]')}\n"
        if len(pad_width) == 2:
            return f"    bb = {rep('pad_width[0]')}\n    aa = {rep('pad_width[1]')}\n"
        return None
    if isinstance(pad_width, types.BaseTuple) and len(pad_width) == ndim and all(
            isinstance(t, types.BaseTuple) and len(t) == 2 for t in pad_width.types):
        return ("    bb = (" + "".join(f"pad_width[{k}][0], " for k in range(ndim)) + ")\n"
                "    aa = (" + "".join(f"pad_width[{k}][1], " for k in range(ndim)) + ")\n")
    return None


def _mode(mode):
    if mode is None or isinstance(mode, types.Omitted) or mode == "constant":
        return 0
    if isinstance(mode, types.StringLiteral) and mode.literal_value in _MODES:
        return _MODES.index(mode.literal_value)
    return None


def _maps_source(ndim):
    return "".join(f"    m{k} = _pad_axis(array.shape[{k}], bb[{k}], aa[{k}], mode_code)\n" for k in range(ndim))


def pad_copies(array, pad_width, mode="constant", constant_values=0):
    return np.pad(array, pad_width, mode=mode, constant_values=constant_values)


@overload(pad_copies, prefer_literal=True)
def _pad_impl(array, pad_width, mode="constant", constant_values=0):
    if not isinstance(array, types.Array) or array.ndim == 0:
        return None
    m, n = _mode(mode), array.ndim
    w = _widths(pad_width, n)
    if m is None or w is None:
        return None
    shape = "(" + "".join(f"m{k}.size, " for k in range(n)) + ")"
    valid = " and ".join(f"m{k}[i{k}] >= 0" for k in range(n))
    body = (f"out[{_idx(n)}] = array[{_idx(n, 'm{k}[i{k}]')}] if {valid} else cv")
    src = (f"def impl(array, pad_width, mode='constant', constant_values=0):\n{w}    mode_code = {m}\n"
           f"{_maps_source(n)}    cv = constant_values\n    out = np.empty({shape})\n"
           + _loops(n, "out.shape", body) + "\n    return out\n")
    return compile_source(src, _pad_axis=_pad_axis)


def _unpad_source(n, which):
    valid = " and ".join(f"m{k}[i{k}] >= 0" for k in range(n))
    if which == "array":
        body = f"if {valid}:\n" + "    " * (n + 2) + f"out[{_idx(n, 'm{k}[i{k}]')}] += g[{_idx(n)}]"
        head, tail = "    out = np.zeros(array.shape)\n", "    return out\n"
    else:
        body = f"if not ({valid}):\n" + "    " * (n + 2) + f"s += g[{_idx(n)}]"
        head, tail = "    s = 0.0\n", "    return s\n"
    return head + _loops(n, "g.shape", body) + "\n" + tail


@overload(_rules.unpad, prefer_literal=True)
def _unpad(g, array, pad_width, mode="constant", reflect_type="even"):
    if not isinstance(array, types.Array) or array.ndim == 0:
        return None
    m, n = _mode(mode), array.ndim
    w = _widths(pad_width, n)
    if m is None or w is None:
        return None
    src = (f"def impl(g, array, pad_width, mode='constant', reflect_type='even'):\n{w}    mode_code = {m}\n"
           f"{_maps_source(n)}" + _unpad_source(n, "array"))
    return compile_source(src, _pad_axis=_pad_axis)


@overload(_rules.unpad_value)
def _unpad_value(g, array, pad_width):
    if not isinstance(array, types.Array) or array.ndim == 0:
        return None
    n = array.ndim
    w = _widths(pad_width, n)
    if w is None:
        return None
    src = f"def impl(g, array, pad_width):\n{w}    mode_code = 0\n{_maps_source(n)}" + _unpad_source(n, "value")
    return compile_source(src, _pad_axis=_pad_axis)


# ---- np.roll with an axis (Numba's takes none) -----------------------------------------------------------
def roll_axis(a, shift, axis=None):
    return np.roll(a, shift, axis)


@overload(roll_axis)
def _roll_axis(a, shift, axis=None):
    if not isinstance(a, types.Array):
        return None
    if is_none(axis):
        if not isinstance(shift, types.Integer):
            return None
        return lambda a, shift, axis=None: np.roll(np.ascontiguousarray(a).ravel(), shift).reshape(a.shape)
    if isinstance(axis, types.Integer) and isinstance(shift, types.Integer):
        def one(a, shift, axis=None):
            rows, shape = _to_rows(a, axis)
            out = np.empty_like(rows)
            n = rows.shape[1]
            for j in range(n):
                out[:, (j + shift) % n] = rows[:, j]
            return _from_rows(out, shape, axis)
        return one
    return None


def lower_rolls(tree):
    """`np.roll(a, shift, axis)` (an axis given, also None: the adjoint's spelling) becomes roll_axis,
    `np.pad` pad_copies (Numba has none) and `x.diagonal(...)` np.diagonal(x, ...)."""
    import gast

    class Lower(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            f = node.func
            on_np = isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == "np"
            if isinstance(f, gast.Attribute) and f.attr == "diagonal" and not on_np:     # x.diagonal(...)
                node.args = [f.value] + list(node.args)
                node.func = gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None,
                                                           type_comment=None), attr="diagonal", ctx=gast.Load())
                return node
            if not (on_np and f.attr in ("roll", "pad")):
                return node
            if f.attr == "pad":
                # reflect_type='even' is what the copies are (the rule refuses 'odd')
                node.keywords = [k for k in node.keywords if not (
                    k.arg == "reflect_type" and isinstance(k.value, gast.Constant) and k.value.value == "even")]
                if any(k.arg not in ("mode", "constant_values") for k in node.keywords):
                    return node
                node.func = gast.Name(id="pad_copies", ctx=gast.Load(), annotation=None, type_comment=None)
                return node
            if len(node.args) < 3 and not any(k.arg == "axis" for k in node.keywords):
                return node
            node.func = gast.Name(id="roll_axis", ctx=gast.Load(), annotation=None, type_comment=None)
            return node
    return Lower().visit(tree)


__all__ += ["pad_copies"]


# ---- diagonals --------------------------------------------------------------------------------------------
def _last_two(ndim, axis1, axis2):
    a1, a2 = axis1 % ndim, axis2 % ndim
    return tuple(k for k in range(ndim) if k not in (a1, a2)) + (a1, a2)


@overload(np.diagonal, prefer_literal=True)
def _diagonal(a, offset=0, axis1=0, axis2=1):
    if not isinstance(a, types.Array) or a.ndim < 2:
        return None
    ax1, ax2 = literal_int(axis1, 0), literal_int(axis2, 1)
    if ax1 is None or ax2 is None:
        return None
    perm = _last_two(a.ndim, ax1, ax2)
    lead = a.ndim - 2
    lead_idx = "".join(f"i{k}, " for k in range(lead))      # the other axes' indices, each with its comma
    src = (f"def impl(a, offset=0, axis1=0, axis2=1):\n    v = a.transpose({perm!r})\n"
           "    r0, c0 = max(-offset, 0), max(offset, 0)\n"
           "    k = max(0, min(v.shape[-2] - r0, v.shape[-1] - c0))\n"
           "    out = np.empty(v.shape[:-2] + (k,), dtype=a.dtype)\n"
           + _loops(lead + 1, "out.shape", f"out[{_idx(lead + 1)}] = v[{lead_idx}i{lead} + r0, i{lead} + c0]")
           + "\n    return out\n")
    return compile_source(src)


@overload(_rules.undiagonal, prefer_literal=True)
def _undiagonal(g, a, offset=0, axis1=0, axis2=1):
    if not isinstance(a, types.Array) or a.ndim < 2 or not isinstance(g, types.Array):
        return None
    ax1, ax2 = literal_int(axis1, 0), literal_int(axis2, 1)
    if ax1 is None or ax2 is None:
        return None
    perm = _last_two(a.ndim, ax1, ax2)
    lead = a.ndim - 2
    target = f"v[{''.join(f'i{k}, ' for k in range(lead))}i{lead} + r0, i{lead} + c0]"
    src = (f"def impl(g, a, offset=0, axis1=0, axis2=1):\n    out = np.zeros(a.shape)\n"
           f"    v = out.transpose({perm!r})\n    r0, c0 = max(-offset, 0), max(offset, 0)\n"
           + _loops(lead + 1, "g.shape", f"{target} = g[{_idx(lead + 1)}]") + "\n    return out\n")
    return compile_source(src)


@overload(_rules.undiag)
def _undiag(g, v, k=0):
    # np.diag of a vector is a matrix, of a matrix a vector: g has the rank v has not
    if not isinstance(v, types.Array) or not isinstance(g, types.Array) or {v.ndim, g.ndim} != {1, 2}:
        return None
    if v.ndim == 1:
        def one(g, v, k=0):
            r0, c0 = max(-k, 0), max(k, 0)
            out = np.empty(v.shape[0])
            for i in range(v.shape[0]):
                out[i] = g[i + r0, i + c0]
            return out
        return one
    return lambda g, v, k=0: _rules.undiagonal(g, v, k, 0, 1)


# ---- sorts, takes, splits -----------------------------------------------------------------------------
@njit(cache=True)
def _unsort_rows(g, a, y):
    out = np.zeros(a.shape)
    for i in range(a.shape[0]):
        src = np.argsort(a[i], kind="mergesort")
        rank_y = np.argsort(np.argsort(y[i], kind="mergesort"), kind="mergesort")
        for j in range(a.shape[1]):
            out[i, src[rank_y[j]]] = g[i, j]
    return out


@overload(_rules.unsort)
def _unsort(g, a, y, axis=-1):
    if not isinstance(a, types.Array) or not isinstance(g, types.Array):
        return None
    if is_none(axis):
        def flat(g, a, y, axis=-1):
            n = a.size
            out = _unsort_rows(np.ascontiguousarray(g).reshape((1, n)), np.ascontiguousarray(a).reshape((1, n)),
                               np.ascontiguousarray(y).reshape((1, n)))
            return out.reshape(a.shape)
        return flat

    def along(g, a, y, axis=-1):
        gr, _ = _to_rows(g, axis)
        ar, shape = _to_rows(a, axis)
        yr, _ = _to_rows(y, axis)
        return _from_rows(_unsort_rows(gr, ar, yr), shape, axis)
    return along


def _index_array(indices):
    return np.asarray(indices)


@overload(_index_array)
def _index_array_ol(indices):
    if isinstance(indices, types.Integer):
        return lambda indices: np.full(1, indices, dtype=np.int64)
    if isinstance(indices, types.Array):
        return lambda indices: np.ascontiguousarray(indices).ravel().astype(np.int64)
    return lambda indices: np.array(indices, dtype=np.int64).ravel()


@njit(cache=True)
def _fix(idx, n, mode):
    out = idx.copy()
    for k in range(out.size):
        if mode == 1:
            out[k] = out[k] % n
        elif mode == 2:
            out[k] = min(max(out[k], 0), n - 1)
        elif out[k] < 0:
            out[k] += n
    return out


def _mode_code(mode):
    if mode is None or isinstance(mode, types.Omitted) or mode == "raise":
        return 0
    if isinstance(mode, types.StringLiteral):
        return {"raise": 0, "wrap": 1, "clip": 2}.get(mode.literal_value)
    return None


@overload(_rules.untake, prefer_literal=True)
def _untake(g, a, indices, axis=None, mode="raise"):
    code = _mode_code(mode)
    if not isinstance(a, types.Array) or code is None:
        return None
    if is_none(axis):
        def flat(g, a, indices, axis=None, mode="raise"):
            idx = _fix(_index_array(indices), a.size, code)
            gf = np.ascontiguousarray(np.asarray(g)).ravel()
            out = np.zeros(a.size)
            for k in range(idx.size):
                out[idx[k]] += gf[k]
            return out.reshape(a.shape)
        return flat
    if not isinstance(axis, types.Integer):
        return None

    def along(g, a, indices, axis=None, mode="raise"):
        ar, shape = _to_rows(a, axis)
        idx = _fix(_index_array(indices), ar.shape[1], code)
        # g's axes: a's before `axis`, then the index's, then a's after: as (before, idx, after) blocks
        ax = axis % a.ndim
        before = 1
        for k in range(ax):
            before *= a.shape[k]
        after = ar.shape[0] // before if before else 0
        g3 = np.ascontiguousarray(np.asarray(g)).reshape((before, idx.size, after))
        out = np.zeros((before, after, ar.shape[1]))
        for i in range(before):
            for k in range(idx.size):
                for j in range(after):
                    out[i, j, idx[k]] += g3[i, k, j]
        return _from_rows(out.reshape(ar.shape), shape, axis)
    return along


@overload(np.matrix_transpose)
def _matrix_transpose(x):
    if isinstance(x, types.Array) and x.ndim >= 2:
        return lambda x: np.swapaxes(x, -1, -2)
    return None


def _rollaxis_order(ndim, axis, start):
    """np.rollaxis's permutation (NumPy's own normalisation of axis and start)."""
    axis, start = axis % ndim, start + ndim if start < 0 else start
    if axis < start:
        start -= 1
    order = [k for k in range(ndim) if k != axis]
    order.insert(start, axis)
    return tuple(order)


@overload(np.rollaxis, prefer_literal=True)
def _rollaxis(a, axis, start=0):
    ax, st = literal_int(axis), literal_int(start, 0)
    if not isinstance(a, types.Array) or ax is None or st is None:
        return None
    order = _rollaxis_order(a.ndim, ax, st)
    return lambda a, axis, start=0: a.transpose(order)


@overload(_rules.unrollaxis, prefer_literal=True)
def _unrollaxis(g, axis, start=0):
    ax, st = literal_int(axis), literal_int(start, 0)
    if not isinstance(g, types.Array) or ax is None or st is None:
        return None
    inverse = tuple(int(k) for k in np.argsort(_rollaxis_order(g.ndim, ax, st)))
    return lambda g, axis, start=0: g.transpose(inverse)


@overload(_rules.undelete)
def _undelete(g, arr, obj, axis=None):
    if not isinstance(arr, types.Array):
        return None
    if is_none(axis):
        def flat(g, arr, obj, axis=None):
            kept = np.delete(np.arange(arr.size), obj)
            gf = np.ascontiguousarray(g).ravel()
            out = np.zeros(arr.size)
            for k in range(kept.size):
                out[kept[k]] = gf[k]
            return out.reshape(arr.shape)
        return flat

    def along(g, arr, obj, axis=None):
        ar, shape = _to_rows(arr, axis)
        gr, _ = _to_rows(g, axis)
        kept = np.delete(np.arange(ar.shape[1]), obj)
        out = np.zeros(ar.shape)
        for i in range(ar.shape[0]):
            for k in range(kept.size):
                out[i, kept[k]] = gr[i, k]
        return _from_rows(out, shape, axis)
    return along


def _kept(condition):
    return np.nonzero(np.ravel(condition))[0]


@overload(_kept)
def _kept_ol(condition):
    if isinstance(condition, types.Array):
        return lambda condition: np.nonzero(np.ascontiguousarray(condition).ravel())[0]
    return lambda condition: np.nonzero(np.array(condition))[0]


@overload(np.compress)
def _compress(condition, a, axis=None):
    if not isinstance(a, types.Array) or not is_none(axis):
        return None
    return lambda condition, a, axis=None: np.ascontiguousarray(a).ravel()[_kept(condition)]


@overload(_rules.uncompress)
def _uncompress(g, condition, a, axis=None):
    return lambda g, condition, a, axis=None: _rules.untake(g, a, _kept(condition), axis)


@overload(_rules.unsplit, prefer_literal=True)
def _unsplit(g, ary, axis):
    if not isinstance(ary, types.Array) or not isinstance(g, (types.List, types.BaseTuple)):
        return None
    if isinstance(axis, types.StringLiteral):
        ax = 1 if ary.ndim > 1 else 0
    else:
        ax = literal_int(axis)
    if ax is None:
        return None

    def impl(g, ary, axis):
        out = np.zeros(ary.shape)
        moved = np.moveaxis(out, ax, 0)
        pos = 0
        for p in g:
            pm = np.moveaxis(p, ax, 0)
            moved[pos:pos + pm.shape[0]] = pm
            pos += pm.shape[0]
        return out
    return impl
