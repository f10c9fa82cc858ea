"""Numba versions of the tangent helpers that forward mode's templates call (reverse/rules/*: `@tangent`),
for jvp on the numba backend: np.linalg.norm's, solve's and pinv's, np.sort's (and np.partition's),
np.cumprod's, np.diff's, np.pad's, logsumexp's, and max/min's tie weights for arrays of three or more axes.

Each computes what the python helper computes, by the same formula: the norm's tangent is the sum over the
reduced axes of its partials (numba_norm's norm_grad of a unit seed) times the tangent, the sort's moves
each entry with the entry of the same stable rank, cumprod's is its recurrence (exact at zeros).  Axes
must be constants (an int, a tuple of ints or None), as the numba lowering of the primal needs; what has
no implementation here (a tuple axis only known at run time, a string order of a vector norm, ...) is
Numba's typing error, which the numba backend turns into a BackendError at the user's line.
"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ..reverse.rules import decompositions as _dec, linalg as _lin, manipulation as _man
from ..reverse.rules import reductions as _red, special as _special, statistics as _stat
from .numba_axes import compile_source, is_none, literal_int, spread
from .numba_linalg import linalg_solve, new_axes
from .numba_manipulation import _from_rows, _to_rows, pad_copies
from .numba_norm import _plan
from .numba_products import matmul
from .numba_reductions import _axes, _keep, reduce_sum


def _float_array(t, ndim=1):
    return isinstance(t, types.Array) and isinstance(t.dtype, types.Float) and t.ndim >= ndim


# ---- np.linalg.norm ------------------------------------------------------------------------------------
@overload(_lin.norm_tangent, prefer_literal=True)
def _norm_tangent(dx, x, y, ord=None, axis=None, keepdims=False):
    """sum(norm_grad(1, x, y) * dx) over the reduced axes: each entry of x feeds one entry of y."""
    plan = _plan(x, ord, axis, keepdims)
    if plan is None or not _float_array(dx):
        return None
    _, axes, keep, _, _ = plan
    seed = "1.0" if isinstance(y, (types.Number, types.Boolean)) else "np.ones(y.shape)"
    if not keep and len(axes) == x.ndim:
        total = "np.sum(part)"                              # every axis reduced: a scalar
    else:
        total = f"reduce_sum(part, {tuple(sorted(axes))!r}, {keep})"
    src = (f"def impl(dx, x, y, ord=None, axis=None, keepdims=False):\n"
           f"    part = _lin.norm_grad({seed}, x, y, ord, axis, keepdims) * dx\n"
           f"    return {total}\n")
    return compile_source(src, _lin=_lin, reduce_sum=reduce_sum)


# ---- np.linalg.solve, np.linalg.pinv -------------------------------------------------------------------
@overload(_lin.solve_tangent_a)
def _solve_tangent_a(a, da, x, b):
    """solve(a, da @ x), x a stack of vectors exactly when b is 1-D (as in solve itself)."""
    if not (_float_array(a, 2) and _float_array(da, 2) and _float_array(x) and isinstance(b, types.Array)):
        return None
    if b.ndim == 1:
        return lambda a, da, x, b: linalg_solve(a, matmul(da, new_axes(x, 1)))[..., 0]
    return lambda a, da, x, b: linalg_solve(a, matmul(da, x))


@overload(_dec.pinv_tangent)
def _pinv_tangent(da, a, p):
    """Golub & Pereyra's tangent of p = pinv(a) (a of constant rank), with the batched matmul."""
    if not (_float_array(da, 2) and _float_array(a, 2) and _float_array(p, 2)):
        return None

    def impl(da, a, p):
        m, n = a.shape[-2], a.shape[-1]
        pt, dat = np.ascontiguousarray(np.swapaxes(p, -1, -2)), np.ascontiguousarray(np.swapaxes(da, -1, -2))
        p, da = np.ascontiguousarray(p), np.ascontiguousarray(da)
        left = np.eye(m) - matmul(np.ascontiguousarray(a), p)      # I - a p
        right = np.eye(n) - matmul(p, np.ascontiguousarray(a))     # I - p a
        return (-matmul(matmul(p, da), p) + matmul(matmul(matmul(p, pt), dat), left)
                + matmul(matmul(matmul(right, dat), pt), p))
    return impl


# ---- np.sort, np.partition -----------------------------------------------------------------------------
@njit(cache=True)
def _sort_rows(v, a, y):
    """Row by row: the entry of stable rank r in y takes the tangent of the entry of stable rank r in a."""
    out = np.empty(a.shape)
    for i in range(a.shape[0]):
        src = np.argsort(a[i], kind="mergesort")
        rank_y = np.argsort(np.argsort(y[i], kind="mergesort"), kind="mergesort")
        for j in range(a.shape[1]):
            out[i, j] = v[i, src[rank_y[j]]]
    return out


@overload(_man.sort_tangent)
def _sort_tangent(v, a, y, axis=-1):
    if not (isinstance(a, types.Array) and isinstance(y, types.Array) and _float_array(v, 0)):
        return None
    if is_none(axis):
        def flat(v, a, y, axis=-1):
            n = a.size
            vv = np.ascontiguousarray(np.broadcast_to(v, a.shape)).reshape((1, n)).astype(np.float64)
            return _sort_rows(vv, np.ascontiguousarray(a).reshape((1, n)),
                              np.ascontiguousarray(y).reshape((1, n))).reshape(n)
        return flat
    if a.ndim == 0:
        return None

    def along(v, a, y, axis=-1):
        vr, _ = _to_rows(np.broadcast_to(v, a.shape).astype(np.float64), axis)
        ar, shape = _to_rows(a, axis)
        yr, _ = _to_rows(y, axis)
        return _from_rows(_sort_rows(vr, ar, yr), shape, axis)
    return along


# ---- np.cumprod ----------------------------------------------------------------------------------------
@njit(cache=True)
def _cumprod_tangent_rows(v, a):
    """Along each row: dy_k = dy_{k-1} a_k + y_{k-1} v_k (no division: exact at zeros)."""
    out = np.empty(a.shape)
    for i in range(a.shape[0]):
        y, dy = 1.0, 0.0
        for k in range(a.shape[1]):
            dy = dy * a[i, k] + y * v[i, k]
            y = y * a[i, k]
            out[i, k] = dy
    return out


@overload(_stat.cumprod_tangent)
def _cumprod_tangent(v, a, axis=None):
    if not (isinstance(a, types.Array) and _float_array(v, 0)):
        return None
    if is_none(axis) and a.ndim == 0:           # Numba's np.broadcast_to fails on the shape ()
        if v.ndim != 0:
            return None
        return lambda v, a, axis=None: _cumprod_tangent_rows(np.full((1, 1), v[()], dtype=np.float64),
                                                             np.full((1, 1), a[()], dtype=np.float64)).reshape(1)
    if is_none(axis):
        def flat(v, a, axis=None):
            n = a.size
            vv = np.ascontiguousarray(np.broadcast_to(v, a.shape)).reshape((1, n)).astype(np.float64)
            return _cumprod_tangent_rows(vv, np.ascontiguousarray(a).reshape((1, n)).astype(np.float64)).reshape(n)
        return flat
    if a.ndim == 0:
        return None

    def along(v, a, axis=None):
        vr, _ = _to_rows(np.broadcast_to(v, a.shape).astype(np.float64), axis)
        ar, shape = _to_rows(a.astype(np.float64), axis)
        return _from_rows(_cumprod_tangent_rows(vr, ar), shape, axis)
    return along


# ---- np.diff -------------------------------------------------------------------------------------------
@njit(cache=True)
def _diff_rows(j, n):
    """`n` differences along each row of j."""
    for _ in range(n):
        out = np.empty((j.shape[0], max(j.shape[1] - 1, 0)))
        for i in range(j.shape[0]):
            for k in range(out.shape[1]):
                out[i, k] = j[i, k + 1] - j[i, k]
        j = out
    return j


def _piece_source(name, p, mine, ndim):
    """Source of one piece of np.diff's joined rows: `p` (prepend or append; None, a scalar, a 0-d array
    or an array of a's rank) as (rows, width), holding the tangent `v` if it is `mine`, else zeros."""
    if is_none(p):
        return f"    {name} = np.zeros((rows, 0))\n"
    if isinstance(p, (types.Number, types.Boolean)) or (isinstance(p, types.Array) and p.ndim == 0):
        value = ("v" if isinstance(p, (types.Number, types.Boolean)) else "v[()]") if mine else "0.0"
        return f"    {name} = np.full((rows, 1), float({value}))\n"
    if isinstance(p, types.Array) and p.ndim == ndim:
        src = "np.asarray(v, dtype=np.float64)" if mine else "np.zeros(p_.shape)"
        return (f"    p_ = {'prepend' if name == 'pre' else 'append'}\n"
                f"    {name}, _ = _to_rows(np.ascontiguousarray({src}), axis)\n"
                f"    if {name}.shape[0] != rows:\n"
                f"        raise ValueError('np.diff: prepend/append must match the array except along axis')\n")
    return None


@overload(_stat.diff_part, prefer_literal=True)
def _diff_part(v, a, n=1, axis=-1, prepend=None, append=None, which=1):
    """np.diff of the joined pieces [prepend, a, append] with the tangent `v` in piece `which`, zeros in
    the others (np.diff is linear in them)."""
    w = literal_int(which, 1)
    if not isinstance(a, types.Array) or a.ndim == 0 or w not in (0, 1, 2):
        return None
    pre = _piece_source("pre", prepend, w == 0, a.ndim)
    post = _piece_source("post", append, w == 2, a.ndim)
    if pre is None or post is None:
        return None
    mid = "np.broadcast_to(v, a.shape).astype(np.float64)" if w == 1 else "np.zeros(a.shape)"
    src = (f"def impl(v, a, n=1, axis=-1, prepend=None, append=None, which=1):\n"
           f"    if n == 0:\n"
           f"        return {mid}\n"            # NumPy returns `a` itself when n == 0 (no pieces joined)
           f"    if n < 0:\n"
           f"        raise ValueError('order must be non-negative but got ' + str(n))\n"
           f"    me, shape = _to_rows(np.ascontiguousarray({mid}), axis)\n"
           f"    rows = me.shape[0]\n"
           + pre + post +
           f"    joined = np.concatenate((pre, me, post), axis=1)\n"
           f"    out = _diff_rows(np.ascontiguousarray(joined), n)\n"
           f"    return _from_rows(np.ascontiguousarray(out), shape[:-1] + (out.shape[1],), axis)\n")
    return compile_source(src, _to_rows=_to_rows, _from_rows=_from_rows, _diff_rows=_diff_rows)


# ---- np.max, np.min of three or more axes --------------------------------------------------------------
@overload(_red.select_weights, prefer_literal=True)
def _select_weights_nd(a, y, axis=None, keepdims=False):
    """1/count at each entry equal to the result (a's shape), for the ranks numba_forward's select_grad
    version does not take (3-D and up), with constant axes."""
    if not (isinstance(a, types.Array) and a.ndim >= 3):
        return None
    axes, keep = _axes(axis, a.ndim), _keep(keepdims)
    if axes is None or keep is None:
        return None
    src = ("def impl(a, y, axis=None, keepdims=False):\n"
           "    mask = (a == spread(y, a, axis, keepdims)).astype(np.float64)\n"
           f"    return mask / reduce_sum(mask, {axes!r}, True)\n")
    return compile_source(src, spread=spread, reduce_sum=reduce_sum)


# ---- scipy.special.logsumexp ---------------------------------------------------------------------------
def _zero_of(v):
    """0 broadcast like `v` (an array's zeros, or 0.0 for a scalar)."""


@overload(_zero_of)
def _zero_of_ol(v):
    if isinstance(v, types.Array):
        return lambda v: np.zeros(v.shape)
    if isinstance(v, (types.Number, types.Boolean)):
        return lambda v: 0.0
    return None


def _ndim0(t):
    return isinstance(t, types.Number) or isinstance(t, types.Array) and t.ndim == 0


def _value(x):
    """The number in a 0-d array (or the number itself)."""


@overload(_value)
def _value_ol(x):
    if isinstance(x, types.Array):
        return lambda x: x[()]
    return lambda x: x


@overload(_special.lse_tangent, prefer_literal=True)
def _lse_tangent(v, a, y, axis, b, keepdims):
    """sum(v * b * exp(a - y)) over `axis`, on the broadcast shape of a, b and v (special.lse_tangent)."""
    parts = (v, a) if is_none(b) else (v, a, b)
    if all(_ndim0(t) for t in parts) and isinstance(y, types.Number):
        # 0-d operands (a number y: not keepdims): the one term, a number as NumPy's sum of it is
        if is_none(b):
            return lambda v, a, y, axis, b, keepdims: np.exp(_value(a) - y) * _value(v)
        return lambda v, a, y, axis, b, keepdims: np.exp(_value(a) - y) * _value(v) * _value(b)
    if not isinstance(a, types.Array):
        return None
    if is_none(b):
        def impl(v, a, y, axis, b, keepdims):
            full = a + _zero_of(v)
            return reduce_sum(np.exp(full - spread(y, full, axis, keepdims)) * v, axis, keepdims)
        return impl

    def impl_b(v, a, y, axis, b, keepdims):
        full = a + _zero_of(b) + _zero_of(v)
        return reduce_sum(np.exp(full - spread(y, full, axis, keepdims)) * v * b, axis, keepdims)
    return impl_b



# ---- np.pad --------------------------------------------------------------------------------------------
def _even(reflect_type):
    """Whether reflect_type is 'even' (omitted, or the literal): pad_copies only copies entries."""
    if not isinstance(reflect_type, types.Type):
        return reflect_type == "even"
    if isinstance(reflect_type, types.Omitted):
        return reflect_type.value == "even"
    return isinstance(reflect_type, types.StringLiteral) and reflect_type.literal_value == "even"


@overload(_man.pad_tangent, prefer_literal=True)
def _pad_tangent(v, pad_width, mode="constant", reflect_type="even"):
    """The tangent padded as the array is (0 in a constant padding): the copies of pad_copies."""
    if not (_float_array(v) and _even(reflect_type)):
        return None
    return lambda v, pad_width, mode="constant", reflect_type="even": pad_copies(v, pad_width, mode, 0.0)


@overload(_man.pad_value_tangent)
def _pad_value_tangent(v, array, pad_width):
    """The tangent of a scalar constant_values: `v` on the padding, 0 on the copy of the array."""
    if not (isinstance(array, types.Array) and isinstance(v, (types.Float, types.Integer))):
        return None
    return lambda v, array, pad_width: pad_copies(np.zeros(array.shape), pad_width, "constant", 1.0) * v
