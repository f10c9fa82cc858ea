"""The runtime seam for the numba backend: the helpers of `retrograd.runtime`, compiled.

Generated code calls the same names (`zeros_like`, `unbroadcast`, ...).  Here each is a plain Python
function (so the python backend's behaviour stays the reference) plus a Numba `@overload` that picks
the implementation from the argument *types* at compile time: scalars and arrays get different code,
and nothing dynamic is left for run time.
"""
import math  # noqa: F401  (generated code uses math.*)

import numpy as np
from numba import literal_unroll, njit, types
from numba.extending import intrinsic, overload
from numba.typed import List  # noqa: F401  (tapes are typed lists)

from .. import runtime as _py

__all__ = ["list_of", "nbytes_of", "shape_token", "from_token", "revolve_resume", "revolve_step", "revolve_next_snapshot", "revolve_budget",
           "ADVANCE", "SNAPSHOT", "RESTORE", "DROP", "REVERSE", "DONE",
           "push", "push_at", "reserve", "pop", "zeros_like", "reset_zeros", "snapshot", "add_into", "add_tree", "unbroadcast", "unreduce", "matmul_grad_a",
           "matmul_grad_b", "select_grad", "not_a_view", "no_repeats", "float_target", "List", "np", "math"]


@njit(cache=True)
def _grow(tape, top):
    grown = np.empty(2 * tape.shape[0] + 64)
    for i in range(top):     # an element loop, not `grown[:top] = tape`: the slice assignment pulls in
        grown[i] = tape[i]   # Numba's shape-mismatch error formatting (seconds of compilation per caller)
    return grown


@njit(cache=True, inline="always")
def push(tape, top, x):
    """Save a float on an array tape, growing it when full; returns (tape, new top)."""
    if top == tape.shape[0]:
        tape = _grow(tape, top)
    tape[top] = x
    return tape, top + 1


@njit(cache=True, inline="always")
def push_at(tape, top, x):
    """Save a float on a tape allocated with its final size; returns the new top."""
    tape[top] = x
    return top + 1


@njit(cache=True)
def reserve(tape, top, n):
    """Room for `n` more floats on an array tape, made before a loop nest whose trip count is known at its
    entry (`for j in range(i + 1, n)`): the `n` pushes that follow are `push_at`, with no capacity check."""
    if top + n <= tape.shape[0]:
        return tape
    grown = np.empty(max(top + n, 2 * tape.shape[0]))   # doubling: an enclosing loop may reserve again
    for i in range(top):
        grown[i] = tape[i]
    return grown


@njit(cache=True, inline="always")
def pop(tape, top):
    """The last float saved on an array tape; returns (value, new top)."""
    return tape[top - 1], top - 1


def zeros_like(x):
    return _py.zeros_like(x)


def reset_zeros(buf, x):
    return _py.reset_zeros(buf, x)


def snapshot(x):
    return _py.snapshot(x)


def add_into(acc, g):
    return _py.add_into(acc, g)


def add_tree(a, b):
    return _py.add_tree(a, b)


def unbroadcast(g, x):
    return _py.unbroadcast(g, x)


def unreduce(g, x, axis=None, keepdims=False):
    return _py.unreduce(g, x, axis, keepdims)


def matmul_grad_a(g, a, b):
    return _py.matmul_grad_a(g, a, b)


def matmul_grad_b(g, a, b):
    return _py.matmul_grad_b(g, a, b)


def select_grad(g, x, result, axis=None, keepdims=False):
    return _py.select_grad(g, x, result, axis, keepdims)


def not_a_view(value, array, message):
    return _py.not_a_view(value, array, message)


def no_repeats(index, message, target=None):
    return _py.no_repeats(index, message, target)


def float_target(array, message):
    return _py.float_target(array, message)


def _is_scalar(t):
    return isinstance(t, (types.Float, types.Integer, types.Boolean))


# ---- cached building blocks ----------------------------------------------------------------------
# The overloads below are compiled into every generated function that calls them, again for every new
# function.  Work that Numba's own library makes expensive to compile (np.sum with an axis formats its
# axis error with str(), np.full/np.zeros_like/`@` each cost 0.2 to 1 s per caller) goes through these
# @njit(cache=True) functions instead: compiled once per argument type and then loaded from Numba's disk
# cache by every later function and process.

@njit(cache=True)
def _zeros_like_array(x):
    return np.zeros_like(x)


@njit(cache=True)
def _zeros_shape(shape):
    return np.zeros(shape)


@njit(cache=True)
def _full_shape(shape, v):
    out = np.empty(shape)
    flat = out.reshape(out.size)
    for i in range(flat.shape[0]):
        flat[i] = v
    return out


@njit(cache=True)
def _sum_all(g):
    s = 0.0
    for v in g.flat:
        s += v
    return s


@njit(cache=True)
def _sum_rows(g):
    """np.sum(g, axis=0) of a 2-D array."""
    out = np.zeros(g.shape[1])
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            out[j] += g[i, j]
    return out


@njit(cache=True)
def _sum_cols(g):
    """np.sum(g, axis=1) of a 2-D array."""
    out = np.zeros(g.shape[0])
    for i in range(g.shape[0]):
        acc = 0.0
        for j in range(g.shape[1]):
            acc += g[i, j]
        out[i] = acc
    return out


@njit(cache=True)
def _matmul(a, b):
    return a @ b


@njit(cache=True)
def _outer(a, b):
    return np.outer(a, b)


@overload(zeros_like)
def _zeros_like(x):
    if isinstance(x, types.Array):
        if isinstance(x.dtype, types.Float):
            return lambda x: _zeros_like_array(x)
        return lambda x: _zeros_shape(x.shape)
    if _is_scalar(x):
        return lambda x: 0.0
    if isinstance(x, types.List) and isinstance(x.dtype, types.Array):
        return lambda x: [_zeros_like_array(a) for a in x]     # the pieces of np.split and friends
    if isinstance(x, types.BaseTuple) and len(x) > 0 and all(_is_scalar(t) for t in x):
        # a tuple of scalars: its cotangent is a float array (mutable, indexed like the tuple)
        n = len(x)
        return lambda x: _zeros_shape((n,))
    return None


@njit(cache=True)
def _reset_array(buf, x):
    if buf.shape != x.shape:
        return np.zeros_like(x)
    flat = buf.reshape(buf.size)      # a zeros_like/add_into buffer: C-contiguous
    for i in range(flat.shape[0]):
        flat[i] = 0.0
    return buf


@overload(reset_zeros)
def _reset_zeros(buf, x):
    if (isinstance(buf, types.Array) and isinstance(x, types.Array) and isinstance(x.dtype, types.Float)
            and buf.dtype == x.dtype and buf.ndim == x.ndim and buf.ndim > 0 and buf.layout == "C"):
        return lambda buf, x: _reset_array(buf, x)
    return lambda buf, x: zeros_like(x)


@overload(snapshot)
def _snapshot(x):
    if isinstance(x, types.Array):
        return lambda x: x.copy()
    if _is_scalar(x):
        return lambda x: x
    return None


@overload(add_tree)
def _add_tree(a, b):
    # a variable of unknown kind whose cotangent is accumulated: on numba only arrays and scalars get here
    # (container arguments are refused at the boundary); a tuple is left untyped, so it is refused clearly
    if isinstance(a, (types.Array, types.Number)) and isinstance(b, (types.Array, types.Number)):
        return lambda a, b: a + b
    return _elementwise_of_tuples("add_tree", a, b)


def _elementwise_of_tuples(name, a, b, params=("a", "b")):
    """`name` applied item by item to two tuples of cotangents of one length (a tuple's `+` would join them:
    the silent wrong gradient of `t = (x, 2 * x); a, b = t`), or None: anything else is refused."""
    if not (isinstance(a, types.BaseTuple) and isinstance(b, types.BaseTuple) and len(a) == len(b)):
        return None
    p, q = params             # the overload's own parameter names (Numba checks them)
    items = "".join(f"{name}({p}[{k}], {q}[{k}]), " for k in range(len(a)))
    ns = {name: globals()[name]}
    exec(f"def impl({p}, {q}):\n    return ({items})\n", ns)
    return ns["impl"]


@overload(add_into)
def _add_into(acc, g):
    if isinstance(acc, types.Array) and acc.ndim == 1 and isinstance(g, types.BaseTuple):
        if not all(_is_scalar(t) for t in g):
            return None
        n = len(g)

        def impl_tuple(acc, g):     # the cotangent of a tuple of scalars, passed as a tuple
            if acc.shape[0] != n:
                raise ValueError("add_into: a tuple cotangent of the wrong length")
            i = 0
            for e in literal_unroll(g):
                acc[i] += e
                i += 1
            return acc
        return impl_tuple
    if isinstance(acc, types.Array) and acc.ndim > 0:
        def impl(acc, g):
            acc += g
            return acc
        return impl
    if isinstance(acc, (types.Array, types.Number)) and isinstance(g, (types.Array, types.Number)):
        return lambda acc, g: acc + g
    return _elementwise_of_tuples("add_into", acc, g, ("acc", "g"))     # lists and other containers: refused


def _is_none(t):
    return t is None or isinstance(t, (types.NoneType, types.Omitted))


def _is_float_array(t, ndims=(1, 2)):
    return isinstance(t, types.Array) and isinstance(t.dtype, types.Float) and t.ndim in ndims


@overload(unbroadcast)
def _unbroadcast(g, x):
    if _is_scalar(x) and _is_scalar(g):
        return lambda g, x: g
    if _is_scalar(x) and isinstance(g, types.Array):
        return lambda g, x: _sum_all(g)
    if isinstance(x, types.Array) and x.ndim == 0 and isinstance(g, types.Array):
        if g.ndim == 0:
            return lambda g, x: g
        return lambda g, x: _sum_all(g)
    if isinstance(x, types.Array) and isinstance(g, types.Array):
        if g.ndim < x.ndim:
            # `A[I] = v` with v of higher rank (NumPy drops v's leading 1-axes): see g with them added back
            pad = (1,) * (x.ndim - g.ndim)

            def impl_pad(g, x):
                return unbroadcast(np.ascontiguousarray(g).reshape(pad + g.shape), x)
            return impl_pad
        if g.ndim == x.ndim == 1:
            def impl1(g, x):
                if g.shape[0] == x.shape[0]:
                    return g
                if x.shape[0] != 1:
                    raise ValueError("unbroadcast: shapes do not broadcast")
                return _full_shape(x.shape, _sum_all(g))
            return impl1
        if g.ndim == 2 and x.ndim == 1:
            def impl21(g, x):
                # x (n,) broadcasts along the rows of g (m, n): sum the rows; x (1,) sums everything
                if x.shape[0] == g.shape[1]:
                    return _sum_rows(g)
                if x.shape[0] != 1:
                    raise ValueError("unbroadcast: shapes do not broadcast")
                return _full_shape(x.shape, _sum_all(g))
            return impl21
        if g.ndim == x.ndim == 2:
            def impl2(g, x):
                if g.shape == x.shape:
                    return g
                out = g
                if x.shape[0] == 1 and g.shape[0] != 1:
                    out = _sum_rows(out).reshape((1, out.shape[1]))
                if x.shape[1] == 1 and g.shape[1] != 1:
                    out = _sum_cols(out).reshape((out.shape[0], 1))
                return out
            return impl2
        if g.ndim == 3 and x.ndim <= 3:
            pad = (1,) * (3 - x.ndim)

            def impl3(g, x):
                # x broadcasts against g (3-D): sum g over the axes where x has one entry (or none)
                xs = pad + x.shape
                out = np.zeros(xs, dtype=g.dtype)
                for i in range(g.shape[0]):
                    ii = i if xs[0] != 1 else 0
                    for j in range(g.shape[1]):
                        jj = j if xs[1] != 1 else 0
                        for k in range(g.shape[2]):
                            out[ii, jj, k if xs[2] != 1 else 0] += g[i, j, k]
                return out.reshape(x.shape)
            return impl3
    if isinstance(x, types.Array) and _is_scalar(g):
        return lambda g, x: _full_shape(x.shape, g)
    return None


overload(_py.unbroadcast)(_unbroadcast)     # the same, for the backend modules that cannot import this one


@njit(inline="always")
def _axis_of(axis, ndim):
    ax = axis + ndim if axis < 0 else axis
    if ax < 0 or ax >= ndim:
        raise ValueError("axis out of bounds")
    return ax


def _reduced(g, x, axis):
    """`g` (the cotangent or value of a reduction of `x` over `axis`) as an array of x's rank."""


@overload(_reduced)
def _reduced_ol(g, x, axis):
    if not isinstance(x, types.Array) or x.ndim not in (1, 2):
        return None
    if _is_scalar(g):                          # axis None (or a 1-D x), keepdims=False
        if x.ndim == 1:
            return lambda g, x, axis: _full_shape((1,), g)
        return lambda g, x, axis: _full_shape((1, 1), g)
    if isinstance(g, types.Array) and g.ndim == 0:
        if x.ndim == 1:
            return lambda g, x, axis: _full_shape((1,), g[()])
        return lambda g, x, axis: _full_shape((1, 1), g[()])
    if not isinstance(g, types.Array):
        return None
    if g.ndim == x.ndim:                       # keepdims=True
        return lambda g, x, axis: np.ascontiguousarray(g)
    if g.ndim == 1 and x.ndim == 2 and isinstance(axis, types.Integer):   # keepdims=False, int axis
        def impl(g, x, axis):
            n = g.shape[0]
            if _axis_of(axis, 2) == 0:
                return np.ascontiguousarray(g).reshape((1, n))
            return np.ascontiguousarray(g).reshape((n, 1))
        return impl
    return None


@njit(inline="always")
def _at(k, n):
    """Index into a dimension of length `n` that broadcasts: 0 when n == 1."""
    return 0 if n == 1 else k


@njit(cache=True)
def _broadcast1(G, n):
    if G.shape[0] != 1 and G.shape[0] != n:
        raise ValueError("unreduce: shapes do not broadcast")
    out = np.empty((n,), G.dtype)
    for i in range(n):
        out[i] = G[_at(i, G.shape[0])]
    return out


@njit(cache=True)
def _broadcast2(G, m, n):
    if (G.shape[0] != 1 and G.shape[0] != m) or (G.shape[1] != 1 and G.shape[1] != n):
        raise ValueError("unreduce: shapes do not broadcast")
    out = np.empty((m, n), G.dtype)
    for i in range(m):
        for j in range(n):
            out[i, j] = G[_at(i, G.shape[0]), _at(j, G.shape[1])]
    return out


@overload(unreduce, prefer_literal=True)
def _unreduce(g, x, axis=None, keepdims=False):
    if isinstance(x, types.Number) and _is_none(axis) and _is_scalar(g):
        return lambda g, x, axis=None, keepdims=False: g       # np.sum of a scalar (`np.sum(y[2])`)
    if not isinstance(x, types.Array):
        return None
    if isinstance(keepdims, types.BooleanLiteral) or isinstance(axis, (types.IntegerLiteral, types.BaseTuple)):
        from .numba_axes import _spread          # constant axes at any rank (tuples of axes, keepdims=True)
        general = _spread(g, x, axis, keepdims)
        if general is not None:
            return general
    if _is_none(axis) and _is_scalar(g):
        return lambda g, x, axis=None, keepdims=False: _full_shape(x.shape, g)
    if _is_none(axis) and isinstance(g, types.Array):
        return lambda g, x, axis=None, keepdims=False: _full_shape(x.shape, g.ravel()[0])
    if not isinstance(axis, types.Integer) or x.ndim not in (1, 2):
        return None
    if x.ndim == 1:
        def impl1(g, x, axis=None, keepdims=False):
            _axis_of(axis, 1)
            return _broadcast1(_reduced(g, x, axis), x.shape[0])
        return impl1

    def impl2(g, x, axis=None, keepdims=False):
        _axis_of(axis, 2)
        return _broadcast2(_reduced(g, x, axis), x.shape[0], x.shape[1])
    return impl2


@njit(cache=True)
def _select1(G, x, R):
    n = x.shape[0]
    if R.shape[0] != 1 and R.shape[0] != n:
        raise ValueError("select_grad: shapes do not broadcast")
    count = np.zeros(R.shape)
    for i in range(n):
        if x[i] == R[_at(i, R.shape[0])]:
            count[_at(i, R.shape[0])] += 1.0
    out = np.empty((n,))
    for i in range(n):
        gi = G[_at(i, G.shape[0])]
        r = _at(i, R.shape[0])
        c = count[r]
        out[i] = np.nan if c == 0.0 else gi * (1.0 if x[i] == R[r] else 0.0) / c
    return out


@njit(cache=True)
def _select2(G, x, R):
    m, n = x.shape
    if (R.shape[0] != 1 and R.shape[0] != m) or (R.shape[1] != 1 and R.shape[1] != n):
        raise ValueError("select_grad: shapes do not broadcast")
    count = np.zeros(R.shape)
    for i in range(m):
        for j in range(n):
            ri, rj = _at(i, R.shape[0]), _at(j, R.shape[1])
            if x[i, j] == R[ri, rj]:
                count[ri, rj] += 1.0
    out = np.empty((m, n))
    for i in range(m):
        for j in range(n):
            gij = G[_at(i, G.shape[0]), _at(j, G.shape[1])]
            ri, rj = _at(i, R.shape[0]), _at(j, R.shape[1])
            c = count[ri, rj]
            out[i, j] = np.nan if c == 0.0 else gij * (1.0 if x[i, j] == R[ri, rj] else 0.0) / c
    return out


@overload(select_grad)
def _select_grad(g, x, result, axis=None, keepdims=False):
    """max/min: g flows to the entries equal to the result, split evenly between ties (NaN if none)."""
    if not isinstance(x, types.Array) or x.ndim not in (1, 2):
        return None
    if not (_is_none(axis) or isinstance(axis, types.Integer)):
        return None
    if _is_none(axis):
        if x.ndim == 1:
            return lambda g, x, result, axis=None, keepdims=False: _select1(
                _reduced(g, x, axis), x, _reduced(result, x, axis))
        return lambda g, x, result, axis=None, keepdims=False: _select2(
            _reduced(g, x, axis), x, _reduced(result, x, axis))
    if x.ndim == 1:
        def impl1(g, x, result, axis=None, keepdims=False):
            _axis_of(axis, 1)
            return _select1(_reduced(g, x, axis), x, _reduced(result, x, axis))
        return impl1

    def impl2(g, x, result, axis=None, keepdims=False):
        _axis_of(axis, 2)
        return _select2(_reduced(g, x, axis), x, _reduced(result, x, axis))
    return impl2


def _blas(x):
    """`x` as an operand BLAS takes without a copy: C- or F-contiguous arrays as they are (a transpose of
    either is contiguous too, so `x.T @ g` passes a flag to BLAS instead of copying), others copied."""


@overload(_blas)
def _blas_ol(x):
    if isinstance(x, types.Array) and x.layout in ("C", "F"):
        return lambda x: x
    return lambda x: np.ascontiguousarray(x)


@overload(matmul_grad_a)
def _matmul_grad_a(g, a, b):
    """Cotangent of `a` in `a @ b` for 1-D and 2-D float operands (no batching, so no unbroadcast)."""
    if not (_is_float_array(a) and _is_float_array(b)):
        return None
    if a.ndim == 1 and b.ndim == 1:            # g is the scalar u @ v
        if _is_scalar(g):
            return lambda g, a, b: g * b
        if isinstance(g, types.Array) and g.ndim == 0:
            return lambda g, a, b: g[()] * b
        return None
    if not _is_float_array(g, (1, 2)):
        return None
    if a.ndim == 2 and b.ndim == 1:            # g (m,): outer(g, b)
        return lambda g, a, b: _outer(g, b)
    if a.ndim == 1 and b.ndim == 2:            # g (p,): b @ g
        return lambda g, a, b: _matmul(_blas(b), _blas(g))
    return lambda g, a, b: _matmul(_blas(g), _blas(b).T)


@overload(matmul_grad_b)
def _matmul_grad_b(g, a, b):
    """Cotangent of `b` in `a @ b` for 1-D and 2-D float operands."""
    if not (_is_float_array(a) and _is_float_array(b)):
        return None
    if a.ndim == 1 and b.ndim == 1:
        if _is_scalar(g):
            return lambda g, a, b: g * a
        if isinstance(g, types.Array) and g.ndim == 0:
            return lambda g, a, b: g[()] * a
        return None
    if not _is_float_array(g, (1, 2)):
        return None
    if a.ndim == 1 and b.ndim == 2:            # g (p,): outer(a, g)
        return lambda g, a, b: _outer(a, g)
    if a.ndim == 2 and b.ndim == 1:            # g (m,): a.T @ g
        return lambda g, a, b: _matmul(_blas(a).T, _blas(g))
    return lambda g, a, b: _matmul(_blas(a).T, _blas(g))


@intrinsic
def _data_address(typingctx, arr):
    """The address of an array's first element (`a.ctypes.data` would stop Numba caching its callers)."""
    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.ptrtoint(ary.data, context.get_value_type(types.intp))
    return types.intp(arr), codegen


@njit(cache=True)
def _extent(a):
    """[first byte, last byte + 1) of the memory an array's elements occupy (np.may_share_memory's bounds)."""
    lo = hi = _data_address(a)
    for k in range(a.ndim):
        if a.shape[k] == 0:
            return 0, 0
        step = (a.shape[k] - 1) * a.strides[k]
        if step < 0:
            lo += step
        else:
            hi += step
    return lo, hi + a.itemsize


@njit(cache=True)
def _may_share(a, b):
    alo, ahi = _extent(a)
    blo, bhi = _extent(b)
    return alo < ahi and blo < bhi and alo < bhi and blo < ahi


@overload(not_a_view, prefer_literal=True)
def _not_a_view(value, array, message):
    if isinstance(value, types.Array) and isinstance(array, types.Array):
        from ..errors import AliasError
        text = message.literal_value if isinstance(message, types.StringLiteral) else \
            "a value shares memory with an array that is written while it is still used"

        def impl(value, array, message):
            if _may_share(value, array):
                raise AliasError(text)
        return impl
    return lambda value, array, message: None


@overload(float_target, prefer_literal=True)
def _float_target(array, message):
    """Decided by the array's type when the function is compiled: nothing is left of it for float arrays."""
    if isinstance(array, types.Array) and not isinstance(array.dtype, (types.Float, types.Complex)):
        from ..errors import CastError
        text = message.literal_value if isinstance(message, types.StringLiteral) else \
            "a differentiated value is written into an array of integers, which truncates it"

        def impl(array, message):
            raise CastError(text)
        return impl
    return lambda array, message: None


def _has_repeats(part, n):
    return False


@overload(_has_repeats)
def _has_repeats_impl(part, n):
    """Repeats among the entries of an integer index array for an axis of length n, negative ones
    counted from the end ([3, -3] repeats for n = 6)."""
    if isinstance(part, types.Array) and isinstance(part.dtype, types.Integer):
        def impl(part, n):
            flat = part.ravel().copy()
            for k in range(flat.size):
                if flat[k] < 0:
                    flat[k] += n
            return np.unique(flat).size != flat.size
        return impl
    return lambda part, n: False


@overload(no_repeats, prefer_literal=True)
def _no_repeats(index, message, target=None):
    from numba import literal_unroll
    from ..errors import RepeatedIndexError
    text = message.literal_value if isinstance(message, types.StringLiteral) else \
        "an index array with repeated entries writes one element twice"
    if isinstance(index, types.BaseTuple):
        def impl(index, message, target=None):
            bad = False
            k = 0
            for part in literal_unroll(index):      # an element written twice repeats in every part
                bad = bad or _has_repeats(part, target.shape[k] if k < target.ndim else 0)
                k += 1
            if bad:
                raise RepeatedIndexError(text)
        return impl

    def impl(index, message, target=None):
        if _has_repeats(index, target.shape[0]):
            raise RepeatedIndexError(text)
    return impl


# ---- checkpointed loops: the Revolve machine of remat/revolve.py, compiled as it is ---------------------
def _jit_module(mod, names):
    """njit copies of plain-Python functions that call each other through their module's globals."""
    import types as pytypes
    scope = dict(vars(mod))
    for n in names:
        f = getattr(mod, n)
        scope[n] = njit(cache=True)(pytypes.FunctionType(f.__code__, scope, n, f.__defaults__))
    return [scope[n] for n in names]


from ..remat import revolve as _revolve  # noqa: E402
from ..remat.revolve import ADVANCE, DONE, DROP, RESTORE, REVERSE, SNAPSHOT  # noqa: E402,F401

(_, _, _, revolve_next_snapshot, _, _, revolve_step, revolve_resume, revolve_budget) = _jit_module(
    _revolve, ["beta", "repetitions", "split", "next_snapshot", "_push", "start", "step", "resume", "budget"])


def nbytes_of(x):
    return _py.nbytes_of(x)


@overload(nbytes_of)
def _nbytes_of(x):
    if isinstance(x, types.Array):
        return lambda x: x.nbytes
    return lambda x: 8


def shape_token(x):
    return _py.shape_token(x)


def from_token(token, like):
    return _py.from_token(token, like)


@overload(shape_token)
def _shape_token(x):
    if isinstance(x, types.Array):
        return lambda x: x.shape
    return None


@overload(from_token)
def _from_token(token, like):
    # a C-ordered array of the variable's dtype and rank (Numba unifies it with a view's layout): the adjoint
    # reads its shape only
    if isinstance(like, types.Array) and isinstance(token, (types.UniTuple, types.Tuple)):
        return lambda token, like: np.empty(token, like.dtype)
    return None


def list_of(x):
    """An empty typed list for values of x's type (a tape that may stay empty in the primal)."""
    return List.empty_list(types.float64[:])


@overload(list_of)
def _list_of(x):
    item = x

    def impl(x):
        return List.empty_list(item)
    return impl


# ---- reductions over axes (numba_reductions): `np.max(x, axis=-1, keepdims=True)` and friends ---------
from .numba_reductions import *  # noqa: E402,F401,F403
from .numba_reductions import __all__ as _reductions_all  # noqa: E402

__all__ = __all__ + list(_reductions_all)

# ---- np.add.at: `scatter_add` / `scatter_sub` (the forward of np.add.at / np.subtract.at) and `add_at`
# (the adjoint of a read through an index array): one loop over the index, repeats accumulating ------------
def scatter_add(a, idx, x):
    return _py.scatter_add(a, idx, x)


def scatter_sub(a, idx, x):
    return _py.scatter_sub(a, idx, x)


def add_at(a, idx, g):
    return _py.add_at(a, idx, g)


def _scatter_impl(sign, copy):
    """`a[idx] += sign * x` entry by entry, for an int or a 1-D integer index array (the leading axis of
    `a`), `x` a scalar or an array broadcasting to `a[idx]`."""
    def ol(a, idx, x):
        if not isinstance(a, types.Array):
            return None
        if isinstance(idx, types.Array) and idx.ndim == 1 and isinstance(idx.dtype, types.Boolean):
            rows = _scatter_each if isinstance(x, types.Array) and x.ndim == a.ndim else _scatter_same

            def mask(a, idx, x):           # a 1-D mask: the entries it selects, in order
                out = a.copy() if copy else a
                rows(out, np.nonzero(idx)[0], x, sign)
                return out
            return mask
        if isinstance(idx, types.Integer):
            def one(a, idx, x):
                out = a.copy() if copy else a
                out[idx] += sign * x
                return out
            return one
        if not (isinstance(idx, types.Array) and idx.ndim == 1 and isinstance(idx.dtype, types.Integer)):
            return None
        if _is_scalar(x) or (isinstance(x, types.Array) and x.ndim < a.ndim):
            def same(a, idx, x):          # x is the same for every index entry
                out = a.copy() if copy else a
                for k in range(idx.shape[0]):
                    out[idx[k]] += sign * x
                return out
            return same
        if isinstance(x, types.Array) and x.ndim == a.ndim:
            def each(a, idx, x):          # x[k] goes to a[idx[k]] (x's leading axis may be 1: broadcast)
                out = a.copy() if copy else a
                if x.shape[0] != idx.shape[0] and x.shape[0] != 1:
                    raise ValueError("np.add.at: the values do not match the index")
                for k in range(idx.shape[0]):
                    out[idx[k]] += sign * x[k if x.shape[0] > 1 else 0]
                return out
            return each
        return None
    return ol


@njit(cache=True)
def _scatter_same(out, ii, x, sign):
    for k in range(ii.shape[0]):
        out[ii[k]] += sign * x


@njit(cache=True)
def _scatter_each(out, ii, x, sign):
    for k in range(ii.shape[0]):
        out[ii[k]] += sign * x[k if x.shape[0] > 1 else 0]


def flat_copy(x):
    """A part of an array saved on a typed-list tape: a flat copy, so one tape holds parts of every rank."""
    return np.array(x, dtype=np.float64).ravel()


def unflat(v, like):
    """A part saved by flat_copy, in the shape of `like` (the part it restores)."""
    return v.reshape(np.shape(like)) if np.ndim(like) else v[0]


@overload(flat_copy)
def _flat_copy(x):
    if isinstance(x, types.Array):
        return lambda x: x.copy().ravel()
    if _is_scalar(x):
        return lambda x: np.full(1, x)
    return None


@overload(unflat)
def _unflat(v, like):
    if isinstance(like, types.Array):
        return lambda v, like: v.reshape(like.shape)
    if _is_scalar(like):
        return lambda v, like: v[0]
    return None


__all__ += ["flat_copy", "unflat"]

overload(scatter_add)(_scatter_impl(1.0, True))
overload(scatter_sub)(_scatter_impl(-1.0, True))
overload(add_at)(_scatter_impl(1.0, False))
__all__ += ["scatter_add", "scatter_sub", "add_at"]


# ---- products Numba's `@` lacks (numba_products): integer and batched operands -------------------------
from . import numba_products as _products  # noqa: E402
from .numba_products import matmul  # noqa: E402,F401

overload(matmul_grad_a)(_products.matmul_grad_overload("a"))


def _dot_grad(which):
    """`np.dot(a, b)`'s cotangents: `@`'s for 1-D/2-D arrays, else the einsum of np.dot's letters
    (numba_dots: a scalar or 0-d operand, N-D operands)."""
    grad = matmul_grad_a if which == "a" else matmul_grad_b

    def ol(g, a, b):
        from .numba_axes import compile_source
        from .numba_dots import dot_grad_source
        if all(isinstance(t, types.Array) and 1 <= t.ndim <= 2 for t in (a, b)):
            return lambda g, a, b: grad(g, a, b)
        src = dot_grad_source(0 if which == "a" else 1, g, a, b)
        return compile_source(src) if src else None
    return ol


from ..reverse.rules import linalg as _linalg_rules  # noqa: E402

overload(_linalg_rules.dot_grad_a)(_dot_grad("a"))
overload(_linalg_rules.dot_grad_b)(_dot_grad("b"))
overload(matmul_grad_b)(_products.matmul_grad_overload("b"))
__all__ += ["matmul"]


from .numba_manipulation import pad_copies, roll_axis  # noqa: E402,F401

__all__ += ["pad_copies", "roll_axis"]


# ---- np.linalg's stacks and keyword forms (numba_linalg): `linalg_<f>` and `new_axes` ----------------------
from .numba_linalg import *  # noqa: E402,F401,F403
from .numba_linalg import __all__ as _linalg_all  # noqa: E402

__all__ += list(_linalg_all)

from .numba_tuples import tuple_set  # noqa: E402,F401
from .numba_gradient import gradient_along  # noqa: E402,F401
from .numba_orderstats import quantile_along  # noqa: E402,F401
from .numba_average import average_along  # noqa: E402,F401
from .numba_sorting import argsort_along, partition_along, sort_along  # noqa: E402,F401

__all__ += ["tuple_set", "gradient_along", "quantile_along", "average_along", "argsort_along", "sort_along",
            "partition_along"]

from .numba_contractions import __all__ as _contractions_all  # noqa: E402
from .numba_contractions import *  # noqa: E402,F401,F403

__all__ += list(_contractions_all)

from .numba_joins import flip_axes  # noqa: E402,F401

__all__ += ["flip_axes"]

from .numba_picks import builtin_sum, select_value, squeeze_axis  # noqa: E402,F401

__all__ += ["builtin_sum", "select_value", "squeeze_axis"]

from .numba_takes import take_modes  # noqa: E402,F401

__all__ += ["take_modes"]

from .numba_fills import array_of, clip_values, full_of, reshape_order  # noqa: E402,F401
from .numba_selections import compress_along, delete_along  # noqa: E402,F401
from .numba_diffs import diff_along  # noqa: E402,F401
from .numba_crosses import moved_cross  # noqa: E402,F401
from .numba_integrals import trapezoid_along  # noqa: E402,F401

__all__ += ["array_of", "clip_values", "full_of", "reshape_order", "compress_along", "delete_along", "diff_along",
            "moved_cross", "trapezoid_along"]

from .numba_traces import trace_axes  # noqa: E402,F401

__all__ += ["trace_axes"]

from .numba_layouts import repeat_axis, reshape_like, rot90_axes  # noqa: E402,F401

__all__ += ["repeat_axis", "reshape_like", "rot90_axes"]

from .numba_dots import dot_value, kron_value  # noqa: E402,F401
from .numba_scans import cumprod_along, nancumsum_along  # noqa: E402,F401

__all__ += ["dot_value", "kron_value", "cumprod_along", "nancumsum_along"]
