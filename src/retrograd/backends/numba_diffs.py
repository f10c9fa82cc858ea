"""np.diff with an axis, prepend= or append= (Numba's takes (a, n) only), and the cotangents of its
prepend / append pieces (reverse/rules/statistics.undiff, which=0 / 2; numba_statistics has a's).  The
pieces are joined as (rows, width) blocks along the axis moved last, as NumPy joins them.
numba_shape_calls.lower_shape_calls makes the calls."""
import numpy as np
from numba import types
from numba.extending import overload
from numba.np.numpy_support import as_dtype

from ..reverse.rules import statistics as _rules
from .numba_axes import compile_source, is_none, literal_int
from .numba_manipulation import _from_rows, _to_rows
from .numba_statistics import _piece_width, _undiff_rows
from .numba_tangents import _diff_rows

__all__ = ["diff_along"]


def diff_along(a, n=1, axis=-1, prepend=None, append=None):
    kw = {k: v for k, v in (("prepend", prepend), ("append", append)) if v is not None}
    return np.diff(a, n, axis=axis, **kw)


def _dtype(t):
    return as_dtype(t.dtype if isinstance(t, types.Array) else t)


def _piece(name, p, ndim):
    """Source of one joined piece as (rows, width) float64 rows: NumPy broadcasts a scalar (or 0-d)
    piece to width 1; an array piece must match the operand except along the axis."""
    if is_none(p):
        return f"    {name} = np.zeros((rows, 0))\n"
    if isinstance(p, (types.Number, types.Boolean)):
        return f"    {name} = np.full((rows, 1), float({name}_))\n"
    if isinstance(p, types.Array) and p.ndim == 0:
        return f"    {name} = np.full((rows, 1), float({name}_[()]))\n"
    if isinstance(p, types.Array) and p.ndim == ndim:
        return (f"    {name}, _ = _to_rows(np.asarray({name}_, dtype=np.float64), axis)\n"
                f"    if {name}.shape[0] != rows:\n"
                f"        raise ValueError('all the input array dimensions except for the concatenation axis "
                f"must match exactly (np.diff prepend/append)')\n")
    return None


@overload(diff_along, prefer_literal=True)
def _diff_along(a, n=1, axis=-1, prepend=None, append=None):
    if not isinstance(a, types.Array) or a.ndim == 0 or literal_int(axis, -1) is None:
        return None
    pre, post = _piece("pre", prepend, a.ndim), _piece("post", append, a.ndim)
    if pre is None or post is None:
        return None
    kinds = [t for t in (a, prepend, append) if not is_none(t)]
    if any(_dtype(t) == np.bool_ for t in kinds):
        return None         # NumPy's diff of booleans is not_equal: not lowered
    out_dtype = np.result_type(*[_dtype(t) for t in kinds])
    src = ("def impl(a, n=1, axis=-1, prepend=None, append=None):\n"
           "    if n < 0:\n        raise ValueError('order must be non-negative but got ' + str(n))\n"
           "    if n == 0:\n        return a.copy()\n"
           "    me, shape = _to_rows(np.asarray(a, dtype=np.float64), axis)\n"
           "    rows = me.shape[0]\n    pre_, post_ = prepend, append\n" + pre + post +
           "    out = _diff_rows(np.ascontiguousarray(np.concatenate((pre, me, post), axis=1)), n)\n"
           "    return _from_rows(np.ascontiguousarray(out), shape[:-1] + (out.shape[1],), axis).astype(out_dtype)\n")
    return compile_source(src, _to_rows=_to_rows, _from_rows=_from_rows, _diff_rows=_diff_rows,
                          out_dtype=out_dtype)


@overload(_rules.undiff, prefer_literal=True)
def _undiff_pieces(g, a, n=1, axis=-1, prepend=None, append=None, which=0):
    """The cotangent of the prepend (0) or append (2) piece: its columns of the transposed difference,
    summed down to the piece's shape (unbroadcast, as the python rule)."""
    from ..runtime import unbroadcast
    w = literal_int(which, 0)
    if not isinstance(a, types.Array) or not isinstance(g, types.Array) or w not in (0, 2):
        return None
    target = prepend if w == 0 else append
    if is_none(target):
        return None
    cut = "full[:, :first]" if w == 0 else "full[:, first + ar.shape[1]:]"
    src = ("def impl(g, a, n=1, axis=-1, prepend=None, append=None, which=0):\n"
           "    gr, _ = _to_rows(np.asarray(g, dtype=np.float64), axis)\n"
           "    ar, shape = _to_rows(a, axis)\n"
           "    full = _undiff_rows(np.ascontiguousarray(gr), n)\n"
           "    first = _piece_width(prepend, a, axis)\n"
           f"    part = np.ascontiguousarray({cut})\n"
           "    spread = _from_rows(part, shape[:-1] + (part.shape[1],), axis)\n"
           f"    return unbroadcast(spread, {'prepend' if w == 0 else 'append'})\n")
    return compile_source(src, _to_rows=_to_rows, _from_rows=_from_rows, _undiff_rows=_undiff_rows,
                          _piece_width=_piece_width, unbroadcast=unbroadcast)
